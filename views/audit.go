package views

import "github.com/stateward/stateward/tenants"

// actorKindLabel names the kind of actor in an audit row.
func actorKindLabel(kind string) string {
	switch kind {
	case tenants.ActorToken:
		return "API token"
	case tenants.ActorTrigger:
		return "trigger"
	case tenants.ActorSystem:
		return "system"
	}
	return "person"
}

// actorName is the actor's name as recorded, or its id when it had none.
func actorName(a tenants.Actor) string {
	if a.Name != "" {
		return a.Name
	}
	return a.String()
}

// auditObjectHref links an audited object's page when it has one.
func auditObjectHref(s Shell, o tenants.AuditObject) string {
	switch o.Kind {
	case tenants.KindGit, tenants.KindBucket:
		return string(storePath(s, o.Kind, o.Name))
	case tenants.KindDestination:
		return tpath(s, "destinations", o.Name)
	case tenants.AuditWork:
		return tpath(s, "works", i64(o.ID))
	case tenants.AuditTrigger:
		return tpath(s, "triggers", i64(o.ID))
	case tenants.AuditMember:
		return tpath(s, "members")
	case tenants.AuditToken:
		return tpath(s, "tokens")
	case tenants.AuditTeam:
		return tpath(s, "settings")
	}
	return ""
}
