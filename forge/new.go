package forge

import (
	"errors"
	"fmt"
	"time"
)

// New returns the Forge of cfg.Provider.
func New(cfg Config) (Forge, error) {
	if cfg.Token == nil {
		return nil, errors.New("forge: a token source is required")
	}
	if cfg.HTTPClient == nil {
		return nil, errors.New("forge: an HTTP client is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch cfg.Provider {
	case GitHub:
		return newGitHub(cfg)
	case GitLab:
		return newGitLab(cfg)
	case Gitea:
		return newGitea(cfg)
	}
	return nil, fmt.Errorf("forge: unknown provider %q (use github, gitlab or gitea)", cfg.Provider)
}
