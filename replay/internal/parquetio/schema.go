package parquetio

import (
	"bytes"
	"encoding/base64"
	"fmt"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/parquet"
	"github.com/apache/arrow/go/v17/parquet/metadata"
	"github.com/apache/arrow/go/v17/parquet/schema"
)

// parquetNode maps an Arrow field to a Parquet leaf with the logical type
// pqarrow would give it, so that every reader sees the same types.
func parquetNode(f arrow.Field) (schema.Node, error) {
	rep := parquet.Repetitions.Required
	if f.Nullable {
		rep = parquet.Repetitions.Optional
	}
	var (
		logical  schema.LogicalType = schema.NoLogicalType{}
		physical parquet.Type
	)
	intType := func(bits int8, signed bool) {
		logical = schema.NewIntLogicalType(bits, signed)
		physical = parquet.Types.Int32
		if bits == 64 {
			physical = parquet.Types.Int64
		}
	}
	switch t := f.Type.(type) {
	case *arrow.Int8Type:
		intType(8, true)
	case *arrow.Int16Type:
		intType(16, true)
	case *arrow.Int32Type:
		intType(32, true)
	case *arrow.Int64Type:
		intType(64, true)
	case *arrow.Uint8Type:
		intType(8, false)
	case *arrow.Uint16Type:
		intType(16, false)
	case *arrow.Uint32Type:
		intType(32, false)
	case *arrow.Uint64Type:
		intType(64, false)
	case *arrow.StringType:
		logical, physical = schema.StringLogicalType{}, parquet.Types.ByteArray
	case *arrow.BinaryType:
		physical = parquet.Types.ByteArray
	case *arrow.BooleanType:
		physical = parquet.Types.Boolean
	case *arrow.TimestampType:
		units := map[arrow.TimeUnit]schema.TimeUnitType{arrow.Millisecond: schema.TimeUnitMillis,
			arrow.Microsecond: schema.TimeUnitMicros, arrow.Nanosecond: schema.TimeUnitNanos}
		u, ok := units[t.Unit]
		if !ok {
			return nil, fmt.Errorf("column %s: unsupported type %s", f.Name, f.Type)
		}
		logical, physical = schema.NewTimestampLogicalType(t.TimeZone != "", u), parquet.Types.Int64
	case *arrow.DictionaryType:
		if t.IndexType.ID() != arrow.INT32 || t.ValueType.ID() != arrow.STRING {
			return nil, fmt.Errorf("column %s: unsupported type %s", f.Name, f.Type)
		}
		logical, physical = schema.StringLogicalType{}, parquet.Types.ByteArray
	default:
		return nil, fmt.Errorf("column %s: unsupported type %s", f.Name, f.Type)
	}
	n, err := schema.NewPrimitiveNodeLogical(f.Name, rep, logical, physical, -1, -1)
	if err != nil {
		return nil, fmt.Errorf("column %s: %w", f.Name, err)
	}
	return n, nil
}

// arrowSchemaMeta serializes sc as pqarrow does (an IPC stream holding only
// the schema, base64), so that pqarrow readers restore dictionaries and
// field metadata exactly.
func arrowSchemaMeta(sc *arrow.Schema) (string, error) {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(sc))
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("serialize arrow schema: %w", err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// parquetSchema returns the Parquet schema of sc and the file's key-value
// metadata: sc's own and the serialized Arrow schema.
func parquetSchema(sc *arrow.Schema, props *parquet.WriterProperties) (*schema.GroupNode, metadata.KeyValueMetadata, error) {
	nodes := make(schema.FieldList, 0, sc.NumFields())
	for _, f := range sc.Fields() {
		n, err := parquetNode(f)
		if err != nil {
			return nil, nil, err
		}
		nodes = append(nodes, n)
	}
	root, err := schema.NewGroupNode(props.RootName(), props.RootRepetition(), nodes, -1)
	if err != nil {
		return nil, nil, err
	}
	meta := make(metadata.KeyValueMetadata, 0, sc.Metadata().Len()+1)
	md := sc.Metadata()
	for i := 0; i < md.Len(); i++ {
		meta.Append(md.Keys()[i], md.Values()[i])
	}
	s, err := arrowSchemaMeta(sc)
	if err != nil {
		return nil, nil, err
	}
	meta.Append("ARROW:schema", s)
	return root, meta, nil
}
