package config

import (
	"errors"
	"fmt"
)

// MaxBodyBytesLimit is the largest limits.max_body_bytes accepted.
const MaxBodyBytesLimit = 1 << 30

func (l *Limits) validate() error {
	switch {
	case l.MaxBodyBytes <= 0 || l.MaxBodyBytes > MaxBodyBytesLimit:
		return fmt.Errorf("limits: max_body_bytes must be 1-%d", MaxBodyBytesLimit)
	case l.MaxAlerts <= 0:
		return errors.New("limits: max_alerts must be positive")
	case l.ReadTimeout <= 0:
		return errors.New("limits: read_timeout must be positive")
	}
	return nil
}
