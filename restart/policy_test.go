package restart

import (
	"strings"
	"testing"
)

func TestParsePolicy(t *testing.T) {
	good := []struct {
		in   string
		want Policy
		str  string
	}{
		{"", Policy{Name: No}, "no"},
		{"no", Policy{Name: No}, "no"},
		{"on-failure", Policy{Name: OnFailure}, "on-failure"},
		{"on-failure:0", Policy{Name: OnFailure}, "on-failure"},
		{"on-failure:3", Policy{Name: OnFailure, MaximumRetryCount: 3}, "on-failure:3"},
		{"on-failure:", Policy{Name: OnFailure}, "on-failure"}, // Docker accepts an empty count
		{"always", Policy{Name: Always}, "always"},
		{"always:0", Policy{Name: Always}, "always"},
		{"unless-stopped", Policy{Name: UnlessStopped}, "unless-stopped"},
	}
	for _, c := range good {
		got, err := ParsePolicy(c.in)
		if err != nil {
			t.Errorf("ParsePolicy(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParsePolicy(%q) = %+v, want %+v", c.in, got, c.want)
		}
		if got.String() != c.str {
			t.Errorf("ParsePolicy(%q).String() = %q, want %q", c.in, got.String(), c.str)
		}
		back, err := ParsePolicy(got.String())
		if err != nil || back != got {
			t.Errorf("round trip of %q: %+v, %v", c.in, back, err)
		}
	}

	bad := []struct{ in, msg string }{
		{"sometimes", "unknown policy 'sometimes'"},
		{"Always", "unknown policy 'Always'"},
		{"on-failure:-1", "maximum retry count cannot be negative"},
		{"on-failure:x", "maximum retry count must be an integer"},
		{"on-failure:3:4", "maximum retry count must be an integer"},
		{"on-failure: 3", "maximum retry count must be an integer"},
		{"always:3", "maximum retry count cannot be used with restart policy 'always'"},
		{"unless-stopped:1", "maximum retry count cannot be used with restart policy 'unless-stopped'"},
		{"no:2", "maximum retry count cannot be used with restart policy 'no'"},
		{":3", "unknown policy ':3'"},
		{" always", "unknown policy ' always'"},
	}
	for _, c := range bad {
		_, err := ParsePolicy(c.in)
		if err == nil {
			t.Errorf("ParsePolicy(%q): no error", c.in)
			continue
		}
		if !strings.Contains(err.Error(), c.msg) {
			t.Errorf("ParsePolicy(%q) = %q, want it to contain %q", c.in, err, c.msg)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("ParsePolicy(%q): error spans lines: %q", c.in, err)
		}
	}
}

func TestValidate(t *testing.T) {
	if err := (Policy{}).Validate(); err != nil {
		t.Errorf("zero policy: %v", err)
	}
	if err := (Policy{MaximumRetryCount: 2}).Validate(); err == nil || !strings.Contains(err.Error(), "'no'") {
		t.Errorf("empty name with a count: %v", err)
	}
	if err := (Policy{Name: OnFailure, MaximumRetryCount: -2}).Validate(); err == nil {
		t.Error("negative count accepted")
	}
}

func TestPredicates(t *testing.T) {
	cases := []struct {
		p                          Policy
		none, onf, always, unlessS bool
	}{
		{Policy{}, true, false, false, false},
		{Policy{Name: No}, true, false, false, false},
		{Policy{Name: OnFailure, MaximumRetryCount: 2}, false, true, false, false},
		{Policy{Name: Always}, false, false, true, false},
		{Policy{Name: UnlessStopped}, false, false, false, true},
	}
	for _, c := range cases {
		if c.p.IsNone() != c.none || c.p.IsOnFailure() != c.onf || c.p.IsAlways() != c.always || c.p.IsUnlessStopped() != c.unlessS {
			t.Errorf("%+v: predicates wrong", c.p)
		}
	}
	if (Policy{}).String() != "no" {
		t.Errorf("zero policy String = %q", Policy{}.String())
	}
}

func TestCheckAutoRemove(t *testing.T) {
	for _, s := range []string{"", "no"} {
		p, _ := ParsePolicy(s)
		if err := CheckAutoRemove(p, true); err != nil {
			t.Errorf("%q with --rm: %v", s, err)
		}
	}
	for _, s := range []string{"always", "on-failure:3", "unless-stopped"} {
		p, _ := ParsePolicy(s)
		if err := CheckAutoRemove(p, true); err == nil {
			t.Errorf("%q with --rm accepted", s)
		}
		if err := CheckAutoRemove(p, false); err != nil {
			t.Errorf("%q without --rm: %v", s, err)
		}
	}
}
