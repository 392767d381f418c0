package azacr

import (
	"errors"
	"fmt"
	"strings"
)

// challenge is one auth challenge of a WWW-Authenticate header.
type challenge struct {
	scheme string
	params map[string]string // keys lowercased
}

// bearerParams are the parameters of ACR's Bearer challenge that the
// policy uses (WIRE.md a.1).
type bearerParams struct {
	realm, service, scope, err string
}

// bearerChallenge returns the first Bearer challenge among the header
// values. A malformed header counts as no challenge: the 401 then reaches
// the caller as a ResponseError, which is the best we can do with it.
func bearerChallenge(values []string) (bearerParams, bool) {
	for _, v := range values {
		chs, err := parseChallenges(v)
		if err != nil {
			continue
		}
		for _, c := range chs {
			if strings.EqualFold(c.scheme, "bearer") {
				return bearerParams{realm: c.params["realm"], service: c.params["service"], scope: c.params["scope"], err: c.params["error"]}, true
			}
		}
	}
	return bearerParams{}, false
}

var errChallengeSyntax = errors.New("azacr: malformed WWW-Authenticate header")

// parseChallenges parses a WWW-Authenticate value per RFC 9110 section
// 11.6.1: challenges separated by commas, each a scheme followed by
// key=value parameters, values tokens or quoted strings. Values are never
// split on commas, because ACR's scope values contain them ("pull,push").
func parseChallenges(h string) ([]challenge, error) {
	var out []challenge
	i := 0
	skip := func() {
		for i < len(h) && (h[i] == ' ' || h[i] == '\t' || h[i] == ',') {
			i++
		}
	}
	spaces := func() {
		for i < len(h) && (h[i] == ' ' || h[i] == '\t') {
			i++
		}
	}
	for {
		skip()
		if i >= len(h) {
			break
		}
		tok := readToken(h, &i)
		if tok == "" {
			return nil, fmt.Errorf("%w: unexpected %q at offset %d", errChallengeSyntax, h[i], i)
		}
		spaces()
		if i < len(h) && h[i] == '=' && len(out) > 0 {
			// A parameter of the current challenge.
			i++
			spaces()
			val, err := readValue(h, &i)
			if err != nil {
				return nil, err
			}
			out[len(out)-1].params[strings.ToLower(tok)] = val
			spaces()
			if i < len(h) && h[i] != ',' {
				return nil, fmt.Errorf("%w: expected ',' at offset %d", errChallengeSyntax, i)
			}
			continue
		}
		// A new challenge; its first parameter may follow after a space.
		out = append(out, challenge{scheme: tok, params: map[string]string{}})
		if i < len(h) && h[i] != ',' {
			key := readToken(h, &i)
			spaces()
			if key == "" || i >= len(h) || h[i] != '=' {
				return nil, fmt.Errorf("%w: expected a parameter at offset %d", errChallengeSyntax, i)
			}
			i++
			spaces()
			val, err := readValue(h, &i)
			if err != nil {
				return nil, err
			}
			out[len(out)-1].params[strings.ToLower(key)] = val
			spaces()
			if i < len(h) && h[i] != ',' {
				return nil, fmt.Errorf("%w: expected ',' at offset %d", errChallengeSyntax, i)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no challenge", errChallengeSyntax)
	}
	return out, nil
}

// readToken reads an RFC 9110 token.
func readToken(h string, i *int) string {
	start := *i
	for *i < len(h) && isTokenChar(h[*i]) {
		*i++
	}
	return h[start:*i]
}

func readValue(h string, i *int) (string, error) {
	if *i < len(h) && h[*i] == '"' {
		*i++
		var b strings.Builder
		for *i < len(h) {
			c := h[*i]
			*i++
			switch c {
			case '"':
				return b.String(), nil
			case '\\':
				if *i >= len(h) {
					return "", fmt.Errorf("%w: dangling escape", errChallengeSyntax)
				}
				b.WriteByte(h[*i])
				*i++
			default:
				b.WriteByte(c)
			}
		}
		return "", fmt.Errorf("%w: unterminated quoted string", errChallengeSyntax)
	}
	v := readToken(h, i)
	if v == "" {
		return "", fmt.Errorf("%w: missing value at offset %d", errChallengeSyntax, *i)
	}
	return v, nil
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~/:", c) >= 0
}

// basicChallenge reports whether the header values hold a Basic challenge.
func basicChallenge(values []string) bool {
	for _, v := range values {
		chs, err := parseChallenges(v)
		if err != nil {
			continue
		}
		for _, c := range chs {
			if strings.EqualFold(c.scheme, "basic") {
				return true
			}
		}
	}
	return false
}
