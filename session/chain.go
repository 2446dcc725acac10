package session

import "github.com/droptrace/droptrace/event"

// Chain returns a Stage that passes events through stages in order: what
// one drains, the next takes. With one stage it is that stage.
func Chain(stages ...Stage) Stage {
	if len(stages) == 1 {
		return stages[0]
	}
	return chain(stages)
}

type chain []Stage

func (c chain) Add(ev *event.Event) error { return c[0].Add(ev) }

func (c chain) Close() { c[0].Close() }

// Flush hands on what the first stage holds back.
func (c chain) Flush() error {
	if f := flushOf(c[0]); f != nil {
		return f()
	}
	return nil
}

// Flusher is a Stage that holds events back, to hand them on in batches,
// until Flush (or Close).
type Flusher interface {
	Flush() error
}

// flushOf returns s's Flush, nil when s hands each event on at once.
func flushOf(s Stage) func() error {
	if f, ok := s.(Flusher); ok {
		return f.Flush
	}
	return nil
}

// Drain runs every stage but the last in a goroutine of its own, feeding
// the next; the last writes. A stage that ends closes the next, so Close
// ripples down the chain; a write error stops the last stage, whose Add
// then fails, which stops the one before when it next hands on an event.
// A stage that batches is flushed whenever the one before has caught up.
func (c chain) Drain(write func(*event.Event) error, idle func() error) error {
	errs := make(chan error, len(c)-1)
	for i := 0; i < len(c)-1; i++ {
		from, to := c[i], c[i+1]
		go func() {
			err := from.Drain(to.Add, flushOf(to))
			to.Close()
			errs <- err
		}()
	}
	if err := c[len(c)-1].Drain(write, idle); err != nil {
		// Earlier stages stop at their next Add, or at Close: the caller
		// must not wait for them to see the error.
		return err
	}
	// The last stage ran out of events, so every earlier one has ended.
	for range len(c) - 1 {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}
