package writers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
)

// bucketCheckObject is the object Check starts and aborts an upload of, below the
// store path, as Kratix does.
const bucketCheckObject = ".kratix-write-permission-check"

// bucketAbortTimeout bounds the abort of the probe upload, which runs even when the
// caller's context has ended so that no upload is left behind.
const bucketAbortTimeout = 30 * time.Second

// Check starts and aborts a multipart upload of <path>/.kratix-write-permission-check:
// a real, authenticated write that leaves no object. It does not retry, and its
// error says plainly what failed: wrong credentials (with the remote's message), a
// missing bucket, DNS, a refused connection or address, or TLS.
func (b *Bucket) Check(ctx context.Context) error {
	key := bucketCheckObject
	if b.cfg.Path != "" {
		key = b.cfg.Path + "/" + key
	}
	id, err := b.probe.NewMultipartUpload(ctx, b.cfg.BucketName, key, minio.PutObjectOptions{})
	if err != nil {
		return b.remoteErr(err)
	}
	abortCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bucketAbortTimeout)
	defer cancel()
	if err := b.probe.AbortMultipartUpload(abortCtx, b.cfg.BucketName, key, id); err != nil {
		return fmt.Errorf("abort probe upload: %w", b.remoteErr(err))
	}
	return nil
}

// bucketRemoteError is a failed request to the bucket: a plain message, with the
// cause kept for errors.Is/As.
type bucketRemoteError struct {
	msg string
	err error
}

func (e *bucketRemoteError) Error() string { return e.msg }
func (e *bucketRemoteError) Unwrap() error { return e.err }

// remoteErr explains err, a failure of a request to the bucket.
func (b *Bucket) remoteErr(err error) error {
	return &bucketRemoteError{msg: describeBucketErr(b.cfg, err), err: err}
}

// describeBucketErr says in one line what went wrong, keeping the remote's words.
func describeBucketErr(cfg BucketConfig, err error) string {
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && resp.Code != "" {
		return describeS3Error(cfg, resp)
	}
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("DNS lookup of %q failed: %s", dnsErr.Name, dnsErr.Err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("connection refused by %s", cfg.Endpoint)
	case isBucketTLSError(err):
		return fmt.Sprintf("TLS failure talking to %s: %s", cfg.Endpoint, bucketCause(err))
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("timed out talking to %s", cfg.Endpoint)
	}
	return bucketCause(err)
}

// describeS3Error words an S3 error response.
func describeS3Error(cfg BucketConfig, resp minio.ErrorResponse) string {
	msg := resp.Message
	if msg == "" {
		msg = resp.Code
	}
	switch resp.Code {
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken",
		"ExpiredToken", "AllAccessDisabled", "AccountProblem", "InvalidSecurity":
		return "access denied: " + msg
	case "NoSuchBucket":
		return fmt.Sprintf("bucket %q does not exist: %s", cfg.BucketName, msg)
	}
	return fmt.Sprintf("%s: %s (HTTP %d)", resp.Code, msg, resp.StatusCode)
}

// isBucketTLSError reports a certificate or TLS protocol failure, including TLS
// spoken to a plain-HTTP endpoint and the reverse.
func isBucketTLSError(err error) bool {
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verification     *tls.CertificateVerificationError
		record           tls.RecordHeaderError
	)
	return errors.As(err, &unknownAuthority) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &verification) || errors.As(err, &record) ||
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// bucketCause drops the "Put \"http://…\":" wrapping of a transport error.
func bucketCause(err error) string {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err.Error()
	}
	return err.Error()
}
