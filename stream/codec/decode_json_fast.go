package codec

// A fast path for the JSON messages aewatch sees almost always: one flat
// object with the keys series, time, value or values, and tags, plain ASCII
// strings without escapes, and numbers. encoding/json spends most of its
// time validating and reflecting; this scanner reads such messages in one
// pass and hands the same raw pieces to the same checks. Anything else
// (escapes, non-ASCII, null, other or repeated keys, nesting, bad syntax)
// is left to encoding/json, so results and errors are identical either way
// (FuzzDecodeJSONFastMatches holds the two to that).

// jsonFields are the pieces of a message that the checks work on.
type jsonFields struct {
	series    string
	hasSeries bool
	time      []byte // raw token
	value     []byte // raw token
	valuesSet bool   // "values" present (even empty)
	values    []rawField
	tags      []Tag
}

type rawField struct {
	key string
	raw []byte
}

// scanner reads one message; ok turns false at the first thing it does not
// handle.
type scanner struct {
	b  []byte
	i  int
	ok bool
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) byte(c byte) {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return
	}
	s.ok = false
}

func (s *scanner) peek() byte {
	s.space()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str reads a string of printable ASCII without escapes and returns its
// raw token (quotes included).
func (s *scanner) str() []byte {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		s.ok = false
		return nil
	}
	start := s.i
	for s.i++; s.i < len(s.b); s.i++ {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start:s.i]
		case c == '\\' || c < 0x20 || c > 0x7e:
			s.ok = false
			return nil
		}
	}
	s.ok = false
	return nil
}

// plainString reports whether a string token holds printable ASCII only,
// without escapes: its content is then its value.
func plainString(tok []byte) bool {
	for _, c := range tok[1 : len(tok)-1] {
		if c == '\\' || c == '"' || c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// num reads a number in JSON's grammar and returns its raw token.
func (s *scanner) num() []byte {
	s.space()
	b, start := s.b, s.i
	i := start
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		s.ok = false
		return nil
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			s.ok = false
			return nil
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			s.ok = false
			return nil
		}
	}
	s.i = i
	return b[start:i]
}

// object reads {"k": v, ...}, calling field for each key; field reads the
// value.
func (s *scanner) object(field func(key []byte)) {
	s.byte('{')
	if s.ok && s.peek() == '}' {
		s.i++
		return
	}
	for s.ok {
		k := s.str()
		s.byte(':')
		if !s.ok {
			return
		}
		field(k[1 : len(k)-1])
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return
		default:
			s.ok = false
		}
	}
}

// scanJSON reads msg into f; false when the message needs encoding/json.
func scanJSON(msg []byte, f *jsonFields) bool {
	s := scanner{b: msg, ok: true}
	var seen [5]bool
	once := func(k int) {
		if seen[k] {
			s.ok = false
		}
		seen[k] = true
	}
	s.object(func(key []byte) {
		switch string(key) {
		case "series":
			once(0)
			if tok := s.str(); s.ok {
				f.series, f.hasSeries = string(tok[1:len(tok)-1]), true
			}
		case "time":
			once(1)
			if s.peek() == '"' {
				f.time = s.str()
			} else {
				f.time = s.num()
			}
		case "value":
			once(2)
			f.value = s.num()
		case "values":
			once(3)
			f.valuesSet = true
			s.object(func(k []byte) {
				for _, v := range f.values {
					if v.key == string(k) {
						s.ok = false // repeated: encoding/json keeps the last
					}
				}
				f.values = append(f.values, rawField{string(k), s.num()})
			})
		case "tags":
			once(4)
			s.object(func(k []byte) {
				for _, t := range f.tags {
					if t.Key == string(k) {
						s.ok = false
					}
				}
				if v := s.str(); s.ok {
					f.tags = append(f.tags, Tag{string(k), string(v[1 : len(v)-1])})
				}
			})
		default:
			s.ok = false
		}
	})
	s.space()
	return s.ok && s.i == len(msg)
}
