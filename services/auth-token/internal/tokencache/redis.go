package tokencache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
)

// Redis timeouts are short on purpose: the cache is an optimisation, and a
// dead or black-holed Redis must cost a request well under a second before
// the breaker takes over.
const (
	redisDialTimeout = 300 * time.Millisecond
	redisIOTimeout   = 300 * time.Millisecond
	redisPoolTimeout = 300 * time.Millisecond
)

// compareAndDelete deletes the token entry only if it still holds the token
// being invalidated: ARGV[1] is the token, compared with a plain entry's,
// ARGV[2] its fingerprint ("" without a Sealer), compared with a sealed
// entry's. The value is our JSON; a value that does not decode is left
// alone.
var compareAndDelete = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ok, d = pcall(cjson.decode, v)
if ok and type(d) == 'table' and ((type(d.token) == 'string' and d.token == ARGV[1]) or
    (ARGV[2] ~= '' and type(d.fp) == 'string' and d.fp == ARGV[2])) then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// unlock releases the refresh lock only for its owner, so a replica whose
// lock expired cannot release the lock a later winner holds.
var unlock = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// RedisStore is the Store shared by every replica.
type RedisStore struct {
	rdb    redis.UniversalClient
	sealer *Sealer
}

// NewRedisStore uses rdb (a client, Sentinel failover client or cluster
// client); the caller keeps ownership and closes it. With a Sealer the
// entries are encrypted (AUTH_TOKEN_CACHE_KEY); without one they are JSON
// in the clear. Either reads the plain entries an earlier configuration
// wrote; sealed ones open only with the same key, and read as misses
// otherwise (the token is fetched again and stored anew). With a Sealer,
// entries in the clear (written before the key was set) read as misses
// too, so the first fetch after the change replaces them.
func NewRedisStore(rdb redis.UniversalClient, sealer *Sealer) *RedisStore {
	return &RedisStore{rdb: rdb, sealer: sealer}
}

// sealedEntry is the value at a token key with a Sealer: the Entry's JSON
// sealed, and the token's fingerprint for compareAndDelete.
type sealedEntry struct {
	Sealed      string `json:"sealed"`
	Fingerprint string `json:"fp"`
}

// storedEntry reads either form of the value.
type storedEntry struct {
	Entry
	sealedEntry
}

// Name implements Store.
func (s *RedisStore) Name() string { return "redis" }

// Get implements Store. A value that is not a valid entry reads as a miss,
// so a corrupt key heals on the next store rather than failing every call.
func (s *RedisStore) Get(ctx context.Context, key string) (Entry, bool, error) {
	b, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, err
	}
	var v storedEntry
	if err := json.Unmarshal(b, &v); err != nil {
		return Entry{}, false, nil
	}
	e := v.Entry
	switch {
	case s.sealer == nil && v.Sealed != "", s.sealer != nil && v.Sealed == "":
		return Entry{}, false, nil
	case v.Sealed != "":
		plain, err := s.sealer.open(v.Sealed, key)
		if err != nil {
			return Entry{}, false, nil
		}
		defer clear(plain)
		e = Entry{}
		if err := json.Unmarshal(plain, &e); err != nil {
			return Entry{}, false, nil
		}
	}
	if e.Token == "" {
		return Entry{}, false, nil
	}
	return e, true, nil
}

// Set implements Store with SET key value PXAT expiry, so Redis drops the
// entry exactly when MOSIP stops accepting the token.
func (s *RedisStore) Set(ctx context.Context, key string, e Entry) error {
	if !time.Now().Before(e.ExpiresAt) {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if s.sealer != nil {
		v := sealedEntry{Sealed: s.sealer.seal(b, key), Fingerprint: s.sealer.fingerprint(e.Token)}
		clear(b)
		if b, err = json.Marshal(v); err != nil {
			return err
		}
	}
	return s.rdb.Do(ctx, "set", key, b, "pxat", e.ExpiresAt.UnixMilli()).Err()
}

// CompareAndDelete implements Store with a Lua compare-and-delete. The
// token goes to Redis with the call only when entries are in the clear
// anyway; with a Sealer only its fingerprint does.
func (s *RedisStore) CompareAndDelete(ctx context.Context, key, token string) (bool, error) {
	plain, fp := token, ""
	if s.sealer != nil {
		plain, fp = "", s.sealer.fingerprint(token)
	}
	n, err := compareAndDelete.Run(ctx, s.rdb, []string{key}, plain, fp).Int()
	return n == 1, err
}

// TryLock implements Store with SET key owner NX PX ttl.
func (s *RedisStore) TryLock(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	ms := max(ttl.Milliseconds(), 1)
	err := s.rdb.Do(ctx, "set", key, owner, "nx", "px", ms).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return err == nil, err
}

// Unlock implements Store with a Lua compare-and-delete on the owner.
func (s *RedisStore) Unlock(ctx context.Context, key, owner string) error {
	return unlock.Run(ctx, s.rdb, []string{key}, owner).Err()
}

// RedisURLProblem checks a REDIS_URL the way DialRedis will parse it. The
// message shows the URL with any password replaced, never the password.
func RedisURLProblem(raw string) error {
	if _, err := redis.ParseURL(raw); err != nil {
		return fmt.Errorf("REDIS_URL must be a redis:// URL, got %q", RedactRedisURL(raw))
	}
	return nil
}

// RedactRedisURL replaces the password (and a lone user-info token, which
// go-redis also reads as a password) of a Redis URL with "xxxxx", without
// requiring the URL to parse.
func RedactRedisURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		if strings.Contains(raw, "@") {
			return "xxxxx@" + raw[strings.LastIndex(raw, "@")+1:]
		}
		return raw
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return raw
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if hasPass {
		return scheme + "://" + user + ":xxxxx" + rest[at:]
	}
	return scheme + "://xxxxx" + rest[at:]
}

// DialRedis builds a go-redis client from a redis:// or rediss:// URL with
// short timeouts and OpenTelemetry tracing. Command arguments are kept out
// of spans (they include the token). It does not contact Redis: a Redis
// that is down at start-up only costs extra token fetches.
func DialRedis(rawURL string, tp trace.TracerProvider, logger *slog.Logger) (*redis.Client, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, RedisURLProblem(rawURL)
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = redisDialTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = redisIOTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = redisIOTimeout
	}
	if opts.PoolTimeout == 0 {
		opts.PoolTimeout = redisPoolTimeout
	}
	// One dial attempt and one command retry: the breaker, not go-redis,
	// decides when to try a failing Redis again.
	if opts.DialerRetries == 0 {
		opts.DialerRetries = 1
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 1
	}
	opts.ContextTimeoutEnabled = true
	setRedisLogger(logger)
	rdb := redis.NewClient(opts)
	topts := []redisotel.TracingOption{redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false)}
	if tp != nil {
		topts = append(topts, redisotel.WithTracerProvider(tp))
	}
	if err := redisotel.InstrumentTracing(rdb, topts...); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redis tracing: %w", err)
	}
	return rdb, nil
}

var redisLoggerOnce sync.Once

// setRedisLogger routes go-redis's own log lines (one per failed dial) to
// debug level: the breaker already reports outages once, at warn.
func setRedisLogger(logger *slog.Logger) {
	if logger == nil {
		return
	}
	redisLoggerOnce.Do(func() { redis.SetLogger(redisLogger{logger}) })
}

type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.DebugContext(ctx, "go-redis", slog.String("message", fmt.Sprintf(format, v...)))
}
