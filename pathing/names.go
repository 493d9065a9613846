package pathing

import (
	"crypto/md5"
	"encoding/hex"
)

// PlatformNamespace is the namespace of promise-level placements in Kratix; mode none
// names their state file .kratix/kratix-platform-system-<placement>.yaml.
const PlatformNamespace = "kratix-platform-system"

// WorkName returns the name Kratix gives a Work:
// <promise>[-<namespace>-<resource>][-<pipeline>]. The resource part is present when
// namespace or resource is set, the pipeline part when pipeline is set. Commit
// messages and the aggregatedYAML order use it.
func WorkName(promise, namespace, resource, pipeline string) string {
	name := promise
	if namespace != "" || resource != "" {
		name += "-" + namespace + "-" + resource
	}
	if pipeline != "" {
		name += "-" + pipeline
	}
	return name
}

// PlacementName returns the name Kratix gives a placement of a Work's group on a
// Destination: <work name>.<destination>-<id>, id being GroupID of the group.
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
