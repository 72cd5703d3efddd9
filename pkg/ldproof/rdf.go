package ldproof

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/piprate/json-gold/ld"
)

// errSlowPath: toDataset leaves this document to json-gold's own toRdf.
var errSlowPath = errors.New("ldproof: document needs json-gold's toRdf")

// toDataset is json-gold's toRdf (JsonLdProcessor.ToRDF without a format)
// computed from the same expansion and node map, statement for statement,
// with one difference in cost alone: json-gold drops every statement with
// an http(s) IRI its IsURL refuses, and IsURL is a large regular expression
// that json-gold runs afresh for each IRI of each document — half the work
// of canonicalizing a credential. Its verdicts are remembered here across
// documents (the same vocabulary IRIs come back in every credential).
//
// Documents with JSON literals (@json), whose canonical form json-gold
// computes with code of its own, and anything of an unexpected shape return
// errSlowPath: the caller lets json-gold do them.
func toDataset(doc any, opts *ld.JsonLdOptions) (*ld.RDFDataset, error) {
	if opts.ProduceGeneralizedRdf {
		return nil, errSlowPath
	}
	expanded, err := ld.NewJsonLdProcessor().Expand(doc, opts)
	if err != nil {
		return nil, err
	}
	issuer := ld.NewIdentifierIssuer("_:b")
	nodeMap := map[string]any{"@default": map[string]any{}}
	if _, err := ld.NewJsonLdApi().GenerateNodeMap(expanded, nodeMap, "@default", issuer, "", "", nil); err != nil {
		return nil, err
	}
	ds := ld.NewRDFDataset()
	for _, name := range ld.GetOrderedKeys(nodeMap) {
		if ld.IsRelativeIri(name) {
			continue
		}
		graph, ok := nodeMap[name].(map[string]any)
		if !ok {
			return nil, errSlowPath
		}
		quads, err := graphQuads(name, graph, issuer)
		if err != nil {
			return nil, err
		}
		ds.Graphs[name] = quads
	}
	return ds, nil
}

var (
	rdfFirst = ld.NewIRI(ld.RDFFirst)
	rdfRest  = ld.NewIRI(ld.RDFRest)
	rdfNil   = ld.NewIRI(ld.RDFNil)
)

// graphQuads is the statements of one graph of the node map, those with an
// invalid IRI or language tag dropped (json-gold's GraphToRDF).
func graphQuads(graphName string, graph map[string]any, issuer *ld.IdentifierIssuer) ([]*ld.Quad, error) {
	var quads []*ld.Quad
	for _, id := range ld.GetOrderedKeys(graph) {
		if ld.IsRelativeIri(id) {
			continue
		}
		node, ok := graph[id].(map[string]any)
		if !ok {
			return nil, errSlowPath
		}
		for _, property := range ld.GetOrderedKeys(node) {
			var values []any
			switch {
			case property == "@type":
				values, ok = node["@type"].([]any)
				property = ld.RDFType
			case ld.IsKeyword(property), strings.HasPrefix(property, "_:"), ld.IsRelativeIri(property):
				continue
			default:
				values, ok = node[property].([]any)
			}
			if !ok {
				return nil, errSlowPath
			}
			subject, predicate := rdfNode(id), rdfNode(property)
			for _, item := range values {
				var object ld.Node
				var err error
				if object, quads, err = objectToRDF(item, issuer, graphName, quads); err != nil {
					return nil, err
				}
				if object != nil {
					quads = append(quads, ld.NewQuad(subject, predicate, object, graphName))
				}
			}
		}
	}
	return slices.DeleteFunc(quads, func(q *ld.Quad) bool { return !validQuad(q) }), nil
}

// rdfNode is a blank node for "_:…", an IRI otherwise.
func rdfNode(id string) ld.Node {
	if strings.HasPrefix(id, "_:") {
		return ld.NewBlankNode(id)
	}
	return ld.NewIRI(id)
}

// objectToRDF turns a value object into a literal, a list into its
// rdf:first/rdf:rest statements and a node object or IRI string into a
// node, as json-gold does (numbers, booleans and their datatypes
// included); nil for a relative node reference.
func objectToRDF(item any, issuer *ld.IdentifierIssuer, graphName string, quads []*ld.Quad) (ld.Node, []*ld.Quad, error) {
	switch {
	case ld.IsValue(item):
		m := item.(map[string]any)
		value, datatype := m["@value"], m["@type"]
		if datatype == "@json" || datatype == ld.RDFJSONLiteral {
			return nil, nil, errSlowPath
		}
		boolVal, isBool := value.(bool)
		floatVal, isFloat := value.(float64)
		if number, ok := value.(json.Number); ok && !isBool && !isFloat {
			var err error
			floatVal, err = number.Float64()
			isFloat = err == nil
		}
		isInteger := isFloat && floatVal == float64(int64(floatVal))
		datatypeStr, _ := datatype.(string)
		typed := func(def string) string {
			if datatype == nil {
				return def
			}
			return datatypeStr
		}
		switch {
		case isBool:
			return ld.NewLiteral(strconv.FormatBool(boolVal), typed(ld.XSDBoolean), ""), quads, nil
		case isFloat && (!isInteger || datatypeStr == ld.XSDDouble):
			return ld.NewLiteral(ld.GetCanonicalDouble(floatVal), typed(ld.XSDDouble), ""), quads, nil
		case isFloat:
			if _, ok := datatype.(string); !ok && datatype != nil {
				return nil, nil, errSlowPath
			}
			return ld.NewLiteral(fmt.Sprintf("%d", int64(floatVal)), typed(ld.XSDInteger), ""), quads, nil
		}
		s, ok := value.(string)
		if _, isString := datatype.(string); !ok || (!isString && datatype != nil) {
			return nil, nil, errSlowPath
		}
		if lang, hasLang := m["@language"]; hasLang {
			l, ok := lang.(string)
			if !ok {
				return nil, nil, errSlowPath
			}
			return ld.NewLiteral(s, typed(ld.RDFLangString), l), quads, nil
		}
		return ld.NewLiteral(s, typed(ld.XSDString), ""), quads, nil
	case ld.IsList(item):
		list, ok := item.(map[string]any)["@list"].([]any)
		if !ok {
			return nil, nil, errSlowPath
		}
		return listToRDF(list, issuer, graphName, quads)
	}
	var id string
	switch v := item.(type) {
	case map[string]any:
		s, ok := v["@id"].(string)
		if !ok {
			return nil, nil, errSlowPath
		}
		if ld.IsRelativeIri(s) {
			return nil, quads, nil
		}
		id = s
	case string:
		id = v
	default:
		return nil, nil, errSlowPath
	}
	return rdfNode(id), quads, nil
}

// errListMember: json-gold leaves a list member that is a relative
// reference as an rdf:first statement without an object, and then panics
// normalizing it.
var errListMember = errors.New("a list member is a relative reference")

// listToRDF is the list's head (rdf:nil when empty) and its statements.
func listToRDF(list []any, issuer *ld.IdentifierIssuer, graphName string, quads []*ld.Quad) (ld.Node, []*ld.Quad, error) {
	if len(list) == 0 {
		return rdfNil, quads, nil
	}
	head := ld.Node(ld.NewBlankNode(issuer.GetId("")))
	subject := head
	for i, item := range list {
		object, q, err := objectToRDF(item, issuer, graphName, quads)
		if err != nil {
			return nil, nil, err
		}
		if object == nil {
			return nil, nil, errListMember
		}
		next := ld.Node(rdfNil)
		if i < len(list)-1 {
			next = ld.NewBlankNode(issuer.GetId(""))
		}
		quads = append(q, ld.NewQuad(subject, rdfFirst, object, graphName), ld.NewQuad(subject, rdfRest, next, graphName))
		subject = next
	}
	return head, quads, nil
}

// validLanguage is json-gold's check of a literal's language tag.
var validLanguage = regexp.MustCompile("^[a-zA-Z]+(-[a-zA-Z0-9]+)*$")

// validQuad reports whether json-gold keeps q: every IRI well formed and
// every language tag valid.
func validQuad(q *ld.Quad) bool {
	for _, n := range []ld.Node{q.Subject, q.Predicate, q.Object, q.Graph} {
		switch v := n.(type) {
		case ld.IRI:
			if !validIRI(v.Value) {
				return false
			}
		case ld.Literal:
			if v.Language != "" && !validLanguage.MatchString(v.Language) {
				return false
			}
			if v.Datatype != "" && !validIRI(v.Datatype) {
				return false
			}
		}
	}
	return true
}

// iriVerdicts remembers ld.IsURL across documents. IsURL depends on its
// argument alone; the map is bounded, since the IRIs come from documents
// not yet verified (past the bound, IsURL simply runs each time).
var iriVerdicts = struct {
	sync.RWMutex
	m map[string]bool
}{m: map[string]bool{}}

const maxIRIVerdicts = 4096

// validIRI is json-gold's rule: an http(s) IRI must pass its IsURL.
func validIRI(iri string) bool {
	if !strings.HasPrefix(iri, "http://") && !strings.HasPrefix(iri, "https://") {
		return true
	}
	iriVerdicts.RLock()
	ok, seen := iriVerdicts.m[iri]
	iriVerdicts.RUnlock()
	if seen {
		return ok
	}
	ok = ld.IsURL(iri)
	iriVerdicts.Lock()
	if len(iriVerdicts.m) < maxIRIVerdicts {
		iriVerdicts.m[iri] = ok
	}
	iriVerdicts.Unlock()
	return ok
}
