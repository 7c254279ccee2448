// Package incident is the ITIL domain of kizashi-webhook: incident states and
// their allowed transitions, the priority matrix, SLA clocks and the policies
// that turn Alertmanager notifications into incident changes. It is pure: no
// I/O, no clock of its own (every function takes "now").
package incident

import (
	"slices"

	"github.com/kizashi-dev/kizashi/webhook/i18n"
)

// State is an incident's lifecycle state.
type State string

// The ITIL incident states.
const (
	StateNew        State = "new"
	StateInProgress State = "in_progress"
	StateOnHold     State = "on_hold"
	StateResolved   State = "resolved"
	StateClosed     State = "closed"
	StateCanceled   State = "canceled"
)

// States lists every state in lifecycle order.
var States = []State{StateNew, StateInProgress, StateOnHold, StateResolved, StateClosed, StateCanceled}

// Valid reports whether s is a known state.
func (s State) Valid() bool { return slices.Contains(States, s) }

// Final reports whether no transition leaves s. A final incident no longer
// holds its correlation key: the next alert opens a new incident.
func (s State) Final() bool { return s == StateClosed || s == StateCanceled }

// Label is the human name of s.
func (s State) Label() string {
	switch s {
	case StateNew:
		return "New"
	case StateInProgress:
		return "In Progress"
	case StateOnHold:
		return "On Hold"
	case StateResolved:
		return "Resolved"
	case StateClosed:
		return "Closed"
	case StateCanceled:
		return "Canceled"
	}
	return string(s)
}

// transitions is the allowed state machine.
var transitions = map[State][]State{
	StateNew:        {StateInProgress, StateOnHold, StateResolved, StateCanceled},
	StateInProgress: {StateOnHold, StateResolved, StateCanceled},
	StateOnHold:     {StateInProgress, StateResolved, StateCanceled},
	StateResolved:   {StateInProgress, StateClosed},
	StateClosed:     nil,
	StateCanceled:   nil,
}

// ErrTransition is returned for a transition the lifecycle does not allow.
var ErrTransition = i18n.New("transition not allowed")

// CanTransition reports whether from -> to is allowed.
func CanTransition(from, to State) bool { return slices.Contains(transitions[from], to) }

func checkTransition(from, to State) error {
	if !CanTransition(from, to) {
		return i18n.Errorf("%w: %s -> %s", ErrTransition, from, to)
	}
	return nil
}
