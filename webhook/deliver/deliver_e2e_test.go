//go:build e2e

package deliver_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/internal/proc"
	"github.com/kizashi-dev/kizashi/internal/testenv"
	"github.com/kizashi-dev/kizashi/webhook/channel/notifytest"
	"github.com/kizashi-dev/kizashi/webhook/deliver"
	"github.com/kizashi-dev/kizashi/webhook/report"
	"github.com/kizashi-dev/kizashi/webhook/store/postgres"
	"github.com/kizashi-dev/kizashi/webhook/testkit"
)

func postgresOpener(t *testing.T) Opener {
	dsn := testenv.PostgresDSN(t)
	return func(t *testing.T) Store {
		s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
}

// TestRemindersOncePerDueTimePostgres is TestRemindersOncePerDueTime on a real PostgreSQL.
func TestRemindersOncePerDueTimePostgres(t *testing.T) { reminders(t, postgresOpener(t)) }

// TestMonthlyReportOncePerMonthPostgres is TestMonthlyReportOncePerMonth on a real PostgreSQL.
func TestMonthlyReportOncePerMonthPostgres(t *testing.T) { monthlyReport(t, postgresOpener(t)) }

// attachment returns the parts of a multipart/mixed mail of a content type, decoded.
func attachment(t *testing.T, raw []byte, contentType string) []byte {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	require.NoError(t, err)
	var walk func(r io.Reader, ct, cte string) []byte
	walk = func(r io.Reader, ct, cte string) []byte {
		media, params, err := mime.ParseMediaType(ct)
		require.NoError(t, err)
		if strings.HasPrefix(media, "multipart/") {
			mr := multipart.NewReader(r, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err == io.EOF {
					return nil
				}
				require.NoError(t, err)
				if b := walk(p, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding")); b != nil {
					return b
				}
			}
		}
		if media != contentType {
			return nil
		}
		require.Equal(t, "base64", strings.ToLower(cte))
		b, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, r))
		require.NoError(t, err)
		return b
	}
	return walk(m.Body, m.Header.Get("Content-Type"), "")
}

// TestMonthlyReportPDFWithChromium mails a report printed by the real headless Chromium.
func TestMonthlyReportPDFWithChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not starting chromium")
	}
	chromium := testenv.Program(t, proc.Binary{Names: []string{"chromium", "chromium-browser", "google-chrome"}, Package: "chromium"})
	ctx := context.Background()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	clock := testkit.NewClock(time.Date(2026, 11, 10, 10, 0, 0, 0, tokyo))
	srv := notifytest.StartSMTP(t)
	st := sqliteOpener(t)(t)
	fire(t, st, clock, "DBDown", 40*time.Minute)
	setClock(clock, time.Date(2026, 12, 1, 9, 0, 0, 0, tokyo))
	cfg := &deliver.ReportConfig{Tenants: map[string]*deliver.ReportTenant{
		"acme": {Recipients: []string{"cio@acme.example"}, Lang: "en", Location: tokyo, Day: 1, At: 9 * time.Hour, Format: deliver.FormatPDF}}}
	e := &deliver.Reports{Compute: func(ctx context.Context, o report.Options) (*report.Report, error) {
		return report.Compute(ctx, st, st, o)
	},
		Config: func() *deliver.ReportConfig { return cfg }, Mailer: mailer(t, srv), Printer: &report.Printer{Chromium: chromium, Timeout: 2 * time.Minute}}
	e.Store, e.Now, e.Owner = st, clock.Now, "a"
	n, err := e.Tick(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	mails := srv.Mails()
	require.Len(t, mails, 1)
	require.Equal(t, "Service report acme 2026-11", mails[0].Subject())
	pdf := attachment(t, mails[0].Raw, "application/pdf")
	require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")), "the attachment is no PDF")
	ds, err := st.Deliveries(ctx, deliver.KindReport, "acme", 1)
	require.NoError(t, err)
	require.Contains(t, ds[0].Note, "pdf to cio@acme.example")
}
