package esignet

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Name shapes of the OpenCRVS form's name field.
const (
	// NameShape20 is OpenCRVS 2.0's {firstname, surname}, with middlename
	// only when the name has one.
	NameShape20 = "2.0"
	// NameShape19 is OpenCRVS 1.9's {firstname, middlename, surname}, all
	// three always present.
	NameShape19 = "1.9"
)

// FieldMapping copies a userinfo claim into the form data: Claim is a
// claim name ("phone_number", or "address.locality" into an object claim;
// language variants name#eng are found like the built-in claims) and Field
// is a dotted path in the answer ("informant.phone").
type FieldMapping struct {
	Claim string
	Field string
}

// ParseFieldMappings reads ESIGNET_CLAIM_MAPPING entries "claim:field".
func ParseFieldMappings(entries []string) ([]FieldMapping, error) {
	var out []FieldMapping
	var errs []error
	for _, e := range entries {
		claim, field, ok := strings.Cut(e, ":")
		claim, field = strings.TrimSpace(claim), strings.TrimSpace(field)
		switch {
		case !ok || claim == "" || field == "":
			errs = append(errs, fmt.Errorf("%q is not claim:field", e))
			continue
		case !validPath(claim) || !validPath(field):
			errs = append(errs, fmt.Errorf("%q: claim and field are dot-separated names without empty parts", e))
			continue
		}
		if root, _, _ := strings.Cut(field, "."); root == "sub" || root == "verificationStatus" {
			errs = append(errs, fmt.Errorf("%q: %s is set by the service and cannot be mapped", e, root))
			continue
		}
		out = append(out, FieldMapping{Claim: claim, Field: field})
	}
	return out, errors.Join(errs...)
}

func validPath(p string) bool {
	for _, s := range strings.Split(p, ".") {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			return false
		}
	}
	return true
}

// Mapping turns verified userinfo claims into what OpenCRVS forms read.
type Mapping struct {
	// Language is the claims language preferred among name#<lang>
	// variants, e.g. "eng" (IDA may also suffix its two-letter prefix).
	Language string
	// NameShape is NameShape20 or NameShape19.
	NameShape string
	// IDType is the idType answered with an individual_id ("NATIONAL_ID").
	IDType string
	// Fields are the country's extra claim → field mappings, applied last.
	Fields []FieldMapping
}

// Person is the identity the userinfo describes.
type Person struct {
	Sub                            string
	FirstName, MiddleName, Surname string
	// Gender is lower case, as OpenCRVS forms' options are.
	Gender string
	// BirthDate is yyyy-MM-dd; "" when eSignet sent none or an unreadable
	// one (HasBirthDate tells which).
	BirthDate    string
	HasBirthDate bool
	IndividualID string
}

// Person reads the identity from claims as eSignet (IDA's KYC exchange)
// sends them: name or name#<lang>, gender, birthdate yyyy/MM/dd,
// individual_id, and given_name/middle_name/family_name when a country
// maps them.
func (m Mapping) Person(claims map[string]any) Person {
	p := Person{Sub: str(claims["sub"])}
	given, family := m.text(claims, "given_name"), m.text(claims, "family_name")
	if given != "" || family != "" {
		p.FirstName, p.MiddleName, p.Surname = given, m.text(claims, "middle_name"), family
	} else {
		p.FirstName, p.MiddleName, p.Surname = splitName(m.text(claims, "name"))
	}
	p.Gender = strings.ToLower(strings.TrimSpace(m.text(claims, "gender")))
	if bd, ok := m.lookup(claims, "birthdate"); ok {
		p.HasBirthDate = true
		p.BirthDate = isoDate(str(bd))
	}
	p.IndividualID = strings.TrimSpace(m.text(claims, "individual_id"))
	return p
}

// FormData is the JSON object the OpenCRVS forms' HTTP field reads (the
// TypeScript mosip-api's answer): sub, name, gender, birthDate and
// dobUnknown (only when eSignet sent a birthdate), verificationStatus,
// idType and nid, then the mapped claims.
func (m Mapping) FormData(claims map[string]any, p Person) map[string]any {
	out := map[string]any{
		"sub":                p.Sub,
		"name":               m.name(p),
		"verificationStatus": "authenticated",
		"idType":             nil,
		"nid":                nil,
	}
	if p.Gender != "" {
		out["gender"] = p.Gender
	}
	if p.HasBirthDate {
		out["birthDate"] = p.BirthDate
		out["dobUnknown"] = nil
	}
	if p.IndividualID != "" {
		out["idType"] = m.IDType
		out["nid"] = p.IndividualID
	}
	for _, f := range m.Fields {
		v, ok := m.lookupPath(claims, f.Claim)
		if !ok {
			continue
		}
		setPath(out, f.Field, v)
	}
	return out
}

func (m Mapping) name(p Person) map[string]any {
	if m.NameShape == NameShape19 {
		return map[string]any{"firstname": p.FirstName, "middlename": p.MiddleName, "surname": p.Surname}
	}
	n := map[string]any{"firstname": p.FirstName, "surname": p.Surname}
	if p.MiddleName != "" {
		n["middlename"] = p.MiddleName
	}
	return n
}

// splitName splits a full name on white space: the first word is the
// given name, the last the surname, and what lies between middle names.
func splitName(full string) (first, middle, last string) {
	words := strings.Fields(full)
	switch len(words) {
	case 0:
		return "", "", ""
	case 1:
		return words[0], "", ""
	default:
		return words[0], strings.Join(words[1:len(words)-1], " "), words[len(words)-1]
	}
}

// isoDate turns eSignet's yyyy/MM/dd (IDA releases the stored value) into
// yyyy-MM-dd; yyyy-MM-dd is accepted as is. Anything else becomes "", as
// the TypeScript mosip-api answered.
func isoDate(s string) string {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006/01/02", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format("2006-01-02")
		}
	}
	return ""
}

// text is a claim's value as a string, in the preferred language.
func (m Mapping) text(claims map[string]any, name string) string {
	v, _ := m.lookup(claims, name)
	return str(v)
}

// lookup finds claim name: name#<lang> for the configured language (or
// its two-letter prefix, which IDA's KYC exchange uses), then plain name,
// then the first language variant in name order.
func (m Mapping) lookup(claims map[string]any, name string) (any, bool) {
	for _, l := range m.languages() {
		if v, ok := claims[name+"#"+l]; ok && v != nil {
			return v, true
		}
	}
	if v, ok := claims[name]; ok && v != nil {
		return v, true
	}
	var variants []string
	for k := range claims {
		if strings.HasPrefix(k, name+"#") {
			variants = append(variants, k)
		}
	}
	if len(variants) == 0 {
		return nil, false
	}
	slices.Sort(variants)
	return claims[variants[0]], true
}

func (m Mapping) languages() []string {
	l := strings.ToLower(strings.TrimSpace(m.Language))
	if l == "" {
		return nil
	}
	out := []string{l}
	if len(l) > 2 {
		out = append(out, l[:2])
	}
	return out
}

// lookupPath follows a dotted claim path into object claims; each object
// member may carry a language suffix too (address#eng.locality#eng).
func (m Mapping) lookupPath(claims map[string]any, path string) (any, bool) {
	parts := strings.Split(path, ".")
	var cur any = claims
	for _, p := range parts {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m.lookup(obj, p); !ok {
			return nil, false
		}
	}
	return plain(cur), true
}

// plain turns json.Number back into a JSON number value for the answer.
func plain(v any) any {
	switch x := v.(type) {
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	default:
		return v
	}
}

func setPath(out map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	cur := out
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	cur[parts[len(parts)-1]] = v
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return ""
	}
}
