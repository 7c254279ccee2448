package backtest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/kizashi-dev/kizashi/exporter/seriesset"
	"github.com/kizashi-dev/kizashi/exporter/web"
	"github.com/kizashi-dev/kizashi/internal/catalog"
)

// Report is the outcome of a Prometheus backtest: per query and per series, the alerts the
// rule would have fired and the breach ETAs the forecasts would have issued.
type Report struct {
	Start time.Time `json:"start"` // the reported range
	End   time.Time `json:"end"`
	// Rule is KizashiAnomaly as emulated (PromOptions.Rule), VanishedRule KizashiSeriesVanished
	// as shipped.
	Rule         RuleInfo      `json:"rule"`
	VanishedRule RuleInfo      `json:"vanished_rule"`
	Took         time.Duration `json:"-"`

	Queries []QueryReport `json:"queries"`
}

// RuleInfo is an emulated alerting rule.
type RuleInfo struct {
	Alert                string  `json:"alert"`
	Expr                 string  `json:"expr"`
	Threshold            float64 `json:"threshold"`
	ForSeconds           float64 `json:"for_seconds"`
	KeepFiringForSeconds float64 `json:"keep_firing_for_seconds"`
}

// The alerts the backtest emulates (Alert.Rule).
const (
	AlertAnomaly  = "KizashiAnomaly"
	AlertVanished = "KizashiSeriesVanished"
)

func ruleInfo(name, expr string, r catalog.Rule) RuleInfo {
	return RuleInfo{Alert: name, Expr: expr, Threshold: r.Threshold, ForSeconds: r.For.Seconds(), KeepFiringForSeconds: r.KeepFiringFor.Seconds()}
}

// QueryReport is the replay of one configured query.
type QueryReport struct {
	Name           string        `json:"name"`
	Expr           string        `json:"expr"`
	Step           time.Duration `json:"-"`
	TrainingWindow time.Duration `json:"-"`
	Thresholds     []float64     `json:"thresholds,omitempty"`
	BreachWithin   time.Duration `json:"-"`
	// Start and End are the reported range; TrainFrom is where the models started learning.
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	TrainFrom time.Time `json:"train_from"`
	// Queries is the number of range queries sent, Samples the samples replayed.
	Queries int   `json:"range_queries"`
	Samples int64 `json:"samples"`
	// OverLimit counts series beyond the query's max_series, not replayed.
	OverLimit int `json:"series_over_limit"`
	// SeriesDays are the days of samples of all series in the range; Alerts all alerts;
	// AlertsPerSeriesDay their ratio.
	SeriesDays         float64 `json:"series_days"`
	Alerts             int     `json:"alerts"`
	AlertsPerSeriesDay float64 `json:"alerts_per_series_day"`
	// ETAs counts the breach warnings issued and how they turned out.
	ETAs map[string]int `json:"breach_etas,omitempty"`
	// Zone is the query's time zone (nil: UTC): the page shows the query's times in it.
	Zone *time.Location `json:"-"`

	Series []SeriesReport `json:"series"`

	over map[model.Fingerprint]bool
}

// SeriesReport is the replay of one series.
type SeriesReport struct {
	Labels model.Metric `json:"labels"`
	// Samples and Days in the reported range; Rejected samples the engine refused (NaN, Inf).
	Samples  int     `json:"samples"`
	Days     float64 `json:"days"`
	Rejected int     `json:"rejected,omitempty"`
	// PeakScore is the highest score in the range.
	PeakScore float64 `json:"peak_score"`
	// AlertCount is every alert that fired in the range (Alerts keeps the first MaxRecords).
	AlertCount   int     `json:"alert_count"`
	AlertsPerDay float64 `json:"alerts_per_day"`
	Alerts       []Alert `json:"alerts"`
	// ETACount is every breach warning issued (ETAs keeps the first MaxRecords).
	ETACount int    `json:"breach_eta_count,omitempty"`
	ETAs     []*ETA `json:"breach_etas,omitempty"`

	Chart []seriesset.ChartPoint `json:"-"`
}

// Alert is one alert of a rule (Rule: AlertAnomaly or AlertVanished): firing from Start
// (pending from ActiveSince) until End, when it resolved (keep_firing_for included); Open when
// still firing at the end of the range.
type Alert struct {
	Rule        string        `json:"rule"`
	ActiveSince time.Time     `json:"active_since"`
	Start       time.Time     `json:"start"`
	End         time.Time     `json:"end"`
	Duration    time.Duration `json:"-"`
	Seconds     float64       `json:"duration_seconds"`
	// PeakScore is the highest score while the expression held; Reason the engine's reason
	// (anomaly.Reason) at that score.
	PeakScore float64 `json:"peak_score"`
	Reason    string  `json:"reason"`
	Open      bool    `json:"open,omitempty"`

	training bool
}

// Breach ETA outcomes.
const (
	OutcomeCrossed    = "crossed"     // the series reached the threshold by the ETA
	OutcomeNotCrossed = "not_crossed" // the ETA passed before it reached the threshold
	OutcomeOpen       = "open"        // the range ended before the ETA
)

// ETA is one breach warning: at Issued the forecast reached Threshold in ETA (Due). The
// warning lasts until the series crosses or Due passes; a new one can be issued afterwards.
type ETA struct {
	Threshold  float64       `json:"threshold"`
	Issued     time.Time     `json:"issued"`
	Value      float64       `json:"value"`
	ETA        time.Duration `json:"-"`
	ETASeconds float64       `json:"eta_seconds"`
	Due        time.Time     `json:"due"`
	Crossed    *time.Time    `json:"crossed,omitempty"`
	Outcome    string        `json:"outcome"`
}

func (q *QueryReport) summarise() {
	for i := range q.Series {
		s := &q.Series[i]
		q.SeriesDays += s.Days
		q.Alerts += s.AlertCount
		for j := range s.Alerts {
			s.Alerts[j].Seconds = s.Alerts[j].Duration.Seconds()
		}
		for _, e := range s.ETAs {
			if q.ETAs == nil {
				q.ETAs = map[string]int{}
			}
			q.ETAs[e.Outcome]++
		}
	}
	if q.SeriesDays > 0 {
		q.AlertsPerSeriesDay = float64(q.Alerts) / q.SeriesDays
	}
}

// Write writes the report into dir (created if needed): report.json, series.csv,
// alerts.csv, breach_etas.csv and index.html. Each file is written whole or not at all.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report directory: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("report json: %w", err)
	}
	files := []struct {
		name string
		b    []byte
	}{{"report.json", append(js, '\n')}}
	for _, f := range []struct {
		name string
		fn   func() [][]string
	}{{"series.csv", r.seriesRows}, {"alerts.csv", r.alertRows}, {"breach_etas.csv", r.etaRows}} {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		if err := w.WriteAll(f.fn()); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		files = append(files, struct {
			name string
			b    []byte
		}{f.name, b.Bytes()})
	}
	var h bytes.Buffer
	if err := r.HTML(&h); err != nil {
		return err
	}
	files = append(files, struct {
		name string
		b    []byte
	}{"index.html", h.Bytes()})
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := writeFileAtomic(path, func(w io.Writer) error { _, err := w.Write(f.b); return err }); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

func ftoa(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (r *Report) seriesRows() [][]string {
	rows := [][]string{{"query", "series", "samples", "days", "alerts", "alerts_per_day", "peak_score", "breach_etas"}}
	for _, q := range r.Queries {
		for _, s := range q.Series {
			rows = append(rows, []string{q.Name, s.Labels.String(), strconv.Itoa(s.Samples), ftoa(round3(s.Days)),
				strconv.Itoa(s.AlertCount), ftoa(round3(s.AlertsPerDay)), ftoa(round3(s.PeakScore)), strconv.Itoa(s.ETACount)})
		}
	}
	return rows
}

func (r *Report) alertRows() [][]string {
	rows := [][]string{{"query", "series", "rule", "active_since", "start", "end", "duration_seconds", "peak_score", "reason", "open"}}
	for _, q := range r.Queries {
		for _, s := range q.Series {
			for _, a := range s.Alerts {
				rows = append(rows, []string{q.Name, s.Labels.String(), a.Rule, ts(a.ActiveSince), ts(a.Start), ts(a.End),
					ftoa(a.Duration.Seconds()), ftoa(round3(a.PeakScore)), a.Reason, strconv.FormatBool(a.Open)})
			}
		}
	}
	return rows
}

func (r *Report) etaRows() [][]string {
	rows := [][]string{{"query", "series", "threshold", "issued", "value", "eta_seconds", "due", "crossed", "outcome"}}
	for _, q := range r.Queries {
		for _, s := range q.Series {
			for _, e := range s.ETAs {
				crossed := ""
				if e.Crossed != nil {
					crossed = ts(*e.Crossed)
				}
				rows = append(rows, []string{q.Name, s.Labels.String(), ftoa(e.Threshold), ts(e.Issued), ftoa(e.Value),
					ftoa(e.ETA.Seconds()), ts(e.Due), crossed, e.Outcome})
			}
		}
	}
	return rows
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// MaxChartsPerQuery bounds the charts of the HTML page per query (series with alerts first).
const MaxChartsPerQuery = 50

var pageTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"ts": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"tsIn": func(t time.Time, zone *time.Location) string {
		return web.InZone(t, zone).Format("2006-01-02 15:04 MST")
	},
	"dur":   func(d time.Duration) string { return model.Duration(d.Round(time.Second)).String() },
	"f3":    func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) },
	"g":     func(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) },
	"chart": func(s SeriesReport, zone *time.Location) template.HTML { return web.Chart(s.Chart, 900, 200, zone) },
	"strip": alertStrip,
	"charted": func(ss []SeriesReport) []SeriesReport {
		return ss[:min(len(ss), MaxChartsPerQuery)]
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kizashi backtest {{ts .Start}} – {{ts .End}}</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; } table { border-collapse: collapse; margin: .5em 0 1em; }
td, th { border: 1px solid #ddd; padding: 2px 6px; font-size: 13px; text-align: left; } .muted { color: #777; }
svg .band { fill: #cfe3f7; stroke: none; } svg .raw { fill: none; stroke: #222; stroke-width: 1; }
svg .baseline { fill: none; stroke: #2a6fb0; stroke-width: 1; } svg .score { fill: none; stroke: #b00; stroke-width: 1; }
svg .axis { stroke: #ccc; } svg .tick { font-size: 10px; fill: #555; } svg .alert { fill: #b00; }
</style></head><body>
<h1>Kizashi backtest</h1>
<p>{{ts .Start}} – {{ts .End}}. Rules: {{.Rule.Alert}} <code>{{.Rule.Expr}}</code>, for {{.Rule.ForSeconds}}s, keep_firing_for {{.Rule.KeepFiringForSeconds}}s;
{{.VanishedRule.Alert}} <code>{{.VanishedRule.Expr}}</code>, for {{.VanishedRule.ForSeconds}}s, keep_firing_for {{.VanishedRule.KeepFiringForSeconds}}s
(a series missing from an answer that has others, until the query's staleness timeout drops it).
Each series had a fresh model that learned the query's training window before the range and saw every step once, in order.</p>
{{range .Queries}}
<h2>Query {{.Name}}</h2>
<p><code>{{.Expr}}</code><br>step {{dur .Step}}{{with .Zone}}, times in {{.}}{{end}}, learning from {{tsIn .TrainFrom .Zone}}; {{len .Series}} series, {{g .SeriesDays}} series-days,
{{.Alerts}} alerts ({{f3 .AlertsPerSeriesDay}} per series-day){{if .OverLimit}}, {{.OverLimit}} series over max_series not replayed{{end}}.
{{with .ETAs}}Breach ETAs: {{range $k, $v := .}}{{$k}} {{$v}}; {{end}}{{end}}</p>
<table><tr><th>series</th><th>days</th><th>alerts</th><th>per day</th><th>peak score</th><th>breach ETAs</th></tr>
{{range .Series}}<tr><td>{{.Labels}}</td><td>{{g .Days}}</td><td>{{.AlertCount}}</td><td>{{f3 .AlertsPerDay}}</td><td>{{f3 .PeakScore}}</td><td>{{.ETACount}}</td></tr>
{{end}}</table>
{{$q := .}}{{range charted .Series}}
<h3>{{.Labels}}</h3>
{{chart . $q.Zone}}<br>{{strip . $q}}
{{if .Alerts}}<table><tr><th>alert</th><th>pending since</th><th>firing from</th><th>for</th><th>peak score</th><th>reason</th></tr>
{{range .Alerts}}<tr><td>{{.Rule}}</td><td>{{tsIn .ActiveSince $q.Zone}}</td><td>{{tsIn .Start $q.Zone}}</td><td>{{dur .Duration}}{{if .Open}} (still firing){{end}}</td><td>{{f3 .PeakScore}}</td><td>{{.Reason}}</td></tr>
{{end}}</table>{{else}}<p class="muted">No alert.</p>{{end}}
{{if .ETAs}}<table><tr><th>threshold</th><th>issued</th><th>value</th><th>ETA</th><th>crossed</th><th>outcome</th></tr>
{{range .ETAs}}<tr><td>{{g .Threshold}}</td><td>{{tsIn .Issued $q.Zone}}</td><td>{{g .Value}}</td><td>{{dur .ETA}}</td><td>{{with .Crossed}}{{tsIn . $q.Zone}}{{end}}</td><td>{{.Outcome}}</td></tr>
{{end}}</table>{{end}}
{{end}}{{end}}
</body></html>
`))

// alertStrip is a thin SVG under a chart marking the series' alerts over the range.
func alertStrip(s SeriesReport, q QueryReport) template.HTML {
	const w, h = 900, 8
	span := q.End.Sub(q.Start)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="alerts">`, w, h, w, h)
	if span > 0 {
		for _, a := range s.Alerts {
			x0 := float64(a.Start.Sub(q.Start)) / float64(span) * w
			x1 := float64(a.End.Sub(q.Start)) / float64(span) * w
			fmt.Fprintf(&b, `<rect class="alert" x="%.1f" y="0" width="%.1f" height="%d"/>`, x0, math.Max(1, x1-x0), h)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // numbers only
}

// HTML writes the report's page: per query a table of its series, then a chart per series
// (those with alerts first, at most MaxChartsPerQuery) with its alerts and breach ETAs.
func (r *Report) HTML(w io.Writer) error {
	if err := pageTmpl.Execute(w, r); err != nil {
		return fmt.Errorf("report page: %w", err)
	}
	return nil
}
