package egress

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestCheckLiteralEncodings(t *testing.T) {
	strict, lax := Policy{}, Policy{AllowPrivate: true}
	tests := []struct {
		name, host string
		wantIP     string // the address named in the refusal
		laxRefused bool   // refused even with AllowPrivate
	}{
		{"metadata dotted", "169.254.169.254", "169.254.169.254", true},
		{"metadata decimal", "2852039166", "169.254.169.254", true},
		{"metadata hex", "0xa9fea9fe", "169.254.169.254", true},
		{"metadata hex upper", "0XA9FEA9FE", "169.254.169.254", true},
		{"metadata octal", "0251.0376.0251.0376", "169.254.169.254", true},
		{"metadata mixed parts", "0xa9.254.0251.254", "169.254.169.254", true},
		{"metadata two parts", "169.16689662", "169.254.169.254", true},
		{"metadata three parts", "169.254.43518", "169.254.169.254", true},
		{"metadata trailing dot", "169.254.169.254.", "169.254.169.254", true},
		{"metadata with port", "169.254.169.254:80", "169.254.169.254", true},
		{"metadata decimal with port", "2852039166:443", "169.254.169.254", true},
		{"metadata v4-mapped", "[::ffff:169.254.169.254]", "::ffff:169.254.169.254", true},
		{"metadata v4-mapped hex", "::ffff:a9fe:a9fe", "::ffff:169.254.169.254", true},
		{"metadata v4-compatible", "::169.254.169.254", "::a9fe:a9fe", true},
		{"metadata nat64", "64:ff9b::169.254.169.254", "64:ff9b::a9fe:a9fe", true},
		{"metadata 6to4", "2002:a9fe:a9fe::1", "2002:a9fe:a9fe::1", true},
		{"metadata siit", "::ffff:0:a9fe:a9fe", "::ffff:0:a9fe:a9fe", true},
		{"metadata siit dotted", "[::ffff:0:169.254.169.254]", "::ffff:0:a9fe:a9fe", true},
		{"metadata nat64 hex", "64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe", true},
		{"metadata nat64 local /48", "64:ff9b:1:a9fe:a9:fe00::", "64:ff9b:1:a9fe:a9:fe00::", true},
		{"metadata teredo server", "2001:0:a9fe:a9fe::1", "2001:0:a9fe:a9fe::1", true},
		{"metadata teredo client", "2001:0:4136:e378:8000:63bf:5601:5601", "2001:0:4136:e378:8000:63bf:5601:5601", true},
		{"loopback 6to4", "2002:7f00:1::1", "2002:7f00:1::1", false},
		{"private teredo client", "2001:0:4136:e378:8000:63bf:f5fe:fefe", "2001:0:4136:e378:8000:63bf:f5fe:fefe", false},
		{"link-local v6", "[fe80::1]", "fe80::1", true},
		{"link-local v6 zone", "fe80::1%eth0", "fe80::1", true},
		{"link-local v6 with port", "[fe80::1]:9000", "fe80::1", true},
		{"aws metadata v6", "fd00:ec2::254", "fd00:ec2::254", true},
		{"aws metadata v6 bracketed", "[fd00:ec2::254]", "fd00:ec2::254", true},
		{"alibaba metadata", "100.100.100.200", "100.100.100.200", true},
		{"this network", "0.0.0.0", "0.0.0.0", true},
		{"this network short", "0", "0.0.0.0", true},
		{"this network 0/8", "0.1.2.3", "0.1.2.3", true},
		{"unspecified v6", "[::]", "::", true},
		{"multicast v4", "224.0.0.1", "224.0.0.1", true},
		{"multicast v6", "ff02::1", "ff02::1", true},
		{"broadcast", "255.255.255.255", "255.255.255.255", true},
		{"loopback", "127.0.0.1", "127.0.0.1", false},
		{"loopback decimal", "2130706433", "127.0.0.1", false},
		{"loopback short", "127.1", "127.0.0.1", false},
		{"loopback octal", "0177.0.0.1", "127.0.0.1", false},
		{"loopback v6", "[::1]", "::1", false},
		{"loopback v6 port", "[::1]:9000", "::1", false},
		{"loopback mapped", "::ffff:127.0.0.1", "::ffff:127.0.0.1", false},
		{"private 10", "10.1.2.3", "10.1.2.3", false},
		{"private 10 hex", "0x0a010203", "10.1.2.3", false},
		{"private 172", "172.16.0.1", "172.16.0.1", false},
		{"private 172 top", "172.31.255.255", "172.31.255.255", false},
		{"private 192", "192.168.1.1", "192.168.1.1", false},
		{"private ula", "fc00::1", "fc00::1", false},
		{"private ula fd", "fd12:3456::1", "fd12:3456::1", false},
		{"site-local v6", "fec0::1", "fec0::1", false},
		{"cgnat", "100.64.0.1", "100.64.0.1", false},
		{"cgnat top", "100.127.255.254", "100.127.255.254", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertRefused(t, strict, tt.host, tt.wantIP)
			if tt.laxRefused {
				assertRefused(t, lax, tt.host, tt.wantIP)
			} else if err := lax.CheckLiteral(tt.host); err != nil {
				t.Errorf("AllowPrivate CheckLiteral(%q) = %v, want nil", tt.host, err)
			}
		})
	}
}

func assertRefused(t *testing.T, p Policy, host, wantIP string) {
	t.Helper()
	err := p.CheckLiteral(host)
	if err == nil {
		t.Fatalf("%+v CheckLiteral(%q) = nil, want refusal", p, host)
	}
	if !errors.Is(err, ErrNotAllowed) {
		t.Errorf("CheckLiteral(%q) = %v, want errors.Is ErrNotAllowed", host, err)
	}
	if want := "address " + wantIP + " is not allowed"; !strings.Contains(err.Error(), want) {
		t.Errorf("CheckLiteral(%q) = %q, want it to contain %q", host, err, want)
	}
}

func TestCheckLiteralAllowed(t *testing.T) {
	tests := []struct{ name, host string }{
		{"public v4", "52.216.0.1"},
		{"public v4 decimal", "886571009"},
		{"public v4 with port", "52.216.0.1:443"},
		{"public v6", "[2600:1f18::1]"},
		{"public 6to4", "2002:34d8:1::1"},
		{"public nat64", "64:ff9b::34d8:1"},
		{"public teredo", "2001:0:4136:e378:8000:63bf:cb27:fffe"},
		{"documentation v6 is not teredo", "2001:db8::1"},
		{"not quite cgnat", "100.128.0.1"},
		{"not quite private 172", "172.32.0.1"},
		{"host name", "s3.amazonaws.com"},
		{"host name with port", "minio.example:9000"},
		{"localhost is a name", "localhost"},
		{"empty", ""},
		{"too many parts", "1.2.3.4.5"},
		{"bad octal digit", "0258.0.0.1"},
		{"part too large", "256.1.1.1"},
		{"last part too large", "1.2.3.256"},
		{"overflow", "4294967296"},
		{"hex garbage", "0xg1"},
		{"empty part", "1..2.3"},
		{"sign", "-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := (Policy{}).CheckLiteral(tt.host); err != nil {
				t.Errorf("CheckLiteral(%q) = %v, want nil", tt.host, err)
			}
		})
	}
}

func TestParseInetAton(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" = not a literal
	}{
		{"1.2.3.4", "1.2.3.4"},
		{"1", "0.0.0.1"},
		{"0x", "0.0.0.0"},
		{"00", "0.0.0.0"},
		{"1.2", "1.0.0.2"},
		{"1.0x10000", "1.1.0.0"},
		{"1.2.0xffff", "1.2.255.255"},
		{"1.2.0x10000", ""},
		{"4294967295", "255.255.255.255"},
		{"0xffffffff", "255.255.255.255"},
		{"037777777777", "255.255.255.255"},
		{"040000000000", ""},
		{"0x100000000", ""},
		{"1.2.3.4.", ""},
		{"a.b.c.d", ""},
		{"", ""},
	}
	for _, tt := range tests {
		v, ok := parseInetAton(tt.in)
		got := ""
		if ok {
			got = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}).String()
		}
		if got != tt.want {
			t.Errorf("parseInetAton(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzCheckLiteral(f *testing.F) {
	for _, s := range []string{
		"2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "169.254.169.254",
		"[::ffff:169.254.169.254]", "[fe80::1]", "fd00:ec2::254", "100.100.100.200",
		"127.1", "[::1]:9000", "example.com", "0x", "1.2.3.4:80", "[", "]:",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		for _, p := range []Policy{{}, {AllowPrivate: true}} {
			err := p.CheckLiteral(host)
			if err != nil && !errors.Is(err, ErrNotAllowed) {
				t.Fatalf("CheckLiteral(%q) = %v, not an ErrNotAllowed", host, err)
			}
			if err != nil && !strings.Contains(err.Error(), " is not allowed") {
				t.Fatalf("CheckLiteral(%q) = %q, missing wording", host, err)
			}
		}
		// The lax policy never refuses what the strict one allows.
		if (Policy{}).CheckLiteral(host) == nil && (Policy{AllowPrivate: true}).CheckLiteral(host) != nil {
			t.Fatalf("CheckLiteral(%q): allowed strictly, refused with AllowPrivate", host)
		}
	})
}
