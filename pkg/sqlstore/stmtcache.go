package sqlstore

import (
	"context"
	"database/sql/driver"
	"reflect"
	"strings"

	"modernc.org/sqlite"
)

// stmtCacheSize bounds the statements one SQLite connection keeps
// compiled. The services' statements are a few dozen fixed texts, River's
// about as many; the bound only matters for texts built per call.
const stmtCacheSize = 128

// cachingConnector opens modernc.org/sqlite connections that keep the
// statements run on them compiled, keyed by their text. SQLite parses and
// plans a statement in sqlite3_prepare; a compiled one only binds and
// steps. database/sql's Exec and Query on a connection prepare and
// finalize the statement every time (about an eighth of the CPU of a
// SQLite registration went to that), and its own prepared statements
// cannot serve the writer: preparing one outside a transaction needs the
// single writer connection, which a transaction in progress holds.
// Caching below database/sql serves everyone on the connection, River
// included, with no change to their code.
type cachingConnector struct{ driver.Connector }

// newCachingConnector is sqlite.NewConnector(dsn) with statement caching.
func newCachingConnector(dsn string) (driver.Connector, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return cachingConnector{c}, nil
}

// Connect opens a connection and wraps it.
func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn), nil
}

// sqliteConn is what every modernc.org/sqlite connection implements, and
// so what a wrapper must forward (see sqlite.NewConnector): database/sql
// falls back to context-free methods for any it cannot see.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is a connection with its compiled statements. database/sql
// never uses a connection from two goroutines at once (its rows included),
// so the cache needs no lock.
type cachingConn struct {
	sqliteConn
	stmts map[string]*cachedStmt
	size  int // stmtCacheSize; tests make it smaller
}

// cachedStmt is a compiled statement of a connection.
type cachedStmt struct {
	stmt interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	}
	// busy is set while rows of the statement are open: a statement steps
	// through one result at a time, so the same text run meanwhile (a
	// query inside the loop over its own rows) gets a statement of its own.
	busy bool
	// evicted means the cache dropped it while busy: the rows' Close
	// finalizes it.
	evicted bool
}

func newCachingConn(conn driver.Conn) driver.Conn {
	c, ok := conn.(sqliteConn)
	if !ok {
		return conn // not a connection this wrapper knows: no caching
	}
	return &cachingConn{sqliteConn: c, stmts: make(map[string]*cachedStmt), size: stmtCacheSize}
}

// Unwrap returns the modernc.org/sqlite connection (sqlite.Limit looks
// through wrappers this way).
func (c *cachingConn) Unwrap() driver.Conn { return c.sqliteConn }

// cacheable reports whether a text is worth keeping compiled: one
// statement (a script is parsed statement by statement at every run
// anyway, and runs once, as migrations do).
func cacheable(query string) bool {
	return !strings.Contains(strings.TrimRight(query, "; \t\r\n"), ";")
}

// cached returns the compiled statement of query, compiling it the first
// time; nil when the statement should run uncached (a script, or the
// cached statement has rows open).
func (c *cachingConn) cached(ctx context.Context, query string) (*cachedStmt, error) {
	if s, ok := c.stmts[query]; ok {
		if s.busy {
			return nil, nil
		}
		return s, nil
	}
	if !cacheable(query) {
		return nil, nil
	}
	for len(c.stmts) >= c.size {
		c.evictOne()
	}
	ds, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	st, ok := ds.(interface {
		driver.Stmt
		driver.StmtExecContext
		driver.StmtQueryContext
	})
	if !ok {
		_ = ds.Close()
		return nil, nil
	}
	s := &cachedStmt{stmt: st}
	c.stmts[query] = s
	return s, nil
}

// evictOne drops a statement from the cache, any one: statements of texts
// built per call are the likely ones, and there are many of them.
func (c *cachingConn) evictOne() {
	for q, s := range c.stmts {
		delete(c.stmts, q)
		if s.busy {
			s.evicted = true
		} else {
			_ = s.stmt.Close()
		}
		return
	}
}

// ExecContext runs query on its compiled statement.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	s, err := c.cached(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.sqliteConn.ExecContext(ctx, query, args)
	}
	return s.stmt.ExecContext(ctx, args)
}

// QueryContext runs query on its compiled statement; the statement is busy
// until the rows are closed.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	s, err := c.cached(ctx, query)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return c.sqliteConn.QueryContext(ctx, query, args)
	}
	rs, err := s.stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	s.busy = true
	return &cachedRows{Rows: rs, s: s}, nil
}

// Close finalizes the compiled statements and closes the connection.
func (c *cachingConn) Close() error {
	for q, s := range c.stmts {
		delete(c.stmts, q)
		_ = s.stmt.Close()
	}
	return c.sqliteConn.Close()
}

// cachedRows are the rows of a compiled statement; Close frees the
// statement for the next run (modernc.org/sqlite resets it rather than
// finalizing it).
type cachedRows struct {
	driver.Rows
	s *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if r.s != nil {
		r.s.busy = false
		if r.s.evicted {
			_ = r.s.stmt.Close()
		}
		r.s = nil
	}
	return err
}

// The column type methods modernc.org/sqlite's rows implement, forwarded
// so that sql.Rows.ColumnTypes reports the same as without the cache.

func (r *cachedRows) ColumnTypeDatabaseTypeName(index int) string {
	if x, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return x.ColumnTypeDatabaseTypeName(index)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(index int) (int64, bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return x.ColumnTypeLength(index)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(index int) (nullable, ok bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return x.ColumnTypeNullable(index)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(index int) (precision, scale int64, ok bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return x.ColumnTypePrecisionScale(index)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(index int) reflect.Type {
	if x, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return x.ColumnTypeScanType(index)
	}
	return reflect.TypeFor[any]()
}
