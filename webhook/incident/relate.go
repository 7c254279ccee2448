package incident

import (
	"fmt"
	"strings"
	"time"

	"github.com/kizashi-dev/kizashi/webhook/i18n"
)

// Relations between incidents a person makes.
const (
	// RelLink links two incidents (same cause, same customer call): a journal line on both.
	RelLink = "link"
	// RelMerge merges a duplicate into another incident: the duplicate is canceled (close code
	// merged) and both journals say so.
	RelMerge = "merge"
)

// closeCodeMerged closes an incident merged into another.
const closeCodeMerged = "merged"

// Relate links or merges src and dst (mutating them) for actor; srcName and dstName are how
// the journal names them (their public ids). Both must be the same tenant's. A merged
// incident's alerts are muted for mute (as a false positive's): their repeats belong to dst.
func Relate(kind string, src, dst *Incident, actor, srcName, dstName, text string, mute time.Duration, now time.Time) ([]Entry, error) {
	switch {
	case strings.TrimSpace(actor) == "":
		return nil, i18n.Errorf("%w: actor required", ErrInvalid)
	case src.ID == dst.ID:
		return nil, i18n.Errorf("%w: an incident cannot be related to itself", ErrInvalid)
	case src.Tenant != dst.Tenant:
		return nil, i18n.Errorf("%w: incidents of different tenants", ErrInvalid)
	case len(text) > maxText:
		return nil, i18n.Errorf("%w: text too long", ErrInvalid)
	}
	var out []Entry
	switch kind {
	case RelLink:
		out = append(out,
			src.entry(now, actor, KindLinked, "linked to incident "+dstName+noteSuffix(text)),
			dst.entry(now, actor, KindLinked, "linked to incident "+srcName+noteSuffix(text)))
	case RelMerge:
		if src.State.Final() {
			return nil, i18n.Errorf("%w: incident %s is %s", ErrTransition, srcName, src.State)
		}
		if dst.State.Final() {
			return nil, i18n.Errorf("%w: cannot merge into incident %s: it is %s", ErrTransition, dstName, dst.State)
		}
		from := src.State
		src.State = StateCanceled
		src.ClosedAt = now
		src.CloseCode, src.CloseNotes = closeCodeMerged, "merged into incident "+dstName+noteSuffix(text)
		src.HoldSince, src.HoldReason = time.Time{}, ""
		if mute > 0 {
			src.MuteUntil = now.Add(mute)
		}
		out = append(out,
			src.entry(now, actor, KindState, fmt.Sprintf("%s -> canceled: merged into incident %s%s", from, dstName, noteSuffix(text))),
			dst.entry(now, actor, KindLinked, "incident "+srcName+" merged into this one"+noteSuffix(text)))
	default:
		return nil, i18n.Errorf("%w: unknown relation %q", ErrInvalid, kind)
	}
	for _, in := range []*Incident{src, dst} {
		in.Touched = true
		in.UpdatedAt = now
	}
	return out, nil
}
