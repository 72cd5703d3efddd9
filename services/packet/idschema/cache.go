package idschema

import (
	"crypto/sha256"
	"sync"
)

// Cache remembers parsed schemas by document digest. OpenCRVS 2.0 may send
// its schemaJson with every registration; it is nearly always the same
// document, and parsing it (and compiling its validators) per request would
// be wasted work. Failed parses are not remembered, so a fixed document is
// picked up at once.
type Cache struct {
	mu      sync.Mutex
	max     int
	entries map[[sha256.Size]byte]*Schema
	order   [][sha256.Size]byte // insertion order, oldest first
}

// NewCache returns a cache holding at most max schemas (at least 1); the
// oldest is evicted first.
func NewCache(max int) *Cache {
	if max < 1 {
		max = 1
	}
	return &Cache{max: max, entries: map[[sha256.Size]byte]*Schema{}}
}

// Parse returns the schema for doc, parsing it only when this exact
// document has not been seen (or has been evicted).
func (c *Cache) Parse(doc []byte) (*Schema, error) {
	key := sha256.Sum256(doc)
	c.mu.Lock()
	s, ok := c.entries[key]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	s, err := Parse(doc)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.entries[key]; ok {
		return prev, nil
	}
	if len(c.order) >= c.max {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
	c.entries[key] = s
	c.order = append(c.order, key)
	return s, nil
}

// Len reports how many schemas the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
