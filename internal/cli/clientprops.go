package cli

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/kbench/kbench/bench"
)

// parseKV reads repeated k=v flag values into a map; flag names the flag
// for error messages. Later values win, as with Kafka's tools.
func parseKV(flag string, items []string) (map[string]string, error) {
	out := map[string]string{}
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want key=value", flag, it)
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

// readPropertiesFile reads a Java .properties file (client.properties):
// # and ! comments, key=value, key: value or key value, backslash line
// continuations (sasl.jaas.config often spans lines) and the usual escapes.
func readPropertiesFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("command config: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	lineNo, startLine := 0, 0
	var logical strings.Builder
	flush := func() error {
		line := strings.TrimSpace(logical.String())
		logical.Reset()
		if line == "" {
			return nil
		}
		k, v, err := splitProperty(line)
		if err != nil {
			return fmt.Errorf("command config %s line %d: %w", path, startLine, err)
		}
		out[k] = v
		return nil
	}
	for sc.Scan() {
		lineNo++
		raw := sc.Text()
		trimmed := strings.TrimLeft(raw, " \t\f")
		if logical.Len() == 0 {
			if trimmed == "" || trimmed[0] == '#' || trimmed[0] == '!' {
				continue
			}
			startLine = lineNo
		}
		if cont, ok := continued(trimmed); ok {
			logical.WriteString(cont)
			continue
		}
		logical.WriteString(trimmed)
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("command config %s: %w", path, err)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

// continued reports a line ending in an odd number of backslashes, which
// continues on the next line, and returns it without that backslash.
func continued(line string) (string, bool) {
	n := len(line) - len(strings.TrimRight(line, `\`))
	if n%2 == 1 {
		return line[:len(line)-1], true
	}
	return line, false
}

func splitProperty(line string) (string, string, error) {
	// The key ends at the first unescaped '=', ':' or whitespace.
	end := -1
	for i := 0; i < len(line); i++ {
		if line[i] == '\\' {
			i++
			continue
		}
		if strings.ContainsRune("=: \t\f", rune(line[i])) {
			end = i
			break
		}
	}
	key, rest := line, ""
	if end >= 0 {
		key, rest = line[:end], strings.TrimLeft(line[end:], " \t\f")
		if rest != "" && (rest[0] == '=' || rest[0] == ':') {
			rest = strings.TrimLeft(rest[1:], " \t\f")
		}
	}
	k, err := unescape(key)
	if err != nil {
		return "", "", err
	}
	v, err := unescape(rest)
	if err != nil {
		return "", "", err
	}
	if k == "" {
		return "", "", fmt.Errorf("line %q has no key", line)
	}
	return k, v, nil
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if i+4 >= len(s) {
				return "", fmt.Errorf("bad \\u escape in %q", s)
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 32)
			if err != nil {
				return "", fmt.Errorf("bad \\u escape in %q", s)
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			b.WriteByte(s[i]) // \\, \=, \:, \# and any other char stand for themselves
		}
	}
	return b.String(), nil
}

// propertyHelp lists the supported properties of role for --help.
func propertyHelp(role bench.Role) string {
	var b strings.Builder
	for _, p := range bench.SupportedProperties(role) {
		def := ""
		if p.Default != "" {
			def = " (default " + p.Default + ")"
		}
		fmt.Fprintf(&b, "  %s%s: %s\n", p.Name, def, p.Doc)
	}
	return b.String()
}
