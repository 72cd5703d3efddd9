package credential

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// ErrForbiddenTarget: a URL points at an address the fetcher refuses
// (loopback, private, link-local such as the 169.254.169.254 metadata
// service, ...) — the SSRF guard of a verifier that follows URLs found in
// the data it verifies.
var ErrForbiddenTarget = errors.New("refused target address")

// Fetcher is an HTTP client for URLs that come from MOSIP's events (key
// documents, JSON-LD contexts, data shares): it connects only to public
// addresses unless AllowPrivate, follows no redirects, bounds time and
// size.
type Fetcher struct {
	client  *http.Client
	maxBody int64
}

// NewFetcher builds a Fetcher. allowPrivate admits loopback and private
// networks (a sandbox on 127.0.0.1, MOSIP inside the cluster network);
// production keeps it off for anything reached over the internet.
func NewFetcher(timeout time.Duration, maxBody int64, allowPrivate bool) *Fetcher {
	dialer := &net.Dialer{Timeout: timeout, Control: func(_, address string, _ syscall.RawConn) error {
		// Control runs after name resolution, on the address actually
		// dialled, so DNS rebinding cannot slip a private address past it.
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", ErrForbiddenTarget, address)
		}
		if !allowPrivate && !publicAddr(ap.Addr()) {
			return fmt.Errorf("%w: %s is not a public address", ErrForbiddenTarget, ap.Addr())
		}
		return nil
	}}
	tr := &http.Transport{
		DialContext: dialer.DialContext, Proxy: nil, MaxIdleConnsPerHost: 4,
		TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout, IdleConnTimeout: 90 * time.Second,
	}
	return &Fetcher{maxBody: maxBody, client: &http.Client{
		Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// publicAddr reports whether a is a globally routable unicast address.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsMulticast() || a.IsUnspecified() || a.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// nonPublic lists special-purpose ranges netip has no predicate for.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 can reach private IPv4
}

// Get fetches u and returns its body; non-2xx is an error. The error says
// whether retrying can help (network trouble, 5xx) through Temporary.
func (f *Fetcher) Get(ctx context.Context, u *url.URL) ([]byte, error) {
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, &FetchError{URL: origin(u), Err: fmt.Errorf("scheme %q not allowed", u.Scheme)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, &FetchError{URL: origin(u), Err: err}
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, &FetchError{URL: origin(u), Err: err, Temporary: !errors.Is(err, ErrForbiddenTarget)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBody+1))
	if err != nil {
		return nil, &FetchError{URL: origin(u), Err: err, Temporary: true}
	}
	if int64(len(body)) > f.maxBody {
		return nil, &FetchError{URL: origin(u), Err: fmt.Errorf("body over %d bytes", f.maxBody)}
	}
	if resp.StatusCode/100 != 2 {
		return nil, &FetchError{URL: origin(u), Err: fmt.Errorf("HTTP %d", resp.StatusCode),
			Temporary: resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests}
	}
	return body, nil
}

// FetchError is a failed fetch.
type FetchError struct {
	URL       string
	Err       error
	Temporary bool
}

func (e *FetchError) Error() string { return "fetch " + e.URL + ": " + e.Err.Error() }

func (e *FetchError) Unwrap() error { return e.Err }

// origin names a URL in errors without its path and query, which can be
// capabilities (data-share keys).
func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }
