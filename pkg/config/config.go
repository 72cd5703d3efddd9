// Package config loads a binary's typed configuration from environment
// variables and validates it once, at start-up, reporting every problem at
// once rather than the first one.
//
// A configuration is a struct whose fields carry `env:"NAME"` tags:
//
//	type Config struct {
//		Addr    string         `env:"AUTH_TOKEN_GRPC_ADDR" default:"127.0.0.1:9101" validate:"addr"`
//		Timeout time.Duration  `env:"MOSIP_TIMEOUT" default:"10s"`
//		AuthURL *url.URL       `env:"MOSIP_AUTH_URL" required:"true"`
//		Secret  config.Secret  `env:"MOSIP_PACKET_AUTH_CLIENT_SECRET"`
//		Redis   RedisConfig    // nested structs are loaded too
//		Client  Client         `envPrefix:"MOSIP_PACKET_AUTH_"` // names inside get the prefix
//	}
//
// Supported field types: string, Secret, bool, int, int64, float64,
// time.Duration, *url.URL and []string (comma-separated). After loading, every
// struct (outermost last) that implements Validator is asked to check itself;
// all problems are joined into one error.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Lookuper finds an environment variable; os.LookupEnv is one.
type Lookuper func(name string) (string, bool)

// MapLookuper looks names up in a map; handy in tests and for embedded defaults.
func MapLookuper(m map[string]string) Lookuper {
	return func(name string) (string, bool) { v, ok := m[name]; return v, ok }
}

// Validator is implemented by configuration structs that check relations
// between fields or requirements that tags cannot express.
type Validator interface {
	Validate() error
}

// Secret is a string that never prints: String, GoString, MarshalText and
// LogValue all return "[redacted]". Use Value to read it.
type Secret string

const redacted = "[redacted]"

// Value returns the secret itself.
func (s Secret) Value() string { return string(s) }

// String implements fmt.Stringer without revealing the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from revealing the secret.
func (s Secret) GoString() string { return s.String() }

// MarshalText keeps encoders from revealing the secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue keeps slog from revealing the secret.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Load fills cfg (a pointer to a struct) from the environment seen through
// lookup and validates it. The returned error lists every problem, one per
// line, each naming the variable ("MOSIP_AUTH_URL must be a URL, got \"x\"").
func Load(cfg any, lookup Lookuper) error {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v := reflect.ValueOf(cfg)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: Load needs a pointer to a struct, got %T", cfg)
	}
	l := &loader{lookup: lookup, failed: map[string]bool{}}
	l.loadStruct(v.Elem(), "")
	// Validators run even when some variables failed to parse, so every
	// problem shows at once; they tolerate unset fields, and what they say
	// about a variable already reported is dropped.
	l.validate(v.Elem())
	return l.err()
}

// Problems collects validation problems in Validate methods.
type Problems []error

// Addf records a problem.
func (p *Problems) Addf(format string, args ...any) { *p = append(*p, fmt.Errorf(format, args...)) }

// Require records "NAME is required" when ok is false.
func (p *Problems) Require(name string, ok bool) {
	if !ok {
		p.Addf("%s is required", name)
	}
}

// Err joins the problems, or returns nil when there are none.
func (p Problems) Err() error { return errors.Join(p...) }

type loader struct {
	lookup   Lookuper
	problems []error
	failed   map[string]bool // variables with a reported problem
}

// addf records a problem about the variable name; format starts with "%s".
func (l *loader) addf(format string, name string, args ...any) {
	l.failed[name] = true
	l.problems = append(l.problems, fmt.Errorf(format, append([]any{name}, args...)...))
}

// addValidation records a validator's problem unless it is about a variable
// whose value was already reported as malformed.
func (l *loader) addValidation(err error) {
	msg := err.Error()
	if i := strings.IndexByte(msg, ' '); i > 0 && l.failed[msg[:i]] {
		return
	}
	l.problems = append(l.problems, err)
}

func (l *loader) err() error {
	if len(l.problems) == 0 {
		return nil
	}
	return &Error{Problems: l.problems}
}

// Error is returned by Load when the configuration is invalid.
type Error struct {
	// Problems has one entry per invalid or missing variable.
	Problems []error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration (%d problem", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Error())
	}
	return b.String()
}

// Unwrap exposes the individual problems to errors.Is/As.
func (e *Error) Unwrap() []error { return e.Problems }

var (
	durationType = reflect.TypeFor[time.Duration]()
	urlPtrType   = reflect.TypeFor[*url.URL]()
	secretType   = reflect.TypeFor[Secret]()
)

func (l *loader) loadStruct(v reflect.Value, prefix string) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		fv := v.Field(i)
		name, hasEnv := f.Tag.Lookup("env")
		if !hasEnv {
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				l.loadStruct(fv, prefix+f.Tag.Get("envPrefix"))
			}
			continue
		}
		name = prefix + name
		raw, ok := l.lookup(name)
		raw = strings.TrimSpace(raw)
		if !ok || raw == "" {
			if f.Tag.Get("required") == "true" {
				l.addf("%s is required", name)
				continue
			}
			def, hasDef := f.Tag.Lookup("default")
			if !hasDef || def == "" {
				continue
			}
			raw = def
		}
		l.setField(fv, f, name, raw)
	}
}

func (l *loader) setField(fv reflect.Value, f reflect.StructField, name, raw string) {
	shown := raw
	if fv.Type() == secretType {
		shown = redacted
	}
	switch {
	case fv.Type() == durationType:
		d, err := time.ParseDuration(raw)
		if err != nil {
			l.addf("%s must be a duration such as 30s or 5m, got %q", name, shown)
			return
		}
		if d < 0 {
			l.addf("%s must not be negative, got %q", name, shown)
			return
		}
		fv.SetInt(int64(d))
	case fv.Type() == urlPtrType:
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			l.addf("%s must be an http(s) URL, got %q", name, shown)
			return
		}
		fv.Set(reflect.ValueOf(u))
	case fv.Kind() == reflect.String:
		if rule := f.Tag.Get("validate"); rule != "" && !l.check(rule, name, raw) {
			return
		}
		if oneOf := f.Tag.Get("oneof"); oneOf != "" && !contains(strings.Split(oneOf, "|"), raw) {
			l.addf("%s must be one of %s, got %q", name, strings.ReplaceAll(oneOf, "|", ", "), shown)
			return
		}
		fv.SetString(raw)
	case fv.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			l.addf("%s must be true or false, got %q", name, shown)
			return
		}
		fv.SetBool(b)
	case fv.Kind() == reflect.Int || fv.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			l.addf("%s must be an integer, got %q", name, shown)
			return
		}
		fv.SetInt(n)
	case fv.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			l.addf("%s must be a number, got %q", name, shown)
			return
		}
		fv.SetFloat(x)
	case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.String:
		var items []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		fv.Set(reflect.ValueOf(items).Convert(fv.Type()))
	default:
		// A programming error in a Config struct, reported like a problem so it surfaces in tests.
		l.addf("%s: unsupported field type %s", name, fv.Type())
	}
}

func (l *loader) check(rule, name, raw string) bool {
	switch rule {
	case "addr":
		host, port, err := net.SplitHostPort(raw)
		if err != nil {
			l.addf("%s must be host:port, got %q", name, raw)
			return false
		}
		_ = host
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			l.addf("%s must have a port between 0 and 65535, got %q", name, raw)
			return false
		}
	case "file":
		if st, err := os.Stat(raw); err != nil || st.IsDir() {
			l.addf("%s must name a readable file, got %q", name, raw)
			return false
		}
	default:
		l.addf("%s: unknown validate rule %q", name, rule)
		return false
	}
	return true
}

// validate calls Validate on nested structs first, then on the outer one.
func (l *loader) validate(v reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() && f.Type.Kind() == reflect.Struct && f.Type != durationType {
			if _, hasEnv := f.Tag.Lookup("env"); !hasEnv {
				l.validate(v.Field(i))
			}
		}
	}
	if val, ok := v.Addr().Interface().(Validator); ok {
		if err := val.Validate(); err != nil {
			errs := []error{err}
			if joined, ok := err.(interface{ Unwrap() []error }); ok {
				errs = joined.Unwrap()
			}
			for _, e := range errs {
				l.addValidation(e)
			}
		}
	}
}

// Describe lists every variable of cfg with its effective value, secrets
// redacted, sorted by name; for start-up logs and `--print-config`.
func Describe(cfg any) map[string]string {
	out := map[string]string{}
	v := reflect.ValueOf(cfg)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	describe(v, "", out)
	return out
}

func describe(v reflect.Value, prefix string, out map[string]string) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		fv := v.Field(i)
		name, hasEnv := f.Tag.Lookup("env")
		if !hasEnv {
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				describe(fv, prefix+f.Tag.Get("envPrefix"), out)
			}
			continue
		}
		var s string
		switch x := fv.Interface().(type) {
		case Secret:
			s = x.String()
		case *url.URL:
			if x != nil {
				s = x.Redacted()
			}
		case []string:
			s = strings.Join(x, ",")
		case string:
			s = redactURLPassword(x)
		default:
			s = fmt.Sprint(x)
		}
		out[prefix+name] = s
	}
}

// LogAttrs turns Describe's output into sorted slog attributes.
func LogAttrs(cfg any) []any {
	d := Describe(cfg)
	names := make([]string, 0, len(d))
	for k := range d {
		names = append(names, k)
	}
	sort.Strings(names)
	attrs := make([]any, 0, len(names))
	for _, k := range names {
		attrs = append(attrs, slog.String(k, d[k]))
	}
	return attrs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Layered looks a name up in each lookuper in turn and returns the first hit;
// the all-in-one runner puts the process environment first and its embedded
// defaults last.
func Layered(lookups ...Lookuper) Lookuper {
	return func(name string) (string, bool) {
		for _, l := range lookups {
			if v, ok := l(name); ok {
				return v, true
			}
		}
		return "", false
	}
}

// redactURLPassword hides the password of URL-shaped strings such as
// REDIS_URL ("redis://:pw@host:6379/0").
func redactURLPassword(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return redacted
	}
	return u.Redacted()
}
