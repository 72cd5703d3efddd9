package tokencache

import (
	"context"
	"sync"
	"time"
)

// Entry is a token as the shared (L2) store keeps it: enough for any
// replica to compute the same refresh and stale times.
type Entry struct {
	// Token is the bearer token; stores must never log it.
	Token string `json:"token"`
	// AcquiredAt is when the fetching replica asked the auth manager.
	AcquiredAt time.Time `json:"acquired_at"`
	// ExpiresAt is when MOSIP stops accepting the token; the store drops
	// the entry then.
	ExpiresAt time.Time `json:"expires_at"`
}

// Store is the L2 cache shared by replicas and the home of the refresh
// lock. Implementations: RedisStore for fleets, MemoryStore for a single
// process. Errors mean the store is unreachable or broken; a missing key is
// not an error.
type Store interface {
	// Get returns the entry at key; found is false when there is none.
	Get(ctx context.Context, key string) (e Entry, found bool, err error)
	// Set stores e at key until e.ExpiresAt, replacing what was there.
	Set(ctx context.Context, key string, e Entry) error
	// CompareAndDelete deletes key only if its entry holds token, so a
	// replica reporting a stale token cannot delete a newer one.
	CompareAndDelete(ctx context.Context, key, token string) (deleted bool, err error)
	// TryLock takes the lock at key for owner for ttl, if nobody holds it.
	TryLock(ctx context.Context, key, owner string, ttl time.Duration) (acquired bool, err error)
	// Unlock releases the lock at key only if owner still holds it.
	Unlock(ctx context.Context, key, owner string) error
	// Name labels the store in states and metrics ("redis", "memory").
	Name() string
}

// MemoryStore is the in-process Store used when no Redis is configured
// (the embedded default). It gives a single process the same code path as
// a fleet; with one process the lock simply never contends across replicas.
type MemoryStore struct {
	now func() time.Time

	mu      sync.Mutex
	entries map[string]Entry
	locks   map[string]memLock
}

type memLock struct {
	owner string
	until time.Time
}

// NewMemoryStore returns an empty store; now is the clock (nil means time.Now).
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{now: now, entries: map[string]Entry{}, locks: map[string]memLock{}}
}

// Name implements Store.
func (m *MemoryStore) Name() string { return "memory" }

// Get implements Store.
func (m *MemoryStore) Get(_ context.Context, key string) (Entry, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if ok && !m.now().Before(e.ExpiresAt) {
		delete(m.entries, key)
		return Entry{}, false, nil
	}
	return e, ok, nil
}

// Set implements Store.
func (m *MemoryStore) Set(_ context.Context, key string, e Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.now().Before(e.ExpiresAt) {
		delete(m.entries, key)
		return nil
	}
	m.entries[key] = e
	return nil
}

// CompareAndDelete implements Store.
func (m *MemoryStore) CompareAndDelete(_ context.Context, key, token string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || e.Token != token || !m.now().Before(e.ExpiresAt) {
		return false, nil
	}
	delete(m.entries, key)
	return true, nil
}

// TryLock implements Store.
func (m *MemoryStore) TryLock(_ context.Context, key, owner string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if l, ok := m.locks[key]; ok && now.Before(l.until) {
		return false, nil
	}
	m.locks[key] = memLock{owner: owner, until: now.Add(ttl)}
	return true, nil
}

// Unlock implements Store.
func (m *MemoryStore) Unlock(_ context.Context, key, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.locks[key]; ok && l.owner == owner {
		delete(m.locks, key)
	}
	return nil
}
