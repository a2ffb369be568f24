package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Set assigns one key ("kafka.brokers", "detector.model.learning_rate")
// from its text form: lists are comma-separated, bracketed or not (as
// YAML writes them: [16, 2, 16]), durations like "500ms".
func (c *Config) Set(key, value string) error {
	f, err := field(reflect.ValueOf(c).Elem(), strings.Split(key, "."))
	if err != nil {
		if near := closest(key, Keys()); near != "" {
			return fmt.Errorf("%s: %w; did you mean %s?", key, err, near)
		}
		return fmt.Errorf("%s: %w", key, err)
	}
	if err := setText(f, value); err != nil {
		return fmt.Errorf("%s: %w (got %q)", key, err, value)
	}
	return nil
}

// FromEnv applies AEWATCH_<SECTION>_<KEY> variables, e.g.
// AEWATCH_KAFKA_BROKERS=a:9092,b:9092 or AEWATCH_INFLUX_TOKEN=...; the
// name is the key upper-cased with dots as underscores. Any other AEWATCH_
// variable is an error (a typo must not pass unnoticed), except
// AEWATCH_TEST_*, which the tests use.
func (c *Config) FromEnv(environ []string) error {
	byName := map[string]string{}
	for _, k := range Keys() {
		byName["AEWATCH_"+strings.ToUpper(strings.ReplaceAll(k, ".", "_"))] = k
	}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		key, ok := byName[name]
		if !ok {
			if strings.HasPrefix(name, "AEWATCH_") && !strings.HasPrefix(name, "AEWATCH_TEST_") {
				names := make([]string, 0, len(byName))
				for n := range byName {
					names = append(names, n)
				}
				sort.Strings(names) // the nearest, the first of equals: the same every run
				if near := closest(name, names); near != "" {
					return fmt.Errorf("environment: %s names no configuration key; did you mean %s?", name, near)
				}
				return fmt.Errorf("environment: %s names no configuration key", name)
			}
			continue
		}
		if err := c.Set(key, value); err != nil {
			return fmt.Errorf("environment %s: %w", name, err)
		}
	}
	return nil
}

// Keys lists every settable key (leaves of the YAML tree).
func Keys() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := yamlName(f)
			if tag == "" {
				continue
			}
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(time.Duration(0)) {
				walk(f.Type, prefix+tag+".")
				continue
			}
			out = append(out, prefix+tag)
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return out
}

func field(v reflect.Value, path []string) (reflect.Value, error) {
	for _, name := range path {
		if v.Kind() != reflect.Struct {
			return reflect.Value{}, fmt.Errorf("no such key")
		}
		found := false
		for i := 0; i < v.NumField(); i++ {
			if yamlName(v.Type().Field(i)) == name {
				v, found = v.Field(i), true
				break
			}
		}
		if !found {
			return reflect.Value{}, fmt.Errorf("no such key")
		}
	}
	if v.Kind() == reflect.Struct {
		return reflect.Value{}, fmt.Errorf("not a single value")
	}
	return v, nil
}

func setText(f reflect.Value, s string) error {
	if f.Type() == reflect.TypeOf(time.Duration(0)) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("not a duration")
		}
		f.SetInt(int64(d))
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("not a boolean")
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer")
		}
		f.SetInt(n)
	case reflect.Uint64:
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return fmt.Errorf("not a non-negative integer")
		}
		f.SetUint(n)
	case reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("not a number")
		}
		f.SetFloat(x)
	case reflect.Slice:
		// As the YAML file writes it too: [16, 2, 16], ["a", "b"].
		t := strings.TrimSpace(s)
		flow := len(t) >= 2 && t[0] == '[' && t[len(t)-1] == ']'
		if flow {
			t = t[1 : len(t)-1]
		}
		parts := strings.Split(t, ",")
		out := reflect.MakeSlice(f.Type(), 0, len(parts))
		for i, p := range parts {
			p = strings.TrimSpace(p)
			if flow && len(p) >= 2 && (p[0] == '"' || p[0] == '\'') && p[len(p)-1] == p[0] {
				p = p[1 : len(p)-1]
			}
			if p == "" {
				continue
			}
			e := reflect.New(f.Type().Elem()).Elem()
			if err := setText(e, p); err != nil {
				return fmt.Errorf("item %d, %q: %w", i+1, p, err)
			}
			out = reflect.Append(out, e)
		}
		f.Set(out)
	default:
		return fmt.Errorf("cannot be set from text (kind %s)", f.Kind())
	}
	return nil
}
