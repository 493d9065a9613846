package writers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"golang.org/x/sync/errgroup"
)

// Bucket authentication methods (BucketStateStore spec.authMethod).
const (
	BucketAuthAccessKey = "accessKey"
	BucketAuthIAM       = "IAM"
)

// bucketDefaultParallelism bounds concurrent requests when BucketConfig leaves it 0.
const bucketDefaultParallelism = 8

// bucketMaxRetries bounds minio-go's own retries of a failed request; the job runner
// retries a failed write with backoff, so a few quick attempts are enough here.
const bucketMaxRetries = 3

// BucketConfig describes one S3-compatible State Store.
type BucketConfig struct {
	// Endpoint is host[:port], without a scheme.
	Endpoint   string
	BucketName string
	// Path is the store path inside the bucket; Check probes below it. Batch keys
	// are full keys and already include it.
	Path string
	// Region is optional; empty asks the bucket (one extra request, then cached).
	Region string
	// Insecure selects plain HTTP.
	Insecure bool
	// AuthMethod is BucketAuthAccessKey (the default) or BucketAuthIAM (ambient
	// credentials: AWS_* / MINIO_* environment, web identity, ECS or EC2 instance role).
	AuthMethod                   string
	AccessKeyID, SecretAccessKey string
	// Transport carries every request; pass the egress-guarded transport
	// (egress.Policy.Transport) for tenant endpoints. Nil uses minio-go's default.
	Transport http.RoundTripper
	// Parallelism bounds concurrent PUTs, deletes and listings (default 8).
	Parallelism int
	// Yield, when set, makes PUTs and deletes go one at a time (across every
	// bucket sharing it) while the accept path is busy.
	Yield *Yielding
}

// Bucket writes Batches to an S3-compatible bucket with minio-go. It keeps the
// Backend contract cheaply: one listing per needed prefix, a PUT only where the
// listed ETag differs from the content's MD5, and single-object deletes (GCS has
// no multi-delete) that run only after every PUT has succeeded.
type Bucket struct {
	cfg    BucketConfig
	client *minio.Client
	// probe is a second client without retries, so Check reports a refused
	// connection or address at once.
	probe *minio.Core
}

var _ Backend = (*Bucket)(nil)

// NewBucket validates cfg and builds the clients. It makes no request.
func NewBucket(cfg BucketConfig) (*Bucket, error) {
	if err := validateBucketConfig(&cfg); err != nil {
		return nil, err
	}
	creds, err := bucketCredentials(cfg)
	if err != nil {
		return nil, err
	}
	client, err := minio.New(cfg.Endpoint, bucketOptions(cfg, creds, bucketMaxRetries))
	if err != nil {
		return nil, fmt.Errorf("bucket endpoint %q: %w", cfg.Endpoint, err)
	}
	probe, err := minio.New(cfg.Endpoint, bucketOptions(cfg, creds, 1))
	if err != nil {
		return nil, fmt.Errorf("bucket endpoint %q: %w", cfg.Endpoint, err)
	}
	return &Bucket{cfg: cfg, client: client, probe: &minio.Core{Client: probe}}, nil
}

// validateBucketConfig checks cfg and fills in defaults.
func validateBucketConfig(cfg *BucketConfig) error {
	switch {
	case cfg.Endpoint == "":
		return errors.New("bucket endpoint is required")
	case strings.Contains(cfg.Endpoint, "://") || strings.Contains(cfg.Endpoint, "/"):
		return fmt.Errorf("bucket endpoint %q must be host[:port], without scheme or path", cfg.Endpoint)
	case cfg.BucketName == "":
		return errors.New("bucket name is required")
	case cfg.Parallelism < 0:
		return fmt.Errorf("bucket parallelism %d must not be negative", cfg.Parallelism)
	}
	if cfg.Parallelism == 0 {
		cfg.Parallelism = bucketDefaultParallelism
	}
	cfg.Path = strings.Trim(cfg.Path, "/")
	if cfg.Path != "" {
		if err := checkBucketKey(cfg.Path); err != nil {
			return fmt.Errorf("bucket path: %w", err)
		}
	}
	return nil
}

// bucketCredentials returns the credentials for cfg.AuthMethod.
func bucketCredentials(cfg BucketConfig) (*credentials.Credentials, error) {
	switch cfg.AuthMethod {
	case "", BucketAuthAccessKey:
		if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
			return nil, errors.New("bucket authMethod accessKey needs accessKeyID and secretAccessKey")
		}
		return credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, ""), nil
	case BucketAuthIAM:
		// The IAM provider talks to the instance metadata service itself, with its
		// own client: that is the operator's ambient identity, not a tenant endpoint.
		return credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.EnvMinio{},
			&credentials.IAM{},
		}), nil
	}
	return nil, fmt.Errorf("bucket authMethod %q is not supported (accessKey or IAM)", cfg.AuthMethod)
}

// bucketOptions returns minio-go options for cfg.
func bucketOptions(cfg BucketConfig, creds *credentials.Credentials, retries int) *minio.Options {
	return &minio.Options{
		Creds:      creds,
		Secure:     !cfg.Insecure,
		Region:     cfg.Region,
		Transport:  cfg.Transport,
		MaxRetries: retries,
	}
}

// Apply makes the bucket hold b: it lists the prefixes b touches once, PUTs the
// objects whose content differs (bounded parallelism), and only then removes stale
// objects under b.DeletePrefixes and the existing keys among b.Deletes, one object
// per request. A key in both Puts and Deletes is kept.
//
// Result.Version is a content version, not an S3 VersionID: the hex SHA-256 over
// the sorted keys of b.Puts and the MD5 of their content. It is the same whenever
// the same content is applied, whether or not anything had to be written.
func (b *Bucket) Apply(ctx context.Context, batch Batch) (Result, error) {
	plan, err := newBucketPlan(ctx, batch)
	if err != nil {
		return Result{}, err
	}
	listed, err := b.list(ctx, plan.listPrefixes(bucketMaxListings))
	if err != nil {
		return Result{}, err
	}
	puts := plan.changed(listed)
	if err := objectMeta(ctx, batch, puts); err != nil {
		return Result{}, err
	}
	stale := plan.stale(listed)
	remove := append(slices.Clone(stale), plan.unlisted(listed)...)
	if len(puts)+len(remove) > 0 {
		if err := batch.guard(ctx); err != nil {
			return Result{}, err
		}
	}
	if err := b.putAll(ctx, puts); err != nil {
		return Result{}, err
	}
	if err := b.removeAll(ctx, remove); err != nil {
		return Result{}, err
	}
	return Result{
		Version: plan.version(),
		Changed: len(puts)+len(stale) > 0,
		Puts:    len(puts),
		Deletes: len(stale),
	}, nil
}

// objectMeta gives puts the metadata b.ObjectMeta says for them, if it is set
// and there is anything to put.
func objectMeta(ctx context.Context, b Batch, puts []File) error {
	if b.ObjectMeta == nil || len(puts) == 0 {
		return nil
	}
	keys := make([]string, len(puts))
	for i, f := range puts {
		keys[i] = f.Key
	}
	metas, err := b.ObjectMeta(ctx, keys)
	if err != nil {
		return err
	}
	for i, f := range puts {
		if m, ok := metas[f.Key]; ok {
			puts[i].Meta = m
		}
	}
	return nil
}

// list returns key → ETag of every object under the prefixes, listing them
// concurrently.
func (b *Bucket) list(ctx context.Context, prefixes []string) (map[string]string, error) {
	results := make([]map[string]string, len(prefixes))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.Parallelism)
	for i, prefix := range prefixes {
		g.Go(func() error {
			// One at a time while submits pour in, as PUTs: a re-assert of
			// 200 buckets of 500 objects took 63 s of MinIO's CPU for 15 of
			// ours, and beside the stream its listings took the machine.
			defer b.cfg.Yield.enter()()
			m, err := b.listPrefix(ctx, prefix)
			results[i] = m
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	all := map[string]string{}
	for _, m := range results {
		for k, v := range m {
			all[k] = v
		}
	}
	return all, nil
}

// listPrefix returns key → ETag of every object whose key starts with prefix.
func (b *Bucket) listPrefix(ctx context.Context, prefix string) (map[string]string, error) {
	ctx, cancel := context.WithCancel(ctx) // stops the lister if we return early
	defer cancel()
	out := map[string]string{}
	opts := minio.ListObjectsOptions{Prefix: prefix, Recursive: true}
	for obj := range b.client.ListObjects(ctx, b.cfg.BucketName, opts) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list %q: %w", prefix, b.remoteErr(obj.Err))
		}
		out[obj.Key] = strings.ToLower(obj.ETag)
	}
	return out, ctx.Err()
}

// putAll uploads files with at most cfg.Parallelism requests in flight. It returns
// when every upload has finished; the first error cancels the rest.
func (b *Bucket) putAll(ctx context.Context, files []File) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.Parallelism)
	for _, f := range files {
		g.Go(func() error {
			defer b.cfg.Yield.enter()()
			return b.put(ctx, f)
		})
	}
	return g.Wait()
}

// put uploads one object in a single request, so its ETag is the MD5 of content.
func (b *Bucket) put(ctx context.Context, f File) error {
	opts := minio.PutObjectOptions{
		ContentType:      bucketContentType(f.Key),
		DisableMultipart: true,
		SendContentMd5:   true,
		UserMetadata:     f.Meta,
	}
	r := bytes.NewReader(f.Content)
	if _, err := b.client.PutObject(ctx, b.cfg.BucketName, f.Key, r, int64(len(f.Content)), opts); err != nil {
		err = fmt.Errorf("put %q: %w", f.Key, b.remoteErr(err))
		if s := minio.ToErrorResponse(errors.Unwrap(errors.Unwrap(err))).StatusCode; s == http.StatusBadRequest || s == http.StatusRequestEntityTooLarge {
			return rejected(err) // this object, not the bucket, is refused
		}
		return err
	}
	return nil
}

// removeAll deletes keys one object per request, at most cfg.Parallelism at once.
func (b *Bucket) removeAll(ctx context.Context, keys []string) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(b.cfg.Parallelism)
	for _, key := range keys {
		g.Go(func() error {
			defer b.cfg.Yield.enter()()
			err := b.client.RemoveObject(ctx, b.cfg.BucketName, key, minio.RemoveObjectOptions{})
			if err != nil {
				return fmt.Errorf("delete %q: %w", key, b.remoteErr(err))
			}
			return nil
		})
	}
	return g.Wait()
}

// Read returns the content of every object whose key starts with prefix (a full
// key prefix, "" for the whole bucket), by key.
func (b *Bucket) Read(ctx context.Context, prefix string) (map[string][]byte, error) {
	listed, err := b.listPrefix(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(listed))
	for key := range listed {
		content, err := b.get(ctx, key)
		if err != nil {
			return nil, err
		}
		out[key] = content
	}
	return out, nil
}

// ReadKeys returns the content of each of keys; a missing object is left out.
func (b *Bucket) ReadKeys(ctx context.Context, keys []string) (map[string][]byte, error) {
	out := make(map[string][]byte, len(keys))
	for _, k := range keys {
		content, err := b.get(ctx, k)
		var resp minio.ErrorResponse
		if errors.As(err, &resp) && resp.Code == "NoSuchKey" {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[k] = content
	}
	return out, nil
}

// get returns one object's content.
func (b *Bucket) get(ctx context.Context, key string) ([]byte, error) {
	obj, err := b.client.GetObject(ctx, b.cfg.BucketName, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", key, b.remoteErr(err))
	}
	defer obj.Close()
	content, err := io.ReadAll(obj)
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", key, b.remoteErr(err))
	}
	return content, nil
}

// bucketContentType names the media type stored with an object.
func bucketContentType(key string) string {
	switch {
	case strings.HasSuffix(key, ".yaml"), strings.HasSuffix(key, ".yml"):
		return "application/yaml"
	case strings.HasSuffix(key, ".json"):
		return "application/json"
	}
	return "application/octet-stream"
}
