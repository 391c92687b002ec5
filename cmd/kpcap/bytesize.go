package main

import "fmt"

// byteSize writes n bytes with a binary unit, "12.3 MiB": with digits
// decimals from MiB up (the record summaries show two), one for KiB.
func byteSize(n int64, digits int) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	if exp == 0 {
		digits = 1
	}
	return fmt.Sprintf("%.*f %ciB", digits, float64(n)/float64(div), "KMGTP"[exp])
}
