package pathing

import "testing"

func TestPlacementName(t *testing.T) {
	got := PlacementName("redis-my-request-default-abcde", "worker-1", GroupID("."))
	if want := "redis-my-request-default-abcde.worker-1-5058f"; got != want {
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
