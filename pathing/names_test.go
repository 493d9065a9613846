package pathing

import "testing"

func TestWorkName(t *testing.T) {
	tests := []struct {
		name, promise, namespace, resource, pipeline, want string
	}{
		{"dependencies", "redis", "", "", "", "redis"},
		{"dependencies-pipeline", "redis", "", "", "promise-configure", "redis-promise-configure"},
		{"resource", "redis", "default", "my-request", "", "redis-default-my-request"},
		{"resource-pipeline", "redis", "default", "my-request", "instance-configure", "redis-default-my-request-instance-configure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WorkName(tt.promise, tt.namespace, tt.resource, tt.pipeline); got != tt.want {
				t.Errorf("WorkName() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPlacementName(t *testing.T) {
	got := PlacementName("redis-default-my-request", "worker-1", GroupID("."))
	if want := "redis-default-my-request.worker-1-5058f"; got != want {
		t.Errorf("PlacementName() = %q, want %q", got, want)
	}
}

func TestGroupID(t *testing.T) {
	tests := []struct{ dir, want string }{
		{".", "5058f"},
		{"foo", "acbd1"},
		{"foo/bar", "82d0f"},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			if got := GroupID(tt.dir); got != tt.want {
				t.Errorf("GroupID(%q) = %q, want %q", tt.dir, got, tt.want)
			}
		})
	}
}
