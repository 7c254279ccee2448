// Package fanout sends one message to people through their channels, once per contact and
// channel across attempts: what escalation steps and scheduled reminders share.
package fanout

import (
	"context"
	"errors"
	"slices"

	"github.com/kizashi-dev/kizashi/webhook/forward"
	"github.com/kizashi-dev/kizashi/webhook/notify"
)

// Outcome is what Send did. Its entries are "contact/channel" keys, failures followed by
// ": " and the error.
type Outcome struct {
	// Sent were reached now or before (in delivered).
	Sent []string
	// Retryable failed in a way a later attempt may mend; Problems will not mend by retrying
	// (unknown contact or channel, a contact without channels, a permanent refusal).
	Retryable, Problems []string
}

// Send sends m to each named contact through each of its channels, in order, skipping the
// keys ("contact/channel") already in delivered. mark records a key as delivered right after
// its send, so that a crash between two sends repeats none (its error stops the fan-out);
// observe, when not nil, is told of each send (err nil when it succeeded).
func Send(ctx context.Context, contacts map[string]notify.Contact, channels map[string]notify.Channel, names, delivered []string, m notify.Message,
	mark func(key string) error, observe func(key, channel string, err error)) (Outcome, error) {
	var o Outcome
	for _, name := range names {
		c, ok := contacts[name]
		if !ok {
			o.Problems = append(o.Problems, "unknown contact "+name)
			continue
		}
		if len(c.Channels) == 0 {
			o.Problems = append(o.Problems, name+" has no channel")
		}
		for _, chName := range c.Channels {
			key := name + "/" + chName
			if slices.Contains(delivered, key) {
				o.Sent = append(o.Sent, key)
				continue
			}
			ch := channels[chName]
			if ch == nil {
				o.Problems = append(o.Problems, key+": unknown channel")
				continue
			}
			err := ch.Send(ctx, c, m)
			if observe != nil {
				observe(key, chName, err)
			}
			if err != nil {
				if Permanent(err) {
					o.Problems = append(o.Problems, key+": "+err.Error())
				} else {
					o.Retryable = append(o.Retryable, key+": "+err.Error())
				}
				continue
			}
			if err := mark(key); err != nil {
				return o, err
			}
			o.Sent = append(o.Sent, key)
		}
	}
	return o, nil
}

// Permanent reports whether a channel's error will not mend by retrying (a refusal the
// receiving service calls final).
func Permanent(err error) bool {
	var fe *forward.Error
	return errors.As(err, &fe) && fe.Kind == forward.Permanent
}
