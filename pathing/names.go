package pathing

import (
	"crypto/md5"
	"encoding/hex"
)

// PlatformNamespace is the namespace of promise-level placements in Kratix; mode none
// names their state file .kratix/kratix-platform-system-<placement>.yaml.
const PlatformNamespace = "kratix-platform-system"

// maxIdentifier is Kratix's maxNameLength (lib/objectutil/name.go): 63 less the
// separator and the five-character suffix.
const maxIdentifier = 63 - 1 - 5

// WorkName returns the name Kratix gives a Work, with a deterministic suffix in place
// of Kratix's random one. Kratix (work-creator/lib/work_creator.go buildWorkIdentifier,
// internal/controller/promise_controller.go applyWorkForStaticDependencies) forms an
// identifier
//
//	<promise>-<resource>-<namespace>-<pipeline>   resource workflow
//	<promise>-<pipeline>                          promise workflow
//	<promise>-static-deps                         static promise dependencies
//
// and names the Work objectutil.GenerateObjectName(identifier): the identifier, cut
// to 56 characters when longer than 57 and stripped of trailing non-alphanumerics,
// then "-" and five characters of a random UUID. Stateward uses the first five hex
// characters of md5(identifier) instead, as Kratix's own
// objectutil.GenerateDeterministicObjectName does, so that a Work keeps its name (and
// its placements their state files and aggregatedYAML order) across submissions. A
// resource Work without a pipeline, which Kratix never makes, uses
// <promise>-<resource>-<namespace>. Commit messages, mode none's state file name and
// the aggregatedYAML order use it.
func WorkName(promise, namespace, resource, pipeline string) string {
	return deterministicName(workIdentifier(promise, namespace, resource, pipeline))
}

func workIdentifier(promise, namespace, resource, pipeline string) string {
	switch {
	case namespace != "" || resource != "":
		id := promise + "-" + resource + "-" + namespace
		if pipeline != "" {
			id += "-" + pipeline
		}
		return id
	case pipeline != "":
		return promise + "-" + pipeline
	}
	return promise + "-static-deps"
}

// deterministicName is Kratix's objectutil.GenerateDeterministicObjectName(id).
func deterministicName(id string) string {
	sum := md5.Sum([]byte(id))
	name := id
	if len(name) > maxIdentifier {
		name = name[:maxIdentifier-1]
	}
	for name != "" && !isAlphanumeric(name[len(name)-1]) {
		name = name[:len(name)-1]
	}
	return name + "-" + hex.EncodeToString(sum[:])[:5]
}

func isAlphanumeric(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// PlacementName returns the name Kratix gives a placement of a Work's group on a
// Destination: <work name>.<destination>-<id>, id being GroupID of the group
// (internal/controller/scheduler.go applyWorkplacementsForTargetDestinations).
func PlacementName(workName, destination, id string) string {
	return workName + "." + destination + "-" + id
}

// GroupID returns the first 5 hex characters of md5(directory), the id Kratix uses
// for a workload group in paths and placement names; "." gives "5058f". It hashes
// the string exactly as given: Layout passes the cleaned directory ("foo/" → "foo").
func GroupID(directory string) string {
	sum := md5.Sum([]byte(directory))
	return hex.EncodeToString(sum[:])[:5]
}
