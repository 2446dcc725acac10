package nsfs

import (
	"errors"
	"testing"
	"time"
)

func TestCacheOpensOnceAndClosesIdle(t *testing.T) {
	opened, closed := map[uint32]int{}, map[uint32]int{}
	busy := map[uint32]bool{}
	c := NewCache(time.Hour, func(ino uint32) (uint32, error) {
		if ino == 0 {
			return 0, errors.New("no such namespace")
		}
		opened[ino]++
		return ino, nil
	}, func(v uint32, wait bool) bool {
		if busy[v] && !wait {
			return false
		}
		closed[v]++
		return true
	})
	for range 3 {
		if v, err := c.Get(7); err != nil || v != 7 {
			t.Fatalf("Get(7) = %d, %v", v, err)
		}
	}
	if _, err := c.Get(0); err == nil {
		t.Error("Get(0) opened a namespace that does not open")
	}
	c.Get(8)
	if opened[7] != 1 || opened[8] != 1 {
		t.Errorf("opened %v, want each namespace once", opened)
	}
	// Idle now: 8 is in use and declines, 7 is closed; 8 goes at Close.
	busy[8] = true
	c.Idle = -time.Nanosecond // every entry is idle
	c.Get(9)
	if closed[7] != 1 || closed[8] != 0 {
		t.Errorf("closed %v after idling, want 7 closed and 8 (in use) kept", closed)
	}
	c.Close()
	if closed[8] != 1 || closed[9] != 1 {
		t.Errorf("closed %v after Close, want every namespace closed", closed)
	}
}
