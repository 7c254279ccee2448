package catalog

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/anomaly"
)

// Version of the catalogue's series: bump it whenever a change to the generator changes the
// series, so that -compare warns instead of comparing figures of different catalogues as if they
// were the same.
const Version = 1

// Report is the machine-readable summary of a run (the JSON of -json, read back by -compare).
type Report struct {
	Version int     `json:"catalogue_version"`
	Options Options `json:"options"`
	Rule    Rule    `json:"rule"`
	// Engine describes the engine configuration that ran.
	Engine      string        `json:"engine"`
	Cells       []Cell        `json:"cells"`
	Classes     []Group       `json:"classes"`
	Kinds       []KindSummary `json:"kinds"`
	Overall     Overall       `json:"overall"`
	Calibration Calibration   `json:"calibration"`
	Exclusions  []Exclusion   `json:"exclusions"`
}

// Cell sums the failure series of one kind x failure.
type Cell struct {
	Kind    Kind    `json:"kind"`
	Failure Failure `json:"failure"`
	Series  int     `json:"series"`
	// Detected within Judge, Quick within QuickSteps of the onset; Bar is whichever of the two
	// the class is held to.
	Detected int `json:"detected"`
	Quick    int `json:"detected_quick"`
	Bar      int `json:"detected_bar"`
	// MedianDelay of the detected series in minutes (-1: none detected).
	MedianDelay float64 `json:"median_delay_min"`
	// Reasons counts the reason of the score at the first firing evaluation of each detection.
	Reasons map[string]int `json:"reasons,omitempty"`
	// False alarms on the same series before the onset (after the warm-up).
	FAEpisodes  int     `json:"fa_episodes_before_onset"`
	SeriesWeeks float64 `json:"series_weeks_before_onset"`
}

// Group sums cells (a class across kinds, a kind across classes, everything).
type Group struct {
	Name     string         `json:"name"`
	Series   int            `json:"series"`
	Detected int            `json:"detected"`
	Bar      int            `json:"detected_bar"`
	Reasons  map[string]int `json:"reasons,omitempty"`
}

// KindSummary sums one kind: its failures, and its controls' false alarms and score rarity.
type KindSummary struct {
	Group
	Controls    int     `json:"controls"`
	FAEpisodes  int     `json:"fa_episodes"`
	SeriesWeeks float64 `json:"series_weeks"`
	// FA before the onset of the kind's failure series.
	PreOnsetFAEpisodes  int     `json:"fa_episodes_before_onset"`
	PreOnsetSeriesWeeks float64 `json:"series_weeks_before_onset"`
	// Samples of the controls after the warm-up, and how many scored above each of Thresholds.
	Samples int    `json:"samples"`
	Exceed  [3]int `json:"exceed"`
}

// Overall sums every failure series.
type Overall struct {
	All       Group `json:"all"`
	NoVanish  Group `json:"without_vanish"`
	FAEpisode int   `json:"fa_episodes"`
	// SeriesWeeks of the controls.
	SeriesWeeks float64 `json:"series_weeks"`
}

// Calibration compares the rarity of the alert threshold across kinds.
type Calibration struct {
	// Ratio of the largest to the smallest share of control samples above the alert threshold
	// across kinds (+Inf when a kind has none; 0 without two kinds with controls).
	Ratio    float64 `json:"ratio"`
	MaxKind  Kind    `json:"max_kind"`
	MinKind  Kind    `json:"min_kind"`
	Infinite bool    `json:"infinite,omitempty"`
}

// Summarise aggregates outcomes into a report.
func Summarise(run Run, engine string, outs []Outcome) *Report {
	rep := &Report{Version: Version, Options: run.Options, Rule: run.Rule, Engine: engine, Exclusions: Exclusions()}
	week := float64(7 * 24 * time.Hour / time.Minute)
	cells := map[[2]string]*Cell{}
	delays := map[[2]string][]float64{}
	kinds := map[Kind]*KindSummary{}
	classes := map[Failure]*Group{}
	for _, o := range outs {
		ks := kinds[o.Kind]
		if ks == nil {
			ks = &KindSummary{Group: Group{Name: string(o.Kind)}}
			kinds[o.Kind] = ks
		}
		if o.Failure == None {
			ks.Controls++
			ks.FAEpisodes += o.FAEpisodes
			ks.SeriesWeeks += float64(o.FASteps) / week
			ks.Samples += o.Samples
			for j := range ks.Exceed {
				ks.Exceed[j] += o.Exceed[j]
			}
			continue
		}
		key := [2]string{string(o.Kind), string(o.Failure)}
		c := cells[key]
		if c == nil {
			c = &Cell{Kind: o.Kind, Failure: o.Failure, Reasons: map[string]int{}}
			cells[key] = c
		}
		c.Series++
		c.FAEpisodes += o.FAEpisodes
		c.SeriesWeeks += float64(o.FASteps) / week
		ks.PreOnsetFAEpisodes += o.FAEpisodes
		ks.PreOnsetSeriesWeeks += float64(o.FASteps) / week
		if o.Detected {
			c.Detected++
			c.Reasons[o.Reason.String()]++
			delays[key] = append(delays[key], float64(o.Delay))
			if o.Delay <= QuickSteps {
				c.Quick++
			}
		}
		if classes[o.Failure] == nil {
			classes[o.Failure] = &Group{Name: string(o.Failure), Reasons: map[string]int{}}
		}
	}
	for _, k := range Kinds() {
		for _, f := range Failures() {
			key := [2]string{string(k), string(f)}
			c := cells[key]
			if c == nil {
				continue
			}
			c.Bar = c.Detected
			if f.Quick() {
				c.Bar = c.Quick
			}
			c.MedianDelay = median(delays[key])
			rep.Cells = append(rep.Cells, *c)
			for _, g := range []*Group{&kinds[k].Group, classes[f], &rep.Overall.All} {
				g.add(c)
			}
			if f != Vanish {
				rep.Overall.NoVanish.add(c)
			}
		}
	}
	rep.Overall.All.Name, rep.Overall.NoVanish.Name = "all", "without vanish"
	for _, f := range Failures() {
		if g := classes[f]; g != nil {
			rep.Classes = append(rep.Classes, *g)
		}
	}
	for _, k := range Kinds() {
		if ks := kinds[k]; ks != nil {
			rep.Kinds = append(rep.Kinds, *ks)
			rep.Overall.FAEpisode += ks.FAEpisodes
			rep.Overall.SeriesWeeks += ks.SeriesWeeks
		}
	}
	rep.Calibration = calibrate(rep.Kinds)
	return rep
}

func (g *Group) add(c *Cell) {
	g.Series += c.Series
	g.Detected += c.Detected
	g.Bar += c.Bar
	if g.Reasons == nil {
		g.Reasons = map[string]int{}
	}
	for r, n := range c.Reasons {
		g.Reasons[r] += n
	}
}

func calibrate(ks []KindSummary) Calibration {
	var c Calibration
	lo, hi := math.Inf(1), math.Inf(-1)
	n := 0
	for _, k := range ks {
		if k.Samples == 0 {
			continue
		}
		n++
		share := float64(k.Exceed[1]) / float64(k.Samples)
		if share < lo {
			lo, c.MinKind = share, Kind(k.Name)
		}
		if share > hi {
			hi, c.MaxKind = share, Kind(k.Name)
		}
	}
	switch {
	case n < 2:
		return Calibration{}
	case lo == 0 && hi == 0:
		c.Ratio = 1
	case lo == 0:
		c.Infinite = true
	default:
		c.Ratio = hi / lo
	}
	return c
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return -1
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func pct(n, d int) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(n)/float64(d))
}

// rarity formats a share of samples as "1 in N".
func rarity(n, samples int) string {
	switch {
	case samples == 0:
		return "–"
	case n == 0:
		return fmt.Sprintf("< 1 in %s", thousands(samples))
	}
	return "1 in " + thousands(int(math.Round(float64(samples)/float64(n))))
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// reasonShares formats reason counts as "level_shift 60%, spike 40%", largest first.
func reasonShares(m map[string]int) string {
	total := 0
	type rc struct {
		r string
		n int
	}
	var rs []rc
	for r, n := range m {
		total += n
		rs = append(rs, rc{r, n})
	}
	if total == 0 {
		return "–"
	}
	slices.SortFunc(rs, func(a, b rc) int { return cmp.Or(b.n-a.n, strings.Compare(a.r, b.r)) })
	parts := make([]string, len(rs))
	for i, x := range rs {
		parts[i] = fmt.Sprintf("%s %.0f%%", x.r, 100*float64(x.n)/float64(total))
	}
	return strings.Join(parts, ", ")
}

func (rep *Report) cell(k Kind, f Failure) *Cell {
	for i := range rep.Cells {
		if rep.Cells[i].Kind == k && rep.Cells[i].Failure == f {
			return &rep.Cells[i]
		}
	}
	return nil
}

func cellText(c *Cell) string {
	if c == nil {
		return "—"
	}
	d := ""
	if c.MedianDelay >= 0 {
		d = fmt.Sprintf(" · %gm", c.MedianDelay)
	}
	if c.Failure.Quick() {
		return fmt.Sprintf("%s / %s%s", pct(c.Quick, c.Series), pct(c.Detected, c.Series), d)
	}
	return pct(c.Detected, c.Series) + d
}

// Markdown writes the report as tables ready for BENCHMARKS.md.
func (rep *Report) Markdown(w io.Writer) error {
	var b strings.Builder
	fails := []Failure{}
	for _, g := range rep.Classes {
		fails = append(fails, Failure(g.Name))
	}
	fmt.Fprintf(&b, "Detection per cell: %% of failure series on which the alert fired within %dh of the onset "+
		"(drops and spikes: within %d steps / within %dh; the bar of these classes is %d steps), median delay "+
		"of the detected ones in minutes. \"all (bar)\" and the bold figures count each class at its bar. "+
		"%d series per cell, %d controls per kind, %d days, seed %d; engine: %s.\n\n",
		judge/hour, QuickSteps, judge/hour, QuickSteps, rep.Options.PerCell, rep.Options.Controls, rep.Options.Days, rep.Options.Seed, rep.Engine)
	b.WriteString("| kind |")
	for _, f := range fails {
		if f.Quick() {
			fmt.Fprintf(&b, " %s (%d steps / %dh) |", f, QuickSteps, judge/hour)
		} else {
			fmt.Fprintf(&b, " %s |", f)
		}
	}
	b.WriteString(" all (bar) | controls: FA / series-week |\n|---|")
	for range fails {
		b.WriteString("---|")
	}
	b.WriteString("---|---|\n")
	for _, ks := range rep.Kinds {
		fmt.Fprintf(&b, "| %s |", ks.Name)
		for _, f := range fails {
			fmt.Fprintf(&b, " %s |", cellText(rep.cell(Kind(ks.Name), f)))
		}
		fmt.Fprintf(&b, " %s | %s |\n", pct(ks.Bar, ks.Series), faText(ks.FAEpisodes, ks.SeriesWeeks))
	}
	b.WriteString("| **all kinds** |")
	for _, g := range rep.Classes {
		if Failure(g.Name).Quick() {
			fmt.Fprintf(&b, " **%s** / %s |", pct(g.Bar, g.Series), pct(g.Detected, g.Series))
		} else {
			fmt.Fprintf(&b, " **%s** |", pct(g.Bar, g.Series))
		}
	}
	fmt.Fprintf(&b, " **%s** | **%s** |\n\n", pct(rep.Overall.All.Bar, rep.Overall.All.Series),
		faText(rep.Overall.FAEpisode, rep.Overall.SeriesWeeks))
	o := rep.Overall
	fmt.Fprintf(&b, "Overall: %d/%d failures detected at their bar (%s), %d/%d within %dh (%s); without vanish "+
		"(which the engine cannot see: it is the exporter's to report) %s at the bar, %s within %dh.\n\n",
		o.All.Bar, o.All.Series, pct(o.All.Bar, o.All.Series), o.All.Detected, o.All.Series, judge/hour,
		pct(o.All.Detected, o.All.Series), pct(o.NoVanish.Bar, o.NoVanish.Series),
		pct(o.NoVanish.Detected, o.NoVanish.Series), judge/hour)

	fmt.Fprintf(&b, "False alarms and rarity of the score on the controls after the %s warm-up "+
		"(share of samples above each threshold; n = samples above it):\n\n", fmtDuration(rep.Options.Warmup))
	b.WriteString("| kind | controls | series-weeks | FA episodes | FA / series-week | FA / series-week before onsets | score > 0.5 | > 0.65 | > 0.75 |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, ks := range rep.Kinds {
		fmt.Fprintf(&b, "| %s | %d | %.1f | %d | %s | %s |", ks.Name, ks.Controls, ks.SeriesWeeks, ks.FAEpisodes,
			faText(ks.FAEpisodes, ks.SeriesWeeks), faText(ks.PreOnsetFAEpisodes, ks.PreOnsetSeriesWeeks))
		for j := range Thresholds {
			fmt.Fprintf(&b, " %s (n=%d) |", rarity(ks.Exceed[j], ks.Samples), ks.Exceed[j])
		}
		b.WriteString("\n")
	}
	c := rep.Calibration
	switch {
	case c.Infinite:
		fmt.Fprintf(&b, "\nRarity of score > %g across kinds: unbounded ratio (no exceedance on %s; most on %s).\n",
			rep.Rule.Threshold, c.MinKind, c.MaxKind)
	case c.Ratio > 0:
		fmt.Fprintf(&b, "\nRarity of score > %g across kinds: max/min = **%.1f** (most often on %s, least on %s; bar ≤ 3).\n",
			rep.Rule.Threshold, c.Ratio, c.MaxKind, c.MinKind)
	}

	b.WriteString("\nReason of the score at the first firing evaluation of each detection:\n\n| failure | detected | reasons |\n|---|---|---|\n")
	for _, g := range rep.Classes {
		fmt.Fprintf(&b, "| %s | %d/%d | %s |\n", g.Name, g.Detected, g.Series, reasonShares(g.Reasons))
	}
	if len(rep.Exclusions) > 0 {
		b.WriteString("\nCells not scored (—), and why:\n\n| kind | failure | why |\n|---|---|---|\n")
		for _, e := range rep.Exclusions {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", e.Kind, e.Failure, e.Reason)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func faText(n int, weeks float64) string {
	if weeks == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", float64(n)/weeks)
}

func fmtDuration(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}

// Details writes one line per series: onset, first alert, max score, reasons seen, false
// alarms before the onset, parameters.
func Details(w io.Writer, outs []Outcome) error {
	var b strings.Builder
	for _, o := range outs {
		fmt.Fprintf(&b, "%-28s", o.Case.String())
		if o.Failure != None {
			fmt.Fprintf(&b, " onset %s", o.Onset.Format("Mon 01-02 15:04Z"))
			if o.Detected {
				fmt.Fprintf(&b, " alert +%dm (%s)", o.Delay, o.Reason)
			} else {
				b.WriteString(" missed")
			}
			fmt.Fprintf(&b, " max %.3f reasons [%s]", o.MaxScore, reasonList(o.Reasons))
		}
		fmt.Fprintf(&b, " FA %d in %.1f weeks, >0.65 %d/%d | %s\n", o.FAEpisodes,
			float64(o.FASteps)/float64(7*24*60), o.Exceed[1], o.Samples, o.Params)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func reasonList(mask uint32) string {
	var rs []string
	for _, r := range anomaly.Reasons() {
		if mask&(1<<r) != 0 {
			rs = append(rs, r.String())
		}
	}
	return strings.Join(rs, " ")
}

// Compare writes what changed from old to rep: cells whose detection, delay or false alarms
// moved, kinds whose false alarms or rarity moved, and the totals.
func Compare(w io.Writer, old, rep *Report) error {
	var b strings.Builder
	if old.Version != rep.Version || old.Options != rep.Options || old.Rule != rep.Rule {
		fmt.Fprintf(&b, "warning: different catalogues (version %d %+v %+v vs version %d %+v %+v): figures are not comparable\n",
			old.Version, old.Options, old.Rule, rep.Version, rep.Options, rep.Rule)
	}
	if old.Engine != rep.Engine {
		fmt.Fprintf(&b, "engine: %s -> %s\n", old.Engine, rep.Engine)
	}
	changed := 0
	for _, c := range rep.Cells {
		oc := old.cell(c.Kind, c.Failure)
		if oc == nil {
			fmt.Fprintf(&b, "%s/%s: new cell %s\n", c.Kind, c.Failure, cellText(&c))
			changed++
			continue
		}
		if oc.Series == c.Series && oc.Detected == c.Detected && oc.Quick == c.Quick && oc.MedianDelay == c.MedianDelay &&
			oc.FAEpisodes == c.FAEpisodes {
			continue
		}
		changed++
		fmt.Fprintf(&b, "%-22s %s -> %s", string(c.Kind)+"/"+string(c.Failure), cellText(oc), cellText(&c))
		if oc.FAEpisodes != c.FAEpisodes {
			fmt.Fprintf(&b, "   FA before onset %d -> %d", oc.FAEpisodes, c.FAEpisodes)
		}
		b.WriteString("\n")
	}
	for _, oc := range old.Cells {
		if rep.cell(oc.Kind, oc.Failure) == nil {
			fmt.Fprintf(&b, "%s/%s: cell gone (was %s)\n", oc.Kind, oc.Failure, cellText(&oc))
			changed++
		}
	}
	for _, k := range rep.Kinds {
		var ok *KindSummary
		for i := range old.Kinds {
			if old.Kinds[i].Name == k.Name {
				ok = &old.Kinds[i]
			}
		}
		if ok == nil || (ok.FAEpisodes == k.FAEpisodes && ok.Exceed == k.Exceed && ok.Samples == k.Samples) {
			continue
		}
		changed++
		fmt.Fprintf(&b, "%-22s controls FA/series-week %s -> %s, score > %g %s -> %s\n", k.Name,
			faText(ok.FAEpisodes, ok.SeriesWeeks), faText(k.FAEpisodes, k.SeriesWeeks), Thresholds[1],
			rarity(ok.Exceed[1], ok.Samples), rarity(k.Exceed[1], k.Samples))
	}
	if changed == 0 {
		b.WriteString("no cell changed\n")
	}
	for _, g := range rep.Classes {
		for _, og := range old.Classes {
			if og.Name == g.Name && (og.Series != g.Series || og.Bar != g.Bar || og.Detected != g.Detected) {
				fmt.Fprintf(&b, "class %-16s at the bar %s -> %s, within %dh %s -> %s\n", g.Name, pct(og.Bar, og.Series),
					pct(g.Bar, g.Series), judge/hour, pct(og.Detected, og.Series), pct(g.Detected, g.Series))
			}
		}
	}
	oa, na := old.Overall.All, rep.Overall.All
	fmt.Fprintf(&b, "overall at the bar %s -> %s, within %dh %s -> %s, controls FA/series-week %s -> %s, calibration ratio %s -> %s\n",
		pct(oa.Bar, oa.Series), pct(na.Bar, na.Series), judge/hour, pct(oa.Detected, oa.Series), pct(na.Detected, na.Series),
		faText(old.Overall.FAEpisode, old.Overall.SeriesWeeks), faText(rep.Overall.FAEpisode, rep.Overall.SeriesWeeks),
		ratioText(old.Calibration), ratioText(rep.Calibration))
	_, err := io.WriteString(w, b.String())
	return err
}

func ratioText(c Calibration) string {
	if c.Infinite {
		return "∞"
	}
	return fmt.Sprintf("%.1f", c.Ratio)
}
