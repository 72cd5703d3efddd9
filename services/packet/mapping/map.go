package mapping

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/mosipcrvs/bridge/services/packet/idschema"
)

// FieldProblem is one thing wrong with what OpenCRVS sent. It names the
// field and the rule, never the value, because values are personal data
// and problems end up in logs and API answers.
type FieldProblem struct {
	// Field is the path of the offending input, e.g.
	// "requestFields.dateOfBirth" or "metaInfo.informantPsut".
	Field string `json:"field"`
	// Message says what is wrong.
	Message string `json:"message"`
}

// String formats the problem as "field: message".
func (p FieldProblem) String() string { return p.Field + ": " + p.Message }

// Problems is every problem of one request; as an error it lists them all,
// so a caller can refuse the request with one complete answer.
type Problems []FieldProblem

// Error joins the problems.
func (p Problems) Error() string {
	parts := make([]string, len(p))
	for i, fp := range p {
		parts[i] = fp.String()
	}
	return fmt.Sprintf("%d field problem(s): %s", len(p), strings.Join(parts, "; "))
}

// Input is what OpenCRVS sent for one packet.
type Input struct {
	// RequestFields is the payload's requestFields object.
	RequestFields map[string]any
	// MetaInfo is the payload's metaInfo object.
	MetaInfo map[string]any
}

// Result is the packet content Apply derived.
type Result struct {
	// Fields are the packet fields in wire form, each checked against the
	// ID schema. They are only meaningful when Problems is empty.
	Fields map[string]string
	// Dropped names the requestFields entries left out because the ID
	// schema does not declare their target (never with Strict). The caller
	// logs and counts them: MOSIP would have dropped them silently.
	Dropped []string
	// Problems lists everything wrong, sorted by field.
	Problems []FieldProblem
	// Labels are metaInfo values to add to the packet's metaData, by label.
	Labels map[string]string
}

// Map converts requestFields for event ev and checks them against schema.
// It returns the packet fields, the names of dropped fields and every
// problem at once. See Apply for the rules.
func (m *Mapping) Map(ev Event, requestFields map[string]any, schema *idschema.Schema) (fields map[string]string, dropped []string, problems []FieldProblem) {
	r := m.Apply(ev, Input{RequestFields: requestFields}, schema)
	return r.Fields, r.Dropped, r.Problems
}

// source is one value to map and where it came from.
type source struct {
	path  string // for problems: requestFields.x or metaInfo.y
	name  string // the key rules are looked up by
	value any
}

// Apply maps one OpenCRVS payload:
//
//   - metaInfo forwards fill their requestFields entry (when absent) and
//     produce metaData labels;
//   - each requestFields entry is converted by its rule (or, without one,
//     by the schema type of the same-named field); null and blank values
//     count as absent;
//   - drop rules discard their field; constant rules always fill theirs;
//   - a target the schema does not declare (or declares as a document or
//     biometrics) is dropped, or a problem with Strict;
//   - two inputs mapping to one field is a problem;
//   - every value is checked against the schema's type and validators;
//   - the event's required fields must be present (for a death, the UIN —
//     or the VID when AllowVIDForDeath is set; without it a death's VID
//     is not sent).
//
// An event without rules maps every field by the schema alone. A nil
// schema means idschema.Default().
func (m *Mapping) Apply(ev Event, in Input, schema *idschema.Schema) Result {
	if schema == nil {
		schema = idschema.Default()
	}
	em := m.Events[ev]
	res := Result{Fields: map[string]string{}, Labels: map[string]string{}}
	var problems []FieldProblem
	problem := func(path, format string, args ...any) {
		problems = append(problems, FieldProblem{Field: path, Message: fmt.Sprintf(format, args...)})
	}

	sources := make([]source, 0, len(in.RequestFields)+len(m.MetaInfo))
	for _, name := range sortedKeys(in.RequestFields) {
		sources = append(sources, source{path: "requestFields." + name, name: name, value: in.RequestFields[name]})
	}
	for _, key := range sortedKeys(m.MetaInfo) {
		fwd := m.MetaInfo[key]
		v, ok := in.MetaInfo[key]
		if !ok || absent(v) {
			continue
		}
		path := "metaInfo." + key
		if fwd.Label != "" {
			s, ok := scalarText(v)
			if !ok {
				problem(path, "must be a string to be forwarded as the metaData label %s", fwd.Label)
			} else {
				res.Labels[fwd.Label] = s
			}
		}
		if fwd.Field != "" && forEvent(fwd.FieldEvents, ev) && absent(in.RequestFields[fwd.Field]) {
			sources = append(sources, source{path: path, name: fwd.Field, value: v})
		}
	}

	provided := map[string]string{} // target → path of the input that provided it
	dropped := map[string]bool{}
	claim := func(target, path string) bool {
		if prev, dup := provided[target]; dup {
			problem(path, "maps to %s, which %s already provides", target, prev)
			return false
		}
		provided[target] = path
		return true
	}
	declared := func(target, path, name string) (*idschema.Field, bool) {
		f, ok := schema.Field(target)
		if ok && f.Kind.Demographic() {
			return f, true
		}
		switch {
		case m.Strict && !ok:
			problem(path, "%s is not a field of the ID schema (strict mode refuses undeclared fields)", target)
		case m.Strict:
			problem(path, "%s is a %s field of the ID schema and cannot be sent as a value", target, f.Kind)
		default:
			dropped[name] = true
		}
		return nil, false
	}

	for _, src := range sources {
		rule := em.Fields[src.name]
		if rule.Kind == KindDrop || rule.Kind == KindConstant || absent(src.value) {
			continue
		}
		target := rule.Target
		if target == "" {
			target = src.name
		}
		if ev == Death && !m.AllowVIDForDeath && target == m.VIDField {
			// MOSIP identifies the deceased by UIN unless it was configured
			// to accept VIDs for updates; a VID it will not use is not sent.
			continue
		}
		field, ok := declared(target, src.path, src.name)
		if !ok || !claim(target, src.path) {
			continue
		}
		wire, msg := m.convert(rule, field, src.value)
		if msg != "" {
			problem(src.path, "%s", msg)
			continue
		}
		if msgs := field.Validate(wire); len(msgs) > 0 {
			for _, msg := range msgs {
				problem(src.path, "%s", msg)
			}
			continue
		}
		res.Fields[target] = wire
	}

	for _, name := range sortedKeys(em.Fields) {
		rule := em.Fields[name]
		if rule.Kind != KindConstant {
			continue
		}
		target := rule.Target
		if target == "" {
			target = name
		}
		path := "mapping.events." + string(ev) + ".fields." + name
		field, ok := declared(target, path, name)
		if !ok || !claim(target, path) {
			continue
		}
		if msgs := field.Validate(rule.Value); len(msgs) > 0 {
			for _, msg := range msgs {
				problem(path, "%s", msg)
			}
			continue
		}
		res.Fields[target] = rule.Value
	}

	for _, req := range m.required(ev, em) {
		var alts []string
		for _, a := range strings.Split(req, "|") {
			if a = strings.TrimSpace(a); a != "" && schema.Has(a) {
				alts = append(alts, a)
			}
		}
		if len(alts) == 0 {
			continue
		}
		satisfied := false
		for _, a := range alts {
			if _, ok := provided[a]; ok {
				satisfied = true
				break
			}
		}
		if satisfied {
			continue
		}
		what := "ID-schema field " + alts[0]
		if len(alts) > 1 {
			what = "one of the ID-schema fields " + strings.Join(alts, ", ")
		}
		problem(m.inputPath(em, alts[0]), "is required for a %s packet (%s)", ev, what)
	}

	res.Dropped = sortedKeys(dropped)
	sort.SliceStable(problems, func(i, j int) bool {
		if problems[i].Field != problems[j].Field {
			return problems[i].Field < problems[j].Field
		}
		return problems[i].Message < problems[j].Message
	})
	res.Problems = problems
	return res
}

// required returns the event's required list, widened for a death when
// the deployment lets a VID stand in for the UIN.
func (m *Mapping) required(ev Event, em EventMapping) []string {
	if ev != Death || !m.AllowVIDForDeath {
		return em.Required
	}
	out := make([]string, len(em.Required))
	for i, r := range em.Required {
		out[i] = r
		for _, alt := range strings.Split(r, "|") {
			if strings.TrimSpace(alt) == fieldUIN {
				out[i] = r + "|" + m.VIDField
				break
			}
		}
	}
	return out
}

// inputPath names a missing field the way OpenCRVS knows it: the
// requestFields entry whose rule targets it, else the field itself.
func (m *Mapping) inputPath(em EventMapping, target string) string {
	for _, name := range sortedKeys(em.Fields) {
		r := em.Fields[name]
		if r.Target == target && r.Kind != KindConstant && r.Kind != KindDrop {
			return "requestFields." + name
		}
	}
	return "requestFields." + target
}

func forEvent(events []Event, ev Event) bool {
	if len(events) == 0 {
		return true
	}
	for _, e := range events {
		if e == ev {
			return true
		}
	}
	return false
}

// absent reports whether a value counts as not sent: null, or a string of
// white space only. Sending "" to MOSIP would store an empty identity
// value rather than none.
func absent(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	}
	return false
}

// convert produces the wire value, or a message saying why it cannot.
func (m *Mapping) convert(rule Rule, field *idschema.Field, v any) (string, string) {
	kind := rule.Kind
	if msg := kindMismatch(kind, field); msg != "" {
		return "", msg
	}
	if kind == KindAuto {
		switch field.Kind {
		case idschema.KindSimpleType:
			kind = KindSimpleType
		case idschema.KindString:
			kind = KindString
		default:
			return m.convertByType(rule, field, v)
		}
	}
	switch kind {
	case KindString:
		s, ok := scalarText(v)
		if !ok {
			return "", fmt.Sprintf("must be a string, not %s", describe(v))
		}
		return translate(rule, s), ""
	case KindSimpleType:
		return m.simpleType(rule, v)
	case KindDate:
		s, ok := v.(string)
		if !ok {
			return "", fmt.Sprintf("must be a date string, not %s", describe(v))
		}
		inputs := rule.DateFormats
		if len(inputs) == 0 {
			inputs = m.DateFormats
		}
		output := rule.OutputFormat
		if output == "" {
			output = m.OutputDateFormat
		}
		out, ok, err := convertDate(strings.TrimSpace(s), inputs, output)
		if err != nil {
			return "", "mapping configuration: " + err.Error()
		}
		if !ok {
			return "", "is not a date in any of the formats " + strings.Join(inputs, ", ")
		}
		return out, ""
	default:
		return "", fmt.Sprintf("mapping configuration: unknown kind %q", kind)
	}
}

// kindMismatch reports an explicit rule kind the schema contradicts, so a
// mapping written for one schema cannot quietly send the wrong shape under
// another (a simpleType list where the schema wants a plain string).
func kindMismatch(kind Kind, field *idschema.Field) string {
	want := idschema.KindString
	switch kind {
	case KindSimpleType:
		want = idschema.KindSimpleType
	case KindString, KindDate:
	default:
		return ""
	}
	if field.Kind == want {
		return ""
	}
	return fmt.Sprintf("the mapping sends %s but the ID schema declares %s as %s", kind, field.Name, field.Kind)
}

// convertByType writes numbers, booleans, arrays and objects in their wire
// form for an auto rule.
func (m *Mapping) convertByType(rule Rule, field *idschema.Field, v any) (string, string) {
	switch field.Kind {
	case idschema.KindNumber:
		switch x := v.(type) {
		case float64, json.Number:
			s, _ := scalarText(x)
			return s, ""
		case string:
			return strings.TrimSpace(x), ""
		}
		return "", fmt.Sprintf("must be a number, not %s", describe(v))
	case idschema.KindBoolean:
		switch x := v.(type) {
		case bool:
			return strconv.FormatBool(x), ""
		case string:
			return strings.ToLower(strings.TrimSpace(x)), ""
		}
		return "", fmt.Sprintf("must be true or false, not %s", describe(v))
	case idschema.KindArray:
		switch x := v.(type) {
		case []any:
			items := make([]any, len(x))
			for i, item := range x {
				s, ok := scalarText(item)
				if !ok {
					return "", fmt.Sprintf("item %d must be a string, not %s", i, describe(item))
				}
				items[i] = translate(rule, s)
			}
			return marshal(items), ""
		case string:
			if t := strings.TrimSpace(x); strings.HasPrefix(t, "[") {
				return t, ""
			}
			return marshal([]any{translate(rule, x)}), ""
		}
		return "", fmt.Sprintf("must be a list, not %s", describe(v))
	case idschema.KindObject:
		switch x := v.(type) {
		case map[string]any:
			return marshal(x), ""
		case string:
			return strings.TrimSpace(x), ""
		}
		return "", fmt.Sprintf("must be an object, not %s", describe(v))
	default:
		s, ok := scalarText(v)
		if !ok {
			return "", fmt.Sprintf("must be a string, not %s", describe(v))
		}
		return s, ""
	}
}

// langValue is one simpleType entry, with its keys in MOSIP's order.
type langValue struct {
	Language string `json:"language"`
	Value    string `json:"value"`
}

// simpleType accepts a plain value (wrapped in the language), a list of
// {language, value} objects, one such object, a {language: value} object,
// or the JSON text of a list; it writes the list as JSON text.
func (m *Mapping) simpleType(rule Rule, v any) (string, string) {
	lang := rule.Language
	if lang == "" {
		lang = m.Language
	}
	if s, ok := v.(string); ok {
		if t := strings.TrimSpace(s); strings.HasPrefix(t, "[{") {
			var list []any
			if err := json.Unmarshal([]byte(t), &list); err != nil {
				return "", "looks like a JSON list of language values but is not valid JSON"
			}
			v = list
		}
	}
	var entries []langValue
	switch x := v.(type) {
	case []any:
		for i, item := range x {
			obj, ok := item.(map[string]any)
			if !ok {
				return "", fmt.Sprintf("item %d must be a {language, value} object, not %s", i, describe(item))
			}
			e, msg := entry(obj)
			if msg != "" {
				return "", fmt.Sprintf("item %d %s", i, msg)
			}
			entries = append(entries, e)
		}
	case map[string]any:
		if _, hasLang := x["language"]; hasLang {
			e, msg := entry(x)
			if msg != "" {
				return "", msg
			}
			entries = append(entries, e)
			break
		}
		for _, l := range sortedKeys(x) {
			s, ok := scalarText(x[l])
			if !ok {
				return "", fmt.Sprintf("the %s value must be a string, not %s", l, describe(x[l]))
			}
			entries = append(entries, langValue{Language: l, Value: s})
		}
	default:
		s, ok := scalarText(v)
		if !ok {
			return "", fmt.Sprintf("must be a string or a list of language values, not %s", describe(v))
		}
		entries = []langValue{{Language: lang, Value: s}}
	}
	if len(entries) == 0 {
		return "", "must have at least one language value"
	}
	for i := range entries {
		entries[i].Value = translate(rule, entries[i].Value)
	}
	return marshal(entries), ""
}

func entry(obj map[string]any) (langValue, string) {
	lang, ok1 := obj["language"].(string)
	val, ok2 := scalarText(obj["value"])
	if !ok1 || !ok2 || len(obj) != 2 {
		return langValue{}, "must have exactly a string language and a string value"
	}
	return langValue{Language: lang, Value: val}, ""
}

// translate applies the rule's value table, matching keys
// case-insensitively and ignoring surrounding space.
func translate(rule Rule, s string) string {
	if len(rule.Values) == 0 {
		return s
	}
	key := strings.TrimSpace(s)
	if out, ok := rule.Values[key]; ok {
		return out
	}
	for k, out := range rule.Values {
		if strings.EqualFold(k, key) {
			return out
		}
	}
	return s
}

// scalarText renders strings (trimmed), numbers and booleans as text;
// objects, lists and null are not scalars.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x), true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		return x.String(), true
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return "", false
		}
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	}
	return "", false
}

// describe names a value's JSON type for a problem message without
// revealing the value.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, json.Number, int, int64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return "an unsupported value"
}

// marshal writes compact JSON without HTML escaping, so names such as
// "Smith & Sons" reach MOSIP as written.
func marshal(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only strings, numbers and maps of them reach here; they always encode.
		return ""
	}
	return strings.TrimSuffix(b.String(), "\n")
}
