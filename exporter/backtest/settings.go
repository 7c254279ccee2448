package backtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/kizashi-dev/kizashi/anomaly"
	"github.com/kizashi-dev/kizashi/internal/timezone"
)

// Settings are the model settings of a backtest or forecast run: one parameter set for all
// files and series. A nil (or, for Horizons, empty) field is unset and keeps the engine's
// default; see anomaly.Config for what each one means.
//
// The YAML keys mirror the command-line flags:
//
//	sensitivity: 0.5        # [0,1]; higher gives a narrower band
//	daily: auto             # auto | on | off
//	weekly: auto
//	trend: auto
//	step: 0                 # sample interval; 0 = learned from the data
//	horizons: [1h, 6h, 24h] # forecast horizons (also the forecast_<h> columns)
//	min: 0                  # valid range of the series
//	max: 100
//	log: false              # model log(1+value) (non-negative series, level-proportional swings)
//	timezone: Europe/Berlin # the zone whose days and weeks the profiles follow, and the CSV's times without a zone are in; default UTC
//	holidays: [2026-05-04, 2026-12-29..2027-01-03] # days the weekly profiles read as Sundays
type Settings struct {
	Sensitivity *float64   `yaml:"sensitivity"`
	Daily       *Mode      `yaml:"daily"`
	Weekly      *Mode      `yaml:"weekly"`
	Trend       *Mode      `yaml:"trend"`
	Step        *Duration  `yaml:"step"`
	Horizons    []Duration `yaml:"horizons"`
	Min         *float64   `yaml:"min"`
	Max         *float64   `yaml:"max"`
	Log         *bool      `yaml:"log"`
	Timezone    *string    `yaml:"timezone"`
	Holidays    []string   `yaml:"holidays"`
}

// Mode is anomaly.Mode as a YAML value (auto, on or off).
type Mode anomaly.Mode

// UnmarshalYAML parses auto, on or off and names the line of a bad value.
func (m *Mode) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	if err := (*anomaly.Mode)(m).UnmarshalText([]byte(s)); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

// Duration is a duration in Prometheus notation (0, 30s, 5m, 1h30m, 1d, 1w) as a YAML value.
type Duration time.Duration

// UnmarshalYAML parses a duration and names the line of a bad value.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// ParseDuration parses a duration in Prometheus notation (0, 30s, 5m, 1h30m, 1d, 1w).
func ParseDuration(s string) (time.Duration, error) {
	d, err := model.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("duration %q: %w", s, err)
	}
	return time.Duration(d), nil
}

// ParseDurations parses a comma-separated list of durations such as "1h,6h,24h".
func ParseDurations(s string) ([]Duration, error) {
	var ds []Duration
	for f := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		d, err := ParseDuration(f)
		if err != nil {
			return nil, err
		}
		ds = append(ds, Duration(d))
	}
	return ds, nil
}

// LoadSettings reads a YAML settings file. It is strict: unknown keys, wrong types and bad
// values are errors naming the file and line.
func LoadSettings(path string) (Settings, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Settings{}, fmt.Errorf("read settings: %w", err)
	}
	s, err := ParseSettings(data)
	if err != nil {
		return Settings{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseSettings decodes YAML settings strictly (unknown keys are errors). An empty document
// gives empty Settings.
func ParseSettings(data []byte) (Settings, error) {
	var s Settings
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil && !errors.Is(err, io.EOF) {
		return Settings{}, fmt.Errorf("parse settings: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Settings{}, errors.New("parse settings: more than one YAML document")
	}
	return s, nil
}

// Override returns s with every field that o sets replaced by o's (flags given explicitly
// override the settings file).
func (s Settings) Override(o Settings) Settings {
	override(&s.Sensitivity, o.Sensitivity)
	override(&s.Daily, o.Daily)
	override(&s.Weekly, o.Weekly)
	override(&s.Trend, o.Trend)
	override(&s.Step, o.Step)
	override(&s.Min, o.Min)
	override(&s.Max, o.Max)
	override(&s.Log, o.Log)
	override(&s.Timezone, o.Timezone)
	if len(o.Horizons) > 0 {
		s.Horizons = o.Horizons
	}
	if len(o.Holidays) > 0 {
		s.Holidays = o.Holidays
	}
	return s
}

// override sets *dst to o when o is set.
func override[T any](dst **T, o *T) {
	if o != nil {
		*dst = o
	}
}

// LoadConfig is the engine's configuration from a settings file (LoadSettings, then Config),
// or its defaults when path is empty: the evaluation commands' -config.
func LoadConfig(path string) (anomaly.Config, error) {
	if path == "" {
		return anomaly.Config{}, nil
	}
	s, err := LoadSettings(path)
	if err != nil {
		return anomaly.Config{}, err
	}
	c, err := s.Config()
	if err != nil {
		return anomaly.Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Config maps the settings onto the engine's configuration and validates it.
func (s Settings) Config() (anomaly.Config, error) {
	var c anomaly.Config
	c.Sensitivity = s.Sensitivity
	if s.Daily != nil {
		c.Daily = anomaly.Mode(*s.Daily)
	}
	if s.Weekly != nil {
		c.Weekly = anomaly.Mode(*s.Weekly)
	}
	if s.Trend != nil {
		c.Trend = anomaly.Mode(*s.Trend)
	}
	if s.Step != nil {
		c.Step = time.Duration(*s.Step)
	}
	for _, h := range s.Horizons {
		c.Horizons = append(c.Horizons, time.Duration(h))
	}
	c.Min, c.Max = s.Min, s.Max
	c.Log = s.Log != nil && *s.Log
	if s.Timezone != nil {
		loc, err := timezone.Parse(*s.Timezone)
		if err != nil {
			return anomaly.Config{}, fmt.Errorf("settings: timezone: %w", err)
		}
		c.Location = loc
	}
	hs, err := anomaly.ParseHolidays(s.Holidays)
	if err != nil {
		return anomaly.Config{}, fmt.Errorf("settings: %w", err)
	}
	c.Holidays = hs
	if _, err := anomaly.Compile(c); err != nil {
		return anomaly.Config{}, fmt.Errorf("settings: %w", err)
	}
	return c, nil
}

// ParseMode parses auto, on or off (anomaly.Mode's UnmarshalText).
func ParseMode(s string) (Mode, error) {
	var m anomaly.Mode
	err := m.UnmarshalText([]byte(s))
	return Mode(m), err
}
