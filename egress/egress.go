// Package egress guards every outbound connection Stateward makes to an endpoint a
// tenant supplied (Git remotes, S3 endpoints) against server-side request forgery.
//
// The guard is enforced when the connection is dialled, after DNS resolution: every
// address a name resolves to is checked, and the connection goes to the checked
// address itself, so a second lookup (DNS rebinding) cannot swap it. Link-local and
// cloud metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254,
// 100.100.100.200), the unspecified and "this network" addresses, and multicast are
// always refused. Loopback, private (RFC 1918, fc00::/7) and shared (CGNAT,
// 100.64.0.0/10) addresses are refused unless the operator sets
// STATEWARD_ALLOW_PRIVATE_ENDPOINTS, which Policy.AllowPrivate mirrors. IPv4
// addresses embedded in IPv6 (mapped, compatible, SIIT, NAT64, 6to4, Teredo) are
// judged as the IPv4 address they carry.
//
// Every refusal says `address <ip> is not allowed (<why>)` and matches
// ErrNotAllowed with errors.Is.
package egress

import (
	"errors"
	"fmt"
	"net/netip"
)

// Policy decides which remote addresses Stateward may connect to. The zero value is
// the strict policy.
type Policy struct {
	// AllowPrivate admits loopback, private and shared (CGNAT) addresses; it is
	// STATEWARD_ALLOW_PRIVATE_ENDPOINTS. Link-local and metadata addresses stay refused.
	AllowPrivate bool
}

// ErrNotAllowed matches (errors.Is) every refusal of an address.
var ErrNotAllowed = errors.New("address is not allowed")

// AddressError is a refused address and the reason it is refused.
type AddressError struct {
	Addr   netip.Addr
	Reason string
}

// Error reports the address and why, in the wording the product promises.
func (e *AddressError) Error() string {
	return fmt.Sprintf("address %s is not allowed (%s)", e.Addr, e.Reason)
}

// Is makes errors.Is(err, ErrNotAllowed) true.
func (e *AddressError) Is(target error) bool { return target == ErrNotAllowed }

// Reasons given in AddressError.
const (
	reasonMetadata    = "cloud metadata"
	reasonLinkLocal   = "link-local / cloud metadata"
	reasonUnspecified = "unspecified or \"this network\""
	reasonMulticast   = "multicast or broadcast"
	reasonLoopback    = "loopback; set STATEWARD_ALLOW_PRIVATE_ENDPOINTS to allow"
	reasonPrivate     = "private network; set STATEWARD_ALLOW_PRIVATE_ENDPOINTS to allow"
	reasonShared      = "shared address space (CGNAT); set STATEWARD_ALLOW_PRIVATE_ENDPOINTS to allow"
)

var (
	metadataV4   = netip.MustParseAddr("100.100.100.200") // Alibaba Cloud
	metadataV6   = netip.MustParseAddr("fd00:ec2::254")   // AWS over IPv6
	broadcastV4  = netip.MustParseAddr("255.255.255.255")
	thisNetwork  = netip.MustParsePrefix("0.0.0.0/8")
	sharedSpace  = netip.MustParsePrefix("100.64.0.0/10")
	nat64Prefix  = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local   = netip.MustParsePrefix("64:ff9b:1::/48") // RFC 8215
	compatPrefix = netip.MustParsePrefix("::/96")
	siitPrefix   = netip.MustParsePrefix("::ffff:0:0:0/96") // RFC 2765 IPv4-translated
	sixToFour    = netip.MustParsePrefix("2002::/16")       // RFC 3056
	teredo       = netip.MustParsePrefix("2001::/32")       // RFC 4380
)

// CheckAddr reports whether the policy allows connecting to ip: nil, or an
// *AddressError that says why not.
func (p Policy) CheckAddr(ip netip.Addr) error {
	if !ip.IsValid() {
		return &AddressError{Addr: ip, Reason: "invalid address"}
	}
	ip = ip.WithZone("")
	if reason := alwaysRefused(ip); reason != "" {
		return &AddressError{Addr: ip, Reason: reason}
	}
	if reason := privateReason(ip); reason != "" && !p.AllowPrivate {
		return &AddressError{Addr: ip, Reason: reason}
	}
	return nil
}

// alwaysRefused names why ip (or the IPv4 address it embeds) is never reachable,
// or returns "".
func alwaysRefused(ip netip.Addr) string {
	for _, a := range candidates(ip) {
		switch {
		case a == metadataV4 || a == metadataV6:
			return reasonMetadata
		case a.IsLinkLocalUnicast():
			return reasonLinkLocal
		case a.IsUnspecified() || (a.Is4() && thisNetwork.Contains(a)):
			return reasonUnspecified
		case a.IsMulticast() || a == broadcastV4:
			return reasonMulticast
		}
	}
	return ""
}

// privateReason names why ip is refused unless private endpoints are allowed, or
// returns "".
func privateReason(ip netip.Addr) string {
	for _, a := range candidates(ip) {
		switch {
		case a.IsLoopback():
			return reasonLoopback
		case a.IsPrivate() || isSiteLocal(a):
			return reasonPrivate
		case a.Is4() && sharedSpace.Contains(a):
			return reasonShared
		}
	}
	return ""
}

// candidates returns ip unmapped, plus every IPv4 address an IPv6 address
// carries, so each form is judged as the IPv4 address it reaches: IPv4-compatible
// ::a.b.c.d, SIIT ::ffff:0:a.b.c.d, NAT64 64:ff9b::a.b.c.d and 64:ff9b:1::/48
// (RFC 6052 layout), 6to4 2002:aabb:ccdd::, and Teredo 2001:0::/32 (server and
// the obfuscated client address).
func candidates(ip netip.Addr) []netip.Addr {
	ip = ip.Unmap()
	out := []netip.Addr{ip}
	if !ip.Is6() {
		return out
	}
	b := ip.As16()
	v4 := func(i, j, k, l int) netip.Addr { return netip.AddrFrom4([4]byte{b[i], b[j], b[k], b[l]}) }
	switch {
	case ip == netip.IPv6Loopback() || ip == netip.IPv6Unspecified():
		// ::1 and :: are themselves, not 0.0.0.1 / 0.0.0.0.
	case compatPrefix.Contains(ip), siitPrefix.Contains(ip), nat64Prefix.Contains(ip):
		out = append(out, v4(12, 13, 14, 15))
	case nat64Local.Contains(ip):
		out = append(out, v4(6, 7, 9, 10)) // /48: bits 48–63, then the u octet, then 72–87
	case sixToFour.Contains(ip):
		out = append(out, v4(2, 3, 4, 5))
	case teredo.Contains(ip):
		client := netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
		out = append(out, v4(4, 5, 6, 7), client)
	}
	return out
}

// isSiteLocal reports the deprecated IPv6 site-local range fec0::/10, still routed
// as private on some networks.
func isSiteLocal(a netip.Addr) bool {
	if !a.Is6() {
		return false
	}
	b := a.As16()
	return b[0] == 0xfe && b[1]&0xc0 == 0xc0
}
