package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// DialContext resolves addr ("host:port"), refuses the connection when any resolved
// address is not allowed, and otherwise dials the checked addresses in order until
// one answers. It never resolves the name twice, so what is checked is what is
// dialled. Only TCP and UDP networks are supported. Use it as
// http.Transport.DialContext or anywhere a dial function is accepted.
func (p Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	ipNet, err := lookupNetwork(network)
	if err != nil {
		return nil, err
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("egress: dial %s: %w", addr, err)
	}
	port, err := net.DefaultResolver.LookupPort(ctx, network, portStr)
	if err != nil {
		return nil, fmt.Errorf("egress: dial %s: %w", addr, err)
	}
	ips, err := p.resolve(ctx, ipNet, host)
	if err != nil {
		return nil, err
	}
	return p.dialFirst(ctx, network, ips, uint16(port))
}

// lookupNetwork maps a dial network to the address family to resolve.
func lookupNetwork(network string) (string, error) {
	switch network {
	case "tcp", "udp":
		return "ip", nil
	case "tcp4", "udp4":
		return "ip4", nil
	case "tcp6", "udp6":
		return "ip6", nil
	}
	return "", fmt.Errorf("egress: network %q is not supported", network)
}

// resolve returns every address host stands for, or the refusal of the first one
// the policy does not allow.
func (p Policy) resolve(ctx context.Context, ipNet, host string) ([]netip.Addr, error) {
	ips := []netip.Addr{}
	if ip, ok := parseLiteral(host); ok {
		ips = append(ips, ip)
	} else {
		found, err := net.DefaultResolver.LookupNetIP(ctx, ipNet, host)
		if err != nil {
			return nil, err
		}
		ips = found
	}
	if len(ips) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: host, IsNotFound: true}
	}
	for _, ip := range ips {
		if err := p.CheckAddr(ip); err != nil {
			return nil, err
		}
	}
	return ips, nil
}

// dialFirst dials the checked addresses one after another and returns the first
// connection. The dialer's Control hook checks the socket address once more.
func (p Policy) dialFirst(ctx context.Context, network string, ips []netip.Addr, port uint16) (net.Conn, error) {
	d := net.Dialer{KeepAlive: 30 * time.Second, Control: p.control}
	var errs []error
	for _, ip := range ips {
		c, err := d.DialContext(ctx, network, netip.AddrPortFrom(ip, port).String())
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// control refuses, just before connect(2), any socket address the policy does not
// allow: a last line of defence should a caller reach the dialer another way.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress: unexpected socket address %q: %w", address, err)
	}
	return p.CheckAddr(ap.Addr())
}

// Transport returns an HTTP transport that dials through DialContext, ignores proxy
// environment variables (a proxy would dial on our behalf, unchecked) and does not
// ask for compressed responses (S3 clients need the bytes as stored). tlsCfg may be
// nil; it is cloned.
func (p Policy) Transport(tlsCfg *tls.Config) *http.Transport {
	var cfg *tls.Config
	if tlsCfg != nil {
		cfg = tlsCfg.Clone()
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           p.DialContext,
		TLSClientConfig:       cfg,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		ResponseHeaderTimeout: time.Minute,
		DisableCompression:    true,
	}
}

// HTTPClient returns a client whose every connection, redirects included, goes
// through Transport(base). A zero timeout means none (rely on the context).
func (p Policy) HTTPClient(base *tls.Config, timeout time.Duration) *http.Client {
	return &http.Client{Transport: p.Transport(base), Timeout: timeout}
}
