package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kizashi-dev/kizashi/internal/proc"
)

// Postgres is a running (or stopped) PostgreSQL server on 127.0.0.1 with
// trust authentication for the superuser "postgres", fsync on (durability is
// real) and small shared buffers.
type Postgres struct {
	dir  string // root of the server's files; removed at close
	port int
	dsn  string // database created at start
	proc *proc.Process
	dbs  atomic.Int64 // databases created, for unique names
}

// StartPostgres starts a PostgreSQL server of the test's own, with a fresh
// database (see DSN), and stops it at the end of the test. Use it to stop,
// kill or restart the server; for just a database, PostgresDSN is cheaper.
//
// initdb refuses to run as root: when the test runs as root, the server runs
// as the "postgres" system user that Debian's postgresql package creates.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	skipShort(t, "postgresql")
	pg, err := startPostgres()
	if pg != nil {
		t.Cleanup(func() {
			if err := pg.close(); err != nil {
				t.Errorf("testenv: %v", err)
			}
			if t.Failed() {
				t.Log(logReport(t.Name(), "postgresql", pg.proc.Log.String()))
			}
		})
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return pg
}

// postgresBin finds a program of the newest installed PostgreSQL version.
func postgresBin(name string) (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { // numerically: 9 < 15
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	var names []string
	for _, d := range dirs {
		names = append(names, filepath.Join(d, name))
	}
	return proc.Binary{Names: append(names, name), Package: "postgresql"}.Find()
}

// startPostgres starts a server; a non-nil *Postgres must be closed, even with an error.
func startPostgres() (*Postgres, error) {
	initdb, err := postgresBin("initdb")
	if err != nil {
		return nil, fmt.Errorf("start postgresql: %w", err)
	}
	server, err := postgresBin("postgres")
	if err != nil {
		return nil, fmt.Errorf("start postgresql: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("start postgresql: %w", err)
	}
	// Not t.TempDir(): its parent is private to root, and the server may run as postgres.
	dir, err := os.MkdirTemp("", "kizashi-testenv-pg-")
	if err != nil {
		return nil, fmt.Errorf("start postgresql: %w", err)
	}
	pg := &Postgres{dir: dir, port: port}
	pg.proc = proc.New("postgresql", server,
		"-D", filepath.Join(dir, "data"),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(port),
		"-c", "unix_socket_directories="+dir,
		"-c", "fsync=on",
		"-c", "synchronous_commit=on",
		"-c", "shared_buffers=16MB",
		"-c", "max_connections=100",
		"-c", "logging_collector=off",
	)
	pg.proc.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	cred, err := postgresCredential()
	if err != nil {
		return pg, fmt.Errorf("start postgresql: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return pg, fmt.Errorf("start postgresql: %w", err)
		}
		pg.proc.Cred = cred
	}
	// --no-sync only spares initdb's own fsyncs; the server runs with fsync=on.
	cmd := exec.Command(initdb, "-D", filepath.Join(dir, "data"), "-U", "postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	cmd.Dir = dir
	cmd.Env = pg.proc.Env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	out, err := cmd.CombinedOutput()
	fmt.Fprintf(pg.proc.Log, "testenv: %s\n%s", cmd, out)
	if err != nil {
		return pg, fmt.Errorf("start postgresql: initdb: %w: %s", err, out)
	}
	if err := pg.start(); err != nil {
		return pg, err
	}
	dsn, err := pg.createDatabase(context.Background())
	if err != nil {
		return pg, fmt.Errorf("start postgresql: %w", err)
	}
	pg.dsn = dsn
	return pg, nil
}

// postgresCredential returns the postgres system user when running as root, else nil.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and no postgres user to run the server as (apt-get install -y postgresql creates it): %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user postgres: uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user postgres: gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (pg *Postgres) start() error {
	if err := pg.proc.Start(); err != nil {
		return err
	}
	err := pg.proc.WaitReady(context.Background(), startTimeout, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, pg.databaseDSN("postgres"))
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	})
	if err != nil {
		return fmt.Errorf("start postgresql: %w", err)
	}
	return nil
}

func (pg *Postgres) databaseDSN(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     pg.Addr(),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// createDatabase creates an empty database and returns its DSN.
func (pg *Postgres) createDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("test_%d", pg.dbs.Add(1))
	if err := pg.exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return pg.databaseDSN(name), nil
}

func (pg *Postgres) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, pg.databaseDSN("postgres"))
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, sql)
	return errors.Join(err, conn.Close(ctx))
}

// close stops the server and removes its files.
func (pg *Postgres) close() error {
	var err error
	if pg.proc != nil {
		err = pg.proc.Stop(syscall.SIGINT, 30*time.Second)
	}
	if rmErr := os.RemoveAll(pg.dir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("remove postgresql files: %w", rmErr))
	}
	return err
}

// DSN returns the URL of the database created at start, e.g.
// "postgres://postgres@127.0.0.1:5433/test_1?sslmode=disable".
func (pg *Postgres) DSN() string { return pg.dsn }

// Addr returns "127.0.0.1:<port>".
func (pg *Postgres) Addr() string { return "127.0.0.1:" + strconv.Itoa(pg.port) }

// CreateDatabase creates a fresh, empty database and returns its DSN; it is
// dropped at the end of the test.
func (pg *Postgres) CreateDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn, err := pg.createDatabase(ctx)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		name := pg.dbName(dsn)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if pg.proc.Exited() {
			return // stopped by the test; its files go anyway
		}
		if err := pg.exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	return dsn
}

func (pg *Postgres) dbName(dsn string) string {
	u, _ := url.Parse(dsn)
	return u.Path[1:]
}

// Stop shuts the server down (fast shutdown: SIGINT); Restart starts it again.
func (pg *Postgres) Stop(t testing.TB) {
	t.Helper()
	if err := pg.proc.Stop(syscall.SIGINT, 30*time.Second); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Kill kills the server and all its backends (SIGKILL), as a crash would.
func (pg *Postgres) Kill(t testing.TB) {
	t.Helper()
	if err := pg.proc.Stop(syscall.SIGKILL, 30*time.Second); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// Restart stops the server if it runs and starts it again on the same port
// and data (after a Kill, PostgreSQL recovers from its WAL).
func (pg *Postgres) Restart(t testing.TB) {
	t.Helper()
	if err := pg.proc.Stop(syscall.SIGINT, 30*time.Second); err != nil {
		t.Fatalf("testenv: %v", err)
	}
	if err := pg.start(); err != nil {
		t.Fatalf("testenv: %v", err)
	}
}

// shared is the PostgreSQL server that PostgresDSN hands databases from,
// one per test binary, started on first use and stopped by Main.
var shared struct {
	sync.Mutex
	main bool // Main runs the tests
	pg   *Postgres
	err  error
}

// PostgresDSN returns the DSN of a fresh, empty database on a PostgreSQL
// server shared by the whole test binary (started on first use), and drops
// the database at the end of the test. The test binary must run its tests
// with Main, which stops the server:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func PostgresDSN(t testing.TB) string {
	t.Helper()
	skipShort(t, "postgresql")
	shared.Lock()
	if !shared.main {
		shared.Unlock()
		t.Fatalf("testenv: PostgresDSN needs the tests to run with testenv.Main; add to the package's tests:\n\tfunc TestMain(m *testing.M) { testenv.Main(m) }")
	}
	if shared.pg == nil && shared.err == nil {
		shared.pg, shared.err = startPostgres()
	}
	pg, err := shared.pg, shared.err
	shared.Unlock()
	if err != nil {
		t.Fatalf("testenv: shared server: %v", err)
	}
	return pg.CreateDatabase(t)
}

// Main runs the tests (m.Run), stops the servers shared by them (see
// PostgresDSN) and exits with the tests' exit code. Call it from TestMain.
func Main(m *testing.M) {
	shared.Lock()
	shared.main = true
	shared.Unlock()
	code := m.Run()
	shared.Lock()
	pg := shared.pg
	shared.pg, shared.err = nil, errors.New("tests are over")
	shared.Unlock()
	if pg != nil {
		if code != 0 {
			fmt.Fprintln(os.Stderr, logReport("shared", "postgresql", pg.proc.Log.String()))
		}
		if err := pg.close(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}
