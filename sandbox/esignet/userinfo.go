package esignet

// Userinfo: the KYC claims IDA released at token time, as a JWS (signed by
// eSignet's key, or by the UserinfoSigner standing in for IDA's
// KYC-exchange key), wrapped in a JWE for clients that asked for one.
// Claims follow IDA's KycServiceImpl: sub is the partner-specific user
// token; language-dependent attributes get a "#<lang>" suffix when more
// than one consented language has data; birthdate is the stored
// yyyy/MM/dd; there is no given_name/family_name.

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/mosipcrvs/bridge/sandbox/mosip"
)

func (s *Server) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	// eSignet reads the header with @RequestHeader("Authorization"), splits
	// it on " " and takes the second part: the scheme is never checked,
	// and a value without a space fails as an unhandled exception.
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		s.unauthorized(w, "missing_header")
		return
	}
	parts := strings.Split(vals[0], " ")
	if len(parts) < 2 {
		s.unauthorized(w, "unknown_error")
		return
	}
	token := strings.TrimSpace(parts[1])
	now := s.now()
	s.mu.Lock()
	g, ok := s.sessions[hashKey(token)]
	if ok && now.After(g.expires) {
		delete(s.sessions, hashKey(token))
		ok = false
	}
	s.mu.Unlock()
	if !ok || !s.validAccessToken(token, g) {
		s.unauthorized(w, "invalid_token")
		return
	}
	body := g.kyc
	c, _ := s.client(g.client.ClientID)
	if c.ClientID == "" {
		c = g.client
	}
	if c.UserinfoJWE {
		enc, err := encryptJWE(body, c)
		if err != nil {
			s.log.Error("esignet: userinfo encryption failed", "client", c.ClientID, "err", err)
			s.unauthorized(w, "unknown_error")
			return
		}
		body = enc
	}
	w.Header().Set("Content-Type", "application/jwt")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(body))
}

// unauthorized answers like eSignet's handleExceptionWithHeader: 401, no
// body, WWW-Authenticate: error="<code>" (no auth scheme).
func (s *Server) unauthorized(w http.ResponseWriter, code string) {
	w.Header().Set("WWW-Authenticate", `error="`+code+`"`)
	w.WriteHeader(http.StatusUnauthorized)
}

// validAccessToken re-verifies the token as eSignet's verifyAccessToken
// does: signature, then aud = client, sub = PSUT, exp.
func (s *Server) validAccessToken(token string, g *grant) bool {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return &s.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(s.now), jwt.WithExpirationRequired(),
		jwt.WithAudience(g.client.ClientID), jwt.WithSubject(g.psut))
	return err == nil
}

// encryptJWE wraps the JWS for the client (RSA-OAEP-256, A256GCM), the
// nested-JWT way: cty "JWT".
func encryptJWE(jws string, c Client) (string, error) {
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.RSA_OAEP_256, Key: c.ClientEncryptionKey},
		(&jose.EncrypterOptions{}).WithContentType("JWT"))
	if err != nil {
		return "", err
	}
	obj, err := enc.Encrypt([]byte(jws))
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// signUserinfo signs the KYC claims: with UserinfoSigner like IDA's
// signWithPayload (certificate in x5c, standard base64 DER), otherwise with
// eSignet's own key as it does for ID systems that return plain JSON.
func (s *Server) signUserinfo(claims map[string]any) (string, error) {
	if s.uiSigner == nil {
		return s.sign(jwt.MapClaims(claims))
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
	delete(t.Header, "typ")
	t.Header["kid"] = s.uiKid
	t.Header["x5c"] = []string{base64.StdEncoding.EncodeToString(s.uiSigner.DER)}
	return t.SignedString(s.uiSigner.Key)
}

// langValue is one value of an identity attribute, in a language or not.
type langValue struct{ lang, value string }

// fieldValues reads a stored packet field: a JSON list of
// {"language","value"} or a plain string.
func fieldValues(id mosip.Identity, attr string) []langValue {
	raw, ok := id.Fields[attr]
	if !ok || strings.TrimSpace(raw) == "" {
		return nil
	}
	var list []struct {
		Language string `json:"language"`
		Value    string `json:"value"`
	}
	if json.Unmarshal([]byte(raw), &list) == nil {
		var out []langValue
		for _, v := range list {
			if v.Value != "" {
				out = append(out, langValue{normLocale(v.Language), v.Value})
			}
		}
		return out
	}
	var str string
	if json.Unmarshal([]byte(raw), &str) == nil {
		raw = str
	}
	return []langValue{{"", raw}}
}

// everyLocale treats a summary value as held in every configured language:
// the seed identities carry one name, which the sandbox releases in each.
func (s *Server) everyLocale(v string) []langValue {
	if v == "" {
		return nil
	}
	out := make([]langValue, 0, len(s.locales))
	for _, l := range s.locales {
		out = append(out, langValue{l, v})
	}
	return out
}

func (s *Server) nameValues(id mosip.Identity) []langValue {
	if v := fieldValues(id, "fullName"); len(v) > 0 {
		return v
	}
	return s.everyLocale(displayName(id))
}

func (s *Server) genderValues(id mosip.Identity) []langValue {
	if v := fieldValues(id, "gender"); len(v) > 0 {
		return v
	}
	// MOSIP's gender master data is "Male"/"Female"; clients lower-case it.
	return s.everyLocale(upperFirst(id.Gender))
}

func upperFirst(v string) string {
	r, n := utf8.DecodeRuneInString(v)
	if n == 0 {
		return v
	}
	return string(unicode.ToUpper(r)) + v[n:]
}

func plainValue(id mosip.Identity, summary, attr string) string {
	if summary != "" {
		return summary
	}
	for _, v := range fieldValues(id, attr) {
		return v.value
	}
	return ""
}

// kycClaims builds IDA's KYC-exchange claims for a grant.
func (s *Server) kycClaims(g *grant, id mosip.Identity) map[string]any {
	m := map[string]any{"sub": g.psut}
	for _, cl := range g.claims {
		switch cl {
		case "individual_id":
			m[cl] = g.individualID
		case "name":
			putLang(m, cl, s.nameValues(id), g.locales)
		case "gender":
			putLang(m, cl, s.genderValues(id), g.locales)
		case "birthdate":
			putPlain(m, cl, plainValue(id, id.DateOfBirth, "dateOfBirth"))
		case "email":
			putPlain(m, cl, plainValue(id, id.Email, "email"))
		case "phone_number":
			putPlain(m, cl, plainValue(id, id.Phone, "phone"))
		case "address":
			putAddress(m, id, g.locales)
		}
		// picture: the sandbox holds no face biometrics, and IDA leaves the
		// claim out when there is none.
	}
	return m
}

func putPlain(m map[string]any, claim, v string) {
	if v != "" {
		m[claim] = v
	}
}

// putLang is IDA's addEntityForLangCodes for a single-attribute claim: one
// consented language with data → plain claim; several → claim#lang each;
// none → plain claim with the first stored value.
func putLang(m map[string]any, claim string, vals []langValue, locales []string) {
	if len(vals) == 0 {
		return
	}
	var avail []string
	for _, l := range locales {
		for _, v := range vals {
			if v.lang == l && !contains(avail, l) {
				avail = append(avail, l)
			}
		}
	}
	valueIn := func(l string) string {
		for _, v := range vals {
			if v.lang == l {
				return v.value
			}
		}
		return ""
	}
	switch len(avail) {
	case 0:
		m[claim] = vals[0].value
	case 1:
		m[claim] = valueIn(avail[0])
	default:
		for _, l := range avail {
			m[claim+"#"+l] = valueIn(l)
		}
	}
}

// addressSubset is mosip.ida.idp.consented.address.subset.attributes with
// the identity fields each is made of (MOSIP's default ID schema).
var addressSubset = []struct {
	claim string
	attrs []string
}{
	{"street_address", []string{"addressLine1", "addressLine2", "addressLine3"}},
	{"locality", []string{"city"}},
	{"region", []string{"region"}},
	{"postal_code", []string{"postalCode"}},
}

// putAddress is IDA's addAddressClaim: an object of the subset attributes;
// with several consented languages one address#lang object per language
// whose member names carry the suffix too.
func putAddress(m map[string]any, id mosip.Identity, locales []string) {
	build := func(l, suffix string) map[string]string {
		addr := map[string]string{}
		for _, sub := range addressSubset {
			var parts []string
			for _, a := range sub.attrs {
				for _, v := range fieldValues(id, a) {
					if v.lang == l || v.lang == "" {
						parts = append(parts, v.value)
						break
					}
				}
			}
			if len(parts) > 0 {
				addr[sub.claim+suffix] = strings.Join(parts, " ")
			}
		}
		return addr
	}
	if len(locales) > 1 {
		for _, l := range locales {
			if addr := build(l, "#"+l); len(addr) > 0 {
				m["address#"+l] = addr
			}
		}
		return
	}
	if addr := build(locales[0], ""); len(addr) > 0 {
		m["address"] = addr
	}
}
