package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// checkYAML walks a configuration document beside the Config type and
// returns the first key it does not know or value of the wrong kind, as
// one line naming the full key path, the line, what was found and what is
// wanted (with the closest known key for a misspelling). It returns nil
// when it finds nothing, leaving the decoder's own error, if any, to speak.
func checkYAML(b []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil || len(doc.Content) == 0 {
		return nil
	}
	return checkNode(doc.Content[0], reflect.TypeOf(Config{}), "")
}

var durationType = reflect.TypeOf(time.Duration(0))

func checkNode(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode || n.Tag == "!!null" {
		return nil
	}
	switch {
	case t == durationType:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
			if _, err := time.ParseDuration(n.Value); err == nil {
				return nil
			}
		}
		return wrongKind(n, path, "a duration with its unit, such as 10s or 1m30s")
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return wrongKind(n, path, "a mapping of keys ("+strings.Join(fieldNames(t), ", ")+")")
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fieldByTag(t, k.Value)
			if !ok {
				msg := fmt.Sprintf("%s (line %d): unknown key", join(path, k.Value), k.Line)
				if near := closest(k.Value, fieldNames(t)); near != "" {
					msg += fmt.Sprintf("; did you mean %s?", join(path, near))
				} else {
					msg += fmt.Sprintf("; %s has %s", orTop(path), strings.Join(fieldNames(t), ", "))
				}
				return fmt.Errorf("%s", msg)
			}
			if err := checkNode(v, f.Type, join(path, k.Value)); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			return wrongKind(n, path, "a mapping")
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkNode(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value)); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return wrongKind(n, path, "a list, [a, b] or one \"- item\" per line")
		}
		for i, e := range n.Content {
			if err := checkNode(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case n.Kind != yaml.ScalarNode:
		return wrongKind(n, path, "a single value")
	case t.Kind() == reflect.Bool:
		if n.Tag != "!!bool" {
			return wrongKind(n, path, "true or false")
		}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		if n.Tag != "!!int" {
			return wrongKind(n, path, "a whole number")
		}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		if n.Tag != "!!int" && n.Tag != "!!float" {
			return wrongKind(n, path, "a number")
		}
	}
	return nil
}

func wrongKind(n *yaml.Node, path, want string) error {
	var got string
	switch n.Kind {
	case yaml.MappingNode:
		got = "a mapping"
	case yaml.SequenceNode:
		got = "a list"
	default:
		got = strconv.Quote(n.Value)
	}
	return fmt.Errorf("%s (line %d): got %s, want %s", orTop(path), n.Line, got, want)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "the top level"
	}
	return path
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); yamlName(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func fieldNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		if name := yamlName(t.Field(i)); name != "" {
			out = append(out, name)
		}
	}
	return out
}

func yamlName(f reflect.StructField) string {
	name := strings.Split(f.Tag.Get("yaml"), ",")[0]
	if name == "-" {
		return ""
	}
	return name
}

// closest returns the candidate nearest to key by edit distance, if it is
// near enough to be a misspelling of it (at most a third of its letters).
func closest(key string, candidates []string) string {
	best, bestD := "", len(key)/3+1
	for _, c := range candidates {
		if d := editDistance(key, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
