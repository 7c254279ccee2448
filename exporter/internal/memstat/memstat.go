// Package memstat reads what the exporter's memory benchmarks report: the Go heap that is
// live after a collection, the heap size the collector lets the program grow to before the
// next one (its goal, set by GOGC and GOMEMLIMIT), and the process' resident memory as the
// kernel counts it (what top and process_resident_memory_bytes show), now and at its peak.
package memstat

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
)

// Stats are sizes in MiB.
type Stats struct {
	// Live is the heap reachable after a full collection (runtime/metrics /gc/heap/live:bytes).
	Live float64
	// Goal is the heap size at which the next collection is due (/gc/heap/goal:bytes): with
	// GOGC=100 and no GOMEMLIMIT, twice Live. The runtime keeps the memory it freed up to about
	// this size, so a program that allocates steadily has a resident set near Goal.
	Goal float64
	// RSS and PeakRSS are VmRSS and VmHWM of /proc/self/status.
	RSS, PeakRSS float64
	// GCCPU is the CPU time the collector has used since the process started, in seconds
	// (/cpu/classes/gc/total:cpu-seconds, an estimate of the runtime's).
	GCCPU float64
}

// Read runs a full collection, then reads the figures.
func Read() (Stats, error) {
	runtime.GC()
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/goal:bytes"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(samples)
	s := Stats{Live: mib(samples[0].Value.Uint64()), Goal: mib(samples[1].Value.Uint64()), GCCPU: samples[2].Value.Float64()}
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return s, fmt.Errorf("resident memory: %w", err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if err != nil {
			return s, fmt.Errorf("resident memory: %q: %w", line, err)
		}
		if name == "VmRSS" {
			s.RSS = kb / 1024
		} else {
			s.PeakRSS = kb / 1024
		}
	}
	if s.RSS == 0 {
		return s, fmt.Errorf("resident memory: no VmRSS in /proc/self/status")
	}
	return s, nil
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
