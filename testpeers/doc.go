// Package testpeers starts the real peers that Stateward's integration tests
// talk to: a Git server over smart HTTP (git http-backend) or file://, a MinIO
// S3 server, a throwaway PostgreSQL cluster, a real Gitea server (pull
// requests, branch protection, webhooks), a headless Chromium driven by
// chromedp, and a mock OpenID Connect issuer; and local GitHub and GitLab REST
// APIs ([GitHubRepo], [GitLabRepo]) in front of a GitHTTP repository, which
// merge pull requests for real, deliver signed webhooks and record every
// request their API docs do not allow.
//
// The package is imported only by _test.go files of other packages; production
// code must never import it.
//
// Every helper takes a testing.TB, registers its own cleanup, and fails the test
// with t.Fatalf and the exact install command when a peer is missing. It never
// skips. scripts/test.sh installs every peer.
//
// A test package that uses [MinIO], [Postgres] or [Gitea] must call [RunMain]
// from its TestMain, so that the processes shared by the test binary
// stop after the tests:
//
//	func TestMain(m *testing.M) { testpeers.RunMain(m) }
//
// Calling RunMain is harmless in packages that use only the other helpers.
package testpeers
