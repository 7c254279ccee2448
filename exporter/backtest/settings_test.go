package backtest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kizashi-dev/kizashi/anomaly"
)

func TestParseSettings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		yaml    string
		want    anomaly.Config
		wantErr string
	}{
		{name: "empty", yaml: "", want: anomaly.Config{}},
		{name: "full", yaml: "sensitivity: 0.7\ndaily: on\nweekly: off\ntrend: auto\nstep: 5m\nhorizons: [1h, 6h, 1d]\nmin: 0\nmax: 100\n",
			want: anomaly.Config{Sensitivity: anomaly.Float(0.7), Daily: anomaly.On, Weekly: anomaly.Off, Trend: anomaly.Auto,
				Step: 5 * time.Minute, Horizons: []time.Duration{time.Hour, 6 * time.Hour, 24 * time.Hour},
				Min: anomaly.Float(0), Max: anomaly.Float(100)}},
		{name: "step zero is learned", yaml: "step: 0\n", want: anomaly.Config{}},
		{name: "sensitivity zero is widest", yaml: "sensitivity: 0\n", want: anomaly.Config{Sensitivity: anomaly.Float(0)}},
		{name: "unknown key", yaml: "sensitivity: 0.5\nsensitivty: 0.4\n",
			wantErr: "parse settings: yaml: unmarshal errors:\n  line 2: field sensitivty not found in type backtest.Settings"},
		{name: "bad mode", yaml: "daily: sometimes\n", wantErr: `parse settings: line 1: unknown mode "sometimes" (want auto, on or off)`},
		{name: "bad duration", yaml: "\nstep: 5 minutes\n", wantErr: `parse settings: line 2: duration "5 minutes": unknown unit`},
		{name: "bad type", yaml: "sensitivity: high\n", wantErr: "line 1: cannot unmarshal !!str `high` into float64"},
		{name: "out of range", yaml: "sensitivity: 2\n", wantErr: "settings: sensitivity 2: must be in [0,1]"},
		{name: "min above max", yaml: "min: 5\nmax: 1\n", wantErr: "settings: min 5 must be below max 1"},
		{name: "horizons not increasing", yaml: "horizons: [6h, 1h]\n", wantErr: "settings: horizons must be positive and increasing"},
		{name: "bad timezone", yaml: "timezone: Mars/Olympus\n", wantErr: `settings: timezone: time zone "Mars/Olympus": unknown`},
		{name: "timezone Local", yaml: "timezone: Local\n", wantErr: `settings: timezone: time zone "Local": name the zone`},
		{name: "bad holiday", yaml: "holidays: [2026-05-04, 2026-02-30]\n", wantErr: `settings: holiday "2026-02-30": want a date`},
		{name: "two documents", yaml: "min: 0\n---\nmax: 1\n", wantErr: "more than one YAML document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSettings([]byte(tc.yaml))
			var cfg anomaly.Config
			if err == nil {
				cfg, err = s.Config()
			}
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, cfg)
		})
	}
}

func TestLoadSettingsNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kizashi.yml")
	require.NoError(t, os.WriteFile(path, []byte("daily: on\nbogus: 1\n"), 0o644))
	_, err := LoadSettings(path)
	require.EqualError(t, err, path+": parse settings: yaml: unmarshal errors:\n  line 2: field bogus not found in type backtest.Settings")
	_, err = LoadSettings(filepath.Join(t.TempDir(), "missing.yml"))
	require.ErrorContains(t, err, "read settings: open ")
}

func TestSettingsOverride(t *testing.T) {
	file, err := ParseSettings([]byte("sensitivity: 0.3\ndaily: on\ntrend: off\nhorizons: [1h]\nmin: 0\n"))
	require.NoError(t, err)
	on := Mode(anomaly.On)
	sens := 0.9
	got := file.Override(Settings{Sensitivity: &sens, Weekly: &on, Horizons: []Duration{Duration(2 * time.Hour)}})
	cfg, err := got.Config()
	require.NoError(t, err)
	require.Equal(t, anomaly.Config{Sensitivity: anomaly.Float(0.9), Daily: anomaly.On, Weekly: anomaly.On, Trend: anomaly.Off,
		Horizons: []time.Duration{2 * time.Hour}, Min: anomaly.Float(0)}, cfg)
}

func TestParseDurations(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []Duration
		wantErr string
	}{
		{in: "1h,6h,24h", want: []Duration{Duration(time.Hour), Duration(6 * time.Hour), Duration(24 * time.Hour)}},
		{in: " 30m , 1d ", want: []Duration{Duration(30 * time.Minute), Duration(24 * time.Hour)}},
		{in: "", want: nil},
		{in: "1h,x", wantErr: `duration "x": not a valid duration string`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDurations(tc.in)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestLoadConfig(t *testing.T) {
	c, err := LoadConfig("")
	require.NoError(t, err)
	require.Equal(t, anomaly.Config{}, c, "no file: the engine's defaults")
	path := filepath.Join(t.TempDir(), "kizashi.yml")
	require.NoError(t, os.WriteFile(path, []byte("daily: on\n"), 0o644))
	c, err = LoadConfig(path)
	require.NoError(t, err)
	require.Equal(t, anomaly.On, c.Daily)
	require.NoError(t, os.WriteFile(path, []byte("sensitivity: -1\n"), 0o644))
	_, err = LoadConfig(path)
	require.ErrorContains(t, err, path+": ", "an invalid configuration names its file")
}

func TestSettingsTimezone(t *testing.T) {
	file, err := ParseSettings([]byte("timezone: Asia/Tokyo\n"))
	require.NoError(t, err)
	cfg, err := file.Config()
	require.NoError(t, err)
	require.Equal(t, "Asia/Tokyo", cfg.Location.String())
	berlin := "Europe/Berlin"
	cfg, err = file.Override(Settings{Timezone: &berlin}).Config()
	require.NoError(t, err)
	require.Equal(t, "Europe/Berlin", cfg.Location.String(), "the flag overrides the file")
	cfg, err = Settings{}.Config()
	require.NoError(t, err)
	require.Nil(t, cfg.Location, "UTC by default")
	require.Empty(t, cfg.Holidays)

	file, err = ParseSettings([]byte("timezone: Asia/Tokyo\nholidays: [2026-04-29, 2026-05-03..2026-05-06]\n"))
	require.NoError(t, err)
	cfg, err = file.Config()
	require.NoError(t, err)
	require.Len(t, cfg.Holidays, 5, "unquoted YAML dates are read as written")
	cfg, err = file.Override(Settings{Holidays: []string{"2027-01-01"}}).Config()
	require.NoError(t, err)
	require.Len(t, cfg.Holidays, 1, "the flag overrides the file")
}
