package writers

import (
	"errors"
	"net"
)

// failure is what a failed write means for its placements and its store. It is
// decided here, by classify, and nowhere else.
type failure int

const (
	// failTransient: retried with backoff; it says nothing about the store (the
	// database did not answer, a state file could not be parsed).
	failTransient failure = iota
	// failStore: the store could not be reached or refused the credentials
	// (connection refused, DNS, TLS, timeouts, authentication, an HTTP error):
	// retried with backoff, and the store shows failing until a write or a
	// readiness check passes.
	failStore
	// failContent: the store refused what the write holds (a pre-receive hook or
	// fsck, an invalid tree, an object the bucket refuses): the placement fails
	// for good, until its Work is submitted again.
	failContent
)

// classify says what err, a write that failed, means.
func classify(err error) failure {
	var (
		gitErr    *remoteError
		bucketErr *bucketRemoteError
		opErr     *net.OpError
		dnsErr    *net.DNSError
	)
	switch {
	case errors.Is(err, ErrRejected), errors.Is(err, ErrInvalidBatch):
		return failContent
	case errors.As(err, &gitErr), errors.As(err, &bucketErr), errors.As(err, &opErr), errors.As(err, &dnsErr):
		return failStore
	}
	return failTransient
}

// rejectedContent reports whether err is the store refusing what the Batch holds.
func rejectedContent(err error) bool { return classify(err) == failContent }
