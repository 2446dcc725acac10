package output

import (
	"errors"

	"github.com/droptrace/droptrace/event"
)

// Multi writes every event to each of ws in turn.
func Multi(ws ...event.Writer) event.Writer { return multi(ws) }

type multi []event.Writer

func (m multi) Write(ev *event.Event) error {
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
