package web

import (
	"context"

	"github.com/stateward/stateward/pressure"
	"github.com/stateward/stateward/tenants"
)

// notingWorks counts every Work submitted through web (API, form, trigger URL;
// not dry runs) on the accept-pressure meter the writers yield to.
type notingWorks struct {
	Works
	meter *pressure.Meter
}

func (n notingWorks) SubmitWork(ctx context.Context, tenantID int64, w *tenants.Work, dryRun bool) (tenants.SubmitResult, error) {
	if !dryRun {
		n.meter.Note()
	}
	return n.Works.SubmitWork(ctx, tenantID, w, dryRun)
}

func (n notingWorks) SubmitWorkAs(ctx context.Context, tenantID int64, w *tenants.Work, actor tenants.Actor, action string) (tenants.SubmitResult, error) {
	n.meter.Note()
	return n.Works.SubmitWorkAs(ctx, tenantID, w, actor, action)
}

func (n notingWorks) SubmitWorkWithToken(ctx context.Context, tenantID int64, slug string, w *tenants.Work, secret string,
	need tenants.Role, action string) (tenants.SubmitResult, error) {
	n.meter.Note()
	return n.Works.SubmitWorkWithToken(ctx, tenantID, slug, w, secret, need, action)
}

func (n notingWorks) SubmitHookWork(ctx context.Context, tenantID int64, w *tenants.Work, del tenants.Delivery, idem *tenants.HookIdempotency,
	sig *tenants.SignedDelivery, answer func(tenants.SubmitResult) []byte) (tenants.SubmitResult, []byte, error) {
	n.meter.Note()
	return n.Works.SubmitHookWork(ctx, tenantID, w, del, idem, sig, answer)
}
