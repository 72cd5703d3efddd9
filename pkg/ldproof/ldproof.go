// Package ldproof canonicalizes verifiable credentials the way MOSIP signs
// them: URDNA2015 over JSON-LD with every context loaded offline, and RFC
// 8785 JCS. The sandbox signs with it and the notification service
// verifies with it; the W3C contexts MOSIP credentials name are bundled.
package ldproof

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"

	"github.com/piprate/json-gold/ld"
)

// Context URLs of the bundled contexts.
const (
	// CredentialsV1ContextURL is the W3C VC data model v1 context.
	CredentialsV1ContextURL = "https://www.w3.org/2018/credentials/v1"
	// SecurityV1ContextURL is the W3C CCG security vocabulary v1 context.
	SecurityV1ContextURL = "https://w3id.org/security/v1"
	// SecurityV2ContextURL is the security vocabulary v2 context; LD proof
	// options are canonicalized under it.
	SecurityV2ContextURL = "https://w3id.org/security/v2"
	// ODRLContextURL is imported by MOSIP's mosip-context.json. It is not
	// bundled: deployments supply it with their MOSIP context.
	ODRLContextURL = "https://www.w3.org/ns/odrl.jsonld"
)

//go:embed contexts/*.jsonld
var contextFS embed.FS

var bundledFiles = map[string]string{
	CredentialsV1ContextURL: "contexts/credentials-v1.jsonld",
	SecurityV1ContextURL:    "contexts/security-v1.jsonld",
	SecurityV2ContextURL:    "contexts/security-v2.jsonld",
}

// bundled holds the bundled contexts, read once.
var bundled = sync.OnceValue(func() map[string][]byte {
	out := make(map[string][]byte, len(bundledFiles))
	for u, f := range bundledFiles {
		b, err := contextFS.ReadFile(f)
		if err != nil {
			panic("ldproof: bundled context missing: " + f) // build defect
		}
		out[u] = b
	}
	return out
})

// Bundled returns the bundled context documents by URL. The map is the
// caller's; the documents are shared and must not be modified.
func Bundled() map[string][]byte { return maps.Clone(bundled()) }

// Loader is an offline json-gold DocumentLoader: it answers only for the
// exact URLs it holds and fails for anything else, so an unexpected
// @context is an error instead of a network fetch (SSRF, or a context
// swapped under a verifier's feet).
//
// It also remembers processed contexts: every credential MOSIP issues names
// the same @context, and processing it (loading and parsing each document,
// building every term definition) is most of the cost of canonicalizing a
// credential. A Loader is safe for concurrent use; its documents never
// change, so neither do the contexts processed from them.
type Loader struct {
	docs map[string][]byte

	mu     sync.RWMutex
	active map[string]*ld.Context
}

// maxActiveContexts bounds the processed contexts a Loader keeps. The
// @context of a credential is the issuer's choice (inline objects
// included), so the cache must not grow with what arrives; a deployment
// sees one or two.
const maxActiveContexts = 32

// NewLoader serves the bundled contexts plus docs (by URL; an entry for a
// bundled URL replaces it).
func NewLoader(docs map[string][]byte) *Loader {
	l := &Loader{docs: Bundled(), active: map[string]*ld.Context{}}
	for u, d := range docs {
		l.docs[u] = d
	}
	return l
}

// activeContext returns the active context that processing local (the
// value of a document's top-level @context) yields from an empty one,
// processed once per distinct value.
func (l *Loader) activeContext(local any, opts *ld.JsonLdOptions) (*ld.Context, error) {
	k, err := json.Marshal(local)
	if err != nil {
		return nil, err
	}
	key := string(k)
	l.mu.RLock()
	c, ok := l.active[key]
	l.mu.RUnlock()
	if ok {
		return c, nil
	}
	// The processed context keeps opts (its loader, processing mode and
	// empty base, the same for every document); json-gold only reads it.
	c, err = ld.NewContext(nil, opts).Parse(local)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	if len(l.active) < maxActiveContexts {
		l.active[key] = c
	}
	l.mu.Unlock()
	return c, nil
}

// Has reports whether the loader holds url.
func (l *Loader) Has(u string) bool {
	_, ok := l.docs[u]
	return ok
}

// LoadDocument implements ld.DocumentLoader. Each call parses a fresh copy
// so json-gold can never alter the pinned bytes.
func (l *Loader) LoadDocument(u string) (*ld.RemoteDocument, error) {
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

// ProofPayload is what an RsaSignature2018 proof's detached PS256 JWS
// signs, given the credential without "proof" and the proof options
// without "jws" (both decoded JSON): for URDNA2015,
// SHA-256(canonical proof options under the security v2 context) ‖
// SHA-256(canonical credential), as ld-signatures-java computes it; for
// JCS, the JCS serialisation of the credential.
func ProofPayload(jcs bool, credential map[string]any, proofOptions map[string]any, loader ld.DocumentLoader) ([]byte, error) {
	if jcs {
		return JCS(credential)
	}
	opts := make(map[string]any, len(proofOptions)+1)
	for k, v := range proofOptions {
		opts[k] = v
	}
	opts["@context"] = SecurityV2ContextURL
	proofNQ, err := NQuads(opts, loader)
	if err != nil {
		return nil, err
	}
	docNQ, err := NQuads(credential, loader)
	if err != nil {
		return nil, err
	}
	ph, dh := sha256Sum([]byte(proofNQ)), sha256Sum([]byte(docNQ))
	return append(ph, dh...), nil
}

// NQuads returns the URDNA2015 canonical N-Quads of doc (decoded JSON)
// as MOSIP's Java stack computes them. ld-signatures-java (credential
// service 0.8.0, vc-verifier 1.5.0) runs on Titanium, which follows JSON-LD
// 1.1 toRdf and emits no statement whose subject, predicate, object or
// @type is a relative IRI. json-gold keeps relative objects: an undefined
// type such as "MOSIPVerifiableCredential" would become
// "<...> rdf:type <MOSIPVerifiableCredential>" and change the hash. So the
// dataset is filtered before normalization; a verifier that feeds json-gold
// straight into URDNA2015 fails on real MOSIP credentials, and on these.
func NQuads(doc any, loader ld.DocumentLoader) (string, error) {
	return nquads(doc, loader, true)
}

// nquads is NQuads; fast=false leaves the whole of toRdf to json-gold
// (the tests compare the two).
func nquads(doc any, loader ld.DocumentLoader, fast bool) (string, error) {
	opts := ld.NewJsonLdOptions("")
	opts.ProcessingMode = ld.JsonLd_1_1
	opts.Algorithm = ld.AlgorithmURDNA2015
	opts.DocumentLoader = loader
	// A top-level @context processed earlier by the same Loader goes in
	// processed: json-gold takes a *ld.Context in place of the context it
	// was processed from, and the result is the same active context.
	if l, ok := loader.(*Loader); ok && fast {
		if m, ok := doc.(map[string]any); ok {
			if local, ok := m["@context"]; ok {
				active, err := l.activeContext(local, contextOptions(l))
				if err != nil {
					return "", fmt.Errorf("URDNA2015: %w", err)
				}
				withActive := make(map[string]any, len(m))
				for k, v := range m {
					withActive[k] = v
				}
				// json-gold writes to the context it is handed (its
				// processing mode, even when unchanged): each document
				// gets its own shallow copy; the term definitions, which
				// nothing changes once built, stay shared.
				withActive["@context"] = ld.CopyContext(active)
				doc = withActive
			}
		}
	}
	var dataset *ld.RDFDataset
	err := errSlowPath
	if fast {
		dataset, err = toDataset(doc, opts)
	}
	if errors.Is(err, errSlowPath) {
		var out any
		if out, err = ld.NewJsonLdProcessor().ToRDF(doc, opts); err == nil {
			var ok bool
			if dataset, ok = out.(*ld.RDFDataset); !ok {
				return "", fmt.Errorf("URDNA2015: unexpected dataset %T", out)
			}
		}
	}
	if err != nil {
		return "", fmt.Errorf("URDNA2015: %w", err)
	}
	for g, quads := range dataset.Graphs {
		dataset.Graphs[g] = slices.DeleteFunc(quads, func(q *ld.Quad) bool {
			return relative(q.Subject) || relative(q.Predicate) || relative(q.Object)
		})
	}
	opts.Format = "application/n-quads"
	res, err := ld.NewJsonLdApi().Normalize(dataset, opts)
	if err != nil {
		return "", fmt.Errorf("URDNA2015: %w", err)
	}
	nq, ok := res.(string)
	if !ok {
		return "", fmt.Errorf("URDNA2015: unexpected result %T", res)
	}
	return nq, nil
}

// contextOptions are the options contexts are processed with: those NQuads
// uses, minus what only matters after expansion.
func contextOptions(l *Loader) *ld.JsonLdOptions {
	opts := ld.NewJsonLdOptions("")
	opts.ProcessingMode = ld.JsonLd_1_1
	opts.DocumentLoader = l
	return opts
}

// relative reports whether n is an IRI without a scheme.
func relative(n ld.Node) bool {
	iri, ok := n.(ld.IRI)
	if !ok {
		return false
	}
	u, err := url.Parse(iri.Value)
	return err != nil || u.Scheme == ""
}

// JCS serialises decoded JSON (the types encoding/json produces) as the
// RFC 8785 JSON Canonicalization Scheme: object members sorted by UTF-16
// code units, ECMAScript string escaping and number formatting, no
// whitespace.
func JCS(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := jcsWrite(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func jcsWrite(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case string:
		jcsString(b, x)
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return fmt.Errorf("JCS: number %q: %w", x, err)
		}
		s, err := es6Number(f)
		if err != nil {
			return err
		}
		b.WriteString(s)
	case float64:
		s, err := es6Number(x)
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
			if err := jcsWrite(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return utf16Less(keys[i], keys[j]) })
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			jcsString(b, k)
			b.WriteByte(':')
			if err := jcsWrite(b, x[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("JCS: unsupported type %T", v)
	}
	return nil
}

// utf16Less orders strings by UTF-16 code units, as RFC 8785 §3.2.3
// requires (differs from Go's byte order above the BMP).
func utf16Less(a, b string) bool {
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	for i := 0; i < len(ua) && i < len(ub); i++ {
		if ua[i] != ub[i] {
			return ua[i] < ub[i]
		}
	}
	return len(ua) < len(ub)
}

// jcsString escapes like ECMAScript JSON.stringify: only '"', '\\' and
// control characters; everything else, including U+2028/2029 and HTML
// characters, stays literal.
func jcsString(b *bytes.Buffer, s string) {
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

// es6Number formats f like ECMAScript Number.prototype.toString: the
// shortest round-tripping digits, fixed notation for exponents in
// [-7, 21), exponential ("1e+21", "1.5e-7") otherwise.
func es6Number(f float64) (string, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", errors.New("JCS: NaN and Infinity are not JSON")
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
		return "", fmt.Errorf("JCS: %w", err)
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

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
