// Package views renders Stateward's dashboard: one Layout, a page component per
// screen (XPage(s Shell, p XProps)) and the fragments that htmx swaps in (Field,
// StoreStatus, PreviewPanel, LabelRow). Props are typed structs; components never
// touch the database or the clock, so a page is a pure function of its props.
//
// # Conventions the web handlers rely on
//
//   - Forms are plain POSTs (POST-redirect-GET with a Flash). On a failed submit the
//     handler re-renders the page with tenants.ValidationErrors; each message shows
//     under its field and in a summary above the form.
//   - Inline validation: an input with FieldProps.ValidateURL posts its whole form
//     there on change (htmx), naming itself in the HX-Trigger-Name header. The
//     handler answers 200 — always, even when the field is invalid — with
//     views.Field(f), where f comes from FieldNamed(XFields(props), name).
//   - Field names are the validation error keys (metadata.name, spec.url, password,
//     ...); see each form's props type.
//   - Secrets (passwords, keys, known_hosts, access keys) are write-only: they are
//     never rendered, not even back into a form that failed validation.
//   - Destructive buttons are POST forms with hx-confirm (naming what will go); htmx
//     posts them and swaps the redirected page into <body>, so handlers redirect as
//     for any form.
//
// # URLs the views link or post to
//
//	/login, POST /logout, /teams/new, POST /teams, /t/{slug}/
//	/t/{slug}/stores, /t/{slug}/stores/new?kind=git|bucket, POST /t/{slug}/stores/{kind}
//	/t/{slug}/stores/{kind}/{name}[/edit], POST …/{name} (update), …/check, …/delete
//	GET /t/{slug}/stores/{kind}/{name}/status (StoreStatus fragment)
//	/t/{slug}/destinations[?selector=k=v], /t/{slug}/destinations/new, POST /t/{slug}/destinations
//	/t/{slug}/destinations/{name}[/edit], POST …/{name} (update), …/delete
//	/t/{slug}/import (GET form, POST multipart), /t/{slug}/works[/{id}], /t/{slug}/triggers
//	/t/{slug}/members, POST …/members, …/members/role and …/members/remove (hidden field email)
//	/t/{slug}/tokens, POST …/tokens, …/tokens/{id}/revoke; /t/{slug}/settings, POST …/settings
//
// {kind} is "git" or "bucket" (KindSegment, KindFromSegment).
package views
