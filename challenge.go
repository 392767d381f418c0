package azacr

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// challenge is one auth challenge of a WWW-Authenticate header.
type challenge struct {
	scheme string
	params map[string]string // keys lowercased
}

// bearerParams are the parameters of ACR's Bearer challenge that the
// policy uses (PROTOCOL.md §2.1).
type bearerParams struct {
	realm, service, scope, err string
}

// maxChallengeLen bounds a WWW-Authenticate value the policy will read.
// ACR's are about 150 bytes; a multi-repository scope stays far below this.
// A longer one is treated as malformed, so a hostile header cannot make
// the policy build and send a token request of its size.
const maxChallengeLen = 8 << 10

// bearerChallenge returns the first Bearer challenge among the header
// values. A malformed header counts as no challenge: the 401 then reaches
// the caller as a ResponseError, which is the best we can do with it.
func bearerChallenge(values []string) (bearerParams, bool) {
	for _, v := range values {
		if len(v) > maxChallengeLen {
			continue
		}
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
		if len(v) > maxChallengeLen {
			continue
		}
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

// jwtExpiry reads the exp claim of a JWT without verifying it (the registry
// verifies; we only need to know when to renew). The payload is base64url
// without padding, but padded and standard-alphabet forms are accepted too
// (PROTOCOL.md §2.6).
func jwtExpiry(token string) (time.Time, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, errors.New("azacr: token is not a JWT")
	}
	seg := strings.TrimRight(parts[1], "=")
	seg = strings.NewReplacer("+", "-", "/", "_").Replace(seg)
	payload, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return time.Time{}, fmt.Errorf("azacr: token payload is not base64url: %w", err)
	}
	var c struct {
		Exp json.Number `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return time.Time{}, fmt.Errorf("azacr: token payload is not JSON: %w", err)
	}
	secs, err := c.Exp.Float64()
	// Below one second the claim would truncate to the epoch itself.
	if err != nil || secs < 1 || secs > 1e11 {
		return time.Time{}, errors.New("azacr: token has no usable exp claim")
	}
	return time.Unix(int64(secs), 0), nil
}

// normalizeScope puts a scope set into canonical form for caching: actions
// sorted and deduplicated within each scope, scopes sorted, one space
// between. ACR lists actions in varying order ("push,pull" then
// "pull,push", PROTOCOL.md §2.1); without this every chunk of an upload would
// pay a 401 and a token call.
func normalizeScope(s string) authScope {
	fields := strings.Fields(s)
	for i, f := range fields {
		cut := strings.LastIndexByte(f, ':')
		if cut < 0 {
			continue
		}
		actions := strings.Split(f[cut+1:], ",")
		actions = slices.DeleteFunc(actions, func(a string) bool { return a == "" })
		slices.Sort(actions)
		fields[i] = f[:cut+1] + strings.Join(slices.Compact(actions), ",")
	}
	slices.Sort(fields)
	return authScope(strings.Join(slices.Compact(fields), " "))
}

// repositoryScope builds the scope string for actions on a repository.
func repositoryScope(name string, actions ...string) authScope {
	return authScope("repository:" + name + ":" + strings.Join(actions, ","))
}

// endpointService is the service an endpoint names before the registry has
// said anything: its host, lowercased, without the scheme's default port.
// ACR's challenges name the login server this way ("myreg.azurecr.io"),
// so "https://MyReg.azurecr.io:443" must not be exchanged for a service
// the registry does not know (PROTOCOL.md §2.7).
func endpointService(ep *url.URL) string {
	host, port := strings.ToLower(ep.Hostname()), ep.Port()
	if port == "" || ep.Scheme == "https" && port == "443" || ep.Scheme == "http" && port == "80" {
		if strings.Contains(host, ":") {
			return "[" + host + "]" // an IPv6 literal keeps its brackets
		}
		return host
	}
	return net.JoinHostPort(host, port)
}
