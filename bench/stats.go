package main

import (
	"fmt"
	"slices"
)

// sample is repeated measurements of one configuration.
type sample []float64

func (s sample) median() float64 {
	if len(s) == 0 {
		return 0
	}
	c := slices.Clone(s)
	slices.Sort(c)
	if len(c)%2 == 1 {
		return c[len(c)/2]
	}
	return (c[len(c)/2-1] + c[len(c)/2]) / 2
}

// spread is the range of the measurements relative to their median.
func (s sample) spread() string {
	if len(s) == 0 || s.median() == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f–%.0f%%", 100*slices.Min(s)/s.median(), 100*slices.Max(s)/s.median())
}

// minMax is the range of the measurements, as they are.
func (s sample) minMax() string {
	if len(s) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f–%.2f", slices.Min(s), slices.Max(s))
}
