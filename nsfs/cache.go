package nsfs

import (
	"sync"
	"time"
)

// Cache keeps one open value per network namespace (a netlink handle, a
// set of sockets), opened on first use and closed once unused for Idle:
// an open namespace file or socket keeps a namespace alive after
// everything else has left it. Safe for concurrent use.
type Cache[T any] struct {
	Idle time.Duration

	open  func(ino uint32) (T, error)
	close func(v T, wait bool) bool // wait false: may refuse (in use), returning false

	mu  sync.Mutex
	all map[uint32]*cacheEntry[T]
}

type cacheEntry[T any] struct {
	v    T
	used time.Time
}

// NewCache returns a Cache that opens values with open and closes them
// with close; close with wait false may decline a value in use, which is
// then tried again later.
func NewCache[T any](idle time.Duration, open func(ino uint32) (T, error), close func(v T, wait bool) bool) *Cache[T] {
	return &Cache[T]{Idle: idle, open: open, close: close, all: map[uint32]*cacheEntry[T]{}}
}

// Get returns namespace ino's value, opening it when needed.
func (c *Cache[T]) Get(ino uint32) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.closeIdle(now)
	if e, ok := c.all[ino]; ok {
		e.used = now
		return e.v, nil
	}
	v, err := c.open(ino)
	if err != nil {
		return v, err
	}
	c.all[ino] = &cacheEntry[T]{v: v, used: now}
	return v, nil
}

func (c *Cache[T]) closeIdle(now time.Time) {
	for ino, e := range c.all {
		if now.Sub(e.used) > c.Idle && c.close(e.v, false) {
			delete(c.all, ino)
		}
	}
}

// Close closes every value, waiting for those in use.
func (c *Cache[T]) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ino, e := range c.all {
		c.close(e.v, true)
		delete(c.all, ino)
	}
}
