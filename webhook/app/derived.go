package app

import (
	"sync"

	"github.com/kizashi-dev/kizashi/webhook/config"
)

// derived is a value built from the configuration in force (the escalation engine's and the
// scheduled deliveries' setup): built again when a reload replaces the configuration; when a
// build fails, the last good value stays and the error is logged.
type derived[T any] struct {
	p     *program
	what  string
	build func(*config.Config) (T, error)

	mu   sync.Mutex
	from *config.Config
	v    T
}

func newDerived[T any](p *program, what string, initial T, build func(*config.Config) (T, error)) *derived[T] {
	return &derived[T]{p: p, what: what, build: build, v: initial}
}

// get returns the value for the configuration in force.
func (d *derived[T]) get() T {
	c := d.p.cfg.Load()
	d.mu.Lock()
	defer d.mu.Unlock()
	if c != d.from {
		v, err := d.build(c)
		if err != nil {
			d.p.logger.Error(d.what+" configuration", "err", err)
			return d.v // keep the last good one
		}
		d.from, d.v = c, v
	}
	return d.v
}
