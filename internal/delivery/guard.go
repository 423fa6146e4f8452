package delivery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
)

// checkTimeout bounds the DNS resolution of CheckURL, as DocSpace's validator does.
const checkTimeout = 3 * time.Second

// blockedRange is a block of addresses the guard refuses and the words that name it.
type blockedRange struct {
	prefix netip.Prefix
	kind   string
}

// blockedRanges are the addresses a receiver may not have unless an allowed prefix holds
// them: DocSpace's default blacklist plus multicast, reserved and benchmarking blocks, which
// no public receiver uses either.
var blockedRanges = []blockedRange{
	{netip.MustParsePrefix("0.0.0.0/8"), "an unspecified address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "a reserved address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a reserved address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	{netip.MustParsePrefix("::/128"), "an unspecified address"},
	{netip.MustParsePrefix("::1/128"), "a loopback address"},
	{netip.MustParsePrefix("fc00::/7"), "a private address"},
	{netip.MustParsePrefix("fec0::/10"), "a private address"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
}

// IPv6 blocks that carry an IPv4 address, which is what a packet to them finally reaches
// (through the kernel, a NAT64 gateway or a 6to4 relay).
var (
	ipv4Compatible = netip.MustParsePrefix("::/96")
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	nat64Local     = netip.MustParsePrefix("64:ff9b:1::/48")
	sixToFour      = netip.MustParsePrefix("2002::/16")
)

// Guard decides which receivers hookd may connect to. It resolves a host once, refuses it
// when any of its addresses is private, loopback, link-local or otherwise internal (in any
// spelling, IPv4-mapped IPv6 included) unless an allowed prefix holds that address, and then
// connects to the address it checked. A Guard is safe for concurrent use.
type Guard struct {
	allowed  []netip.Prefix
	resolver *net.Resolver
	dialer   net.Dialer
}

// NewGuard returns a guard that lets through the addresses inside allowed (e.g. 127.0.0.0/8
// for receivers on this machine) and resolves names with resolver (nil means
// net.DefaultResolver).
func NewGuard(allowed []netip.Prefix, resolver *net.Resolver) *Guard {
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	return &Guard{
		allowed:  append([]netip.Prefix(nil), allowed...),
		resolver: resolver,
		dialer:   net.Dialer{KeepAlive: 30 * time.Second},
	}
}

// DialContext resolves the host of addr, refuses the connection with a hookd EINVALID error
// when any resolved address is blocked, and otherwise connects to the checked addresses in
// turn, without resolving again. It is meant for http.Transport.DialContext.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", network, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("dial %s: invalid port %q", network, portStr)
	}
	addrs, err := g.check(ctx, network, host)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for _, a := range addrs {
		if (network == "tcp4" && !a.Is4()) || (network == "tcp6" && !a.Is6()) {
			continue
		}
		conn, err := g.dialer.DialContext(ctx, network, netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("dial %s: no %s address for host", network, network)
	}
	return nil, lastErr
}

// CheckURL reports whether raw is a receiver URL hookd may deliver to: an absolute http or
// https URL with a host and no user name or password, https when ssl is true, whose host
// resolves (within 3 s) to allowed addresses only. Its errors are hookd EINVALID errors whose
// message says what to change.
func (g *Guard) CheckURL(ctx context.Context, raw string, ssl bool) error {
	u, err := parseReceiverURL(raw, ssl)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	_, err = g.check(ctx, "tcp", u.Hostname())
	return err
}

// parseReceiverURL checks the parts of a receiver URL that need no network.
func parseReceiverURL(raw string, ssl bool) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the url.Error repeats the whole URL, which may hold a token
		}
		return nil, hookd.Errorf(hookd.EINVALID, "Invalid URL: %s", err)
	}
	switch {
	case u.Scheme == "":
		return nil, hookd.Errorf(hookd.EINVALID, "Invalid URL: it must be absolute, such as https://example.com/hook")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, hookd.Errorf(hookd.EINVALID, "Invalid URL scheme %q: use http or https", u.Scheme)
	case u.Hostname() == "":
		return nil, hookd.Errorf(hookd.EINVALID, "Invalid URL: it has no host")
	case u.User != nil:
		return nil, hookd.Errorf(hookd.EINVALID, "Invalid URL: a user name or password in the URL is not allowed")
	case ssl && u.Scheme != "https":
		return nil, hookd.Errorf(hookd.EINVALID, "HTTPS is required when ssl is true: use an https URL or set ssl to false")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return nil, hookd.Errorf(hookd.EINVALID, "Invalid URL port %q: use a number from 1 to 65535", p)
		}
	}
	return u, nil
}

// check resolves host and returns its addresses, or a hookd EINVALID error when the name
// does not resolve or any address is blocked.
func (g *Guard) check(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, ok := parseIP(host); ok {
		if kind := g.blocked(a); kind != "" {
			spelled := ""
			if a.String() != host {
				spelled = fmt.Sprintf(" %q", host)
			}
			return nil, hookd.Errorf(hookd.EINVALID, "URL host%s is %s (%s); set HOOKD_ALLOWED_NETWORKS to allow it", spelled, kind, a)
		}
		return []netip.Addr{a}, nil
	}
	ipNet := "ip"
	switch network {
	case "tcp4", "udp4":
		ipNet = "ip4"
	case "tcp6", "udp6":
		ipNet = "ip6"
	}
	addrs, err := g.resolver.LookupNetIP(ctx, ipNet, host)
	if err != nil || len(addrs) == 0 {
		reason := "no address found"
		var dnsErr *net.DNSError
		switch {
		case errors.As(err, &dnsErr):
			reason = dnsErr.Err
		case errors.Is(err, context.DeadlineExceeded):
			reason = "timed out"
		case err != nil:
			reason = err.Error()
		}
		return nil, hookd.Errorf(hookd.EINVALID, "DNS resolution failed for %q: %s", host, reason)
	}
	for i, a := range addrs {
		// The resolver returns IPv4 answers as IPv4-mapped IPv6 at times (go.dev/issue/53554).
		addrs[i] = a.WithZone("").Unmap()
		if kind := g.blocked(addrs[i]); kind != "" {
			return nil, hookd.Errorf(hookd.EINVALID, "URL host resolves to %s (%s); set HOOKD_ALLOWED_NETWORKS to allow it", kind, addrs[i])
		}
	}
	return addrs, nil
}

// blocked returns the kind of a refused address ("a loopback address"), or "" when a may be
// dialled: it lies outside every blocked range, or inside an allowed prefix. An IPv6 address
// that carries an IPv4 one is judged by both.
func (g *Guard) blocked(a netip.Addr) string {
	forms := addrForms(a.WithZone(""))
	for _, f := range forms {
		for _, p := range g.allowed {
			if p.Contains(f) {
				return ""
			}
		}
	}
	for _, f := range forms {
		for _, r := range blockedRanges {
			if r.prefix.Contains(f) {
				return r.kind
			}
		}
	}
	return ""
}

// addrForms returns a and, for an IPv6 address that embeds an IPv4 one (IPv4-mapped,
// IPv4-compatible, NAT64, 6to4), that IPv4 address.
func addrForms(a netip.Addr) []netip.Addr {
	forms := []netip.Addr{a}
	if !a.Is6() {
		return forms
	}
	b := a.As16()
	switch {
	case a.Is4In6():
		forms = append(forms, a.Unmap())
	case ipv4Compatible.Contains(a) && a != netip.IPv6Unspecified() && a != netip.IPv6Loopback():
		forms = append(forms, netip.AddrFrom4([4]byte(b[12:16])))
	case nat64.Contains(a):
		forms = append(forms, netip.AddrFrom4([4]byte(b[12:16])))
	case nat64Local.Contains(a):
		forms = append(forms, netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(a):
		forms = append(forms, netip.AddrFrom4([4]byte(b[2:6])))
	}
	return forms
}

// parseIP reads host as an IP address in any spelling an operating system resolver accepts:
// the standard forms, and the historic inet_aton forms that net.ParseIP rejects but libc
// resolves (2130706433, 0177.0.0.1, 0x7f.0.0.1, 127.1), with or without a final dot.
func parseIP(host string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.WithZone(""), true
	}
	return parseLegacyIPv4(strings.TrimSuffix(host, "."))
}

// parseLegacyIPv4 parses s as inet_aton does: one to four dot-separated numbers, each
// decimal, octal (leading 0) or hexadecimal (leading 0x), the last one filling the bytes left.
func parseLegacyIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		base := 10
		switch {
		case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
			base, p = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		if p == "" || p[0] == '+' || p[0] == '-' {
			return netip.Addr{}, false
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, false
		}
		n |= v << (8 * (3 - i))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) {
		return netip.Addr{}, false
	}
	n |= last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}
