package format

// Keeps the container libraries in go.mod until the writer uses them; remove then.
import (
	_ "github.com/google/gopacket/pcapgo"
	_ "github.com/klauspost/compress/zstd"
)
