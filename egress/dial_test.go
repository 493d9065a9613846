package egress

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln
}

func TestDialContextLoopback(t *testing.T) {
	ln := listen(t)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tests := []struct {
		name    string
		policy  Policy
		addr    string
		wantErr string // "" = the dial succeeds
	}{
		{"strict refuses 127.0.0.1", Policy{}, ln.Addr().String(), "address 127.0.0.1 is not allowed (loopback"},
		{"strict refuses localhost name", Policy{}, net.JoinHostPort("localhost", port), "is not allowed (loopback"},
		{"strict refuses decimal loopback", Policy{}, net.JoinHostPort("2130706433", port), "address 127.0.0.1 is not allowed"},
		{"strict refuses metadata", Policy{}, "169.254.169.254:80", "address 169.254.169.254 is not allowed (link-local"},
		{"lax refuses metadata", Policy{AllowPrivate: true}, "[fe80::1]:80", "address fe80::1 is not allowed"},
		{"lax refuses alibaba metadata", Policy{AllowPrivate: true}, "100.100.100.200:80", "address 100.100.100.200 is not allowed (cloud metadata)"},
		{"lax accepts 127.0.0.1", Policy{AllowPrivate: true}, ln.Addr().String(), ""},
		{"lax accepts decimal loopback", Policy{AllowPrivate: true}, net.JoinHostPort("2130706433", port), ""},
		{"unix refused", Policy{AllowPrivate: true}, "/tmp/sock", `network "unix" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			network := "tcp4"
			if strings.HasPrefix(tt.addr, "/") {
				network = "unix"
			}
			if strings.HasPrefix(tt.addr, "[") {
				network = "tcp"
			}
			c, err := tt.policy.DialContext(ctx, network, tt.addr)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("DialContext(%q) = %v, want a connection", tt.addr, err)
				}
				c.Close()
				return
			}
			if err == nil {
				c.Close()
				t.Fatalf("DialContext(%q) connected, want %q", tt.addr, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("DialContext(%q) = %q, want it to contain %q", tt.addr, err, tt.wantErr)
			}
		})
	}
}

func TestDialContextUnknownHost(t *testing.T) {
	_, err := Policy{}.DialContext(context.Background(), "tcp", "no-such-host.invalid:80")
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) {
		t.Fatalf("DialContext(no-such-host.invalid) = %v, want a *net.DNSError", err)
	}
}

func TestControlRefusesSocketAddress(t *testing.T) {
	err := Policy{}.control("tcp4", "127.0.0.1:80", nil)
	if !errors.Is(err, ErrNotAllowed) {
		t.Errorf("control(127.0.0.1:80) = %v, want ErrNotAllowed", err)
	}
	if err := (Policy{}).control("tcp4", "52.216.0.1:443", nil); err != nil {
		t.Errorf("control(52.216.0.1:443) = %v, want nil", err)
	}
}

func TestHTTPClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1") // must be ignored

	_, err := Policy{}.HTTPClient(nil, 5*time.Second).Get(srv.URL)
	if err == nil || !strings.Contains(err.Error(), "address 127.0.0.1 is not allowed") {
		t.Errorf("strict Get(%s) = %v, want a refusal", srv.URL, err)
	}
	resp, err := Policy{AllowPrivate: true}.HTTPClient(nil, 5*time.Second).Get(srv.URL)
	if err != nil {
		t.Fatalf("lax Get(%s) = %v, want success", srv.URL, err)
	}
	defer resp.Body.Close()
	if body, _ := io.ReadAll(resp.Body); string(body) != "ok" {
		t.Errorf("body = %q, want %q", body, "ok")
	}
}

func TestHTTPClientRedirectChecked(t *testing.T) {
	srv := httptest.NewServer(http.RedirectHandler("http://169.254.169.254/latest/meta-data/", http.StatusFound))
	defer srv.Close()
	_, err := Policy{AllowPrivate: true}.HTTPClient(nil, 5*time.Second).Get(srv.URL)
	if err == nil || !strings.Contains(err.Error(), "address 169.254.169.254 is not allowed") {
		t.Errorf("Get via redirect = %v, want a refusal of the metadata address", err)
	}
}
