package anomaly

import (
	"testing"
)

func TestReasonNamesRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons() {
		b, err := r.MarshalText()
		if err != nil {
			t.Fatalf("%d: %v", r, err)
		}
		if seen[string(b)] {
			t.Fatalf("name %q used twice", b)
		}
		seen[string(b)] = true
		var back Reason
		if err := back.UnmarshalText(b); err != nil || back != r {
			t.Fatalf("%q: got %v, %v", b, back, err)
		}
	}
	if len(seen) != int(numReasons) {
		t.Fatalf("%d names for %d reasons", len(seen), numReasons)
	}
	if _, err := ParseReason("nope"); err == nil {
		t.Fatal("unknown name accepted")
	}
	if _, err := Reason(200).MarshalText(); err == nil {
		t.Fatal("invalid reason marshalled")
	}
}
