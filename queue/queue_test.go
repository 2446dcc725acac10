package queue

import (
	"errors"
	"testing"
)

func TestQueueOrderAndStop(t *testing.T) {
	q := New[int](4)
	for i := range 3 {
		if err := q.Put(i); err != nil {
			t.Fatal(err)
		}
	}
	if q.Len() != 3 {
		t.Errorf("Len() = %d, want 3", q.Len())
	}
	q.Close()
	var got []int
	for v := range q.Items() {
		got = append(got, v)
	}
	if len(got) != 3 || got[0] != 0 || got[2] != 2 {
		t.Errorf("items %v, want 0 1 2 in order", got)
	}
	errWrite := errors.New("write failed")
	q2 := New[int](1)
	q2.Put(1) // fills it: the next Put would block
	q2.Stop(errWrite)
	if err := q2.Put(2); !errors.Is(err, errWrite) {
		t.Errorf("Put after Stop = %v, want %v", err, errWrite)
	}
}
