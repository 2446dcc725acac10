// Package queue hands items from the ring-buffer reader to one consumer
// goroutine, in order, and lets the producer learn why the consumer
// stopped. The annotation stages are built on it.
//
// It must not drop, reorder or look into items.
package queue

// Queue is a bounded FIFO with one consumer. Put blocks while the queue
// is full, until the consumer takes an item or stops.
type Queue[T any] struct {
	items   chan T
	stopped chan struct{}
	err     error
}

// New returns a Queue that holds up to n items.
func New[T any](n int) *Queue[T] {
	return &Queue[T]{items: make(chan T, n), stopped: make(chan struct{})}
}

// Put adds v, or returns the error the consumer stopped with.
func (q *Queue[T]) Put(v T) error {
	select {
	case q.items <- v:
		return nil
	case <-q.stopped:
		return q.err
	}
}

// Close says no more items will be put: Items ends once it is empty.
func (q *Queue[T]) Close() { close(q.items) }

// Items is what the consumer ranges over.
func (q *Queue[T]) Items() <-chan T { return q.items }

// Len is how many items wait.
func (q *Queue[T]) Len() int { return len(q.items) }

// Done is closed once the consumer has stopped (Stop).
func (q *Queue[T]) Done() <-chan struct{} { return q.stopped }

// Err is the error the consumer stopped with; it is set once Done is
// closed.
func (q *Queue[T]) Err() error { return q.err }

// Stop records why the consumer ended; later Puts return err. The
// consumer calls it once, when it returns.
func (q *Queue[T]) Stop(err error) {
	q.err = err
	close(q.stopped)
}
