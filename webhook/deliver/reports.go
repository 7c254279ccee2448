package deliver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/channel/email"
	"github.com/kizashi-dev/kizashi/webhook/channel/fanout"
	"github.com/kizashi-dev/kizashi/webhook/report"
	"github.com/kizashi-dev/kizashi/webhook/store"
)

// Report formats.
const (
	FormatPDF  = "pdf"
	FormatHTML = "html"
)

// ReportTenant is when and to whom a tenant's monthly report is mailed.
type ReportTenant struct {
	Recipients []string
	Lang       string // en or ja
	// Location is the tenant's time zone: the month's bounds and the sending time.
	Location *time.Location
	// Day of the month (1-28) and At (since midnight) of the sending time.
	Day int
	At  time.Duration
	// Format is FormatPDF (the PDF attached, the HTML as the body) or FormatHTML.
	Format string
}

// ReportConfig is the reports' setup.
type ReportConfig struct {
	Tenants map[string]*ReportTenant
}

// Mailer sends documents (an *email.Channel).
type Mailer interface {
	SendDocument(ctx context.Context, d email.Document) error
}

// PDFPrinter prints HTML to PDF (a *report.Printer).
type PDFPrinter interface {
	PDF(ctx context.Context, page []byte) ([]byte, error)
}

// Reports mails each configured tenant the service report of the previous month, once per
// month, at its day and time in its time zone.
type Reports struct {
	Runner
	// Compute computes a report (report.Compute on the store).
	Compute func(ctx context.Context, o report.Options) (*report.Report, error)
	Config  func() *ReportConfig
	// Mailer is nil when no SMTP relay is configured: nothing is sent.
	Mailer  Mailer
	Printer PDFPrinter
}

// Due returns the month whose report t sends by now ("2026-11"), the sending time and the
// month's bounds; ok is false before the first sending time of the current month.
func (t *ReportTenant) Due(now time.Time) (period string, at, from, to time.Time, ok bool) {
	loc := t.Location
	if loc == nil {
		loc = time.UTC
	}
	local := now.In(loc)
	// The wall-clock time (a daylight-saving change that day does not move it).
	at = time.Date(local.Year(), local.Month(), t.Day, int(t.At/time.Hour), int(t.At%time.Hour/time.Minute), 0, 0, loc)
	if now.Before(at) {
		return "", time.Time{}, time.Time{}, time.Time{}, false
	}
	prev := time.Date(local.Year(), local.Month()-1, 1, 0, 0, 0, 0, loc)
	from, to = report.Month(prev.Year(), prev.Month(), loc)
	return prev.Format("2006-01"), at, from, to, true
}

// Tick sends the reports due now that were not sent yet. It returns the reports finished.
func (e *Reports) Tick(ctx context.Context) (int, error) {
	e.defaults()
	cfg := e.Config()
	if cfg == nil || e.Mailer == nil {
		return 0, nil
	}
	var (
		errs []error
		n    int
	)
	for _, name := range slices.Sorted(maps.Keys(cfg.Tenants)) {
		t := cfg.Tenants[name]
		now := e.Now()
		period, at, from, to, ok := t.Due(now)
		if !ok {
			continue
		}
		key := store.DeliveryKey{Kind: KindReport, Tenant: name, Period: period}
		done, err := e.once(ctx, key, at, now, func(d *store.Delivery) (bool, error) { return e.send(ctx, t, d, from, to) })
		if err != nil {
			errs = append(errs, err)
		}
		if done {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// Subject is the subject of a report's mail.
func Subject(lang, tenant, period string, from time.Time) string {
	if lang == "ja" {
		return fmt.Sprintf("サービスレポート %s %d年%d月", tenant, from.Year(), int(from.Month()))
	}
	return fmt.Sprintf("Service report %s %s", tenant, period)
}

func summary(lang string, r *report.Report, attached bool) string {
	var b strings.Builder
	if lang == "ja" {
		fmt.Fprintf(&b, "%s 様\n\n%s から %s までのサービスレポートをお送りします。\n\n", r.Tenant,
			r.From.In(r.Location).Format("2006-01-02"), r.To.In(r.Location).Add(-time.Nanosecond).Format("2006-01-02"))
		fmt.Fprintf(&b, "インシデント: %d 件（取消 %d 件）\n", r.Incidents, r.Canceled)
		fmt.Fprintf(&b, "問題: 起票 %d 件、解決 %d 件\n重大インシデント: %d 件\n", r.ProblemsOpened, r.ProblemsClosed, len(r.Majors))
		if attached {
			b.WriteString("\n詳細は添付の PDF をご覧ください。\n")
		}
		return b.String()
	}
	fmt.Fprintf(&b, "Dear %s,\n\nthis is your service report from %s to %s.\n\n", r.Tenant,
		r.From.In(r.Location).Format("2006-01-02"), r.To.In(r.Location).Add(-time.Nanosecond).Format("2006-01-02"))
	fmt.Fprintf(&b, "Incidents: %d (%d canceled)\n", r.Incidents, r.Canceled)
	fmt.Fprintf(&b, "Problems: %d opened, %d closed\nMajor incidents: %d\n", r.ProblemsOpened, r.ProblemsClosed, len(r.Majors))
	if attached {
		b.WriteString("\nThe report is attached as PDF.\n")
	}
	return b.String()
}

// send renders and mails one claimed report; true when it finished (sent or failed for good).
func (e *Reports) send(ctx context.Context, t *ReportTenant, d *store.Delivery, from, to time.Time) (bool, error) {
	key := d.DeliveryKey
	now := e.Now()
	loc := t.Location
	if loc == nil {
		loc = time.UTC
	}
	// retry records a failed attempt; the error returned is the store's only (the attempt's
	// is logged and kept with the job).
	retry := func(err error) (bool, error) {
		if d.Attempts+1 < e.MaxAttempts {
			e.Metrics.count(key.Tenant, KindReport, "retried")
			e.Log.Warn("service report not sent, to retry", "tenant", key.Tenant, "period", key.Period, "attempt", d.Attempts+1, "err", err)
			return false, e.Store.RetryDelivery(ctx, key, e.Owner, err.Error(), now.Add(backoff(d.Attempts)))
		}
		ok, ferr := e.Store.FinishDelivery(ctx, key, e.Owner, store.DeliveryFailed, "not sent", err.Error(), now, nil)
		if ok {
			e.Metrics.count(key.Tenant, KindReport, store.DeliveryFailed)
		}
		e.Log.Error("service report not sent", "tenant", key.Tenant, "period", key.Period, "err", err)
		return ok, ferr
	}
	r, err := e.Compute(ctx, report.Options{Tenant: key.Tenant, From: from, To: to, Location: loc, Now: now})
	if err != nil {
		return retry(fmt.Errorf("service report of %s for %s: %w", key.Tenant, key.Period, err))
	}
	var page bytes.Buffer
	if err := report.HTML(&page, r, t.Lang, now); err != nil {
		return retry(fmt.Errorf("render service report of %s for %s: %w", key.Tenant, key.Period, err))
	}
	doc := email.Document{To: t.Recipients, Lang: t.Lang, Subject: Subject(t.Lang, key.Tenant, key.Period, from), HTML: page.String()}
	note := "html"
	if t.Format == FormatPDF {
		var pdf []byte
		err := report.ErrNoChromium
		if e.Printer != nil {
			pdf, err = e.Printer.PDF(ctx, page.Bytes())
		}
		if err != nil {
			e.Log.Warn("service report sent as HTML: no PDF", "tenant", key.Tenant, "period", key.Period, "err", err)
			note = "html (no pdf: " + err.Error() + ")"
		} else {
			doc.Attachments = []email.Attachment{{Name: fmt.Sprintf("service-report-%s-%s.pdf", key.Tenant, key.Period), ContentType: "application/pdf", Data: pdf}}
			note = "pdf"
		}
	}
	doc.Text = summary(t.Lang, r, len(doc.Attachments) > 0)
	if slices.Contains(d.Delivered, "mail") {
		note += " (sent by an earlier run)"
	} else {
		if err := e.Mailer.SendDocument(ctx, doc); err != nil {
			if fanout.Permanent(err) {
				d.Attempts = e.MaxAttempts
			}
			return retry(err)
		}
		if err := e.Store.MarkDelivery(ctx, key, e.Owner, "mail"); err != nil {
			return false, err
		}
	}
	note = fmt.Sprintf("%s to %s", note, strings.Join(t.Recipients, ", "))
	ok, err := e.Store.FinishDelivery(ctx, key, e.Owner, store.DeliverySent, note, "", now, nil)
	if err != nil || !ok {
		return false, err
	}
	e.Metrics.count(key.Tenant, KindReport, store.DeliverySent)
	e.Log.Info("service report sent", "tenant", key.Tenant, "period", key.Period, "as", note)
	return true, nil
}
