// Package costcompare measures, side by side on Debian's Prometheus, what anomaly detection
// costs the whole monitoring system: the same 1,000 series scraped every 60 s, once with the
// adaptive strategy of Grafana's promql-anomaly-detection as a user installs it (the
// input-tagging recording rule its README asks for and rules/adaptive.yml: constants, the
// input selection, a 1-hour mean and standard deviation, its 26-hour smoothing, long-term
// bands a day and a week back, the alert; re-typed with the same expressions, see
// adaptiveRules), once with kizashi-exporter (its own process, scraped back by Prometheus,
// with the shipped alerting rules), and once with neither (the baseline). It reads the CPU
// time of the processes from /proc/PID/stat over a window after a warm-up, Prometheus'
// resident memory at its end, the series with a sample at its end (series per input) and
// the series created in Prometheus' head during it (churn). Run it with
//
//	go test -tags e2e ./internal/costcompare -run '^$' -bench SideBySide -benchtime 1x -timeout 3h \
//	    -args -costcompare.window=10m
//
// Two more setups answer what another read path would cost: remotewrite (Prometheus sends
// every input by remote write to a receiver in the benchmark's process, no exporter) and
// kizashi-offread (the exporter reads its inputs from a second Prometheus that is not
// measured: the floor of any read path that costs the measured Prometheus nothing). The setup
// kizashi-scrape is kizashi with source.scrape_targets: the exporter scrapes the target that
// Prometheus lists, and the run fails unless every step of the window was read that way.
//
// (BENCHMARKS.md has the figures; -costcompare.setups runs some of the setups,
// -costcompare.pprof=DIR writes a CPU profile of Prometheus per setup, which costs CPU: not
// for the figures). Each setup is best run in its own process, all started together, with
// -costcompare.start set to the same time (RFC 3339) a half hour ahead: every setup then
// measures the same ten minutes of the machine, whatever its load and backfill took. It is a
// benchmark, not a test: `go test ./...` does not run it.
package costcompare
