package writers

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
)

// TestClassify: a content refusal is permanent, a failure to reach the store or
// of its credentials marks the store failing, anything else is only retried.
func TestClassify(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for name, tc := range map[string]struct {
		err  error
		want failure
	}{
		"pre-receive hook":       {rejected(fmt.Errorf("rejected by the remote: hook declined")), failContent},
		"hook behind the remote": {&remoteError{msg: "git push", err: rejected(errors.New("declined"))}, failContent},
		"invalid batch":          {fmt.Errorf("%w: a file where a directory must be", ErrInvalidBatch), failContent},
		"bucket refuses object":  {rejected(&bucketRemoteError{msg: "put: EntityTooLarge"}), failContent},
		"git connection refused": {&remoteError{msg: "git push: connection refused", err: refused}, failStore},
		"git authentication":     {&remoteError{msg: "git push: authentication failed"}, failStore},
		"bucket access denied":   {fmt.Errorf("list %q: %w", "p/", &bucketRemoteError{msg: "access denied"}), failStore},
		"bare dial error":        {fmt.Errorf("read state files: %w", refused), failStore},
		"no bare repository":     {faulty(errors.New(`git url "file:///r.git": no bare repository there`)), failStore},
		"fault behind a message": {fmt.Errorf("open: %w", faulty(errors.New("branch \"main\" not found"))), failStore},
		"database":               {errors.New("confirm job lease: database is locked"), failTransient},
		"deadline of a query":    {fmt.Errorf("claimed: %w", context.DeadlineExceeded), failTransient},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("%s: classify(%v) = %d, want %d", name, tc.err, got, tc.want)
		}
	}
}
