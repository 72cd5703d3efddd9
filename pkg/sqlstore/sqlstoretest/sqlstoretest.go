// Package sqlstoretest gives tests a PostgreSQL schema of their own on the
// test server, so store tests run against real Postgres in parallel
// without seeing each other's rows.
package sqlstoretest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the test server `make test` starts (deploy/scripts).
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var (
	once   sync.Once
	base   string
	reach  error
	prefix = "t_"
)

// PostgresURL creates a fresh schema on the test server (TEST_POSTGRES_URL,
// else DefaultURL), drops it when the test ends, and returns a connection
// URL whose search_path is that schema. When the server is unreachable the
// test is skipped, except under CI=true, where it fails: CI must not pass
// by skipping the Postgres half.
func PostgresURL(t testing.TB, name string) string {
	t.Helper()
	once.Do(func() {
		base = os.Getenv("TEST_POSTGRES_URL")
		if base == "" {
			base = DefaultURL
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			reach = err
			return
		}
		reach = conn.Ping(ctx)
		_ = conn.Close(ctx)
	})
	if reach != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL unreachable at TEST_POSTGRES_URL (or %s): %v", DefaultURL, reach)
		}
		t.Skipf("PostgreSQL unreachable (%v); set TEST_POSTGRES_URL to run against Postgres", reach)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := prefix + name + "_" + hex.EncodeToString(b[:])
	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE SCHEMA " + pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if err := exec("DROP SCHEMA " + pgx.Identifier{schema}.Sanitize() + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return WithParams(base, map[string]string{"search_path": schema, "pool_max_conns": "8"})
}

// WithParams adds connection parameters to a URL or keyword/value string.
func WithParams(conn string, params map[string]string) string {
	if u, err := url.Parse(conn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for k, v := range params {
		conn += " " + k + "=" + v
	}
	return conn
}
