package writers

import (
	"errors"
	"net"
	"time"
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
	// failRateLimited: the host refused the request for rate limiting
	// (RateLimitedError): retried after the wait the host asked for, not a
	// refusal of the content, and the store is not failing.
	failRateLimited
)

// classify says what err, a write that failed, means.
func classify(err error) failure {
	var (
		gitErr    *remoteError
		bucketErr *bucketRemoteError
		opErr     *net.OpError
		dnsErr    *net.DNSError
		fault     *storeFault
	)
	if _, ok := rateLimited(err); ok {
		return failRateLimited
	}
	switch {
	case errors.Is(err, ErrRejected), errors.Is(err, ErrInvalidBatch):
		return failContent
	case errors.As(err, &gitErr), errors.As(err, &bucketErr), errors.As(err, &opErr), errors.As(err, &dnsErr),
		errors.As(err, &fault):
		return failStore
	}
	return failTransient
}

// rejectedContent reports whether err is the store refusing what the Batch holds.
func rejectedContent(err error) bool { return classify(err) == failContent }

// storeFault is the store itself failing before any request could fail: the
// repository a file:// URL names is not there (moved away, never created), the
// branch is gone, the address is refused before dialling. It counts as the store
// failing (failStore) whatever stage finds it, opening the clone or pushing, so
// the store's write error is always the latest such failure's message.
type storeFault struct{ err error }

func (e *storeFault) Error() string { return e.err.Error() }
func (e *storeFault) Unwrap() error { return e.err }

// faulty marks err, when not nil, as a storeFault.
func faulty(err error) error {
	if err == nil {
		return nil
	}
	return &storeFault{err: err}
}

// retryWait is how long the host asked to wait before err's write is tried
// again: 0 unless it refused for rate limiting.
func retryWait(err error) time.Duration {
	if rl, ok := rateLimited(err); ok {
		return rl.Wait
	}
	return 0
}
