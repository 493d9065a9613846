package web

import (
	"context"
	"testing"

	"github.com/stateward/stateward/pressure"
	"github.com/stateward/stateward/tenants"
)

type acceptingWorks struct{ Works }

func (acceptingWorks) SubmitWork(context.Context, int64, *tenants.Work, bool) (tenants.SubmitResult, error) {
	return tenants.SubmitResult{}, nil
}

func (acceptingWorks) SubmitWorkAs(context.Context, int64, *tenants.Work, tenants.Actor, string) (tenants.SubmitResult, error) {
	return tenants.SubmitResult{}, nil
}

func (acceptingWorks) SubmitHookWork(context.Context, int64, *tenants.Work, tenants.Delivery, *tenants.HookIdempotency,
	*tenants.SignedDelivery, func(tenants.SubmitResult) []byte) (tenants.SubmitResult, []byte, error) {
	return tenants.SubmitResult{}, nil, nil
}

// TestSubmitsDriveAcceptPressure: every Work submitted through web — API or form,
// trigger URL — counts on the meter the writers yield to; dry runs do not.
func TestSubmitsDriveAcceptPressure(t *testing.T) {
	ctx := context.Background()
	for name, submit := range map[string]func(Works){
		"dry run": func(w Works) { _, _ = w.SubmitWork(ctx, 1, &tenants.Work{}, true) },
		"submit":  func(w Works) { _, _ = w.SubmitWork(ctx, 1, &tenants.Work{}, false) },
		"as":      func(w Works) { _, _ = w.SubmitWorkAs(ctx, 1, &tenants.Work{}, tenants.Actor{}, "write") },
		"hook": func(w Works) {
			_, _, _ = w.SubmitHookWork(ctx, 1, &tenants.Work{}, tenants.Delivery{}, nil, nil, nil)
		},
	} {
		t.Run(name, func(t *testing.T) {
			meter := &pressure.Meter{}
			works := notingWorks{acceptingWorks{}, meter}
			for range 50 {
				submit(works)
			}
			if want := name != "dry run"; meter.Busy() != want {
				t.Errorf("after 50 submits the accept path is busy = %v, want %v", meter.Busy(), want)
			}
		})
	}
	var none notingWorks // no meter: never busy, never panics
	none.Works = acceptingWorks{}
	_, _ = none.SubmitWorkAs(ctx, 1, &tenants.Work{}, tenants.Actor{}, "write")
}
