package web

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/stateward/stateward/tenants"
)

// Webhook limits (the body's is in limits.go).
const (
	signatureTolerance = 300 * time.Second
	maxIdempotencyKey  = 255
	// replicaSkew is how much longer than the tolerance an accepted signature
	// is remembered: replicas' clocks may differ by this much.
	replicaSkew = time.Minute
)

// hookAnswer is what a delivery answers, kept for Idempotency-Key replays.
type hookAnswer struct {
	status int
	body   []byte
	errMsg string
	// recorded: the delivery log (and any Idempotency-Key) was written with the
	// Work, in its transaction.
	recorded bool
}

// hook is POST /hooks/{token}: a Work (JSON, or one YAML file) from automation.
// Every outcome is recorded in the trigger's delivery log.
func (s *Server) hook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHookBody))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	trig, err := s.store.TriggerByToken(r.Context(), chi.URLParam(r, "token"))
	if err != nil {
		s.fail(w, r, err) // unknown or revoked: 404, nothing to record against
		return
	}
	ans := s.deliver(r, trig, body)
	if !ans.recorded {
		s.recordDelivery(r, trig, ans)
	}
	s.metrics.deliveries.WithLabelValues(strconv.Itoa(ans.status)).Inc()
	if ans.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter(trig.RatePerSecond)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(ans.status)
	_, _ = w.Write(ans.body)
}

// deliver decides the answer of one delivery: signature, limits, idempotency,
// then the Work itself. The signature comes first so that unsigned calls cannot
// use up the rate limit of the caller who holds the secret.
func (s *Server) deliver(r *http.Request, trig tenants.HookTrigger, body []byte) hookAnswer {
	sig, err := verifySignature(r.Header.Get("Stateward-Signature"), body, trig, s.now())
	if err != nil {
		return errorAnswer(http.StatusUnauthorized, err.Error(), "Stateward-Signature")
	}
	allowed, err := s.store.AllowDelivery(r.Context(), trig.ID, trig.RatePerSecond)
	if err != nil {
		return s.internalAnswer(err)
	}
	if !allowed {
		return errorAnswer(http.StatusTooManyRequests, fmt.Sprintf("rate limit of %g requests per second exceeded", trig.RatePerSecond), "")
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		return errorAnswer(http.StatusBadRequest, "Idempotency-Key must be at most 255 characters", "Idempotency-Key")
	}
	if key == "" {
		return s.submitHook(r, trig, body, nil, sig)
	}
	sum := sha256.Sum256(body)
	bodyHash := hex.EncodeToString(sum[:])
	// A replay is answered from a reader; the submit transaction checks the key
	// again, for a delivery of the same key that another replica is handling.
	prev, ok, err := s.store.IdempotentAnswer(r.Context(), trig.ID, key)
	if err != nil {
		return s.internalAnswer(err)
	}
	if ok {
		return replay(prev, bodyHash)
	}
	ans := s.submitHook(r, trig, body, &tenants.HookIdempotency{Key: key, BodyHash: bodyHash}, sig)
	if !ans.recorded && ans.status < 500 {
		if err := s.store.SaveIdempotentAnswer(r.Context(), trig.ID, key, tenants.StoredAnswer{BodyHash: bodyHash, Status: ans.status, Response: string(ans.body)}); err != nil {
			s.log.Error("save idempotency key", "tenant_id", trig.TenantID, "trigger", trig.ID, "err", err)
		}
	}
	return ans
}

// replay answers a delivery whose Idempotency-Key has the stored answer prev: the
// same answer again, or a conflict when the body differs.
func replay(prev tenants.StoredAnswer, bodyHash string) hookAnswer {
	if prev.BodyHash != bodyHash {
		return errorAnswer(http.StatusConflict, "Idempotency-Key was already used with a different body", "Idempotency-Key")
	}
	return hookAnswer{status: prev.Status, body: []byte(prev.Response), errMsg: "replayed"}
}

// replayRefused answers a signed delivery that was already accepted.
const replayRefused = "this signed delivery was already accepted (a replay): nothing was done again; " +
	"sign each delivery with a new t, and resend a delivery with the Idempotency-Key it was first sent with to get its answer again"

func (s *Server) submitHook(r *http.Request, trig tenants.HookTrigger, body []byte, idem *tenants.HookIdempotency,
	sig *tenants.SignedDelivery) hookAnswer {
	req, err := decodeHookBody(r, body)
	if err != nil {
		return s.errAnswer(err)
	}
	if trig.Promise != "" && req.Promise != trig.Promise {
		return errorAnswer(http.StatusForbidden, fmt.Sprintf("this trigger only accepts promise %q", trig.Promise), "promise")
	}
	work, err := req.Work()
	if err != nil {
		return s.errAnswer(err)
	}
	id := trig.ID
	work.TriggerID = &id
	work.CorrelationID = correlationID(r)
	del := s.delivery(r, trig, http.StatusAccepted, "")
	_, out, err := s.works.SubmitHookWork(r.Context(), trig.TenantID, work, del, idem, sig, func(res tenants.SubmitResult) []byte {
		b, _ := json.Marshal(res)
		return b
	})
	var answered *tenants.AnsweredError
	if errors.As(err, &answered) {
		return replay(answered.Answer, idem.BodyHash) // another replica answered the key meanwhile
	}
	if errors.Is(err, tenants.ErrReplayed) {
		return errorAnswer(http.StatusConflict, replayRefused, "Stateward-Signature")
	}
	if err != nil {
		return s.errAnswer(err)
	}
	s.wakeWriters()
	return hookAnswer{status: http.StatusAccepted, body: out, recorded: true}
}

// decodeHookBody reads a JSON Work body, or (application/yaml) one file whose
// identity comes from the query: promise, namespace, name, pipeline, file.
func decodeHookBody(r *http.Request, body []byte) (tenants.WorkRequest, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml":
		return yamlWorkRequest(r, body)
	case "", "application/json":
		return tenants.DecodeWorkRequest(bytes.NewReader(body))
	}
	return tenants.WorkRequest{}, fmt.Errorf("%w: Content-Type %q: send application/json (a Work) or application/yaml (one file)", errBadRequest, ct)
}

func yamlWorkRequest(r *http.Request, body []byte) (tenants.WorkRequest, error) {
	q := r.URL.Query()
	file := q.Get("file")
	if file == "" {
		return tenants.WorkRequest{}, tenants.Invalid("file", "the query parameter file (the file's path, e.g. file=redis.yaml) is required with a YAML body")
	}
	req := tenants.WorkRequest{Promise: q.Get("promise"), Pipeline: q.Get("pipeline"), Delete: q.Get("delete") == "true",
		Files: []tenants.WorkFile{{Path: file, Content: string(body)}}}
	if q.Get("namespace") != "" || q.Get("name") != "" {
		req.Resource = &tenants.ResourceRef{Namespace: q.Get("namespace"), Name: q.Get("name")}
	}
	if sel := q.Get("selector"); sel != "" {
		m, err := tenants.ParseLabelSelector("selector", sel)
		if err != nil {
			return req, err
		}
		req.DestinationSelectors = m
	}
	return req, nil
}

// verifySignature checks Stateward-Signature: t=<unix>,v1=<hex>[,v1=<hex>…] when the
// trigger requires it (a signature sent to a trigger that does not is checked too).
// A valid signature comes back as the delivery to remember against replays: what
// was signed, whichever secret signed it (the old one as well, for a day after a
// rotation), until the signature no longer verifies on any replica.
func verifySignature(header string, body []byte, trig tenants.HookTrigger, now time.Time) (*tenants.SignedDelivery, error) {
	if header == "" {
		if trig.RequireSignature {
			return nil, errors.New("this trigger requires a Stateward-Signature header: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")>")
		}
		return nil, nil
	}
	ts, sigs := parseSignature(header)
	if ts == "" || len(sigs) == 0 {
		return nil, errors.New("Stateward-Signature must look like t=<unix seconds>,v1=<hex>")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, errors.New("Stateward-Signature: t is not a unix time in seconds")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > signatureTolerance || d < -signatureTolerance {
		return nil, fmt.Errorf("Stateward-Signature is stale: t is %s away from the server's clock (±300 s allowed)", d.Round(time.Second))
	}
	if !signedBy(trig.Secrets, ts, body, sigs) {
		return nil, errors.New("Stateward-Signature does not match: sign \"<t>.<body>\" with the trigger's current secret")
	}
	digest := sha256.New()
	digest.Write([]byte(ts + "."))
	digest.Write(body)
	return &tenants.SignedDelivery{Digest: hex.EncodeToString(digest.Sum(nil)),
		Until: time.Unix(sec, 0).Add(signatureTolerance + replicaSkew)}, nil
}

// signedBy reports whether one of sigs is the HMAC of "<ts>.<body>" under one of
// the secrets.
func signedBy(secrets []string, ts string, body []byte, sigs []string) bool {
	for _, secret := range secrets {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + "."))
		mac.Write(body)
		want := mac.Sum(nil)
		for _, sig := range sigs {
			got, err := hex.DecodeString(sig)
			if err == nil && hmac.Equal(got, want) {
				return true
			}
		}
	}
	return false
}

func parseSignature(h string) (ts string, sigs []string) {
	for _, part := range strings.Split(h, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	return ts, sigs
}

func errorAnswer(status int, msg, field string) hookAnswer {
	out, _ := json.Marshal(apiError{Error: msg, Field: field})
	return hookAnswer{status: status, body: out, errMsg: msg}
}

// errAnswer maps an error as fail does.
func (s *Server) errAnswer(err error) hookAnswer {
	code, body := statusOf(err)
	if code == http.StatusInternalServerError {
		return s.internalAnswer(err)
	}
	out, _ := json.Marshal(body)
	return hookAnswer{status: code, body: out, errMsg: body.Error}
}

func (s *Server) internalAnswer(err error) hookAnswer {
	s.log.Error("webhook failed", "err", err)
	return errorAnswer(http.StatusInternalServerError, "internal error", "")
}

// delivery is the audit record of a delivery answered with status.
func (s *Server) delivery(r *http.Request, trig tenants.HookTrigger, status int, errMsg string) tenants.Delivery {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	return tenants.Delivery{TriggerID: trig.ID, At: s.now().UTC(), SourceIP: ip, Status: status, Error: errMsg}
}

// recordDelivery logs a delivery that did not submit a Work (refused, or replayed).
func (s *Server) recordDelivery(r *http.Request, trig tenants.HookTrigger, ans hookAnswer) {
	if err := s.store.RecordDelivery(r.Context(), trig.TenantID, s.delivery(r, trig, ans.status, ans.errMsg)); err != nil {
		s.log.Error("record webhook delivery", "tenant_id", trig.TenantID, "trigger", trig.ID, "err", err)
	}
}

func retryAfter(rate float64) int {
	if rate <= 0 || rate >= 1 {
		return 1
	}
	return int(1/rate + 0.999)
}
