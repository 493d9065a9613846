package writers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage"
)

// errStale means the branch moved on the remote since we fetched it: fetch again,
// rebuild and push again.
var errStale = errors.New("the remote branch moved")

// maxRemoteMessage bounds how much of the remote's progress text an error keeps.
const maxRemoteMessage = 4096

// remoteTip is the branch as the remote advertises it.
type remoteTip struct {
	hash   plumbing.Hash // ZeroHash when the branch does not exist
	exists bool
	empty  bool // the repository has no refs at all
}

// tipOf finds branch in an advertisement.
func tipOf(ar *packp.AdvRefs, branch plumbing.ReferenceName) (remoteTip, error) {
	if ar.IsEmpty() {
		return remoteTip{empty: true}, nil
	}
	refs, err := ar.AllReferences()
	if err != nil {
		return remoteTip{}, err
	}
	ref, err := refs.Reference(branch)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return remoteTip{}, nil
	}
	if err != nil {
		return remoteTip{}, err
	}
	return remoteTip{hash: ref.Hash(), exists: true}, nil
}

// advertise opens a receive-pack session and reads the remote's refs. It needs the
// credentials a push needs, so it doubles as the readiness check.
func (r *gitRemote) advertise(ctx context.Context) (transport.ReceivePackSession, *packp.AdvRefs, error) {
	ep, err := r.session(ctx)
	if err != nil {
		return nil, nil, err
	}
	auth, err := r.authFor(ctx)
	if err != nil {
		return nil, nil, err
	}
	s, err := r.tr.NewReceivePackSession(ep, auth)
	if err != nil {
		return nil, nil, err
	}
	ar, err := s.AdvertisedReferencesContext(ctx)
	if err != nil {
		r.refused(auth, err)
		_ = s.Close()
		return nil, nil, err
	}
	return s, ar, nil
}

// fetch brings the objects of branch into st and returns the remote tip. It sends
// our last known tip as the only "have", which is all a single-branch cache holds.
func (r *gitRemote) fetch(ctx context.Context, st storage.Storer, branch plumbing.ReferenceName) (tip remoteTip, err error) {
	ep, err := r.session(ctx)
	if err != nil {
		return remoteTip{}, err
	}
	auth, err := r.authFor(ctx)
	if err != nil {
		return remoteTip{}, err
	}
	s, err := r.tr.NewUploadPackSession(ep, auth)
	if err != nil {
		return remoteTip{}, err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	ar, err := s.AdvertisedReferencesContext(ctx)
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return remoteTip{empty: true}, nil
	}
	if err != nil {
		r.refused(auth, err)
		return remoteTip{}, err
	}
	if tip, err = tipOf(ar, branch); err != nil || !tip.exists || hasObject(st, tip.hash) {
		return tip, err
	}
	return tip, r.fetchPack(ctx, s, ar, st, branch, tip.hash)
}

// fetchPack downloads what is missing to reach want and stores it as one packfile.
func (r *gitRemote) fetchPack(ctx context.Context, s transport.UploadPackSession, ar *packp.AdvRefs,
	st storage.Storer, branch plumbing.ReferenceName, want plumbing.Hash) (err error) {
	req := packp.NewUploadPackRequestFromCapabilities(ar.Capabilities)
	req.Wants = []plumbing.Hash{want}
	if old, err := st.Reference(branch); err == nil && hasObject(st, old.Hash()) {
		req.Haves = []plumbing.Hash{old.Hash()}
	}
	resp, err := s.UploadPack(ctx, req)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, resp.Close()) }()
	var in io.Reader = resp
	if t, ok := sidebandType(req.Capabilities); ok {
		in = sideband.NewDemuxer(t, resp)
	}
	return packfile.UpdateObjectStorage(st, in)
}

// sidebandType reports which side-band, if any, the request asked for.
func sidebandType(c *capability.List) (sideband.Type, bool) {
	switch {
	case c.Supports(capability.Sideband64k):
		return sideband.Sideband64k, true
	case c.Supports(capability.Sideband):
		return sideband.Sideband, true
	}
	return 0, false
}

// hasObject reports whether st holds object h.
func hasObject(st storer.EncodedObjectStorer, h plumbing.Hash) bool {
	// Not HasEncodedObject: on a storage with exclusive access (the cache's) it
	// answers "not found" for every object that is not loose, without looking in
	// the packs, so every write fetched its own last push again, and with no
	// "have" to offer, the whole history. The size is read from the pack index
	// and the object's header.
	_, err := st.EncodedObjectSize(h)
	return err == nil
}

// send updates branch from old to next (never forced) over s, a receive-pack
// session whose advertisement ar was read with the tip old, sending pack. It
// returns errStale when the remote branch is no longer at old, and an error that
// carries the remote's own words (a pre-receive hook's message) when the remote
// refuses.
func (r *gitRemote) send(ctx context.Context, s transport.ReceivePackSession, ar *packp.AdvRefs, branch plumbing.ReferenceName, old, next plumbing.Hash, pack []byte) error {
	req := packp.NewReferenceUpdateRequestFromCapabilities(ar.Capabilities)
	req.Commands = []*packp.Command{{Name: branch, Old: old, New: next}}
	msg := &limitedBuffer{max: maxRemoteMessage}
	req.Progress = msg
	if ar.Capabilities.Supports(capability.Sideband64k) {
		_ = req.Capabilities.Set(capability.Sideband64k)
	} else if ar.Capabilities.Supports(capability.Sideband) {
		_ = req.Capabilities.Set(capability.Sideband)
	}
	req.Packfile = io.NopCloser(bytes.NewReader(pack))
	if _, err := s.ReceivePack(ctx, req); err != nil {
		return rejection(err, msg.String())
	}
	return nil
}

// rejection turns a failed receive-pack into an error: a ref update the remote
// refused because the branch moved is errStale; anything else keeps the remote's
// message verbatim.
func rejection(err error, remoteMsg string) error {
	text := err.Error()
	for _, s := range []string{"non-fast-forward", "fetch first", "failed to lock", "cannot lock ref", "stale info", "failed to update ref"} {
		if strings.Contains(text, s) && !strings.Contains(text, "hook declined") {
			return fmt.Errorf("%w: %v", errStale, err)
		}
	}
	remoteMsg = strings.TrimSpace(remoteMsg)
	if !refused(text) {
		// The connection failed while the remote received the push: nothing says
		// what it contained was refused, and the push may even have landed.
		if remoteMsg == "" {
			return err
		}
		return fmt.Errorf("%w; remote said: %s", err, remoteMsg)
	}
	if remoteMsg == "" {
		return rejected(fmt.Errorf("rejected by the remote: %w", err))
	}
	return rejected(fmt.Errorf("rejected by the remote: %w; remote said: %s", err, remoteMsg))
}

// refused reports whether a receive-pack error is the remote's own report that it
// refused the push (its report-status: an unpack error such as a failed fsck, or a
// ref update a hook declined), as opposed to a failure of the connection.
func refused(text string) bool {
	return strings.Contains(text, "unpack error") || strings.Contains(text, "command error on") ||
		strings.Contains(text, "hook declined") || strings.Contains(text, "remote rejected")
}

// rejectedError is a refusal of the content by the store; it matches ErrRejected
// and keeps its cause.
type rejectedError struct{ err error }

func rejected(err error) error           { return &rejectedError{err: err} }
func (e *rejectedError) Error() string   { return e.err.Error() }
func (e *rejectedError) Unwrap() []error { return []error{ErrRejected, e.err} }

// limitedBuffer keeps the first max bytes written to it and discards the rest.
type limitedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string { return b.buf.String() }
