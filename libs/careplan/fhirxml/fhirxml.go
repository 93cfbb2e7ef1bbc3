// Package fhirxml converts FHIR resources from the XML form HL7 publishes
// its examples in to the JSON form emtm reads and writes (the standard FHIR
// XML to JSON mapping), guided by the resource definitions of Google's FHIR
// library: which elements repeat, which are primitives of which JSON type,
// which are choices (valueQuantity) and which hold a resource.
//
// It is a tool for examples and tests (the careplan tests re-run it over the
// committed examples and compare), not a general XML reader: it refuses what
// it does not know rather than guess.
package fhirxml

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"google.golang.org/protobuf/reflect/protoreflect"
)

const fhirNS = "http://hl7.org/fhir"

// MaxElements bounds a document.
const MaxElements = 1_000_000

// node is one XML element.
type node struct {
	name     string
	space    string
	attrs    map[string]string
	children []*node
	raw      []byte // the element's own bytes (for XHTML narratives)
}

// parse reads the document's root element.
func parse(data []byte) (*node, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var stack []*node
	var starts []int64
	var root *node
	count := 0
	for {
		before := d.InputOffset()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if count++; count > MaxElements {
				return nil, fmt.Errorf("more than %d elements", MaxElements)
			}
			n := &node{name: t.Name.Local, space: t.Name.Space, attrs: map[string]string{}}
			for _, a := range t.Attr {
				if a.Name.Space == "" {
					n.attrs[a.Name.Local] = a.Value
				}
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else if root == nil {
				root = n
			}
			stack = append(stack, n)
			starts = append(starts, before)
		case xml.EndElement:
			n := stack[len(stack)-1]
			n.raw = data[starts[len(starts)-1]:d.InputOffset()]
			stack, starts = stack[:len(stack)-1], starts[:len(starts)-1]
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	if root.space != fhirNS {
		return nil, fmt.Errorf("the root element <%s> is not in the FHIR namespace %s", root.name, fhirNS)
	}
	return root, nil
}

// Convert converts one XML resource (or Bundle) to JSON. contained is the
// version's ContainedResource message (it names every resource type).
func Convert(data []byte, contained protoreflect.MessageDescriptor) ([]byte, error) {
	root, err := parse(data)
	if err != nil {
		return nil, err
	}
	c := converter{contained: contained}
	v, err := c.resource(root, root.name)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := v.write(&buf, ""); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

type converter struct {
	contained protoreflect.MessageDescriptor
}

// value is a JSON value in order: an object (keys in XML order), an array,
// or a literal already encoded.
type value struct {
	keys    []string
	fields  map[string]*value
	items   []*value
	literal json.RawMessage
	array   bool
}

func object() *value { return &value{fields: map[string]*value{}} }

func (v *value) set(k string, x *value) {
	if _, ok := v.fields[k]; !ok {
		v.keys = append(v.keys, k)
	}
	v.fields[k] = x
}

func lit(x any) *value {
	b, _ := json.Marshal(x)
	return &value{literal: b}
}

func (v *value) write(w *bytes.Buffer, indent string) error {
	switch {
	case v.literal != nil:
		w.Write(v.literal)
	case v.array:
		w.WriteString("[")
		for i, it := range v.items {
			if i > 0 {
				w.WriteString(",")
			}
			w.WriteString("\n" + indent + "  ")
			if err := it.write(w, indent+"  "); err != nil {
				return err
			}
		}
		w.WriteString("\n" + indent + "]")
	default:
		w.WriteString("{")
		for i, k := range v.keys {
			if i > 0 {
				w.WriteString(",")
			}
			kb, _ := json.Marshal(k)
			w.WriteString("\n" + indent + "  ")
			w.Write(kb)
			w.WriteString(": ")
			if err := v.fields[k].write(w, indent+"  "); err != nil {
				return err
			}
		}
		w.WriteString("\n" + indent + "}")
	}
	return nil
}

// resource converts a resource element of type name.
func (c converter) resource(n *node, name string) (*value, error) {
	var md protoreflect.MessageDescriptor
	fs := c.contained.Fields()
	for i := 0; i < fs.Len(); i++ {
		if f := fs.Get(i); f.Message() != nil && string(f.Message().Name()) == name {
			md = f.Message()
		}
	}
	if md == nil {
		return nil, fmt.Errorf("<%s> is no resource type of this FHIR version", name)
	}
	out := object()
	out.set("resourceType", lit(name))
	if err := c.fill(out, n, md, name); err != nil {
		return nil, err
	}
	return out, nil
}

// isChoice reports a choice type's message: all its fields are one oneof
// (named "choice" in R4, after the element in STU3).
func isChoice(md protoreflect.MessageDescriptor) bool {
	return md != nil && md.Name() != "ContainedResource" && md.Fields().Len() > 0 && md.Oneofs().Len() == 1 && md.Oneofs().Get(0).Fields().Len() == md.Fields().Len()
}

var primitives = map[string]string{
	"Boolean": "bool", "Integer": "number", "PositiveInt": "number", "UnsignedInt": "number", "Decimal": "number",
	"Integer64": "string",
}

// isPrimitive reports a primitive type: a message with a scalar or enum
// "value" (String, Code, Identifier_UseCode...) or a time (value_us).
func isPrimitive(md protoreflect.MessageDescriptor) bool {
	if md == nil {
		return false
	}
	if md.Fields().ByName("value_us") != nil { // Date, DateTime, Instant, Time
		return true
	}
	f := md.Fields().ByName("value")
	return f != nil && f.Kind() != protoreflect.MessageKind
}

// field finds the proto field of a JSON element name, and for a choice the
// choice's own field.
func field(md protoreflect.MessageDescriptor, name string) (protoreflect.FieldDescriptor, protoreflect.FieldDescriptor) {
	fs := md.Fields()
	for i := 0; i < fs.Len(); i++ {
		f := fs.Get(i)
		if isChoice(f.Message()) {
			if !strings.HasPrefix(name, f.JSONName()) || len(name) == len(f.JSONName()) {
				continue
			}
			sub := lowerFirst(strings.TrimPrefix(name, f.JSONName()))
			cf := f.Message().Fields()
			for j := 0; j < cf.Len(); j++ {
				if cf.Get(j).JSONName() == sub {
					return f, cf.Get(j)
				}
			}
			continue
		}
		if f.JSONName() == name {
			return f, nil
		}
	}
	return nil, nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

// fill converts n's attributes and children into out, as a message md.
func (c converter) fill(out *value, n *node, md protoreflect.MessageDescriptor, path string) error {
	if id, ok := n.attrs["id"]; ok {
		out.set("id", lit(id))
	}
	if url, ok := n.attrs["url"]; ok {
		out.set("url", lit(url))
	}
	for _, ch := range n.children {
		p := path + "." + ch.name
		if ch.space != fhirNS && ch.name != "div" {
			return fmt.Errorf("%s: element outside the FHIR namespace", p)
		}
		// A Reference's "reference" is a string in JSON (the library keeps it as typed ids).
		if md.Name() == "Reference" && ch.name == "reference" {
			if err := primitive(out, ch, "reference", "string", false); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			continue
		}
		f, choice := field(md, ch.name)
		if f == nil {
			return fmt.Errorf("%s: no such element in %s", p, md.Name())
		}
		target := f.Message()
		if choice != nil {
			target = choice.Message()
		}
		repeated := f.IsList()
		switch {
		case target != nil && target.Name() == "ContainedResource":
			if len(ch.children) != 1 {
				return fmt.Errorf("%s: holds %d resources, want one", p, len(ch.children))
			}
			r, err := c.resource(ch.children[0], ch.children[0].name)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			add(out, ch.name, r, repeated)
		case target != nil && target.Name() == "Xhtml":
			out.set(ch.name, lit(string(ch.raw)))
		case isPrimitive(target):
			kind := primitives[string(target.Name())]
			if kind == "" {
				kind = "string"
			}
			if err := primitive(out, ch, ch.name, kind, repeated); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		case target != nil:
			obj := object()
			if err := c.fill(obj, ch, target, p); err != nil {
				return err
			}
			add(out, ch.name, obj, repeated)
		default:
			return fmt.Errorf("%s: not a FHIR element", p)
		}
	}
	// Repeated primitives carry "_name" arrays aligned with their values; drop those without any extension.
	for _, k := range append([]string(nil), out.keys...) {
		if v := out.fields[k]; strings.HasPrefix(k, "_") && v.array && allNull(v.items) {
			delete(out.fields, k)
			out.keys = remove(out.keys, k)
		}
	}
	return nil
}

func allNull(vs []*value) bool {
	for _, v := range vs {
		if string(v.literal) != "null" {
			return false
		}
	}
	return true
}

func remove(keys []string, k string) []string {
	out := keys[:0]
	for _, x := range keys {
		if x != k {
			out = append(out, x)
		}
	}
	return out
}

func add(out *value, name string, v *value, repeated bool) {
	if !repeated {
		out.set(name, v)
		return
	}
	arr, ok := out.fields[name]
	if !ok {
		arr = &value{array: true}
		out.set(name, arr)
	}
	arr.items = append(arr.items, v)
}

// primitive writes a primitive element: its value in its JSON type, and its
// id and extensions under "_name".
func primitive(out *value, n *node, name, kind string, repeated bool) error {
	var v *value
	if s, ok := n.attrs["value"]; ok {
		switch kind {
		case "bool":
			if s != "true" && s != "false" {
				return fmt.Errorf("value %q is no boolean", s)
			}
			v = &value{literal: json.RawMessage(s)}
		case "number":
			if !json.Valid([]byte(s)) || strings.ContainsAny(s, "\"{}[]") {
				return fmt.Errorf("value %q is no number", s)
			}
			v = &value{literal: json.RawMessage(s)}
		default:
			v = lit(s)
		}
	} else {
		v = &value{literal: json.RawMessage("null")}
	}
	var ext *value
	if id, ok := n.attrs["id"]; ok || len(n.children) > 0 {
		ext = object()
		if ok {
			ext.set("id", lit(id))
		}
		for _, ch := range n.children {
			if ch.name != "extension" {
				return fmt.Errorf("a primitive holds <%s>", ch.name)
			}
		}
		if len(n.children) > 0 {
			arr := &value{array: true}
			for _, ch := range n.children {
				e, err := extension(ch)
				if err != nil {
					return err
				}
				arr.items = append(arr.items, e)
			}
			ext.set("extension", arr)
		}
	}
	if !repeated {
		if string(v.literal) != "null" {
			out.set(name, v)
		}
		if ext != nil {
			out.set("_"+name, ext)
		}
		return nil
	}
	add(out, name, v, true)
	if ext == nil {
		ext = &value{literal: json.RawMessage("null")}
	}
	add(out, "_"+name, ext, true)
	return nil
}

// extension converts an extension on a primitive (rare in examples: url and
// a string, code, boolean or integer value).
func extension(n *node) (*value, error) {
	e := object()
	e.set("url", lit(n.attrs["url"]))
	for _, ch := range n.children {
		if !strings.HasPrefix(ch.name, "value") {
			return nil, fmt.Errorf("an extension on a primitive holds <%s>", ch.name)
		}
		switch ch.name {
		case "valueBoolean", "valueInteger", "valueDecimal":
			e.set(ch.name, &value{literal: json.RawMessage(ch.attrs["value"])})
		default:
			e.set(ch.name, lit(ch.attrs["value"]))
		}
	}
	return e, nil
}
