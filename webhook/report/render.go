package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var pageSource string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":  pct,
	"dur":  func(string, time.Duration) string { return "" },
	"t":    func(string) string { return "" },
	"when": func(time.Time) string { return "" },
	"ratio2": func(met, breached int) struct {
		V  float64
		OK bool
	} {
		v, ok := Ratio(met, breached)
		return struct {
			V  float64
			OK bool
		}{v, ok}
	},
	"hbars":    hbars,
	"vbars":    vbars,
	"slaChart": slaChart,
	"availBar": availChart,
}).Parse(pageSource))

// Languages a report is rendered in.
var Languages = []string{"en", "ja"}

// Lang returns a supported language for a request's choice ("ja", "ja-JP", "en"...): en
// unless it is Japanese.
func Lang(s string) string {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(s)), "ja") {
		return "ja"
	}
	return "en"
}

var messages = map[string]map[string]string{
	"en": {
		"title": "Service report", "tenant": "Customer", "period": "Period", "generated": "Generated",
		"summary": "Summary", "incidents": "Incidents", "canceled": "Canceled", "mtta": "MTTA (mean time to acknowledge)",
		"mttr": "MTTR (mean time to resolve)", "acknowledged": "Acknowledged", "resolved": "Resolved",
		"sla": "SLA compliance per priority", "priority": "Priority", "response": "Response", "resolution": "Resolution",
		"met": "met", "breached": "breached", "pending": "pending", "compliance": "Compliance",
		"daily": "Incidents per day", "bypriority": "Incidents by priority", "byservice": "Incidents by service",
		"bycategory": "Incidents by category", "topkeys": "Top recurring incidents", "key": "Correlation key",
		"count": "Count", "problems": "Problems", "opened": "Opened", "closed": "Closed", "state": "State",
		"knownerror": "Known error", "linked": "Incidents", "majors": "Major incidents", "declared": "Declared",
		"coordinator": "Coordinator", "updates": "Customer updates", "review": "Review", "yes": "yes", "no": "no",
		"availability": "Availability per service", "service": "Service", "downtime": "Downtime",
		"availnote": "Downtime: incidents of priority P%d or higher, from creation to resolution.",
		"none":      "None.", "problem": "Problem", "id": "ID", "titlecol": "Title",
		"measured": "n/a",
	},
	"ja": {
		"title": "サービスレポート", "tenant": "お客様", "period": "対象期間", "generated": "作成日時",
		"summary": "概要", "incidents": "インシデント数", "canceled": "取消", "mtta": "MTTA（平均受付時間）",
		"mttr": "MTTR（平均解決時間）", "acknowledged": "受付済み", "resolved": "解決済み",
		"sla": "優先度別 SLA 遵守率", "priority": "優先度", "response": "初動", "resolution": "解決",
		"met": "遵守", "breached": "違反", "pending": "継続中", "compliance": "遵守率",
		"daily": "日別インシデント数", "bypriority": "優先度別インシデント数", "byservice": "サービス別インシデント数",
		"bycategory": "カテゴリ別インシデント数", "topkeys": "再発の多いインシデント", "key": "相関キー",
		"count": "件数", "problems": "問題管理", "opened": "起票", "closed": "完了", "state": "状態",
		"knownerror": "既知のエラー", "linked": "関連インシデント", "majors": "重大インシデント", "declared": "宣言日時",
		"coordinator": "責任者", "updates": "お客様への報告", "review": "事後レビュー", "yes": "あり", "no": "なし",
		"availability": "サービス別可用性", "service": "サービス", "downtime": "停止時間",
		"availnote": "停止時間: 優先度 P%d 以上のインシデントの発生から解決まで。",
		"none":      "該当なし。", "problem": "問題", "id": "ID", "titlecol": "件名",
		"measured": "対象外",
	},
}

// HTML writes the report as a standalone HTML page (styles inline, charts as SVG) in lang.
func HTML(w io.Writer, r *Report, lang string, generated time.Time) error {
	lang = Lang(lang)
	msg := messages[lang]
	loc := r.Location
	if loc == nil {
		loc = time.UTC
	}
	t, err := page.Clone()
	if err != nil {
		return err
	}
	t.Funcs(template.FuncMap{
		"t": func(k string) string {
			if s, ok := msg[k]; ok {
				return s
			}
			return k
		},
		"dur":  func(_ string, d time.Duration) string { return duration(lang, d) },
		"when": func(at time.Time) string { return at.In(loc).Format("2006-01-02 15:04 MST") },
	})
	var b bytes.Buffer
	if err := t.Execute(&b, map[string]any{
		"R": r, "Lang": lang, "Generated": generated.In(loc).Format("2006-01-02 15:04 MST"),
		"From": r.From.In(loc).Format("2006-01-02 15:04"), "To": r.To.In(loc).Format("2006-01-02 15:04 MST"),
		"AvailNote": fmt.Sprintf(msg["availnote"], r.OutagePriority),
	}); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	_, err = w.Write(b.Bytes())
	return err
}

func pct(x float64) string { return fmt.Sprintf("%.2f%%", 100*x) }

func duration(lang string, d time.Duration) string {
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	if lang == "ja" {
		if h == 0 {
			return fmt.Sprintf("%d分", m)
		}
		return fmt.Sprintf("%d時間%d分", h, m)
	}
	if h == 0 {
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%dh %dm", h, m)
}

// Charts: server-side SVG, no script. Text is escaped (labels come from alerts).

const chartWidth = 640

func esc(s string) string { return template.HTMLEscapeString(s) }

// hbars draws one horizontal bar per count (at most 12).
func hbars(cs []Count) template.HTML {
	if len(cs) > 12 {
		cs = cs[:12]
	}
	max := 1
	for _, c := range cs {
		max = maxInt(max, c.N)
	}
	const row, label = 22, 200
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img">`, chartWidth, row*len(cs)+4)
	for i, c := range cs {
		y := i*row + 2
		w := (chartWidth - label - 60) * c.N / max
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="12">%s</text>`, label-6, y+15, esc(clip(c.Label, 30)))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#3b6ea5"></rect>`, label, y+3, w, row-6)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12">%d</text>`, label+w+4, y+15, c.N)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from escaped text and numbers
}

// vbars draws the daily counts as columns.
func vbars(cs []Count) template.HTML {
	max := 1
	for _, c := range cs {
		max = maxInt(max, c.N)
	}
	const height, base = 160, 140
	n := maxInt(len(cs), 1)
	col := (chartWidth - 40) / n
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img">`, chartWidth, height+20)
	fmt.Fprintf(&b, `<line x1="30" y1="%d" x2="%d" y2="%d" stroke="#888"></line>`, base, chartWidth, base)
	fmt.Fprintf(&b, `<text x="0" y="14" font-size="11">%d</text>`, max)
	for i, c := range cs {
		h := (base - 10) * c.N / max
		x := 34 + i*col
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#3b6ea5"><title>%s: %d</title></rect>`, x, base-h, maxInt(col-2, 1), h, esc(c.Label), c.N)
		if i%7 == 0 {
			fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10">%s</text>`, x, base+14, esc(c.Label[len(c.Label)-5:]))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from escaped text and numbers
}

// slaChart draws response and resolution compliance per priority.
func slaChart(rows []SLARow, resp, res string) template.HTML {
	const row, label = 22, 60
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img">`, chartWidth, 2*row*len(rows)+28)
	fmt.Fprintf(&b, `<rect x="%d" y="2" width="10" height="10" fill="#2e8b57"></rect><text x="%d" y="11" font-size="11">%s</text>`, label, label+14, esc(resp))
	fmt.Fprintf(&b, `<rect x="%d" y="2" width="10" height="10" fill="#8fbc8f"></rect><text x="%d" y="11" font-size="11">%s</text>`, label+160, label+174, esc(res))
	for i, r := range rows {
		y := 20 + 2*row*i
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="12">P%d</text>`, label-6, y+row, r.Priority)
		for j, v := range []struct {
			met, br int
			color   string
		}{{r.ResponseMet, r.ResponseBreached, "#2e8b57"}, {r.ResolutionMet, r.ResolutionBreached, "#8fbc8f"}} {
			yy := y + j*row
			ratio, ok := Ratio(v.met, v.br)
			text := "–"
			if ok {
				text = pct(ratio)
			}
			w := int(float64(chartWidth-label-80) * ratio)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"></rect>`, label, yy+3, w, row-6, v.color)
			fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11">%s</text>`, label+w+4, yy+15, text)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from escaped text and numbers
}

// availChart draws each service's availability.
func availChart(as []Availability) template.HTML {
	if len(as) > 12 {
		as = as[:12]
	}
	const row, label = 22, 200
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img">`, chartWidth, row*len(as)+4)
	for i, a := range as {
		y := i*row + 2
		w := int(float64(chartWidth-label-80) * a.Ratio)
		color := "#2e8b57"
		if a.Ratio < 0.999 {
			color = "#c0392b"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="12">%s</text>`, label-6, y+15, esc(clip(a.Service, 30)))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"></rect>`, label, y+3, w, row-6, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11">%s</text>`, label+w+4, y+15, pct(a.Ratio))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) //nolint:gosec // built from escaped text and numbers
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
