package testpeers

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TCPProxy forwards TCP connections from a port on 127.0.0.1 to a target, with
// a latency added to each direction (a database in another zone) and a switch
// that cuts every connection and refuses new ones (the database unreachable).
type TCPProxy struct {
	ln      net.Listener
	target  string
	latency atomic.Int64 // nanoseconds, each way
	cut     atomic.Bool
	sent    atomic.Int64 // chunks forwarded from clients to the target
	turns   atomic.Int64 // client chunks that followed an answer (Turns)
	lose    atomic.Pointer[loseRule]
	onSend  atomic.Pointer[func([]byte)]

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewTCPProxy starts a proxy to target (host:port); it stops at cleanup.
func NewTCPProxy(t testing.TB, target string) *TCPProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testpeers: proxy: %v", err)
	}
	p := &TCPProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.closeAll()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's host:port.
func (p *TCPProxy) Addr() string { return p.ln.Addr().String() }

// SetLatency adds d to each direction of every connection from now on.
func (p *TCPProxy) SetLatency(d time.Duration) { p.latency.Store(int64(d)) }

// Cut closes every connection and closes new ones at once, until Restore.
func (p *TCPProxy) Cut() {
	p.cut.Store(true)
	p.closeAll()
}

// Sent counts the reads forwarded from clients to the target: with a client
// that waits for each answer (a transaction's statements), its round trips.
func (p *TCPProxy) Sent() int64 { return p.sent.Load() }

// Turns counts the client's sends that came after the target had answered
// (or that opened a connection): round trips, also when a client sends a
// pipeline too large for one read. (A target that answers the first
// statements of a long pipeline while the client still sends it may add a
// few.)
func (p *TCPProxy) Turns() int64 { return p.turns.Load() }

// OnSend makes f run before each chunk a client sends is forwarded (nil: no
// longer). With a client that waits for each answer (a transaction's
// statements), f runs between its round trips: the target has answered
// everything before and seen nothing of what comes. f runs on the proxy's
// goroutine of that connection, which waits for it.
func (p *TCPProxy) OnSend(f func()) {
	if f == nil {
		p.OnSendChunk(nil)
		return
	}
	p.OnSendChunk(func([]byte) { f() })
}

// OnSendChunk is OnSend with the chunk about to be forwarded: f may look for a
// statement in it (the protocol's text), and act before the target sees it.
func (p *TCPProxy) OnSendChunk(f func(chunk []byte)) {
	if f == nil {
		p.onSend.Store(nil)
		return
	}
	p.onSend.Store(&f)
}

// LoseAnswerTo arms the proxy once, for the next connection whose client
// sends a chunk containing after: the first chunk of that connection, from
// that one on, that match accepts (any, if match is nil) is forwarded, and the
// connection is closed as soon as the target's answer arrives, without
// passing it on. The target did the work; the client cannot know it (a
// COMMIT whose answer was lost).
func (p *TCPProxy) LoseAnswerTo(after string, match func(chunk []byte) bool) {
	p.lose.Store(&loseRule{after: []byte(after), match: match})
}

type loseRule struct {
	after []byte
	match func([]byte) bool
}

// Restore lets connections through again.
func (p *TCPProxy) Restore() { p.cut.Store(false) }

func (p *TCPProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

func (p *TCPProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut.Load() {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *TCPProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

func (p *TCPProxy) accept() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.cut.Load() {
			in.Close()
			continue
		}
		p.wg.Go(func() { p.serve(in) })
	}
}

func (p *TCPProxy) serve(in net.Conn) {
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		in.Close()
		return
	}
	if !p.track(in) || !p.track(out) {
		in.Close()
		out.Close()
		p.untrack(in)
		return
	}
	defer func() {
		in.Close()
		out.Close()
		p.untrack(in)
		p.untrack(out)
	}()
	var (
		rule     *loseRule   // LoseAnswerTo's, once this connection sent its marker
		armed    atomic.Bool // the answer to what was just sent is to be lost
		answered atomic.Bool // the target sent something since the client last did
	)
	answered.Store(true)
	toTarget := func(b []byte) bool {
		if f := p.onSend.Load(); f != nil {
			(*f)(b)
		}
		p.sent.Add(1)
		if answered.Swap(false) {
			p.turns.Add(1)
		}
		if r := p.lose.Load(); rule == nil && r != nil && bytes.Contains(b, r.after) && p.lose.CompareAndSwap(r, nil) {
			rule = r
		}
		if rule != nil && (rule.match == nil || rule.match(b)) {
			rule = nil
			armed.Store(true)
		}
		return true
	}
	toClient := func([]byte) bool {
		answered.Store(true)
		return !armed.Load()
	}
	done := make(chan struct{}, 2)
	go func() { p.pipe(out, in, toTarget); done <- struct{}{} }()
	go func() { p.pipe(in, out, toClient); done <- struct{}{} }()
	<-done
}

// pipe copies src to dst, each chunk delivered the latency after it was read
// (in order, without limiting throughput). A chunk pass refuses is not
// delivered, and both ends are closed.
func (p *TCPProxy) pipe(dst, src net.Conn, pass func([]byte) bool) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	ch := make(chan chunk, 256)
	go func() {
		defer close(ch)
		// One read buffer, each chunk copied out at its own length. A fresh
		// 32 KiB buffer a read (most are a few hundred bytes) made the proxy
		// the largest allocator in the process it shares with the replicas it
		// measures: the garbage collector's workers took 12 % of that
		// process's CPU in a run at 1 ms, 7 % without.
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				b := bytes.Clone(buf[:n])
				if !pass(b) {
					src.Close()
					return
				}
				ch <- chunk{b, time.Now().Add(time.Duration(p.latency.Load()))}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range ch {
		if d := time.Until(c.at); d > 0 {
			time.Sleep(d) // the latency itself, not a synchronisation
		}
		if _, err := dst.Write(c.b); err != nil {
			break // closed: by Cut, or by the other side
		}
	}
	dst.Close()
	for range ch { // let the reader finish
	}
}
