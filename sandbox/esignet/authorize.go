package esignet

// The authorize step. Real eSignet serves a React UI at /authorize that
// calls its oauth-details API, authenticates the person through IDA and
// redirects the browser back; this emulator renders one server-side page
// instead, with the same validation (an unknown client or unregistered
// redirect_uri is an error page, never a redirect) and the same redirects.

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/mosipcrvs/bridge/sandbox/mosip"
)

// pendingTTL is how long an authorize page stays usable.
const pendingTTL = 10 * time.Minute

// maxFormBody bounds form posts (authorize and token).
const maxFormBody = 64 << 10

// AuthRequest is an authorization request, as the query of GET /authorize
// carries it.
type AuthRequest struct {
	ClientID     string
	RedirectURI  string
	ResponseType string // default "code" in IssueCodeFor
	Scope        string // space-separated; default "openid profile" in IssueCodeFor
	State        string
	Nonce        string
	// Claims is the OIDC claims parameter (JSON), e.g.
	// {"userinfo":{"name":{"essential":true},"individual_id":{"essential":true}}}.
	Claims string
	// ClaimsLocales narrows the released languages (space-separated, "en"
	// or "eng" style).
	ClaimsLocales string
	ACRValues     string
	UILocales     string
}

// Error is an eSignet OAuth error: Code is the wire "error" (or the error
// shown by the authorize page), Description the "error_description".
type Error struct {
	Code        string
	Description string
}

// Error formats the code and description for logs and test failures.
func (e *Error) Error() string {
	if e.Description == "" || e.Description == e.Code {
		return "esignet: " + e.Code
	}
	return "esignet: " + e.Code + ": " + e.Description
}

// pendingAuth is a validated authorization request waiting for the person.
type pendingAuth struct {
	id      string
	client  Client
	req     AuthRequest
	claims  []string // accepted userinfo claims
	locales []string // released languages
	acr     string
	expires time.Time
}

// grant is what a code, then an access token, stands for.
type grant struct {
	client       Client
	redirectURI  string
	nonce        string
	claims       []string
	locales      []string
	acr          string
	individualID string // as typed (UIN or VID): the individual_id claim
	uin          string
	psut         string
	authTime     time.Time
	expires      time.Time
	// Set once the code is exchanged.
	accessToken string
	kyc         string // the signed userinfo (JWS)
}

// validate checks an authorization request as eSignet's oauth-details does.
func (s *Server) validate(req AuthRequest) (*pendingAuth, *Error) {
	if req.ClientID == "" {
		return nil, &Error{"invalid_client_id", "client_id is required"}
	}
	c, ok := s.client(req.ClientID)
	if !ok {
		return nil, &Error{"invalid_client_id", "unknown client_id " + req.ClientID}
	}
	if !validURL(req.RedirectURI) || !redirectAllowed(c.RedirectURIs, req.RedirectURI) {
		return nil, &Error{"invalid_redirect_uri", "redirect_uri is not registered for this client"}
	}
	if req.ResponseType != "code" {
		return nil, &Error{"invalid_response_type", "response_type must be code"}
	}
	scopes := strings.Fields(req.Scope)
	if !contains(scopes, "openid") {
		return nil, &Error{"invalid_scope", "scope must include openid"}
	}
	requested := map[string]bool{}
	for _, sc := range scopes {
		for _, cl := range scopeClaims[sc] {
			requested[cl] = true
		}
	}
	if strings.TrimSpace(req.Claims) != "" {
		var cp struct {
			Userinfo map[string]json.RawMessage `json:"userinfo"`
			IDToken  map[string]json.RawMessage `json:"id_token"`
		}
		if err := json.Unmarshal([]byte(req.Claims), &cp); err != nil {
			return nil, &Error{"invalid_claim", "claims is not a valid claims request: " + err.Error()}
		}
		for cl := range cp.Userinfo {
			requested[cl] = true
		}
	}
	var accepted []string
	for _, cl := range SupportedClaims {
		if requested[cl] && contains(c.Claims, cl) {
			accepted = append(accepted, cl)
		}
	}
	// Requested ACRs the client is not registered for fall back to the
	// client's own, as eSignet resolves them.
	acr := c.ACRValues[0]
	for _, a := range strings.Fields(req.ACRValues) {
		if contains(c.ACRValues, a) {
			acr = a
			break
		}
	}
	return &pendingAuth{client: c, req: req, claims: accepted, locales: s.consentedLocales(req.ClaimsLocales), acr: acr}, nil
}

// consentedLocales is the configured locales narrowed to claims_locales
// when the request names any of them.
func (s *Server) consentedLocales(claimsLocales string) []string {
	want := map[string]bool{}
	for _, l := range strings.Fields(claimsLocales) {
		want[normLocale(l)] = true
	}
	var out []string
	for _, l := range s.locales {
		if want[l] {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return append([]string(nil), s.locales...)
	}
	return out
}

func requestFromQuery(q url.Values) AuthRequest {
	return AuthRequest{
		ClientID: q.Get("client_id"), RedirectURI: q.Get("redirect_uri"), ResponseType: q.Get("response_type"),
		Scope: q.Get("scope"), State: q.Get("state"), Nonce: q.Get("nonce"), Claims: q.Get("claims"),
		ClaimsLocales: q.Get("claims_locales"), ACRValues: q.Get("acr_values"), UILocales: q.Get("ui_locales"),
	}
}

// IssueCode authorizes individualID (UIN or VID) for the client as if the
// person had logged in on the authorize page with scope "openid profile",
// and returns the code eSignet would have redirected with. state is not
// bound to the code (eSignet only echoes it in the redirect).
func (s *Server) IssueCode(clientID, redirectURI, individualID, state, nonce string) (string, error) {
	return s.IssueCodeFor(AuthRequest{ClientID: clientID, RedirectURI: redirectURI, State: state, Nonce: nonce}, individualID)
}

// IssueCodeFor is IssueCode for a full authorization request (claims,
// claims_locales, acr_values…). Failures are *Error: the authorize page's
// validation errors, or IDA's IDA-MLC-018 (unknown UIN/VID) and IDA-MLC-003
// (deactivated UIN).
func (s *Server) IssueCodeFor(req AuthRequest, individualID string) (string, error) {
	if req.ResponseType == "" {
		req.ResponseType = "code"
	}
	if req.Scope == "" {
		req.Scope = "openid profile"
	}
	p, e := s.validate(req)
	if e != nil {
		return "", e
	}
	code, e := s.issue(p, individualID)
	if e != nil {
		return "", e
	}
	return code, nil
}

// issue authenticates individualID and stores a fresh code for p.
func (s *Server) issue(p *pendingAuth, individualID string) (string, *Error) {
	individualID = strings.TrimSpace(individualID)
	if individualID == "" {
		return "", &Error{"invalid_identifier", "enter a UIN or VID"}
	}
	id, err := s.reg.Lookup(individualID)
	if err != nil {
		return "", &Error{"IDA-MLC-018", "UIN/VID not available in database"}
	}
	if id.Deceased {
		return "", &Error{"IDA-MLC-003", "UIN has been deactivated"}
	}
	now := s.now()
	code := randomToken()
	g := &grant{client: p.client, redirectURI: p.req.RedirectURI, nonce: p.req.Nonce, claims: p.claims,
		locales: p.locales, acr: p.acr, individualID: individualID, uin: id.UIN, psut: s.psut(id.UIN, p.client),
		authTime: now, expires: now.Add(s.codeTTL)}
	s.mu.Lock()
	s.pruneLocked(now)
	s.codes[hashKey(code)] = g
	s.mu.Unlock()
	s.log.Info("esignet: code issued", "client", p.client.ClientID, "claims", p.claims)
	return code, nil
}

// pruneLocked drops expired pending pages, codes and sessions.
func (s *Server) pruneLocked(now time.Time) {
	for k, p := range s.pending {
		if now.After(p.expires) {
			delete(s.pending, k)
		}
	}
	for k, g := range s.codes {
		if now.After(g.expires) {
			delete(s.codes, k)
		}
	}
	for k, g := range s.sessions {
		if now.After(g.expires) {
			delete(s.sessions, k)
		}
	}
}

func (s *Server) serveAuthorizePage(w http.ResponseWriter, r *http.Request) {
	p, e := s.validate(requestFromQuery(r.URL.Query()))
	if e != nil {
		s.renderError(w, e)
		return
	}
	p.id = randomToken()
	p.expires = s.now().Add(pendingTTL)
	s.mu.Lock()
	s.pruneLocked(s.now())
	s.pending[p.id] = p
	s.mu.Unlock()
	s.renderLogin(w, http.StatusOK, p, "")
}

func (s *Server) serveAuthorizeSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		s.renderError(w, &Error{"invalid_request", "unreadable form"})
		return
	}
	now := s.now()
	s.mu.Lock()
	p, ok := s.pending[r.PostForm.Get("transaction_id")]
	if ok && now.After(p.expires) {
		delete(s.pending, p.id)
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		s.renderError(w, &Error{"invalid_transaction", "this login page has expired; start again from the application"})
		return
	}
	if r.PostForm.Get("action") == "cancel" {
		s.mu.Lock()
		delete(s.pending, p.id)
		s.mu.Unlock()
		// eSignet's UI (redirectOnError) always sets state, so a request
		// without one comes back with state=null.
		q := url.Values{}
		q.Set("error_description", "consent_rejected")
		q.Set("state", orNull(p.req.State))
		q.Set("error", "consent_rejected")
		http.Redirect(w, r, p.req.RedirectURI+"?"+q.Encode(), http.StatusFound)
		return
	}
	individualID := strings.TrimSpace(r.PostForm.Get("typed_id"))
	if individualID == "" {
		individualID = r.PostForm.Get("individual_id")
	}
	code, e := s.issue(p, individualID)
	if e != nil {
		s.renderLogin(w, http.StatusOK, p, e.Code+": "+e.Description)
		return
	}
	s.mu.Lock()
	delete(s.pending, p.id)
	s.mu.Unlock()
	// eSignet's UI appends "?state=…&code=…&iss=…" to the redirect URI
	// as-is (a registered URI with its own query gets a second "?").
	q := url.Values{}
	if p.req.State != "" {
		q.Set("state", p.req.State)
	}
	q.Set("code", code)
	q.Set("iss", s.issuerFor(r))
	http.Redirect(w, r, p.req.RedirectURI+"?"+encodeOrdered(q, "state", "code", "iss"), http.StatusFound)
}

func orNull(s string) string {
	if s == "" {
		return "null"
	}
	return s
}

// encodeOrdered encodes q with keys in the given order (as the UI builds it).
func encodeOrdered(q url.Values, keys ...string) string {
	var parts []string
	for _, k := range keys {
		if v, ok := q[k]; ok && len(v) > 0 {
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v[0]))
		}
	}
	return strings.Join(parts, "&")
}

// validURL is Apache UrlValidator(ALLOW_ALL_SCHEMES | ALLOW_LOCAL_URLS) in
// spirit: a scheme and an authority, no spaces.
func validURL(u string) bool {
	if u == "" || strings.ContainsAny(u, " \t\r\n") {
		return false
	}
	p, err := url.Parse(u)
	return err == nil && p.Scheme != "" && p.Host != ""
}

// redirectAllowed reports whether requested matches one of the registered
// redirect URIs with Spring's AntPathMatcher, as eSignet's
// IdentityProviderUtil.validateRedirectURI does.
func redirectAllowed(registered []string, requested string) bool {
	for _, pattern := range registered {
		if validURL(pattern) && antMatch(pattern, requested) {
			return true
		}
	}
	return false
}

// antMatch is AntPathMatcher.match with "/" as separator: empty segments
// are ignored, "**" spans segments, "*" and "?" work within one, and a
// trailing "/" must agree unless the pattern ends in a wildcard.
func antMatch(pattern, path string) bool {
	if strings.HasPrefix(pattern, "/") != strings.HasPrefix(path, "/") {
		return false
	}
	pd, qd := segments(pattern), segments(path)
	if !matchSegs(pd, qd) {
		return false
	}
	if len(pd) > 0 && (pd[len(pd)-1] == "**" || pd[len(pd)-1] == "*") {
		return true
	}
	return strings.HasSuffix(pattern, "/") == strings.HasSuffix(path, "/")
}

func segments(s string) []string {
	var out []string
	for _, p := range strings.Split(s, "/") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

func matchSegs(pd, qd []string) bool {
	if len(pd) == 0 {
		return len(qd) == 0
	}
	if pd[0] == "**" {
		for i := 0; i <= len(qd); i++ {
			if matchSegs(pd[1:], qd[i:]) {
				return true
			}
		}
		return false
	}
	if len(qd) == 0 || !globMatch(pd[0], qd[0]) {
		return false
	}
	return matchSegs(pd[1:], qd[1:])
}

// globMatch matches one segment against a pattern with "*" and "?".
func globMatch(p, s string) bool {
	pr, sr := []rune(p), []rune(s)
	// Classic two-pointer wildcard matching with backtracking to the last star.
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(sr) {
		switch {
		case pi < len(pr) && (pr[pi] == '?' || pr[pi] == sr[si]):
			pi++
			si++
		case pi < len(pr) && pr[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pr) && pr[pi] == '*' {
		pi++
	}
	return pi == len(pr)
}

// The page.

type pageIdentity struct {
	Value, Name, Masked, Note string
}

type pageData struct {
	Title       string
	Error       *Error
	Message     string
	ClientName  string
	Transaction string
	Claims      []string
	Locales     string
	Identities  []pageIdentity
	Action      string
}

// maxListed bounds the identities listed on the page.
const maxListed = 200

func (s *Server) renderLogin(w http.ResponseWriter, status int, p *pendingAuth, message string) {
	ids := s.reg.All()
	sort.Slice(ids, func(i, j int) bool { return ids[i].UIN < ids[j].UIN })
	if len(ids) > maxListed {
		ids = ids[:maxListed]
	}
	d := pageData{Title: "Log in with your National ID", Message: message, ClientName: p.client.Name,
		Transaction: p.id, Claims: p.claims, Locales: strings.Join(p.locales, ", "), Action: s.prefix + AuthorizePath}
	for _, id := range ids {
		pi := pageIdentity{Value: id.UIN, Name: displayName(id), Masked: mask(id.UIN)}
		if id.Deceased {
			pi.Note = "deactivated"
		}
		d.Identities = append(d.Identities, pi)
	}
	render(w, status, d)
}

func (s *Server) renderError(w http.ResponseWriter, e *Error) {
	s.log.Info("esignet: authorize refused", "error", e.Code, "description", e.Description)
	render(w, http.StatusBadRequest, pageData{Title: "Request refused", Error: e})
}

func render(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	if err := pageTemplate.Execute(w, d); err != nil {
		fmt.Fprintf(w, "<p>template error</p>")
	}
}

func displayName(id mosip.Identity) string {
	if id.FullName != "" {
		return id.FullName
	}
	return strings.TrimSpace(id.FirstName + " " + id.FamilyName)
}

// mask shows only the last four digits, as eSignet's UI masks identifiers.
func mask(v string) string {
	if len(v) <= 4 {
		return v
	}
	return strings.Repeat("•", len(v)-4) + v[len(v)-4:]
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>eSignet sandbox — {{.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f5f9;color:#1d2433;margin:0}
main{max-width:34rem;margin:3rem auto;background:#fff;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08);padding:2rem}
h1{font-size:1.3rem;margin:0 0 .3rem}.sub{color:#5b6478;margin:0 0 1.2rem}
.err{background:#fdecec;border:1px solid #f3b4b4;color:#8a1c1c;border-radius:8px;padding:.8rem 1rem;margin-bottom:1rem}
code{font-family:ui-monospace,monospace}
ul.ids{list-style:none;padding:0;margin:0 0 1rem;max-height:20rem;overflow:auto;border:1px solid #e3e7ef;border-radius:8px}
ul.ids li{border-bottom:1px solid #eef1f6}ul.ids li:last-child{border-bottom:0}
ul.ids label{display:flex;gap:.7rem;align-items:center;padding:.6rem .8rem;cursor:pointer}
.uin{color:#5b6478;font-family:ui-monospace,monospace;margin-left:auto}.note{color:#a14d00;font-size:.85rem}
input[type=text]{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #c9d0dd;border-radius:8px;font-size:1rem}
.claims{font-size:.9rem;color:#5b6478}.row{display:flex;gap:.7rem;margin-top:1.2rem}
button{flex:1;padding:.7rem;border-radius:8px;border:0;font-size:1rem;cursor:pointer}
.primary{background:#0b5cab;color:#fff}.secondary{background:#e8ecf3;color:#1d2433}
</style></head><body><main>
{{if .Error}}
<h1>{{.Title}}</h1>
<div class="err" role="alert"><code>{{.Error.Code}}</code><br>{{.Error.Description}}</div>
<p class="sub">The application sent an authorization request eSignet cannot accept. You were not redirected.</p>
{{else}}
<h1>{{.Title}}</h1>
<p class="sub"><strong>{{.ClientName}}</strong> wants to verify your identity.</p>
{{if .Message}}<div class="err" role="alert">{{.Message}}</div>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="transaction_id" value="{{.Transaction}}">
<ul class="ids">
{{range $i, $id := .Identities}}<li><label><input type="radio" name="individual_id" value="{{$id.Value}}"{{if eq $i 0}} checked{{end}}>
<span>{{$id.Name}}{{if $id.Note}} <span class="note">({{$id.Note}})</span>{{end}}</span><span class="uin">{{$id.Masked}}</span></label></li>
{{end}}</ul>
<label for="typed_id">Or type a UIN or VID</label>
<input type="text" id="typed_id" name="typed_id" autocomplete="off" inputmode="numeric">
<p class="claims">Shared with the application: {{range $i, $c := .Claims}}{{if $i}}, {{end}}<code>{{$c}}</code>{{else}}only a pseudonymous identifier{{end}}{{if .Locales}} (languages: {{.Locales}}){{end}}.</p>
<div class="row"><button class="secondary" type="submit" name="action" value="cancel">Cancel</button>
<button class="primary" type="submit" name="action" value="login">Log in</button></div>
</form>
{{end}}
</main></body></html>
`))
