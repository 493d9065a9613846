package db

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/stateward/stateward/tenants"
)

type auditRow struct {
	ID         int64     `db:"id"`
	At         time.Time `db:"at"`
	ActorKind  string    `db:"actor_kind"`
	ActorID    int64     `db:"actor_id"`
	ActorName  string    `db:"actor_name"`
	PersonID   int64     `db:"actor_person_id"`
	Person     string    `db:"actor_person"`
	Action     string    `db:"action"`
	ObjectKind string    `db:"object_kind"`
	ObjectID   int64     `db:"object_id"`
	ObjectName string    `db:"object_name"`
	Detail     string    `db:"detail"`
}

const auditCols = `id, at, actor_kind, actor_id, actor_name, actor_person_id, actor_person, action, object_kind, object_id, object_name, detail`

func (r auditRow) domain() tenants.AuditEvent {
	return tenants.AuditEvent{ID: r.ID, At: r.At, Action: r.Action, Detail: r.Detail,
		Actor:  tenants.Actor{Kind: r.ActorKind, ID: r.ActorID, Name: r.ActorName, PersonID: r.PersonID, Person: r.Person},
		Object: tenants.AuditObject{Kind: r.ObjectKind, ID: r.ObjectID, Name: r.ObjectName}}
}

// RecordAudit appends one event to a tenant's audit log (At is set here).
func (d *DB) RecordAudit(ctx context.Context, tenantID int64, ev tenants.AuditEvent) error {
	return recordAudit(ctx, d.w, tenantID, d.now(), ev)
}

func recordAudit(ctx context.Context, x sqlx.ExecerContext, tenantID int64, at time.Time, ev tenants.AuditEvent) error {
	_, err := x.ExecContext(ctx, `INSERT INTO audit_events (tenant_id, at, actor_kind, actor_id, actor_name,
		actor_person_id, actor_person, action, object_kind, object_id, object_name, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tenantID, at, ev.Actor.Kind, ev.Actor.ID, ev.Actor.Name, ev.Actor.PersonID, ev.Actor.Person,
		ev.Action, ev.Object.Kind, ev.Object.ID, ev.Object.Name, ev.Detail)
	return err
}

// AuditQuery selects a page of a tenant's audit log, newest first.
type AuditQuery struct {
	// Object narrows the log to one object (kind and id, e.g. a Work's history).
	ObjectKind string
	ObjectID   int64
	Before     string // the Next cursor of the previous page
	Limit      int    // 50 when 0
}

// AuditPage is one page of the audit log and the cursor of the next ("" = last).
type AuditPage struct {
	Items []tenants.AuditEvent `json:"items"`
	Next  string               `json:"next,omitempty"`
}

// AuditLog answers one page of a tenant's audit log, newest first.
func (d *DB) AuditLog(ctx context.Context, tenantID int64, q AuditQuery) (AuditPage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	where, args := `tenant_id = ?`, []any{tenantID}
	if q.ObjectKind != "" {
		where += ` AND object_kind = ? AND object_id = ?`
		args = append(args, q.ObjectKind, q.ObjectID)
	}
	if q.Before != "" {
		id, err := strconv.ParseInt(q.Before, 10, 64)
		if err != nil || id <= 0 {
			return AuditPage{}, tenants.Invalid("before", "is not a cursor from a previous page")
		}
		where += ` AND id < ?`
		args = append(args, id)
	}
	var rows []auditRow
	if err := d.r.SelectContext(ctx, &rows, `SELECT `+auditCols+` FROM audit_events WHERE `+where+
		` ORDER BY id DESC LIMIT ?`, append(args, q.Limit+1)...); err != nil {
		return AuditPage{}, err
	}
	page := AuditPage{Items: []tenants.AuditEvent{}}
	if len(rows) > q.Limit {
		rows = rows[:q.Limit]
		page.Next = strconv.FormatInt(rows[len(rows)-1].ID, 10)
	}
	for _, r := range rows {
		page.Items = append(page.Items, r.domain())
	}
	return page, nil
}

// recordTriggerWrite logs a Work written (or deleted) through a webhook, in the
// transaction that wrote it, under the trigger's current name.
func recordTriggerWrite(ctx context.Context, tx *sqlx.Tx, tenantID int64, at time.Time, triggerID int64, w *tenants.Work, res SubmitResult) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_events (tenant_id, at, actor_kind, actor_id, actor_name, action,
		object_kind, object_id, object_name, detail)
		SELECT ?, ?, 'trigger', id, name, ?, 'Work', ?, ?, ? FROM triggers WHERE tenant_id = ? AND id = ?`,
		tenantID, at, tenants.WorkAction(w), res.Work, w.Name(), SubmitDetail(res), tenantID, triggerID)
	return err
}

// SubmitDetail says where a submitted Work went, for the audit log.
func SubmitDetail(res SubmitResult) string {
	var dests []string
	for _, p := range res.Placements {
		dests = append(dests, p.Destination)
	}
	out := ""
	switch {
	case len(dests) == 0 && len(res.Unscheduled) > 0:
		return "placed nowhere: " + res.Unscheduled[0].Reason
	case len(dests) == 0:
		return ""
	case len(dests) <= 3:
		out = "placed on " + strings.Join(dests, ", ")
	default:
		out = "placed on " + strconv.Itoa(len(dests)) + " Destinations"
	}
	if len(res.Unscheduled) > 0 {
		out += "; " + strconv.Itoa(len(res.Unscheduled)) + " group(s) placed nowhere"
	}
	return out
}
