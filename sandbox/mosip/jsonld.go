package mosip

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"

	"github.com/mosipcrvs/bridge/pkg/ldproof"
)

// JSON-LD context URLs the credential service resolves offline.
const (
	// CredentialsV1ContextURL is the W3C VC data model v1 context.
	CredentialsV1ContextURL = ldproof.CredentialsV1ContextURL
	// SecurityV1ContextURL is the W3C CCG security vocabulary v1 context.
	SecurityV1ContextURL = ldproof.SecurityV1ContextURL
	// SecurityV2ContextURL is the security vocabulary v2 context; LD proof
	// options are canonicalized under it.
	SecurityV2ContextURL = ldproof.SecurityV2ContextURL
	// ODRLContextURL is imported by MOSIP's mosip-context.json. It is not
	// bundled (see CredentialOptions.Contexts).
	ODRLContextURL = ldproof.ODRLContextURL
)

// The MOSIP context template is bundled so that canonicalization never
// touches the network (the W3C contexts come with pkg/ldproof).
var (
	//go:embed data/jsonld/mosip-context.template.jsonld
	ldMOSIPTemplate []byte
	ldBundled       = ldproof.Bundled()
	ldCredentialsV1 = ldBundled[CredentialsV1ContextURL]
	ldSecurityV1    = ldBundled[SecurityV1ContextURL]
	ldSecurityV2    = ldBundled[SecurityV2ContextURL]
)

// Canonicalization is shared with the bridge's verifier (pkg/ldproof).
var (
	ldNQuads = ldproof.NQuads
	ldJCS    = ldproof.JCS
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

// newLDLoader serves the bundled W3C contexts, the deployment's MOSIP
// context at mosipContextURL and any extra documents by URL.
func newLDLoader(mosipContextURL string, mosipContext []byte, extra map[string][]byte) *ldproof.Loader {
	docs := map[string][]byte{mosipContextURL: mosipContext}
	for u, d := range extra {
		docs[u] = d
	}
	return ldproof.NewLoader(docs)
}
