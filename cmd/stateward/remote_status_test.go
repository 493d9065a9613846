package main

import "testing"

// TestGetShowsFailingWrites: `stateward get stores|destinations` says that writes are
// failing even while the last readiness check passed, as the dashboard does.
func TestGetShowsFailingWrites(t *testing.T) {
	yes := true
	for _, c := range []struct {
		name string
		st   objectStatus
		want string
	}{
		{"ready", objectStatus{Ready: &yes, Message: "ready"}, "ready"},
		{"writes failing", objectStatus{Ready: &yes, Message: "ready", Failing: true,
			WriteError: "dial tcp 127.0.0.1:1: connect: connection refused\n"},
			"writes failing: dial tcp 127.0.0.1:1: connect: connection refused"},
		{"failing check only", objectStatus{Message: "auth failed", Failing: true}, "auth failed"},
	} {
		if got := c.st.message(); got != c.want {
			t.Errorf("%s: message %q, want %q", c.name, got, c.want)
		}
	}
}
