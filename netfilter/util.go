package netfilter

import (
	"fmt"
	"strconv"
)

func uitoa(v uint64) string { return strconv.FormatUint(v, 10) }

func typeName(v any) string { return fmt.Sprintf("%T", v) }
