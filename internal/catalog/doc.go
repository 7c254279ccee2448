// Package catalog is Kizashi's failure catalogue: a yardstick for the anomaly engine made of
// synthetic 1-minute series of the kinds operators watch, each with one everyday failure
// injected (or none: the controls), run through a detector the way the exporter runs the
// engine and judged by the alert rule the project ships. It is designed from what operators
// see in production, not from what the engine happens to catch, and it is not tuned to the
// engine: a cell is only ever excluded because it is meaningless for the kind (Exclusions).
// Run it with `go tool mage evalCatalog` or `go run ./cmd/evalcatalog`.
//
// # Series
//
// Every series is a pure function of the catalogue seed and its case (kind, failure, index):
// its parameters, noise, onset and failure draws come from separate PCG streams keyed by them
// (math/rand/v2), so a series does not change when others are added, filtered out or run on
// another goroutine, and a failure series has exactly the noise of the same series without the
// failure until its onset (the tests rely on it). A series starts at a random minute of the week
// after Monday 2026-01-05 00:00 UTC and lives in a time zone drawn from UTC, UTC+9 (Japan),
// UTC+1, UTC-5 and UTC+5:30: business hours and weekends are local, the engine's are UTC.
// With Options.Calendar (evalcatalog -calendar) the series live instead where their calendar
// moves within their weeks, 14 to 21 days after their start: Berlin and New York (spring
// 2026: the clocks go forward), Sydney (autumn: back) and Tokyo (Golden Week: four weekdays
// that are Sundays to every kind); ZonedModels (-zoned) gives each series' model its zone and
// holidays, as a user would. Controls run Options.Days (28) days; a failure starts in the last week and the series ends
// Judge (4 hours) after the onset. Values are taken every minute. The kinds:
//
//   - smooth: a request rate, level log-uniform in [20, 2000], daily shape
//     1 + a1·cos(2π(h-p1)/24) + a2·cos(4π(h-p2)/24) (a1 in [0.35, 0.65], peak p1 at 12-17 h, a
//     half-day harmonic up to 0.2), weekends ×0.55-0.9 with two-hour transitions around
//     midnight. Its noise is multiplicative: a drift of the level (log-OU, 2-day time constant,
//     4%), a wander (log-OU, 15-90 min, 1-4%: users come in sessions) and an AR(1) sample noise
//     (φ 0.3-0.8, 2-6%).
//   - onoff: square edges from one minute to the next between an on level (log-uniform in
//     [50, 5000]) and an off level 5-20% of it. Three variants by index: business hours on
//     weekdays (opening 8:00-9:30, closing 17:00-19:00 local), a daily batch window (1.5-3 h
//     starting between 00:00 and 05:45), cron bursts (3-6 bursts a day of 10-30 minutes at fixed
//     times on a 5-minute grid, an hour apart at least). Noise as smooth (3-7%).
//   - heavytail: a flat level (log-uniform in [10, 1000]) with Student-t noise of 3 or 4 degrees
//     of freedom or Laplace noise (by index), scale 1-3% of the level; no daily pattern.
//   - counts: Poisson counts per minute (errors, jobs), mean 1.5-5 with a daily cosine of
//     ±30-70% and weekends ×0.5-1, times a 5% level drift.
//   - cpu: utilisation in percent: a floor of 10-40% plus a daily bump of 5-30 points (a raised
//     cosine to the power 1-3, weekends ×0.5-1), plus a mean-reverting random walk (AR(1) with a
//     time constant of 5-30 minutes, 2-6 points) and 0.3-1.5 points of jitter, clamped to
//     [0, 100].
//   - rate1m, rate5m, rate10m: a counter incremented by Poisson arrivals at 0.5-200 per second
//     with the smooth kind's daily shape (±0.3-0.6), weekends ×0.5-0.9, a drift and a wander as
//     above and an AR(1) wobble per scrape (φ 0.9, 2-5%); a quarter of them (index 3 mod 4)
//     count at a constant rate instead (internal traffic, heartbeats; never used for flatten and
//     phase3h, which have no pattern to change there); scraped every 15 s at a random offset;
//     restarted (reset to 0) at exponential intervals of 4 days on average; the series is
//     rate(x[1m|5m|10m]) evaluated every minute exactly as Prometheus computes it (promrate.go,
//     checked against Debian's Prometheus by TestRatesAgainstPrometheus).
//   - sparse: occasional events, 0.5-4% of minutes (±0-30% by time of day), each of size
//     1 + Poisson(0-1.5): 95% zeros or more.
//   - weeklystep: the weekend differs. Variant 0 (shop): open 9/10-19/21 on weekdays, 10-22 on
//     Saturday at ×1.3-1.8, 11-19 on Sunday at ×1.1-1.5 or closed (30%), with 30-minute ramps,
//     lunch and evening humps, closed level 2-10%. Variant 1 (weekend batches): the smooth shape
//     on weekdays; on weekends ×0.3-0.6 by day and a batch of ×2-4 the weekday level from 01:00
//     to 06:00. Noise as smooth.
//
// # Failures
//
// A failure changes the series from its onset to the end of the judged window (it lasts
// longer than the window; what follows is not scored). The failure acts on the series' expected
// value (its noise-free normal) or on its noise, and the kind's own noise applies on top; the
// rate kinds' failures act on the arrivals, a minute before the onset step, so that the onset
// is the first rate sample the change reaches.
//
//   - drop50: the expected value halves (the noise with it where it is multiplicative).
//   - drop0: the value is exactly 0 (the counter stops: its rate falls to 0 over the window).
//   - stuck: the value freezes at the last one before the onset (a hung exporter, a dead
//     process whose gauge stays). On sparse, at the next event rather than at 0.
//   - flatten: the daily shape disappears and the mean stays: the expected value is the mean
//     of the normal over the day centred on the onset.
//   - spike10m: ten minutes at three times the value (cpu clamped at 100; counts: Poisson at
//     three times the expected count; sparse: an event every minute at three times the mean
//     event size; rates: three times the arrivals).
//   - spike1: one sample at three times the value (cpu clamped at 100). Counts: ten times the
//     series' mean (three times is within Poisson noise: P(X >= 9 | mean 3) = 0.4%, several
//     times a day); sparse: one event of ten times the mean size; rate1m: three times the
//     arrivals for one minute.
//   - variance3x: the variance of the sample-to-sample noise ×3 (its standard deviation ×√3)
//     with the mean unchanged; counts and counters: a Gamma-Poisson mixture that triples the
//     variance of each count.
//   - ramp: a slow leak: a linear rise that adds the series' weekly mean by the end of the
//     judged window (the level doubles in 4 hours; +0.4% of it per minute, far below the
//     noise); on sparse the event rate rises to ×7 instead (doubling an event rate of a few
//     percent cannot be told from chance in hours).
//   - phase3h: the daily (and weekly) pattern arrives three hours late: the expected value at t
//     is the normal one at t-3h.
//   - vanish: no more samples. The engine cannot see it: the scorer asks the Detector what the
//     exporter would publish at each missing step (Missing: the model's expectation and a score
//     that grows with the steps missed, anomaly.Model.Missing). rate(x[5m]) and rate(x[10m])
//     fade over their window before they vanish, which a detector can also see.
//
// Where a failure starts matters as much as what it is. All onsets are on a uniformly drawn
// minute of the last week that satisfies the class's condition:
//
//   - drop50, drop0, spike10m, spike1, variance3x, stuck: the series is active for the ten
//     minutes from the onset: its expected value is at least half its weekly mean and above the
//     lowest quarter of its weekly range (the business hours of an on/off series and inside its
//     batch windows or bursts, not the deepest night trough of a daily one).
//   - flatten, phase3h: the failure visibly changes the pattern within the judged window: the
//     mean absolute difference between the failed and the normal expected values over the 4
//     hours is at least a fifth of the weekly range.
//   - ramp, vanish: anywhere.
//
// A failure series whose drawn parameters leave no such minute (a flattening of cron bursts
// too short to show within the judged hours) is drawn again from the streams of
// "kind/failure/index#1", "#2", ... (Generate): a cell holds series on which its failure means
// something, whatever the seed.
//
// Exclusions lists the meaningless cells with the reason (a drop to 0 of a series whose
// normal value is 0, the flattening of a series with no daily pattern, a frozen counter that is
// the same series as its drop to 0, the one-sample spike of a rate over 5 or 10 minutes, ...).
//
// # Scoring
//
// Each series is driven through a Detector (ModelDetector: a fresh anomaly.Model of the
// configuration under test, as the exporter runs it) and its results through the shipped
// alert rule (ShippedRule, TestShippedRule keeps it equal to dashboards/prometheus/
// kizashi-alerts.yml): `kizashi_anomaly_score > 0.65` (0 until the model is ready), for: 2m,
// keep_firing_for: 10m, evaluated once per step, with Prometheus' state machine (Alert;
// TestAlertAgainstPrometheus checks it against Debian's Prometheus). A failure is detected
// when the alert fires with its expression holding at an evaluation within Judge of the onset
// (an earlier alarm that only keeps firing does not count); the delay is the steps from the
// onset to that evaluation, the reason that of the score there. The quick classes (Quick:
// drops and spikes) are held to detection within QuickSteps (5) steps, the others to Judge (4
// hours); both figures are reported for the quick classes.
//
// False alarms are the firing episodes that start after Options.Warmup (7 days, the exporter's
// default training_window) on the controls, per series-week; the same count on the failure
// series before their onset is reported beside it. The calibration of the score is the share
// of control samples after the warm-up that score above 0.5, 0.65 and 0.75 (Thresholds) per
// kind, and the ratio of the largest to the smallest share above the alert threshold across
// kinds. With the default sizes (16 controls a kind, 21 days after the warm-up) each share
// rests on 483,840 samples; the report gives the number of exceedances behind each figure.
package catalog
