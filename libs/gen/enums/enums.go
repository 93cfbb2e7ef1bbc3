// Package enums names protobuf enum values the way emtm writes them in keys,
// metrics, CSV and the command line: without the enum's prefix
// (TASK_KIND_CMR is "CMR"). It lives beside the generated code it serves and
// is not generated (make generate keeps it).
//
// Every emtm enum follows buf's STANDARD lint: its values carry a common
// prefix and its zero value is <PREFIX>UNSPECIFIED; that zero value gives the
// prefix.
package enums

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Enum is a generated protobuf enum type.
type Enum interface {
	~int32
	protoreflect.Enum
}

// prefix is the common prefix of an enum's value names ("TASK_KIND_").
func prefix(d protoreflect.EnumDescriptor) string {
	if d.Values().Len() == 0 {
		return ""
	}
	return strings.TrimSuffix(string(d.Values().Get(0).Name()), "UNSPECIFIED")
}

// Name is the value's name without the enum's prefix: "CMR" for
// TASK_KIND_CMR; the number in decimal for a value the enum does not declare.
func Name[E Enum](e E) string {
	d := e.Descriptor()
	v := d.Values().ByNumber(protoreflect.EnumNumber(e))
	if v == nil {
		return strconv.Itoa(int(e)) // as protobuf renders an undeclared number
	}
	return strings.TrimPrefix(string(v.Name()), prefix(d))
}

// Parse reads a name without the prefix, in any case ("cmr", "CMR"), or with
// it; ok is false for a name the enum does not declare.
func Parse[E Enum](name string) (e E, ok bool) {
	d := e.Descriptor()
	up := strings.ToUpper(strings.TrimSpace(name))
	v := d.Values().ByName(protoreflect.Name(prefix(d) + up))
	if v == nil {
		v = d.Values().ByName(protoreflect.Name(up))
	}
	if v == nil {
		return e, false
	}
	return E(v.Number()), true
}

// Of is Parse for names emtm wrote itself (keys, stored fields): the zero
// value (UNSPECIFIED) for a name it does not know.
func Of[E Enum](name string) E {
	e, _ := Parse[E](name)
	return e
}

// Names lists the enum's declared names without the prefix, UNSPECIFIED left
// out, in declaration order (for help texts and errors).
func Names[E Enum]() []string {
	var e E
	d := e.Descriptor()
	out := make([]string, 0, d.Values().Len())
	for i := 1; i < d.Values().Len(); i++ {
		out = append(out, strings.TrimPrefix(string(d.Values().Get(i).Name()), prefix(d)))
	}
	return out
}
