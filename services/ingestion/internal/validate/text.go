package validate

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Bounds on free text and lists (no source sets them; these are readings,
// domain.md section 7: generous for real data, small enough that no
// submission can carry a payload in a name).
const (
	// MaxText is the default length in characters of a string field.
	MaxText = 256
	// MaxIngredients per claim: combination products have a handful.
	MaxIngredients = 20
	// MaxServiceCodes per encounter.
	MaxServiceCodes = 20
	// MaxProblems per encounter, and recommendations: a care plan lists a
	// member's medication-related problems, a few dozen at most.
	MaxProblems = 100
)

// maxTextOf overrides MaxText by field name.
var maxTextOf = map[protoreflect.Name]int{
	"note":        2000, // a prescriber's note on a recommendation
	"text":        2000, // a pharmacist's recommendation to a prescriber
	"ingredients": 100,
}

// text checks every string of m, nested messages and lists included: at most
// its field's length, and no control characters (C0, DEL, C1, the Unicode
// line separators and the bidirectional overrides that can disguise text on
// a terminal or a page). Fields already reported are not reported again.
func (c *checker) text(m protoreflect.Message, prefix string) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := prefix + string(fd.Name())
		switch {
		case fd.IsList() && fd.Kind() == protoreflect.StringKind:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				c.textValue(fmt.Sprintf("%s[%d]", name, i), fd.Name(), l.Get(i).String())
			}
		case fd.IsList() && fd.Kind() == protoreflect.MessageKind:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				c.text(l.Get(i).Message(), fmt.Sprintf("%s[%d].", name, i))
			}
		case fd.IsMap():
			// no map fields carry text today
		case fd.Kind() == protoreflect.StringKind:
			c.textValue(name, fd.Name(), v.String())
		case fd.Kind() == protoreflect.MessageKind:
			c.text(v.Message(), name+".")
		}
		return true
	})
}

func (c *checker) textValue(field string, name protoreflect.Name, s string) {
	for _, v := range c.v {
		if v.Field == field {
			return
		}
	}
	max := MaxText
	if m, ok := maxTextOf[name]; ok {
		max = m
	}
	if n := utf8.RuneCountInString(s); n > max {
		c.add(field, "TOO_LONG", "%s must be at most %d characters, got %d", field, max, n)
		return
	}
	if i := strings.IndexFunc(s, control); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		c.add(field, "CONTROL_CHARACTER", "%s contains the control character %U at byte %d; text fields take printable characters only", field, r, i)
	}
}

// control reports characters that may not appear in text fields.
func control(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069: // bidirectional embeddings, overrides, isolates
		return true
	}
	return false
}
