package catalog

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/internal/timezone"
)

// Detector is what the scorer drives, one per series, as the exporter drives its model: Update
// for every sample, and Missing for every step at which the series has no sample (it vanished),
// asking what the exporter would publish then. Missing returns false when nothing is published
// (the alert's expression then finds no series and does not hold).
type Detector interface {
	Update(t time.Time, v float64) anomaly.Result
	Missing(t time.Time) (anomaly.Result, bool)
}

// NewDetector makes the detector of one series. It is given the series so that a test can
// build an oracle; a real detector must not look at it.
type NewDetector func(s *Series) Detector

// ModelDetector is the exporter's behaviour over an anomaly.Model: every sample goes to
// Update (a rejected sample yields the model's Result with a zero score, as the exporter
// publishes it), and for a step without a sample it publishes what Model.Missing says (the
// expectation, and a score with the reason vanished), as the exporter does until it drops the
// series.
type ModelDetector struct {
	Model *anomaly.Model
}

// Update implements Detector.
func (d *ModelDetector) Update(t time.Time, v float64) anomaly.Result {
	r, _ := d.Model.Update(t, v)
	return r
}

// Missing implements Detector.
func (d *ModelDetector) Missing(t time.Time) (anomaly.Result, bool) { return d.Model.Missing(t), true }

// Models returns a NewDetector that makes a fresh model of spec per series.
func Models(spec *anomaly.Spec) NewDetector {
	return func(*Series) Detector { return &ModelDetector{Model: spec.New()} }
}

// ZonedModels is Models for a detector told each series' calendar: a series with a Zone
// (Options.Calendar) gets a model of cfg in that zone with its holidays, as a user would
// configure the query of a customer there; the others a model of cfg as it is.
func ZonedModels(cfg anomaly.Config) (NewDetector, error) {
	def, err := anomaly.Compile(cfg)
	if err != nil {
		return nil, err
	}
	specs := map[string]*anomaly.Spec{}
	for _, cz := range calendarZones {
		c, err := ZonedConfig(cfg, cz.name, cz.holidayRanges)
		if err != nil {
			return nil, err
		}
		if specs[cz.name], err = anomaly.Compile(c); err != nil {
			return nil, err
		}
	}
	return func(s *Series) Detector {
		if sp, ok := specs[s.Zone]; ok {
			return &ModelDetector{Model: sp.New()}
		}
		return &ModelDetector{Model: def.New()}
	}, nil
}

// ZonedConfig is cfg in the named zone with the given holidays (dates and ranges, as a Series'
// Zone and Holidays hold them): the model a user would configure for a series there.
func ZonedConfig(cfg anomaly.Config, zone string, holidays []string) (anomaly.Config, error) {
	var err error
	if cfg.Location, err = timezone.Parse(zone); err != nil {
		return cfg, err
	}
	cfg.Holidays, err = anomaly.ParseHolidays(holidays)
	return cfg, err
}

// Thresholds are the scores whose rarity on learned normal data is measured (the shipped alert
// threshold and one either side of it).
var Thresholds = [3]float64{0.5, 0.65, 0.75}

// Outcome is what the rule made of one series.
type Outcome struct {
	Case
	Onset time.Time `json:"onset,omitzero"`
	// Detected: the alert fired, with its expression holding, within Judge of the onset; Delay
	// is the steps from the onset to that evaluation and Reason the score's reason there.
	Detected bool           `json:"detected,omitempty"`
	Delay    int            `json:"delay_steps,omitempty"`
	Reason   anomaly.Reason `json:"reason,omitempty"`
	// MaxScore is the highest score in the judged window; Reasons every reason of a score of at
	// least anomaly.ReasonMinScore there (bit i: reason i).
	MaxScore float64 `json:"max_score,omitempty"`
	Reasons  uint32  `json:"reasons,omitempty"`
	// After the warm-up and before the onset (the whole series for a control): the firing
	// episodes that started, the steps evaluated, the samples published and how many of them
	// scored above each of Thresholds.
	FAEpisodes int    `json:"fa_episodes"`
	FASteps    int    `json:"fa_steps"`
	Samples    int    `json:"samples"`
	Exceed     [3]int `json:"exceed"`
	Params     string `json:"params,omitempty"`
}

// Score runs the rule over one series driven through d. The rule's interval must be the
// series' step (the exporter publishes once per step and Prometheus evaluates every step).
func Score(s *Series, d Detector, r Rule, warmup time.Duration) (Outcome, error) {
	if r.Interval != s.Step {
		return Outcome{}, fmt.Errorf("rule interval %s: the emulation evaluates once per step (%s)", r.Interval, s.Step)
	}
	o := Outcome{Case: s.Case, Params: s.Params}
	if s.Onset >= 0 {
		o.Onset = s.Start.Add(time.Duration(s.Onset) * s.Step)
	}
	warm := int(warmup / s.Step)
	a := NewAlert(r)
	wasFiring := false
	for i := range s.End {
		t := s.Start.Add(time.Duration(i) * s.Step)
		var res anomaly.Result
		published := true
		if i < len(s.Values) {
			res = d.Update(t, s.Values[i])
		} else {
			res, published = d.Missing(t)
		}
		holds := published && res.Ready && res.Score > r.Threshold
		firing := a.Eval(t, holds) == Firing
		if s.Onset < 0 || i < s.Onset {
			if i >= warm {
				o.FASteps++
				if firing && !wasFiring {
					o.FAEpisodes++
				}
				if published {
					o.Samples++
					for j, th := range Thresholds {
						if res.Score > th {
							o.Exceed[j]++
						}
					}
				}
			}
		} else {
			if published {
				o.MaxScore = max(o.MaxScore, res.Score)
				if res.Score >= anomaly.ReasonMinScore {
					o.Reasons |= 1 << res.Reason
				}
			}
			if !o.Detected && firing && holds {
				o.Detected, o.Delay, o.Reason = true, i-s.Onset, res.Reason
			}
		}
		wasFiring = firing
	}
	return o, nil
}

// Run is one evaluation of the catalogue.
type Run struct {
	Options
	Rule Rule
	// Kinds and Failures select the cells (None: the controls). Empty: all.
	Kinds    []Kind
	Failures []Failure
	New      NewDetector
	// Workers run series in parallel (0: GOMAXPROCS).
	Workers int
}

// Cases returns the series of the run, in report order.
func (r Run) Cases() []Case {
	kinds, fails := r.Kinds, r.Failures
	if len(kinds) == 0 {
		kinds = Kinds()
	}
	if len(fails) == 0 {
		fails = append([]Failure{None}, Failures()...)
	}
	var cs []Case
	for _, k := range kinds {
		for _, f := range fails {
			if _, ex := excluded(k, f); ex {
				continue
			}
			n := r.PerCell
			if f == None {
				n = r.Controls
			}
			for i := range n {
				cs = append(cs, Case{k, f, i})
			}
		}
	}
	return cs
}

// Do generates and scores every series of the run; the outcomes are in the order of Cases
// whatever the number of workers.
func (r Run) Do(ctx context.Context) ([]Outcome, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	cases := r.Cases()
	out := make([]Outcome, len(cases))
	workers := r.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				o, err := r.one(cases[i])
				if err != nil {
					cancel(err)
					return
				}
				out[i] = o
			}
		})
	}
feed:
	for i := range cases {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

func (r Run) validate() error {
	if err := r.Options.validate(); err != nil {
		return err
	}
	if r.New == nil {
		return errors.New("no detector")
	}
	for _, f := range r.Failures {
		if _, err := ParseFailure(string(f)); err != nil {
			return err
		}
	}
	for _, k := range r.Kinds {
		if _, err := ParseKind(string(k)); err != nil {
			return err
		}
	}
	return nil
}

func (r Run) one(c Case) (Outcome, error) {
	s, err := Generate(r.Options, c)
	if err != nil {
		return Outcome{}, err
	}
	o, err := Score(s, r.New(s), r.Rule, r.Warmup)
	if err != nil {
		return Outcome{}, fmt.Errorf("%s: %w", c, err)
	}
	return o, nil
}
