package pressure

import (
	"context"
	"testing"
	"time"
)

// spin runs for d of wall time, as a task's work between two Pace points.
func spin(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

// TestPacerRestsInProportionWhileBusy: a task paced while the accept path is
// busy rests Rest times as long as it ran, slice by slice; while it is not,
// it never rests; without a Pacer in its context, Pace returns at once; and a
// rest ends with the task's context.
func TestPacerRestsInProportionWhileBusy(t *testing.T) {
	busy := true
	var rested time.Duration
	p := &Pacer{Busy: func() bool { return busy }, Slice: time.Millisecond, Rest: 2,
		OnRest: func(d time.Duration) { rested += d }}
	ctx := WithPacer(context.Background(), p)
	began := time.Now()
	for range 20 {
		spin(2 * time.Millisecond)
		Pace(ctx)
	}
	ran := 40 * time.Millisecond
	if rested < 2*ran {
		t.Errorf("busy: rested %s after running %s, want at least %s", rested, ran, 2*ran)
	}
	if took := time.Since(began); took < 3*ran {
		t.Errorf("busy: the task took %s, want at least %s (its work and twice as long at rest)", took, 3*ran)
	}

	busy, rested = false, 0
	for range 20 {
		spin(2 * time.Millisecond)
		Pace(ctx)
	}
	if rested != 0 {
		t.Errorf("not busy: rested %s", rested)
	}

	Pace(context.Background()) // no Pacer: nothing to do

	// A long wait between two points (the network, a lock, another goroutine
	// of the task at rest) earns a bounded rest: rests never feed on each
	// other (a bucket's listings, each resting as long as it took, waited
	// minutes so).
	busy, rested = true, 0
	p.mu.Lock()
	p.from = time.Now().Add(-time.Second)
	p.mu.Unlock()
	Pace(ctx)
	if most := time.Duration(float64(maxRan*p.Slice) * p.Rest); rested != most {
		t.Errorf("after a second between two points: rested %s, want the bound %s", rested, most)
	}

	busy = true
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	spin(50 * time.Millisecond)
	began = time.Now()
	Pace(cctx) // a rest of 100 ms, cut short
	if took := time.Since(began); took > 50*time.Millisecond {
		t.Errorf("a cancelled task rested %s", took)
	}
}
