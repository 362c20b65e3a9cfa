package reference

import (
	"fmt"
	"strings"
)

// problem says what is wrong with reference s, or "" when it names a
// tagged or untagged image. The grammar is Docker's ([domain[:port]/]path
// [:tag][@digest], lower-case path) and so are the words; it is written out
// by hand rather than with regular expressions, which every ctr command
// would pay for at start (the tests hold it to distribution/reference).
func problem(s string) string {
	if len(s) == 64 && isLowerHex(s) {
		return fmt.Sprintf("invalid repository name (%s), cannot specify 64-byte hexadecimal strings", s)
	}
	domain, remainder := splitDomain(s)
	remote, _, _ := strings.Cut(remainder, ":")
	if strings.ToLower(remote) != remote {
		return "repository name must be lowercase"
	}
	full := domain + "/" + remainder
	path, digest, ok := matchReference(full)
	if !ok {
		if _, _, ok := matchReference(strings.ToLower(full)); ok {
			return "repository name must be lowercase"
		}
		return "invalid reference format"
	}
	if len(path) > 255 {
		return "repository name must not be more than 255 characters"
	}
	if digest != "" {
		if msg := digestProblem(digest); msg != "" {
			return msg
		}
		return "digest references are not supported here, use a tag"
	}
	return ""
}

// defaultDomain is Docker Hub's, where names without a registry live.
const defaultDomain = "docker.io"

// splitDomain finds the registry of a familiar name: the first component
// when it looks like a host (localhost, a dot, a port or upper case),
// Docker Hub otherwise, whose one-component names live under library/.
func splitDomain(name string) (domain, remainder string) {
	first, rest, ok := strings.Cut(name, "/")
	switch {
	case !ok:
		return defaultDomain, "library/" + name
	case first == "localhost":
		domain, remainder = first, rest
	case first == "index.docker.io":
		domain, remainder = defaultDomain, rest
	case strings.ContainsAny(first, ".:"), strings.ToLower(first) != first:
		domain, remainder = first, rest
	default:
		domain, remainder = defaultDomain, name
	}
	if domain == defaultDomain && !strings.Contains(remainder, "/") {
		remainder = "library/" + remainder
	}
	return domain, remainder
}

// matchReference splits name[:tag][@digest] and checks each part's syntax.
// The path is the name without its domain. Neither tag nor digest holds a
// '/' or '@', and a name holds ':' only in its domain, before a '/'.
func matchReference(s string) (path, digest string, ok bool) {
	left, digest, hasDigest := strings.Cut(s, "@")
	if hasDigest && !isDigestSyntax(digest) {
		return "", "", false
	}
	name := left
	if i := strings.LastIndexByte(left, ':'); i > strings.LastIndexByte(left, '/') {
		if !isTag(left[i+1:]) {
			return "", "", false
		}
		name = left[:i]
	}
	if i := strings.IndexByte(name, '/'); i >= 0 && isDomain(name[:i]) && isRemoteName(name[i+1:]) {
		return name[i+1:], digest, true
	}
	if isRemoteName(name) {
		return name, digest, true
	}
	return "", "", false
}

// isRemoteName: path components separated by '/'.
func isRemoteName(s string) bool {
	for _, c := range strings.Split(s, "/") {
		if !isPathComponent(c) {
			return false
		}
	}
	return true
}

// isPathComponent: runs of [a-z0-9] joined by ".", "_", "__" or dashes.
func isPathComponent(s string) bool {
	i := 0
	for {
		start := i
		for i < len(s) && (isLowerAlpha(s[i]) || isDigit(s[i])) {
			i++
		}
		if i == start {
			return false
		}
		if i == len(s) {
			return true
		}
		switch s[i] {
		case '.':
			i++
		case '_':
			i++
			if i < len(s) && s[i] == '_' {
				i++
			}
		case '-':
			for i < len(s) && s[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

// isDomain: a host name, an IPv4 address or a bracketed IPv6 address,
// with an optional port.
func isDomain(s string) bool {
	host, port := s, ""
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return false
		}
		inside := s[1:end]
		if inside == "" || strings.Trim(inside, "0123456789abcdefABCDEF:") != "" {
			return false
		}
		host, port = "", s[end+1:]
	} else if i := strings.IndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i:]
	}
	if port != "" && (port[0] != ':' || len(port) == 1 || !allBytes(port[1:], isDigit)) {
		return false
	}
	if host == "" {
		return strings.HasPrefix(s, "[")
	}
	for _, c := range strings.Split(host, ".") {
		if c == "" || !isAlnum(c[0]) || !isAlnum(c[len(c)-1]) ||
			!allBytes(c, func(b byte) bool { return isAlnum(b) || b == '-' }) {
			return false
		}
	}
	return true
}

// isTag: a word character, then up to 127 word characters, dots or dashes.
func isTag(s string) bool {
	return len(s) >= 1 && len(s) <= 128 && isWord(s[0]) &&
		allBytes(s, func(b byte) bool { return isWord(b) || b == '.' || b == '-' })
}

// isDigestSyntax: algorithm components (a letter, then letters and digits)
// joined by one of "-_+.", a colon and at least 32 hex digits.
func isDigestSyntax(s string) bool {
	alg, hex, ok := strings.Cut(s, ":")
	if !ok || len(hex) < 32 || !allBytes(hex, isHex) {
		return false
	}
	i := 0
	for {
		if i >= len(alg) || !isLetter(alg[i]) {
			return false
		}
		for i < len(alg) && (isLetter(alg[i]) || isDigit(alg[i])) {
			i++
		}
		if i == len(alg) {
			return true
		}
		if !strings.ContainsRune("-_+.", rune(alg[i])) {
			return false
		}
		i++
	}
}

// digestProblem checks a digest that has the reference grammar's syntax
// as the digest library does: known algorithms need their exact length of
// lower-case hex; an unknown one is unsupported, or malformed with upper
// case.
func digestProblem(d string) string {
	alg, enc, _ := strings.Cut(d, ":")
	var size int
	switch alg {
	case "sha256":
		size = 64
	case "sha384":
		size = 96
	case "sha512":
		size = 128
	}
	switch {
	case size == 0 && strings.ToLower(alg) != alg:
		return "invalid checksum digest format"
	case size == 0:
		return "unsupported digest algorithm"
	case len(enc) != size:
		return "invalid checksum digest length"
	case !isLowerHex(enc):
		return "invalid checksum digest format"
	}
	return ""
}

func allBytes(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	return allBytes(s, func(b byte) bool { return isDigit(b) || b >= 'a' && b <= 'f' })
}

func isDigit(b byte) bool      { return b >= '0' && b <= '9' }
func isLowerAlpha(b byte) bool { return b >= 'a' && b <= 'z' }
func isLetter(b byte) bool     { return isLowerAlpha(b) || b >= 'A' && b <= 'Z' }
func isAlnum(b byte) bool      { return isLetter(b) || isDigit(b) }
func isWord(b byte) bool       { return isAlnum(b) || b == '_' }
func isHex(b byte) bool        { return isDigit(b) || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F' }
