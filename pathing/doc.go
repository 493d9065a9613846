// Package pathing computes where Stateward writes a Work's files inside a State Store,
// reproducing the layouts Kratix writes so that the GitOps agents already pointed at a
// Kratix State Store keep working. It is pure: no I/O, no clock, no globals except
// constants. Its one import beyond the standard library is go.yaml.in/yaml/v2, the
// encoder Kratix writes state files with, so that their bytes match. Every key it returns is clean, relative (never starting with "/") and
// inside S/D, the store path joined with the destination path; anything that would
// leave that directory is rejected with a *PathError naming the offending input, never
// silently skipped.
//
// # API
//
//	Layout(storePath string, d Destination, placementName string, g Group) (Plan, error)
//	Canary(storePath string, d Destination) ([]File, error)
//	Aggregated(parts []AggregatePart) []byte
//	WorkName(promise, namespace, resource, pipeline string) string
//	PlacementName(workName, destination, id string) string
//	GroupID(directory string) string
//	Root(storePath, destPath string) (string, error)
//	DestinationDir(d Destination) (string, error)
//	Overlap(a, b string) bool
//	CleanFile(p string) (string, error)
//	ParseStateFile(content []byte) ([]string, error)
//	StateFileKeys(storePath string, d Destination, content []byte) ([]string, error)
//
// Layout computes one placement's keys (a Plan), Canary the two files that prove a
// Destination is read, Aggregated the single file of an aggregatedYAML Destination.
// WorkName, PlacementName and GroupID give the names Kratix also writes (WorkName
// with a deterministic suffix where Kratix's is random). ParseStateFile and
// StateFileKeys read a mode none state file back. Root,
// DestinationDir, Overlap and CleanFile validate paths on their own, for previews and
// for rejecting overlapping Destinations. Every error is a *PathError whose Field (one
// of the Field* constants) names the input to blame.
//
// # Layouts and what a placement owns
//
// S is the store path and D the destination path ("", "." and "/" mean the store root).
// <id> is GroupID of the group's directory: md5(directory)[:5], "5058f" for ".". A
// group with directory "foo" holds files under "foo/" and they keep that prefix.
//
//   - nestedByMetadata (the default):
//     S/D/dependencies/<promise>/[<pipeline>/]<id>/<file> and
//     S/D/resources/<namespace>/<promise>/<resource>/[<pipeline>/]<id>/<file>.
//     Plan.OwnedPrefix is the ".../<id>/" directory: the placement owns it wholly, so
//     every other key under it is stale and is deleted by the writer.
//   - legacy (the seed page's layout): S/D/<destination name>/dependencies/<promise>/<file>
//     and S/D/<destination name>/resources/<namespace>/<promise>/<resource>/<file>, with
//     no pipeline and no id. Plan.OwnedPrefix is the promise directory (dependencies) or
//     the resource directory (resources). Pipelines and groups are not distinguished in
//     this layout, so a second pipeline or group of the same promise or resource on the
//     same Destination replaces the first (as in the Kratix release the layout comes
//     from); callers that need several groups there merge them into one Group first.
//   - none: S/D/<file>. The placement owns no directory (OwnedPrefix is empty); instead
//     Plan.StateFile is S/D/.kratix/<namespace>-<placement>.yaml listing the written
//     files as Kratix does, byte for byte: "files:" and a YAML list (gopkg.in/yaml.v2's
//     encoding) of D/<file> (relative to S, D as the Destination gives it), in the
//     Work's order. The writer diffs it against the previous state file to delete
//     stale files, and detects two placements claiming one file from the other
//     placements' state files. Promise dependencies use the namespace
//     kratix-platform-system. A user file may not start with ".kratix/".
//   - aggregatedYAML: one file S/D/<filename> (default "aggregated.yaml") holding every
//     file of every placement on the Destination, as Kratix builds it: placements by
//     name, files whole in the Work's order, joined by "\n---\n" with nothing at the
//     end. Layout returns this placement's files (Plan.Aggregate) and the key
//     (Plan.Target); the writer rebuilds the file from all live placements with
//     Aggregated.
//
// No user file may take the key of a canary file (see Canary) or put one under it.
//
// # Safety
//
// File paths, directories and path settings are rejected when they hold a ".." segment,
// start with "/" (files and directories), hold a backslash, a NUL, a control or
// invisible format character or invalid UTF-8, a ".git" segment in any case (also
// ".git." and the NTFS short name "git~1"), a segment longer than 255 bytes, or name
// nothing. Promise, namespace, resource, pipeline, destination and placement names must
// be single such segments. A full key may not exceed 1024 bytes (the S3 limit).
// Kubernetes name rules are enforced elsewhere (package tenants); pathing is only
// guaranteed safe for any string.
package pathing
