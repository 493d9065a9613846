package pathing

const (
	dependenciesDir = "dependencies"
	resourcesDir    = "resources"

	canaryNamespaceFile = "kratix-canary-namespace.yaml"
	canaryConfigMapFile = "kratix-canary-configmap.yaml"

	// canaryNamespace and canaryConfigMap are byte for byte what Kratix writes
	// (internal/controller/destination_controller.go getCanaryWorkloads; the bytes
	// are pinned by destination_controller_test.go assertCanaryFilesWereCreated).
	// Kratix's current bytes carry no "creationTimestamp: null".
	canaryNamespace = `apiVersion: v1
kind: Namespace
metadata:
  name: kratix-worker-system
spec: {}
status: {}
`
	canaryConfigMap = `apiVersion: v1
data:
  canary: this confirms your infrastructure is reading from Kratix state stores
kind: ConfigMap
metadata:
  name: kratix-info
  namespace: kratix-worker-system
`
)

// Canary returns the two files written to a Destination so that a reader can prove it
// reads from the store: a Namespace kratix-worker-system (first) and a ConfigMap
// kratix-info in it (second), with Kratix's exact content. Their keys depend on the
// mode: nestedByMetadata puts them at S/D/dependencies/ and S/D/resources/, legacy at
// S/D/<destination name>/dependencies/ and .../resources/, none and aggregatedYAML at
// S/D/. Errors are *PathError for an unsafe path, mode or (legacy) name.
func Canary(storePath string, d Destination) ([]File, error) {
	root, err := Root(storePath, d.Path)
	if err != nil {
		return nil, err
	}
	mode, err := resolveMode(d.Mode)
	if err != nil {
		return nil, err
	}
	if mode == ModeLegacy {
		if err := checkName(FieldDestName, d.Name); err != nil {
			return nil, err
		}
	}
	keys := canaryKeys(root, d.Name, mode)
	return []File{
		{Path: keys[0], Content: []byte(canaryNamespace)},
		{Path: keys[1], Content: []byte(canaryConfigMap)},
	}, nil
}

// canaryKeys returns the Namespace and ConfigMap canary keys; mode is resolved and,
// for legacy, name is valid.
func canaryKeys(root, name string, mode Mode) [2]string {
	switch mode {
	case ModeNested:
		return [2]string{
			joinKey(root, dependenciesDir, canaryNamespaceFile),
			joinKey(root, resourcesDir, canaryConfigMapFile),
		}
	case ModeLegacy:
		return [2]string{
			joinKey(root, name, dependenciesDir, canaryNamespaceFile),
			joinKey(root, name, resourcesDir, canaryConfigMapFile),
		}
	}
	return [2]string{joinKey(root, canaryNamespaceFile), joinKey(root, canaryConfigMapFile)}
}
