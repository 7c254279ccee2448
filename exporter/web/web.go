// Package web serves kizashi-exporter's pages: a landing page listing the queries and their
// series with small server-rendered SVG charts (raw, band, forecast, score) of the last day,
// and a page per series. No JavaScript: the charts are inline SVG written by the server, and
// the pages reload themselves every step (every step, at most once a minute). Values are shown with SI prefixes.
package web

import (
	"bytes"
	"embed"
	"html/template"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/exporter/seriesset"
)

//go:embed templates/*.html
var templates embed.FS

// SeriesPerQuery is how many series per query the landing page shows.
const SeriesPerQuery = 20

// Pages serves / and /series.
type Pages struct {
	queries func() []*seriesset.Query
	log     *slog.Logger
	tmpl    *template.Template
}

// New returns the pages over the queries that queries returns.
func New(queries func() []*seriesset.Query, logger *slog.Logger) *Pages {
	funcs := template.FuncMap{
		"chart":  chart,
		"format": format,
		"labels": labelString,
		"eta": func(s float64) string {
			return (time.Duration(s) * time.Second).Round(time.Second).String()
		},
		"isNaN": math.IsNaN,
		// reason is why the score is high (anomaly.Reason), empty below anomaly.ReasonMinScore.
		"reason": func(r anomaly.Result) string {
			if r.Score < anomaly.ReasonMinScore || r.Reason == anomaly.ReasonNone {
				return ""
			}
			return strings.ReplaceAll(r.Reason.String(), "_", " ")
		},
		"dur": func(d time.Duration) string { return model.Duration(d).String() },
		"time": func(t time.Time, zone *time.Location) string {
			return InZone(t, zone).Format("2006-01-02 15:04:05 MST")
		},
	}
	t := template.Must(template.New("").Funcs(funcs).ParseFS(templates, "templates/*.html"))
	return &Pages{queries: queries, log: logger, tmpl: t}
}

func (p *Pages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/":
		p.index(w, r)
	case "/series":
		p.series(w, r)
	default:
		http.NotFound(w, r)
	}
}

// head is what the pages' head needs: the title and how often the page reloads itself.
type head struct {
	Title   string
	Refresh int // seconds; 0: never
}

// refresh is how often a page of these queries reloads itself: the shortest step, between
// a minute and 5 minutes (nothing changes between two steps; a reader has a minute at least).
func refresh(queries []*seriesset.Query) int {
	r := 5 * time.Minute
	for _, q := range queries {
		r = min(r, time.Duration(q.Config().Step))
	}
	return int(max(r, time.Minute) / time.Second)
}

type queryView struct {
	Name, Expr string
	Step       string
	Timezone   string // the query's timezone: where its profiles' days start (empty: UTC)
	Holidays   int    // days read as Sundays
	Status     seriesset.Status
	Total      int
	Series     []seriesset.SeriesView
}

func (p *Pages) index(w http.ResponseWriter, _ *http.Request) {
	queries := p.queries()
	var data struct {
		Head    head
		Queries []queryView
	}
	data.Head = head{Title: "Queries", Refresh: refresh(queries)}
	for _, q := range queries {
		c := q.Config()
		views, total := q.View(SeriesPerQuery, true)
		sortViews(views)
		holidays, _ := anomaly.ParseHolidays(c.Holidays) // validated when the configuration was loaded
		data.Queries = append(data.Queries, queryView{Name: c.Name, Expr: c.Expr, Step: c.Step.String(),
			Timezone: c.Timezone, Holidays: len(holidays), Status: q.Status(), Total: total, Series: views})
	}
	p.render(w, "index.html", data)
}

func (p *Pages) series(w http.ResponseWriter, r *http.Request) {
	name, id := r.URL.Query().Get("query"), r.URL.Query().Get("id")
	queries := p.queries() // one list: a reload may replace it between two calls
	i := slices.IndexFunc(queries, func(q *seriesset.Query) bool { return q.Name() == name })
	if i < 0 {
		http.Error(w, "no such query", http.StatusNotFound)
		return
	}
	q := queries[i]
	v, ok := q.Lookup(id)
	if !ok {
		http.Error(w, "no such series (it may have gone stale)", http.StatusNotFound)
		return
	}
	c := q.Config()
	thresholds := make([]thresholdView, len(c.Thresholds))
	for i, th := range c.Thresholds {
		thresholds[i] = thresholdView{Threshold: th, ETA: math.NaN()}
		if i < len(v.Published.ETAs) {
			thresholds[i].ETA = v.Published.ETAs[i]
		}
	}
	p.render(w, "series.html", struct {
		Head       head
		Query      string
		Expr       string
		Zone       *time.Location // the query's: times are shown where its days start
		Series     seriesset.SeriesView
		Thresholds []thresholdView
	}{head{Title: c.Name, Refresh: refresh(queries[i : i+1])}, c.Name, c.Expr, q.Location(), v, thresholds})
}

// InZone is t in zone, UTC without one: how the pages (and the backtest report) show a query's
// times.
func InZone(t time.Time, zone *time.Location) time.Time {
	if zone == nil {
		return t.UTC()
	}
	return t.In(zone)
}

type thresholdView struct{ Threshold, ETA float64 }

func (p *Pages) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		p.log.Error("render page", "page", name, "err", err)
		http.Error(w, "render page", http.StatusInternalServerError)
		return
	}
	if _, err := b.WriteTo(w); err != nil {
		p.log.Debug("write page", "err", err)
	}
}

// sortViews orders series by descending anomaly score, then by labels.
func sortViews(vs []seriesset.SeriesView) {
	sort.SliceStable(vs, func(i, j int) bool {
		si, sj := vs[i].Published.Result.Score, vs[j].Published.Result.Score
		if si != sj {
			return si > sj
		}
		return labelString(vs[i].Labels) < labelString(vs[j].Labels)
	})
}

func labelString(m model.Metric) string {
	if len(m) == 0 {
		return "{}"
	}
	return m.String()
}
