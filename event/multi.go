package event

import (
	"errors"
)

// Multi writes every event to each of ws in turn.
func Multi(ws ...Writer) Writer { return multi(ws) }

type multi []Writer

func (m multi) Write(ev *Event) error {
	for _, w := range m {
		if err := w.Write(ev); err != nil {
			return err
		}
	}
	return nil
}

// Close closes every writer, also after one fails, and reports all errors.
func (m multi) Close() error {
	var errs []error
	for _, w := range m {
		errs = append(errs, w.Close())
	}
	return errors.Join(errs...)
}
