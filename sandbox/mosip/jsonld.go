package mosip

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"

	"github.com/piprate/json-gold/ld"
)

// JSON-LD context URLs the credential service resolves offline.
const (
	// CredentialsV1ContextURL is the W3C VC data model v1 context.
	CredentialsV1ContextURL = "https://www.w3.org/2018/credentials/v1"
	// SecurityV1ContextURL is the W3C CCG security vocabulary v1 context.
	SecurityV1ContextURL = "https://w3id.org/security/v1"
	// SecurityV2ContextURL is the security vocabulary v2 context; LD proof
	// options are canonicalized under it.
	SecurityV2ContextURL = "https://w3id.org/security/v2"
	// ODRLContextURL is imported by MOSIP's mosip-context.json. It is not
	// bundled (see CredentialOptions.Contexts).
	ODRLContextURL = "https://www.w3.org/ns/odrl.jsonld"
)

// The contexts are public W3C/MOSIP data, bundled so that canonicalization
// never touches the network: a verifier that fetched @context URLs would be
// open to SSRF and to a context swapped under its feet.
var (
	//go:embed data/jsonld/credentials-v1.jsonld
	ldCredentialsV1 []byte
	//go:embed data/jsonld/security-v1.jsonld
	ldSecurityV1 []byte
	//go:embed data/jsonld/security-v2.jsonld
	ldSecurityV2 []byte
	//go:embed data/jsonld/mosip-context.template.jsonld
	ldMOSIPTemplate []byte
)

// ldHostPlaceholder is what mosip-config leaves for each deployment to fill.
const ldHostPlaceholder = "${mosip.api.public.host}"

// ldMOSIPContext builds the deployment's mosip-context.json from MOSIP's
// template: the placeholder becomes the host of publicBaseURL (the template
// keeps its own https scheme for vocabulary IRIs, as deployments do), the
// ODRL import is dropped unless keepODRL (the sandbox cannot sign with a
// context it does not have), and extra terms are added to the last inline
// context object.
func ldMOSIPContext(publicBaseURL string, keepODRL bool, terms map[string]string) ([]byte, error) {
	u, err := url.Parse(publicBaseURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("mosip: public base URL %q has no host", publicBaseURL)
	}
	filled := bytes.ReplaceAll(ldMOSIPTemplate, []byte(ldHostPlaceholder), []byte(u.Host))
	var doc map[string]any
	if err := json.Unmarshal(filled, &doc); err != nil {
		return nil, fmt.Errorf("mosip: embedded mosip-context template: %w", err)
	}
	ctx, ok := doc["@context"].([]any)
	if !ok {
		return nil, errors.New("mosip: embedded mosip-context template: @context is not an array")
	}
	if !keepODRL {
		ctx = slices.DeleteFunc(ctx, func(v any) bool { return v == ODRLContextURL })
	}
	if len(terms) > 0 {
		last, ok := ctx[len(ctx)-1].(map[string]any)
		if !ok {
			return nil, errors.New("mosip: embedded mosip-context template: last @context entry is not an object")
		}
		for k, v := range terms {
			last[k] = v
		}
	}
	doc["@context"] = ctx
	return json.MarshalIndent(doc, "", "  ")
}

// ldLoader is an offline json-gold DocumentLoader: it answers only for the
// exact context URLs it was given and fails for anything else, so an
// unexpected @context is an error instead of a network fetch.
type ldLoader struct {
	docs map[string][]byte
}

// newLDLoader serves the bundled W3C contexts, the deployment's MOSIP
// context at mosipContextURL and any extra documents by URL.
func newLDLoader(mosipContextURL string, mosipContext []byte, extra map[string][]byte) *ldLoader {
	l := &ldLoader{docs: map[string][]byte{
		CredentialsV1ContextURL: ldCredentialsV1,
		SecurityV1ContextURL:    ldSecurityV1,
		SecurityV2ContextURL:    ldSecurityV2,
		mosipContextURL:         mosipContext,
	}}
	for u, d := range extra {
		l.docs[u] = d
	}
	return l
}

// LoadDocument implements ld.DocumentLoader. Each call parses a fresh copy
// so json-gold can never alter the pinned bytes.
func (l *ldLoader) LoadDocument(u string) (*ld.RemoteDocument, error) {
	raw, ok := l.docs[u]
	if !ok {
		return nil, ld.NewJsonLdError(ld.LoadingDocumentFailed, fmt.Sprintf("context %q is not pinned (offline loader)", u))
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, ld.NewJsonLdError(ld.LoadingDocumentFailed, fmt.Sprintf("context %q: %v", u, err))
	}
	return &ld.RemoteDocument{DocumentURL: u, Document: doc}, nil
}

// ldNQuads returns the URDNA2015 canonical N-Quads of doc (decoded JSON)
// as MOSIP's Java stack computes them. ld-signatures-java (credential
// service 0.8.0, vc-verifier 1.5.0) runs on Titanium, which follows JSON-LD
// 1.1 toRdf and emits no statement whose subject, predicate, object or
// @type is a relative IRI. json-gold keeps relative objects: an undefined
// type such as "MOSIPVerifiableCredential" would become
// "<...> rdf:type <MOSIPVerifiableCredential>" and change the hash. So the
// dataset is filtered before normalization; a verifier that feeds json-gold
// straight into URDNA2015 fails on real MOSIP credentials, and on these.
func ldNQuads(doc any, loader ld.DocumentLoader) (string, error) {
	opts := ld.NewJsonLdOptions("")
	opts.ProcessingMode = ld.JsonLd_1_1
	opts.Algorithm = ld.AlgorithmURDNA2015
	opts.DocumentLoader = loader
	out, err := ld.NewJsonLdProcessor().ToRDF(doc, opts)
	if err != nil {
		return "", fmt.Errorf("mosip: URDNA2015: %w", err)
	}
	ds, ok := out.(*ld.RDFDataset)
	if !ok {
		return "", fmt.Errorf("mosip: URDNA2015: unexpected dataset %T", out)
	}
	for g, quads := range ds.Graphs {
		ds.Graphs[g] = slices.DeleteFunc(quads, func(q *ld.Quad) bool {
			return ldRelative(q.Subject) || ldRelative(q.Predicate) || ldRelative(q.Object)
		})
	}
	opts.Format = "application/n-quads"
	res, err := ld.NewJsonLdApi().Normalize(ds, opts)
	if err != nil {
		return "", fmt.Errorf("mosip: URDNA2015: %w", err)
	}
	nq, ok := res.(string)
	if !ok {
		return "", fmt.Errorf("mosip: URDNA2015: unexpected result %T", res)
	}
	return nq, nil
}

// ldRelative reports whether n is an IRI without a scheme.
func ldRelative(n ld.Node) bool {
	iri, ok := n.(ld.IRI)
	if !ok {
		return false
	}
	u, err := url.Parse(iri.Value)
	return err != nil || u.Scheme == ""
}

// ldJCS serialises decoded JSON (the types encoding/json produces) as the
// RFC 8785 JSON Canonicalization Scheme: object members sorted by UTF-16
// code units, ECMAScript string escaping and number formatting, no
// whitespace.
func ldJCS(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := ldJCSWrite(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func ldJCSWrite(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case string:
		ldJCSString(b, x)
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return fmt.Errorf("mosip: JCS: number %q: %w", x, err)
		}
		s, err := ldES6Number(f)
		if err != nil {
			return err
		}
		b.WriteString(s)
	case float64:
		s, err := ldES6Number(x)
		if err != nil {
			return err
		}
		b.WriteString(s)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := ldJCSWrite(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return ldUTF16Less(keys[i], keys[j]) })
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			ldJCSString(b, k)
			b.WriteByte(':')
			if err := ldJCSWrite(b, x[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("mosip: JCS: unsupported type %T", v)
	}
	return nil
}

// ldUTF16Less orders strings by UTF-16 code units, as RFC 8785 §3.2.3
// requires (differs from Go's byte order above the BMP).
func ldUTF16Less(a, b string) bool {
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			return ua[i] < ub[i]
		}
	}
	return len(ua) < len(ub)
}

// ldJCSString escapes like ECMAScript JSON.stringify: only '"', '\\' and
// control characters; everything else, including U+2028/2029 and HTML
// characters, stays literal.
func ldJCSString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hex[r>>4])
				b.WriteByte(hex[r&0xf])
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
}

// ldES6Number formats f like ECMAScript Number.prototype.toString: the
// shortest round-tripping digits, fixed notation for exponents in
// [-7, 21), exponential ("1e+21", "1.5e-7") otherwise.
func ldES6Number(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", errors.New("mosip: JCS: NaN and Infinity are not JSON")
	}
	if f == 0 {
		return "0", nil // also -0
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, expStr, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, err := strconv.Atoi(expStr)
	if err != nil {
		return "", fmt.Errorf("mosip: JCS: %w", err)
	}
	k, n := len(digits), exp+1 // n: position of the decimal point
	var s string
	switch {
	case k <= n && n <= 21:
		s = digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		s = digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		s = "0." + strings.Repeat("0", -n) + digits
	default:
		es := "+"
		if n-1 < 0 {
			es = "-"
		}
		abs := n - 1
		if abs < 0 {
			abs = -abs
		}
		if k == 1 {
			s = digits + "e" + es + strconv.Itoa(abs)
		} else {
			s = digits[:1] + "." + digits[1:] + "e" + es + strconv.Itoa(abs)
		}
	}
	return sign + s, nil
}
