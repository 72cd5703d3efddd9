package idschema

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Validator is one regex validator of an ID-schema field, written in Java's
// regex dialect (MOSIP is Java) and translated to Go's RE2.
//
// RE2 has no lookahead, yet MOSIP schemas bound the length of every name
// field with a leading one: ^(?=.{3,50}$).* . That form is turned into a
// character count check plus the rest of the pattern. Java's POSIX property
// classes (\p{Alpha}, \p{Digit}, ...) and "Is" prefixes (\p{IsLatin}) are
// translated too. Anything else RE2 cannot express makes CompileValidator
// fail, and the schema reports it as a warning.
type Validator struct {
	// Pattern is the validator as the schema wrote it.
	Pattern string

	re       *regexp.Regexp
	lenCheck bool
	min, max int // max < 0: no upper bound
}

// leadingLength matches a leading length lookahead: ^(?=.{m}$), ^(?=.{m,}$)
// or ^(?=.{m,n}$), with or without the ^.
var leadingLength = regexp.MustCompile(`^\^?\(\?=\.\{(\d+)(,(\d*))?\}\$\)`)

// CompileValidator translates a Java validator for whole-value matching, as
// MOSIP applies validators (Pattern.matches).
func CompileValidator(pattern string) (*Validator, error) { return compile(pattern, true) }

func compile(pattern string, full bool) (*Validator, error) {
	v := &Validator{Pattern: pattern, max: -1}
	rest := pattern
	if m := leadingLength.FindStringSubmatch(pattern); m != nil {
		v.lenCheck = true
		var err error
		if v.min, err = strconv.Atoi(m[1]); err != nil {
			return nil, fmt.Errorf("length bound: %w", err)
		}
		switch {
		case m[2] == "":
			v.max = v.min
		case m[3] != "":
			if v.max, err = strconv.Atoi(m[3]); err != nil {
				return nil, fmt.Errorf("length bound: %w", err)
			}
		}
		rest = pattern[len(m[0]):]
		if !strings.HasPrefix(rest, "^") {
			rest = "^" + rest
		}
	}
	translated, err := translateJava(rest)
	if err != nil {
		return nil, err
	}
	if full {
		translated = `^(?:` + translated + `)$`
	}
	re, err := regexp.Compile(translated)
	if err != nil {
		return nil, err
	}
	v.re = re
	return v, nil
}

// Match reports whether s satisfies the validator.
func (v *Validator) Match(s string) bool {
	if v.lenCheck {
		n := utf8.RuneCountInString(s)
		if n < v.min || (v.max >= 0 && n > v.max) {
			return false
		}
	}
	return v.re.MatchString(s)
}

// javaPOSIX maps Java's US-ASCII property classes to RE2 POSIX classes,
// which RE2 only accepts inside brackets.
var javaPOSIX = map[string]string{
	"Lower": "[:lower:]", "Upper": "[:upper:]", "ASCII": "[:ascii:]", "Alpha": "[:alpha:]",
	"Digit": "[:digit:]", "Alnum": "[:alnum:]", "Punct": "[:punct:]", "Graph": "[:graph:]",
	"Print": "[:print:]", "Blank": "[:blank:]", "Cntrl": "[:cntrl:]", "XDigit": "[:xdigit:]",
	"Space": "[:space:]",
}

// translateJava rewrites the Java-only constructs it knows and refuses
// character-class intersections, whose meaning RE2 would silently change.
func translateJava(p string) (string, error) {
	var b strings.Builder
	depth := 0 // character class nesting
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			next := p[i+1]
			if next == 'Q' {
				// A quoted run is literal in both dialects; copy it whole so
				// brackets inside it do not count as classes.
				end := strings.Index(p[i+2:], `\E`)
				if end < 0 {
					b.WriteString(p[i:])
					return b.String(), nil
				}
				b.WriteString(p[i : i+2+end+2])
				i += 2 + end + 1
				continue
			}
			if (next == 'p' || next == 'P') && i+2 < len(p) && p[i+2] == '{' {
				end := strings.IndexByte(p[i+3:], '}')
				if end < 0 {
					return "", errors.New("unterminated \\p{...}")
				}
				name := p[i+3 : i+3+end]
				b.WriteString(translateProperty(next == 'P', name, depth > 0))
				i += 3 + end
				continue
			}
			b.WriteByte(c)
			b.WriteByte(next)
			i++
		case c == '[':
			depth++
			b.WriteByte(c)
		case c == ']' && depth > 0:
			depth--
			b.WriteByte(c)
		case c == '&' && depth > 0 && i+1 < len(p) && p[i+1] == '&':
			return "", errors.New("character class intersection (&&) is not supported")
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

func translateProperty(negated bool, name string, inClass bool) string {
	if posix, ok := javaPOSIX[name]; ok {
		if negated {
			posix = "[:^" + posix[2:]
		}
		if inClass {
			return posix
		}
		return "[" + posix + "]"
	}
	// Java accepts Is-prefixed scripts and categories (\p{IsLatin}, \p{IsL}).
	name = strings.TrimPrefix(name, "Is")
	if negated {
		return `\P{` + name + `}`
	}
	return `\p{` + name + `}`
}
