package tokencache

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/mosipcrvs/bridge/services/auth-token/internal/redistest"
)

// storeFactory returns a store and a key prefix unique to the calling test.
type storeFactory func(t *testing.T) (Store, string)

// stores lists every Store implementation; contract tests run against all.
var stores = map[string]storeFactory{
	"memory": func(t *testing.T) (Store, string) { return NewMemoryStore(nil), "mem:" },
	"redis": func(t *testing.T) (Store, string) {
		return NewRedisStore(redistest.Client(t), nil), redistest.Prefix(t)
	},
	"redis-sealed": func(t *testing.T) (Store, string) {
		return NewRedisStore(redistest.Client(t), testSealer(t)), redistest.Prefix(t)
	},
}

func testSealer(t testing.TB) *Sealer {
	t.Helper()
	k := make([]byte, SealKeySize)
	_, _ = rand.Read(k)
	s, err := NewSealer(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// With AUTH_TOKEN_CACHE_KEY, Redis never holds a token in the clear, not
// even in the compare-and-delete's arguments; a value opens only with the
// key and under the Redis key it was written to; entries written in the
// clear before the key was set, or sealed with another key, are misses.
func TestRedisStoreSealsTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb := redistest.Client(t)
	prefix := redistest.Prefix(t)
	sealer := testSealer(t)
	s := NewRedisStore(rdb, sealer)
	const token = "eyJhbGciOiJSUzI1NiJ9.secret-mosip-token.sig"
	key := prefix + "sealed"
	mustSet(t, s, key, entryFor(token, time.Minute))
	raw, err := rdb.Get(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw, "secret-mosip-token") || strings.Contains(raw, token[:10]) {
		t.Fatalf("Redis holds the token in the clear: %s", raw)
	}
	if got, found, err := s.Get(ctx, key); !found || err != nil || got.Token != token {
		t.Fatalf("Get(sealed) = %q, %v, %v", got.Token, found, err)
	}

	// Another key, no key, or the value moved under another Redis key: a miss.
	moved := prefix + "moved"
	if err := rdb.Set(ctx, moved, raw, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		s   Store
		key string
	}{
		"another cache key": {NewRedisStore(rdb, testSealer(t)), key},
		"no cache key":      {NewRedisStore(rdb, nil), key},
		"moved value":       {s, moved},
	} {
		if got, found, err := tc.s.Get(ctx, tc.key); found || err != nil {
			t.Errorf("%s: Get = %q, %v, %v; want a miss", name, got.Token, found, err)
		}
	}

	// An entry in the clear from before the key was set is not used.
	legacy := prefix + "legacy"
	mustSet(t, NewRedisStore(rdb, nil), legacy, entryFor("plain-token", time.Minute))
	if _, found, err := s.Get(ctx, legacy); found || err != nil {
		t.Errorf("Get(entry in the clear) = %v, %v; want a miss", found, err)
	}

	// Compare-and-delete by fingerprint: a stale token keeps the entry, the
	// current one deletes it; the script never sees the token.
	if del, err := s.CompareAndDelete(ctx, key, "stale"); del || err != nil {
		t.Errorf("CompareAndDelete(stale) = %v, %v", del, err)
	}
	if del, err := NewRedisStore(rdb, nil).CompareAndDelete(ctx, key, token); del || err != nil {
		t.Errorf("CompareAndDelete without the key = %v, %v; want false", del, err)
	}
	if del, err := s.CompareAndDelete(ctx, key, token); !del || err != nil {
		t.Errorf("CompareAndDelete(current) = %v, %v; want true", del, err)
	}
}

func TestParseSealKey(t *testing.T) {
	t.Parallel()
	k := make([]byte, SealKeySize)
	_, _ = rand.Read(k)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if got, err := ParseSealKey(" " + enc.EncodeToString(k) + "\n"); err != nil || !bytes.Equal(got, k) {
			t.Errorf("ParseSealKey(%v) = %x, %v", enc, got, err)
		}
	}
	short := base64.StdEncoding.EncodeToString(k[:16])
	for _, bad := range []string{"", "not base64 at all!", short} {
		_, err := ParseSealKey(bad)
		if err == nil {
			t.Errorf("ParseSealKey(%q) accepted", bad)
		} else if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("ParseSealKey error shows the value: %v", err)
		}
	}
}

func TestStoreContract(t *testing.T) {
	t.Parallel()
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			tests := []struct {
				name string
				run  func(t *testing.T, s Store, key string)
			}{
				{"get missing", func(t *testing.T, s Store, key string) {
					if _, found, err := s.Get(ctx, key); found || err != nil {
						t.Errorf("Get(missing) = found %v, err %v; want not found, nil", found, err)
					}
				}},
				{"set then get round-trips", func(t *testing.T, s Store, key string) {
					want := entryFor("tok-1", time.Minute)
					if err := s.Set(ctx, key, want); err != nil {
						t.Fatal(err)
					}
					got, found, err := s.Get(ctx, key)
					if err != nil || !found || got.Token != want.Token || !got.AcquiredAt.Equal(want.AcquiredAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
						t.Errorf("Get = %+v, %v, %v; want %+v", got, found, err, want)
					}
				}},
				{"set replaces", func(t *testing.T, s Store, key string) {
					mustSet(t, s, key, entryFor("old", time.Minute))
					mustSet(t, s, key, entryFor("new", time.Minute))
					if got, _, _ := s.Get(ctx, key); got.Token != "new" {
						t.Errorf("Get = %q, want new", got.Token)
					}
				}},
				{"entry expires at ExpiresAt", func(t *testing.T, s Store, key string) {
					mustSet(t, s, key, entryFor("short", 150*time.Millisecond))
					time.Sleep(300 * time.Millisecond)
					if _, found, err := s.Get(ctx, key); found || err != nil {
						t.Errorf("Get after expiry = found %v, err %v", found, err)
					}
				}},
				{"already expired entry is not stored", func(t *testing.T, s Store, key string) {
					mustSet(t, s, key, entryFor("dead", -time.Second))
					if _, found, _ := s.Get(ctx, key); found {
						t.Error("expired entry stored")
					}
				}},
				{"compare-and-delete only the same token", func(t *testing.T, s Store, key string) {
					mustSet(t, s, key, entryFor("current", time.Minute))
					if del, err := s.CompareAndDelete(ctx, key, "stale"); del || err != nil {
						t.Errorf("CompareAndDelete(stale) = %v, %v; want false", del, err)
					}
					if _, found, _ := s.Get(ctx, key); !found {
						t.Fatal("current token deleted by a stale one")
					}
					if del, err := s.CompareAndDelete(ctx, key, "current"); !del || err != nil {
						t.Errorf("CompareAndDelete(current) = %v, %v; want true", del, err)
					}
					if _, found, _ := s.Get(ctx, key); found {
						t.Error("token still there after compare-and-delete")
					}
					if del, err := s.CompareAndDelete(ctx, key, "current"); del || err != nil {
						t.Errorf("CompareAndDelete(missing) = %v, %v; want false", del, err)
					}
				}},
				{"lock excludes other owners until unlocked", func(t *testing.T, s Store, key string) {
					lk := key + ":lock"
					if ok, err := s.TryLock(ctx, lk, "a", time.Minute); !ok || err != nil {
						t.Fatalf("TryLock(a) = %v, %v", ok, err)
					}
					if ok, err := s.TryLock(ctx, lk, "b", time.Minute); ok || err != nil {
						t.Fatalf("TryLock(b) while held = %v, %v; want false", ok, err)
					}
					if err := s.Unlock(ctx, lk, "b"); err != nil {
						t.Fatal(err)
					}
					if ok, _ := s.TryLock(ctx, lk, "c", time.Minute); ok {
						t.Fatal("a non-owner released the lock")
					}
					if err := s.Unlock(ctx, lk, "a"); err != nil {
						t.Fatal(err)
					}
					if ok, err := s.TryLock(ctx, lk, "b", time.Minute); !ok || err != nil {
						t.Fatalf("TryLock(b) after unlock = %v, %v", ok, err)
					}
				}},
				{"lock expires", func(t *testing.T, s Store, key string) {
					lk := key + ":lock"
					if ok, _ := s.TryLock(ctx, lk, "a", 100*time.Millisecond); !ok {
						t.Fatal("TryLock failed")
					}
					time.Sleep(250 * time.Millisecond)
					if ok, err := s.TryLock(ctx, lk, "b", time.Minute); !ok || err != nil {
						t.Fatalf("TryLock after expiry = %v, %v", ok, err)
					}
				}},
				{"lock and entry are independent", func(t *testing.T, s Store, key string) {
					mustSet(t, s, key, entryFor("tok", time.Minute))
					if ok, _ := s.TryLock(ctx, key+":lock", "a", time.Minute); !ok {
						t.Fatal("TryLock failed")
					}
					if _, found, _ := s.Get(ctx, key); !found {
						t.Error("locking dropped the entry")
					}
				}},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					s, prefix := newStore(t)
					tt.run(t, s, prefix+t.Name())
				})
			}
		})
	}
}

func TestRedisStoreIgnoresForeignValues(t *testing.T) {
	t.Parallel()
	rdb := redistest.Client(t)
	s := NewRedisStore(rdb, nil)
	key := redistest.Prefix(t) + "corrupt"
	ctx := context.Background()
	if err := rdb.Set(ctx, key, "not json", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, found, err := s.Get(ctx, key); found || err != nil {
		t.Errorf("Get(corrupt) = %v, %v; want a miss", found, err)
	}
	if del, err := s.CompareAndDelete(ctx, key, "not json"); del || err != nil {
		t.Errorf("CompareAndDelete(corrupt) = %v, %v; want false", del, err)
	}
	mustSet(t, s, key, entryFor("healed", time.Minute))
	if got, _, _ := s.Get(ctx, key); got.Token != "healed" {
		t.Errorf("Get after Set = %q", got.Token)
	}
	// Set uses PXAT at the token's expiry.
	ttl, err := rdb.PTTL(ctx, key).Result()
	if err != nil || ttl <= 55*time.Second || ttl > time.Minute+time.Second {
		t.Errorf("PTTL = %v, %v; want about 1m", ttl, err)
	}
}

func TestRedisURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw, redacted string
		ok            bool
	}{
		{"redis://127.0.0.1:6379", "redis://127.0.0.1:6379", true},
		{"redis://:hunter2@redis:6379/0", "redis://:xxxxx@redis:6379/0", true},
		{"rediss://user:hunter2@redis:6380", "rediss://user:xxxxx@redis:6380", true},
		{"redis://hunter2@redis:6379", "redis://xxxxx@redis:6379", true},
		{"http://user:hunter2@redis", "http://user:xxxxx@redis", false},
		{"hunter2@redis:6379", "xxxxx@redis:6379", false},
		{"127.0.0.1:6379", "127.0.0.1:6379", false},
	}
	for _, tt := range tests {
		if got := RedactRedisURL(tt.raw); got != tt.redacted {
			t.Errorf("RedactRedisURL(%q) = %q, want %q", tt.raw, got, tt.redacted)
		}
		err := RedisURLProblem(tt.raw)
		if (err == nil) != tt.ok {
			t.Errorf("RedisURLProblem(%q) = %v, want ok=%v", tt.raw, err, tt.ok)
		}
		if err != nil && (strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "REDIS_URL must be a redis:// URL")) {
			t.Errorf("RedisURLProblem(%q) = %q", tt.raw, err)
		}
	}
}

func entryFor(tok string, ttl time.Duration) Entry {
	now := time.Now().Round(time.Millisecond)
	return Entry{Token: tok, AcquiredAt: now, ExpiresAt: now.Add(ttl)}
}

func mustSet(t *testing.T, s Store, key string, e Entry) {
	t.Helper()
	if err := s.Set(context.Background(), key, e); err != nil {
		t.Fatalf("Set: %v", err)
	}
}
