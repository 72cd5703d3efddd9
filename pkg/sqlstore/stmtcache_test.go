package sqlstore

import (
	"fmt"
	"path/filepath"
	"testing"
)

// writerConn runs f on the SQLite writer's connection as the cache sees it.
func writerConn(t *testing.T, d *DB, f func(c *cachingConn)) {
	t.Helper()
	conn, err := d.b.(*sqliteBackend).w.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Raw(func(dc any) error {
		c, ok := dc.(*cachingConn)
		if !ok {
			return fmt.Errorf("writer connection is a %T, want *cachingConn", dc)
		}
		f(c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// SQLite connections compile a statement once and run it again, inside
// and outside transactions; a script is not kept.
func TestStatementCache(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "cache.db"), testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })

	const update = `UPDATE widgets SET note = $1 WHERE id = 0`
	if _, err := d.Writer().Exec(ctx, update, "one"); err != nil {
		t.Fatal(err)
	}
	var first *cachedStmt
	writerConn(t, d, func(c *cachingConn) { first = c.stmts[sqliteSQL(update)] })
	if first == nil {
		t.Fatalf("%q was not kept compiled", update)
	}
	tx, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, update, "two"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	writerConn(t, d, func(c *cachingConn) {
		if c.stmts[sqliteSQL(update)] != first {
			t.Errorf("the transaction compiled %q again", update)
		}
		if _, ok := c.stmts["SELECT 1; SELECT 2"]; ok {
			t.Error("a script was kept")
		}
	})
	if n := count(t, d, `SELECT count(*) FROM widgets WHERE note = 'two'`); n != 1 {
		t.Errorf("the cached update did not run: %d rows", n)
	}

	// A constraint failure leaves the statement usable.
	const insert = `INSERT INTO widgets (id, name) VALUES ($1, $2)`
	if err := exec(d, insert, 1, "seed"); err == nil || !d.UniqueViolation(err) {
		t.Fatalf("duplicate name = %v, want a unique violation", err)
	}
	if err := exec(d, insert, 1, "one"); err != nil {
		t.Fatalf("the same statement after a failure: %v", err)
	}

	// A schema change recompiles what it affects.
	const read = `SELECT name FROM widgets WHERE id = $1`
	var name string
	if err := d.Writer().QueryRow(ctx, read, 1).Scan(&name); err != nil || name != "one" {
		t.Fatalf("read = %q, %v", name, err)
	}
	if err := exec(d, `ALTER TABLE widgets RENAME COLUMN name TO label`); err != nil {
		t.Fatal(err)
	}
	if err := d.Writer().QueryRow(ctx, read, 1).Scan(&name); err == nil {
		t.Error("a statement on a renamed column still ran")
	}
	if err := d.Writer().QueryRow(ctx, `SELECT label FROM widgets WHERE id = $1`, 1).Scan(&name); err != nil || name != "one" {
		t.Errorf("read after the change = %q, %v", name, err)
	}
}

// The same text queried while its own rows are open gets a statement of
// its own; a busy statement evicted from a full cache (one statement here,
// so every new text evicts) keeps serving its rows until they close.
func TestStatementCacheBusyAndEviction(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	d, err := OpenSQLite(ctx, filepath.Join(t.TempDir(), "cache.db"), testOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	for i := 1; i <= 3; i++ {
		if err := exec(d, `INSERT INTO widgets (id, name) VALUES ($1, $2)`, i, fmt.Sprintf("w%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	writerConn(t, d, func(c *cachingConn) { c.size = 1 })

	const list = `SELECT id FROM widgets WHERE id >= $1 ORDER BY id`
	tx, err := d.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	rs, err := tx.Query(ctx, list, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rs.Next() {
		var id int
		if err := rs.Scan(&id); err != nil {
			t.Fatal(err)
		}
		// The same text inside the loop, and enough others to evict it.
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (`+list+`)`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		var inner int
		if err := tx.QueryRow(ctx, list, id).Scan(&inner); err != nil || inner != id {
			t.Fatalf("nested run of the same text = %d, %v; want %d", inner, err, id)
		}
		got = append(got, fmt.Sprintf("%d:%d", id, n))
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	rs.Close()
	if want := "[0:4 1:3 2:2 3:1]"; fmt.Sprint(got) != want {
		t.Errorf("rows = %v, want %s", got, want)
	}
	tx.Rollback(ctx)
	writerConn(t, d, func(c *cachingConn) {
		if len(c.stmts) > 1 {
			t.Errorf("%d statements kept, bound 1", len(c.stmts))
		}
	})
	// Readers cache as well, and still answer.
	if n := count(t, d, `SELECT count(*) FROM widgets`); n != 4 {
		t.Errorf("%d widgets, want 4", n)
	}
}
