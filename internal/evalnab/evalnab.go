// Package evalnab scores a NAB backtest the way the tuning discipline asks (BENCHMARKS.md): on
// the whole dev half and on each of its two folds, every one at the whole half's optimal
// threshold of each profile and at the shipped alert threshold. nab_score.py's optimiser picks
// the threshold that maximises the raw score of the files it is given, so scoring a fold on its
// own would tune the threshold to the fold; here the folds are scored at the threshold chosen on
// the whole half (--threshold), one threshold for both.
package evalnab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Profiles are NAB's scoring profiles in report order.
var Profiles = []string{"standard", "reward_low_FP_rate", "reward_low_FN_rate"}

// Profile is one profile's figures in nab_score.py's JSON.
type Profile struct {
	Score     *float64 `json:"score"` // nil: no window to score
	Threshold *float64 `json:"threshold"`
	Detected  int      `json:"windows_detected"`
	Missed    int      `json:"windows_missed"`
	FPRows    int      `json:"fp_rows"`
}

// Result is nab_score.py's JSON (the parts used here).
type Result struct {
	Files    int                `json:"files"`
	Windows  int                `json:"windows"`
	Profiles map[string]Profile `json:"profiles"`
}

// Scorer runs the scorer with extra arguments (--subset FILE, --threshold T) and returns its
// result.
type Scorer func(ctx context.Context, args ...string) (Result, error)

// Set is a part of the dev half: a name and its --subset file ("" for the whole half).
type Set struct {
	Name, Subset string
}

// Row is one set scored at one threshold per profile.
type Row struct {
	Set  Set
	Mode string // "dev-optimal" or the fixed threshold
	// Files and Windows scored.
	Files, Windows int
	Profiles       map[string]Profile
}

// Evaluate scores every set at the whole half's optimal threshold of each profile (the first
// set must be the whole half) and at fixed. The returned thresholds are the optimal ones.
func Evaluate(ctx context.Context, score Scorer, sets []Set, fixed float64) ([]Row, map[string]float64, error) {
	if len(sets) == 0 || sets[0].Subset != "" {
		return nil, nil, errors.New("the first set must be the whole half")
	}
	whole, err := score(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("score the whole half: %w", err)
	}
	opt := map[string]float64{}
	var distinct []float64
	for _, p := range Profiles {
		pr, ok := whole.Profiles[p]
		if !ok {
			return nil, nil, fmt.Errorf("the scorer reported no profile %s", p)
		}
		if pr.Threshold == nil {
			return nil, nil, fmt.Errorf("profile %s: the optimal threshold is to detect nothing", p)
		}
		opt[p] = *pr.Threshold
		if !slices.Contains(distinct, *pr.Threshold) {
			distinct = append(distinct, *pr.Threshold)
		}
	}
	var rows []Row
	for _, mode := range []string{"dev-optimal", strconv.FormatFloat(fixed, 'g', -1, 64)} {
		for _, s := range sets {
			row := Row{Set: s, Mode: mode, Profiles: map[string]Profile{}}
			thresholds := distinct
			if mode != "dev-optimal" {
				thresholds = []float64{fixed}
			}
			for _, th := range thresholds {
				args := []string{"--threshold", strconv.FormatFloat(th, 'g', -1, 64)}
				if s.Subset != "" {
					args = append(args, "--subset", s.Subset)
				}
				r, err := score(ctx, args...)
				if err != nil {
					return nil, nil, fmt.Errorf("score %s at %g: %w", s.Name, th, err)
				}
				row.Files, row.Windows = r.Files, r.Windows
				for _, p := range Profiles {
					if mode != "dev-optimal" || opt[p] == th {
						row.Profiles[p] = r.Profiles[p]
					}
				}
			}
			if mode == "dev-optimal" && s.Subset == "" {
				// Scoring the whole half at its optimal threshold must give the optimum (up to the
				// order in which the scorer sums).
				for _, p := range Profiles {
					if a, b := row.Profiles[p].Score, whole.Profiles[p].Score; a == nil || b == nil || math.Abs(*a-*b) > 1e-6 {
						return nil, nil, fmt.Errorf("profile %s: the whole half at its optimal threshold %g scores %v, the optimiser %v",
							p, opt[p], fmtScore(a), fmtScore(b))
					}
				}
			}
			rows = append(rows, row)
		}
	}
	return rows, opt, nil
}

func fmtScore(s *float64) string {
	if s == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", *s)
}

// Markdown writes the rows as a table: per profile the score, windows detected and false
// positive rows.
func Markdown(w io.Writer, rows []Row, opt map[string]float64) error {
	var b strings.Builder
	b.WriteString("Dev-optimal thresholds (chosen on the whole half, applied to both folds):")
	for _, p := range Profiles {
		fmt.Fprintf(&b, " %s %.6g;", p, opt[p])
	}
	b.WriteString("\n\n| set | files | threshold |")
	for _, p := range Profiles {
		fmt.Fprintf(&b, " %s |", p)
	}
	b.WriteString("\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %s |", r.Set.Name, r.Files, r.Mode)
		for _, p := range Profiles {
			pr := r.Profiles[p]
			fmt.Fprintf(&b, " %s (%d/%d, %d FP) |", fmtScore(pr.Score), pr.Detected, pr.Detected+pr.Missed, pr.FPRows)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// PythonScorer runs `python3 script results --data data --labels labels ARGS --json TMP` and
// reads the JSON it writes.
func PythonScorer(script, results, data, labels string) Scorer {
	return func(ctx context.Context, args ...string) (Result, error) {
		dir, err := os.MkdirTemp("", "evalnab")
		if err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "score.json")
		cmd := exec.CommandContext(ctx, "python3", append([]string{script, results, "--data", data, "--labels", labels,
			"--json", out}, args...)...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return Result{}, fmt.Errorf("%s %s: %w\n%s", filepath.Base(script), strings.Join(args, " "), err, msg)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			return Result{}, fmt.Errorf("read scorer output: %w", err)
		}
		var r Result
		if err := json.Unmarshal(b, &r); err != nil {
			return Result{}, fmt.Errorf("decode scorer output: %w", err)
		}
		return r, nil
	}
}
