// Package costcompare measures, side by side on Debian's Prometheus, what anomaly detection
// costs the whole monitoring system: the same 1,000 series scraped every 60 s, once with
// adaptive recording rules in the style of Grafana's promql-anomaly-detection
// (adaptive.yml: a 1-hour mean and standard deviation, its 26-hour smoothing, long-term bands
// a day and a week back, evaluated by Prometheus), once with kizashi-exporter (its own process,
// scraped back by Prometheus, with the shipped alerting rules), and once with neither (the
// baseline). It reads the CPU time of the processes from /proc/PID/stat over a window after a
// warm-up, and Prometheus' resident memory at its end. Run it with
//
//	go test -tags e2e ./internal/costcompare -run '^$' -bench SideBySide -benchtime 1x -timeout 3h \
//	    -args -costcompare.window=10m
//
// (BENCHMARKS.md has the figures). It is a benchmark, not a test: `go test ./...` does not run
// it.
package costcompare
