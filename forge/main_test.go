package forge

import (
	"testing"

	"github.com/stateward/stateward/testpeers"
)

// The Gitea tests share one real Gitea server, which RunMain stops.
func TestMain(m *testing.M) { testpeers.RunMain(m) }
