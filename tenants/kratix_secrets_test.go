package tenants

import "testing"

func TestMayHoldSecret(t *testing.T) {
	cases := map[string]bool{
		"apiVersion: v1\nkind: Secret\n":                                         true,
		"kind: \"Secret\"\n":                                                     true,
		"kind:\tSecret\n":                                                        true,
		"---\nkind: Destination\n---\n{\"kind\": \"Secret\"}\n":                  true,
		"kind: Destination\nstringData: {a: b}\n":                                true,
		"kind: [unclosed\npassword: secret-ish\n":                                true,
		"kind: Destination\nmetadata: {name: w}\n":                               false,
		"kind: GitStateStore\nspec: {secretRef: {name: creds}}\n":                false,
		"kind: [unclosed\n":                                                      false,
		"# kind: Secret in a comment only\nkind: Destination\n":                  false,
		"apiVersion: platform.kratix.io/v1alpha1\nkind: BucketStateStore\n---\n": false,
	}
	for in, want := range cases {
		if got := MayHoldSecret([]byte(in)); got != want {
			t.Errorf("MayHoldSecret(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzMayHoldSecret(f *testing.F) {
	f.Add([]byte("kind: Secret\n"))
	f.Add([]byte("{\"kind\":\"Secret\"}"))
	f.Add([]byte("kind: Destination\n---\nkind: 'Secret'\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Appending a Secret document to anything must be detected.
		if !MayHoldSecret(append(append(b, "\n---\n"...), "kind: Secret\n"...)) {
			t.Errorf("a Secret document after %q was not detected", b)
		}
	})
}
