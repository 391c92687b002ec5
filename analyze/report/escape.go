package report

import (
	"reflect"

	"github.com/kpcap/kpcap/replay"
)

// escapedCopy returns a deep copy of *p whose exported strings have their
// control bytes escaped as the text outputs print them (replay.EscapeControl):
// a command name set with prctl or a probe's string field is trace data, and
// raw control bytes must reach neither the HTML, the SVG nor the inline JSON.
// Unexported fields are shared with the original, which stays untouched.
func escapedCopy[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := copier{seen: map[ptrKey]reflect.Value{}}
	return c.value(reflect.ValueOf(p)).Interface().(*T)
}

type ptrKey struct {
	p uintptr
	t reflect.Type
}

// copier remembers copied pointers, so shared and cyclic data are copied once.
type copier struct{ seen map[ptrKey]reflect.Value }

func (c *copier) value(v reflect.Value) reflect.Value {
	t := v.Type()
	switch v.Kind() {
	case reflect.String:
		n := reflect.New(t).Elem()
		n.SetString(replay.EscapeControl(v.String()))
		return n
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		k := ptrKey{v.Pointer(), t}
		if n, ok := c.seen[k]; ok {
			return n
		}
		n := reflect.New(t.Elem())
		c.seen[k] = n
		n.Elem().Set(c.value(v.Elem()))
		return n
	case reflect.Struct:
		n := reflect.New(t).Elem()
		n.Set(v) // unexported fields stay shared
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				n.Field(i).Set(c.value(v.Field(i)))
			}
		}
		return n
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		n := reflect.MakeSlice(t, v.Len(), v.Len())
		for i := range v.Len() {
			n.Index(i).Set(c.value(v.Index(i)))
		}
		return n
	case reflect.Array:
		n := reflect.New(t).Elem()
		for i := range v.Len() {
			n.Index(i).Set(c.value(v.Index(i)))
		}
		return n
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		n := reflect.MakeMapWithSize(t, v.Len())
		for it := v.MapRange(); it.Next(); {
			n.SetMapIndex(c.value(it.Key()), c.value(it.Value()))
		}
		return n
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		n := reflect.New(t).Elem()
		n.Set(c.value(v.Elem()))
		return n
	}
	return v
}
