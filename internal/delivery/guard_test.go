package delivery_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/delivery"
)

// testRecords are the names the fake DNS server knows in guard tests.
var testRecords = map[string][]netip.Addr{
	"public.test":   {netip.MustParseAddr("93.184.216.34")},
	"public6.test":  {netip.MustParseAddr("2606:2800:220:1:248:1893:25c8:1946")},
	"internal.test": {netip.MustParseAddr("10.0.0.5")},
	"mixed.test":    {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("192.168.1.20")},
	"mapped.test":   {netip.MustParseAddr("::ffff:127.0.0.1")},
	"meta.test":     {netip.MustParseAddr("169.254.169.254")},
	"ula.test":      {netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("fd12::1")},
	"empty.test":    {},
}

func TestCheckURLAddresses(t *testing.T) {
	t.Parallel()
	resolver, _ := newFakeResolver(t, testRecords)
	guard := delivery.NewGuard(nil, resolver)
	tests := []struct {
		host string
		want string // "" = allowed, else a part of the error message
	}{
		// Literal addresses, allowed.
		{"8.8.8.8", ""},
		{"93.184.216.34", ""},
		{"172.32.0.1", ""},
		{"100.128.0.1", ""},
		{"[2606:4700:4700::1111]", ""},
		{"134744072", ""}, // 8.8.8.8 in decimal
		// Literal addresses, blocked.
		{"127.0.0.1", "is a loopback address (127.0.0.1)"},
		{"127.255.255.254", "is a loopback address"},
		{"10.0.0.5", "is a private address (10.0.0.5)"},
		{"172.16.3.4", "is a private address"},
		{"172.31.255.255", "is a private address"},
		{"192.168.1.1", "is a private address"},
		{"169.254.169.254", "is a link-local address (169.254.169.254)"},
		{"0.0.0.0", "is an unspecified address"},
		{"0.1.2.3", "is an unspecified address"},
		{"100.64.0.1", "is a carrier-grade NAT address"},
		{"100.127.255.255", "is a carrier-grade NAT address"},
		{"224.0.0.1", "is a multicast address"},
		{"239.255.255.250", "is a multicast address"},
		{"255.255.255.255", "is a reserved address"},
		{"[::1]", "is a loopback address (::1)"},
		{"[::]", "is an unspecified address"},
		{"[fe80::1]", "is a link-local address"},
		{"[fe80::1%25eth0]", "is a link-local address"},
		{"[fc00::1]", "is a private address"},
		{"[fd00:ec2::254]", "is a private address"},
		{"[ff02::1]", "is a multicast address"},
		// IPv6 forms of blocked IPv4 addresses.
		{"[::ffff:127.0.0.1]", "is a loopback address (::ffff:127.0.0.1)"},
		{"[::ffff:7f00:1]", "is a loopback address"},
		{"[::ffff:10.0.0.1]", "is a private address"},
		{"[::ffff:169.254.169.254]", "is a link-local address"},
		{"[::127.0.0.1]", "is a loopback address"},
		{"[64:ff9b::a00:1]", "is a private address"},
		{"[2002:c0a8:101::1]", "is a private address"},
		// Historic spellings an OS resolver accepts.
		{"2130706433", `URL host "2130706433" is a loopback address (127.0.0.1)`},
		{"0177.0.0.1", `"0177.0.0.1" is a loopback address (127.0.0.1)`},
		{"0x7f.0.0.1", "is a loopback address (127.0.0.1)"},
		{"0x7F000001", "is a loopback address (127.0.0.1)"},
		{"017700000001", "is a loopback address (127.0.0.1)"},
		{"127.1", "is a loopback address (127.0.0.1)"},
		{"127.0.1", "is a loopback address (127.0.0.1)"},
		{"127.000.000.001", "is a loopback address (127.0.0.1)"},
		{"127.0.0.1.", "is a loopback address (127.0.0.1)"},
		{"10.1", "is a private address (10.0.0.1)"},
		{"0", "is an unspecified address (0.0.0.0)"},
		{"0xa9.0xfe.0xa9.0xfe", "is a link-local address (169.254.169.254)"},
		// Not addresses in any spelling: looked up, and unknown.
		{"256.1.1.1", `DNS resolution failed for "256.1.1.1"`},
		{"1.2.3.4.5", `DNS resolution failed for "1.2.3.4.5"`},
		{"0x", `DNS resolution failed for "0x"`},
		// Names.
		{"public.test", ""},
		{"public6.test", ""},
		{"localhost", "URL host resolves to a loopback address ("}, // 127.0.0.1 or ::1, as /etc/hosts says
		{"internal.test", "URL host resolves to a private address (10.0.0.5); set HOOKD_ALLOWED_NETWORKS to allow it"},
		{"mixed.test", "resolves to a private address (192.168.1.20)"},
		{"ula.test", "resolves to a private address (fd12::1)"},
		{"mapped.test", "resolves to a loopback address (127.0.0.1)"},
		{"meta.test", "resolves to a link-local address (169.254.169.254)"},
		{"x.invalid", `DNS resolution failed for "x.invalid"`},
		{"empty.test", `DNS resolution failed for "empty.test"`},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			t.Parallel()
			err := guard.CheckURL(context.Background(), "http://"+tt.host+"/hook", false)
			checkGuardErr(t, err, tt.want)
		})
	}
}

func TestCheckURLAllowList(t *testing.T) {
	t.Parallel()
	resolver, _ := newFakeResolver(t, testRecords)
	guard := delivery.NewGuard([]netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("10.0.0.0/16"),
	}, resolver)
	tests := []struct {
		host string
		want string
	}{
		{"127.0.0.1", ""},
		{"127.1", ""},
		{"2130706433", ""},
		{"[::1]", ""},
		{"[::ffff:127.0.0.1]", ""},
		{"localhost", ""},
		{"mapped.test", ""},
		{"internal.test", ""},
		{"10.0.200.1", ""},
		{"10.1.0.1", "is a private address (10.1.0.1)"},
		{"192.168.1.1", "is a private address"},
		{"mixed.test", "resolves to a private address (192.168.1.20)"},
		{"[fe80::1]", "is a link-local address"},
		{"public.test", ""},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			t.Parallel()
			err := guard.CheckURL(context.Background(), "https://"+tt.host+":8443/hook?x=1", true)
			checkGuardErr(t, err, tt.want)
		})
	}
}

func TestCheckURLSyntax(t *testing.T) {
	t.Parallel()
	resolver, _ := newFakeResolver(t, testRecords)
	guard := delivery.NewGuard(nil, resolver)
	tests := []struct {
		name string
		raw  string
		ssl  bool
		want string
	}{
		{"HTTP", "http://public.test/hook", false, ""},
		{"HTTPS", "https://public.test/hook", true, ""},
		{"UpperCaseScheme", "HTTPS://public.test/hook", true, ""},
		{"PortAndQuery", "http://public.test:8080/a/b?token=x", false, ""},
		{"FTP", "ftp://public.test/file", false, `Invalid URL scheme "ftp": use http or https`},
		{"JavaScript", "javascript:alert(1)", false, `Invalid URL scheme "javascript": use http or https`},
		{"Relative", "public.test/hook", false, "must be absolute"},
		{"Empty", "", false, "must be absolute"},
		{"NoHost", "http:///hook", false, "has no host"},
		{"Opaque", "http:public.test", false, "has no host"},
		{"UserInfo", "https://admin:hunter2@public.test/", false, "user name or password"},
		{"HTTPWithSSL", "http://public.test/hook", true, "HTTPS is required"},
		{"BadPort", "http://public.test:99999999999/", false, "Invalid URL"},
		{"Unparsable", "http://public.test/%zz", false, "Invalid URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := guard.CheckURL(context.Background(), tt.raw, tt.ssl)
			checkGuardErr(t, err, tt.want)
			if err != nil && strings.Contains(hookd.ErrorMessage(err), "hunter2") {
				t.Errorf("message %q shows the password", hookd.ErrorMessage(err))
			}
		})
	}
}

func TestDialContext(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Addr, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c.RemoteAddr()
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	resolver, dns := newFakeResolver(t, map[string][]netip.Addr{
		"receiver.test": {netip.MustParseAddr("127.0.0.1")},
	})

	t.Run("RefusesLoopback", func(t *testing.T) {
		guard := delivery.NewGuard(nil, resolver)
		for _, host := range []string{"127.0.0.1", "receiver.test", "2130706433", "localhost"} {
			conn, err := guard.DialContext(context.Background(), "tcp", net.JoinHostPort(host, port))
			if err == nil {
				conn.Close()
				t.Fatalf("dial %s: got a connection, want a refusal", host)
			}
			if got := hookd.ErrorCode(err); got != hookd.EINVALID {
				t.Errorf("dial %s: got code %q (%v), want %q", host, got, err, hookd.EINVALID)
			}
		}
	})

	t.Run("AllowedDialsCheckedAddress", func(t *testing.T) {
		guard := delivery.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, resolver)
		before := dns.queries.Load()
		// The system resolver does not know receiver.test: reaching the listener proves the
		// connection went to the address the guard resolved and checked.
		conn, err := guard.DialContext(context.Background(), "tcp", net.JoinHostPort("receiver.test", port))
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conn.Close()
		if got := (<-accepted).(*net.TCPAddr).IP.String(); got != "127.0.0.1" {
			t.Errorf("got a connection from %s, want 127.0.0.1", got)
		}
		if got := conn.RemoteAddr().String(); got != ln.Addr().String() {
			t.Errorf("got remote address %s, want %s", got, ln.Addr())
		}
		if dns.queries.Load() == before {
			t.Errorf("got no DNS query for receiver.test, want the guard's resolver used")
		}
		conn, err = guard.DialContext(context.Background(), "tcp", net.JoinHostPort("0x7f.1", port))
		if err != nil {
			t.Fatalf("dial 0x7f.1: %v", err)
		}
		conn.Close()
		<-accepted
	})

	t.Run("ConnectionRefused", func(t *testing.T) {
		guard := delivery.NewGuard([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, resolver)
		closed, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := closed.Addr().String()
		closed.Close()
		if conn, err := guard.DialContext(context.Background(), "tcp", addr); err == nil {
			conn.Close()
			t.Fatalf("dial %s: got a connection, want refused", addr)
		}
	})
}

// checkGuardErr fails t unless err matches want: nil for "", else an EINVALID error whose
// message contains want.
func checkGuardErr(tb testing.TB, err error, want string) {
	tb.Helper()
	if want == "" {
		if err != nil {
			tb.Errorf("got error %v, want none", err)
		}
		return
	}
	if err == nil {
		tb.Errorf("got no error, want one containing %q", want)
		return
	}
	if got := hookd.ErrorCode(err); got != hookd.EINVALID {
		tb.Errorf("got code %q (%v), want %q", got, err, hookd.EINVALID)
	}
	if got := hookd.ErrorMessage(err); !strings.Contains(got, want) {
		tb.Errorf("got message %q, want it to contain %q", got, want)
	}
}
