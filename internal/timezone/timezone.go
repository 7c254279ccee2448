// Package timezone reads the time zone settings of Kizashi's configurations: the exporter's
// queries, the backtest's settings and flags, and the Grafana data source share one reading.
// It embeds Go's zone database (time/tzdata), so that a zone is found by name on any machine
// or image (a FROM scratch image has no zone files). The engine (package anomaly) is given the
// loaded *time.Location: reading zone files is not the engine's business.
package timezone

import (
	"errors"
	"fmt"
	"time"
	_ "time/tzdata" // zones by name wherever the programs run
)

// Parse is the one reading of a time zone setting (anomaly.Config.Location): an IANA zone name
// (Europe/Berlin, America/New_York, Asia/Tokyo) or UTC; empty is UTC (nil). "Local" is refused:
// a setting must mean the same on every machine.
func Parse(name string) (*time.Location, error) {
	if name == "" {
		return nil, nil
	}
	if name == "Local" {
		return nil, errors.New(`time zone "Local": name the zone (Asia/Tokyo, Europe/Berlin, UTC): a setting must mean the same on every machine`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: unknown (want an IANA name such as Europe/Berlin or Asia/Tokyo, or UTC)", name)
	}
	return loc, nil
}
