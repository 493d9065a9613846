package egress

import (
	"net"
	"net/netip"
	"strings"
)

// CheckLiteral validates an endpoint host at apply time. host may be bracketed and
// may carry a port ("[::1]:9000", "169.254.169.254:80"). When it is an IP literal —
// including the forms the C resolver accepts and net.ParseIP does not, such as
// "2852039166", "0xa9fea9fe" or "0251.0376.0251.0376" — it returns the same
// *AddressError DialContext would. A host name returns nil: what it resolves to is
// checked at dial time.
func (p Policy) CheckLiteral(host string) error {
	ip, ok := parseLiteral(host)
	if !ok {
		return nil
	}
	return p.CheckAddr(ip)
}

// parseLiteral returns the address host denotes when it is an IP literal in any
// encoding getaddrinfo/inet_aton accepts (see CheckLiteral for the host forms).
func parseLiteral(host string) (netip.Addr, bool) {
	host = strings.TrimSpace(host)
	if ip, ok := parseHost(host); ok {
		return ip, true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		return parseHost(h)
	}
	return netip.Addr{}, false
}

// parseHost parses one host without a port: an IPv6 literal (bracketed or not,
// with or without a zone) or an IPv4 literal in inet_aton form. A single trailing
// dot is ignored, as a resolver would.
func parseHost(h string) (netip.Addr, bool) {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip, true
	}
	h = strings.TrimSuffix(h, ".")
	if v, ok := parseInetAton(h); ok {
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
	}
	return netip.Addr{}, false
}

// parseInetAton follows inet_aton(3): one to four dot-separated parts, each decimal,
// hexadecimal ("0x" prefix) or octal (leading "0"); the last part fills all the
// bytes that remain ("a", "a.b" = 8.24 bits, "a.b.c" = 8.8.16 bits).
func parseInetAton(s string) (uint32, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return 0, false
	}
	var v uint64
	for i, part := range parts {
		n, ok := parsePart(part)
		if !ok {
			return 0, false
		}
		bits := uint(8)
		if i == len(parts)-1 {
			bits = uint(8 * (4 - i))
		}
		if n >= 1<<bits {
			return 0, false
		}
		v = v<<bits | n
	}
	return uint32(v), true
}

// parsePart parses one inet_aton part; values above 32 bits are refused.
func parsePart(s string) (uint64, bool) {
	base, digits := uint64(10), s
	switch {
	case len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		base, digits = 16, s[2:]
	case len(s) >= 1 && s[0] == '0':
		base, digits = 8, s[1:]
	case s == "" || s[0] < '0' || s[0] > '9':
		return 0, false
	}
	var n uint64
	for i := 0; i < len(digits); i++ {
		d, ok := digitValue(digits[i], base)
		if !ok {
			return 0, false
		}
		if n = n*base + d; n > 0xffffffff {
			return 0, false
		}
	}
	return n, true
}

// digitValue returns the value of c as a digit in base (8, 10 or 16).
func digitValue(c byte, base uint64) (uint64, bool) {
	var d uint64
	switch {
	case c >= '0' && c <= '9':
		d = uint64(c - '0')
	case c >= 'a' && c <= 'f':
		d = uint64(c-'a') + 10
	case c >= 'A' && c <= 'F':
		d = uint64(c-'A') + 10
	default:
		return 0, false
	}
	return d, d < base
}
