package pressure

import (
	"testing"
	"time"
)

// TestAcceptPressure: busy from a sustained stream of submits (ten in 100 ms),
// not from a few, through the stream's pauses, and no longer once the stream
// has stopped for busyHold.
func TestAcceptPressure(t *testing.T) {
	var p Meter
	t0 := time.Unix(1_800_000_000, 0)
	if p.busy(t0) {
		t.Fatal("busy before any submit")
	}
	for i := range busySubmits - 1 {
		p.note(t0.Add(time.Duration(i) * time.Millisecond))
	}
	if p.busy(t0.Add(20 * time.Millisecond)) {
		t.Fatalf("busy after %d submits in a window", busySubmits-1)
	}
	p.note(t0.Add(30 * time.Millisecond))
	if !p.busy(t0.Add(40 * time.Millisecond)) {
		t.Fatalf("not busy after %d submits in a window", busySubmits)
	}
	if !p.busy(t0.Add(150 * time.Millisecond)) {
		t.Fatal("not busy in the window after a busy one")
	}
	if !p.busy(t0.Add(600 * time.Millisecond)) {
		t.Fatal("not busy in a pause of half a second within a stream")
	}
	if p.busy(t0.Add(30*time.Millisecond + busyHold + time.Millisecond)) {
		t.Fatal("still busy past busyHold after the last busy window")
	}
	at := t0.Add(2 * time.Second)
	p.note(at) // a lone submit after a pause
	if p.busy(at.Add(10 * time.Millisecond)) {
		t.Fatal("busy from one submit after a pause: the old window counted")
	}
}
