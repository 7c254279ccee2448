// Package sqlstore is the database/sql implementation of store.Store shared
// by the SQLite and PostgreSQL stores. The dialects differ in DDL types,
// placeholders, error codes and how writes are committed: SQLite has one
// writer and commits several Update calls in one transaction (group commit,
// each call in its own savepoint); PostgreSQL runs one transaction per call
// on a connection pool and retries on conflicts.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Dialect describes one database.
type Dialect struct {
	Name     string
	IDColumn string
	BlobType string
	// Dollar placeholders ($1) instead of "?".
	Dollar bool
	// IsUnique reports a unique constraint violation.
	IsUnique func(error) bool
	// IsRetryable reports a serialization failure or deadlock.
	IsRetryable func(error) bool
	// LockMigrations is run first in the migration transaction.
	LockMigrations string
	// GroupCommit batches Update calls in one transaction on one writer.
	GroupCommit bool
	// CacheStatements prepares statements once on the writer.
	CacheStatements bool
}

// Observer receives store latencies (seconds) per operation.
type Observer func(op string, seconds float64)

// Store implements store.Store.
type Store struct {
	d       *Dialect
	w       *sql.DB // writes
	r       *sql.DB // reads (may equal w)
	observe Observer

	stmts map[string]*sql.Stmt

	reqs    chan *request
	done    chan struct{}
	stopped chan struct{}
	closeMu sync.Once
}

var _ store.Store = (*Store)(nil)

// Options of New.
type Options struct {
	// MaxBatch bounds the number of Update calls per group commit.
	MaxBatch int
	Observe  Observer
}

// New migrates the database and returns a store. w is used for writes, r for
// reads; both are closed by Close.
func New(ctx context.Context, d *Dialect, w, r *sql.DB, o Options) (*Store, error) {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 128
	}
	if o.Observe == nil {
		o.Observe = func(string, float64) {}
	}
	s := &Store{d: d, w: w, r: r, observe: o.Observe, stmts: map[string]*sql.Stmt{}}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	if d.GroupCommit {
		// Statements prepared on the pool (of one connection) are reused by
		// every transaction; statements prepared on a sql.Conn would not be.
		if d.CacheStatements {
			for _, q := range txQueries {
				st, err := w.PrepareContext(ctx, s.q(q))
				if err != nil {
					return nil, fmt.Errorf("prepare %q: %w", q, err)
				}
				s.stmts[q] = st
			}
		}
		s.reqs = make(chan *request, 4*o.MaxBatch)
		s.done = make(chan struct{})
		s.stopped = make(chan struct{})
		go s.writer(o.MaxBatch)
	}
	return s, nil
}

// SchemaVersion is the number of migrations this build knows.
func SchemaVersion() int { return len(migrations) }

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if s.d.LockMigrations != "" {
		if _, err := tx.ExecContext(ctx, s.d.LockMigrations); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var v sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	cur, err := forkAt4(ctx, tx, int(v.Int64))
	if err != nil {
		return err
	}
	if cur > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this program's %d", cur, len(migrations))
	}
	if err := applyMigrations(ctx, tx, s.d, cur, len(migrations)); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migrations: %w", err)
	}
	return nil
}

// applyMigrations applies migrations from+1..to in tx and records each in schema_migrations.
func applyMigrations(ctx context.Context, tx *sql.Tx, d *Dialect, from, to int) error {
	for i := from; i < to; i++ {
		for _, stmt := range strings.Split(expand(migrations[i], d), ";\n") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("apply migration %d: %w", i+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, d.q(`INSERT INTO schema_migrations (version) VALUES (?)`), i+1); err != nil {
			return fmt.Errorf("record migration %d: %w", i+1, err)
		}
	}
	return nil
}

// q rewrites "?" placeholders for the dialect.
func (s *Store) q(query string) string { return s.d.q(query) }

func (d *Dialect) q(query string) string {
	if !d.Dollar {
		return query
	}
	return Rebind(query)
}

// Ping checks the database.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.d.Name, err)
	}
	return nil
}

// Close stops the writer and closes the databases.
func (s *Store) Close() error {
	var errs []error
	s.closeMu.Do(func() {
		if s.done != nil {
			close(s.done)
			<-s.stopped
		}
		for _, st := range s.stmts {
			errs = append(errs, st.Close())
		}
		if s.r != s.w {
			errs = append(errs, s.r.Close())
		}
		errs = append(errs, s.w.Close())
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close %s store: %w", s.d.Name, err)
	}
	return nil
}

// ErrClosed is returned by Update after Close.
var ErrClosed = errors.New("store closed")

type request struct {
	ctx context.Context
	fn  func(context.Context, store.Tx) error
	res chan error
}

// Update runs fn in a transaction.
func (s *Store) Update(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	start := time.Now()
	defer func() { s.observe("update", time.Since(start).Seconds()) }()
	if s.d.GroupCommit {
		r := &request{ctx: ctx, fn: fn, res: make(chan error, 1)}
		select {
		case s.reqs <- r:
		case <-s.done:
			return ErrClosed
		case <-ctx.Done():
			return fmt.Errorf("queue write: %w", ctx.Err())
		}
		// Once queued, wait for the outcome even if ctx ends: the caller must
		// not answer before it knows whether its write committed.
		return <-r.res
	}
	return RetryConflicts(ctx, func() error { return s.runTx(ctx, fn) })
}

// RetryConflicts runs a transaction again while it fails with store.ErrConflict (another
// writer won a race), with a short growing pause, at most 20 times.
func RetryConflicts(ctx context.Context, run func() error) error {
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		err = run()
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("retry transaction: %w", ctx.Err())
		case <-time.After(time.Duration(attempt+1) * time.Millisecond):
		}
	}
	return err
}

func (s *Store) runTx(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	t := &tx{s: s, tx: sqlTx}
	if err := fn(ctx, t); err != nil {
		_ = sqlTx.Rollback()
		return s.classify(err)
	}
	if err := sqlTx.Commit(); err != nil {
		return s.classify(fmt.Errorf("commit: %w", err))
	}
	return nil
}

func (s *Store) classify(err error) error {
	if errors.Is(err, store.ErrConflict) {
		return err
	}
	if s.d.IsRetryable != nil && s.d.IsRetryable(err) {
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}

// writer is the single SQLite writer: it commits queued Update calls in
// batches, each in its own savepoint so that one failing call does not undo
// the others.
func (s *Store) writer(maxBatch int) {
	defer close(s.stopped)
	batch := make([]*request, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-s.reqs:
			batch = append(batch, r)
		case <-s.done:
			s.drain()
			return
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		s.commitBatch(batch)
	}
}

func (s *Store) drain() {
	for {
		select {
		case r := <-s.reqs:
			r.res <- ErrClosed
		default:
			return
		}
	}
}

func (s *Store) commitBatch(batch []*request) {
	ctx := context.Background()
	results := make([]error, len(batch))
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range batch {
			r.res <- fmt.Errorf("begin: %w", err)
		}
		return
	}
	t := &tx{s: s, tx: sqlTx}
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = fmt.Errorf("before write: %w", err)
			continue
		}
		if _, err := t.exec(ctx, qSavepoint); err != nil {
			results[i] = fmt.Errorf("savepoint: %w", err)
			continue
		}
		if err := r.fn(ctx, t); err != nil {
			results[i] = err
			if _, rerr := t.exec(ctx, qRollback); rerr != nil {
				results[i] = errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rerr))
			}
		}
		if _, err := t.exec(ctx, qRelease); err != nil && results[i] == nil {
			results[i] = fmt.Errorf("release savepoint: %w", err)
		}
	}
	if err := sqlTx.Commit(); err != nil {
		err = fmt.Errorf("commit: %w", err)
		for i := range results {
			if results[i] == nil {
				results[i] = err
			}
		}
	}
	for i, r := range batch {
		r.res <- results[i]
	}
}
