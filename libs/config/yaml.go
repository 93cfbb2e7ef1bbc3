package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/emtm/emtm/libs/planid"
)

// Doc is a decoded YAML configuration file, kept to point errors at lines.
type Doc struct {
	Name string
	root *yaml.Node
}

// FieldError is a problem with one field of a configuration file.
type FieldError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.File, e.Field, e.Msg)
}

// LoadYAMLFile reads path into v (see DecodeYAML).
func LoadYAMLFile(path string, v any) (*Doc, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return DecodeYAML(path, b, v)
}

// DecodeYAML decodes data into v strictly: an unknown field, a value of the
// wrong type or a duplicate key is an error naming the file and line.
func DecodeYAML(name string, data []byte, v any) (*Doc, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: the file is empty", name)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%s: %s", name, strings.Join(te.Errors, "; "))
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &Doc{Name: name, root: &root}, nil
}

// Line returns the line of the value at path (map keys, or indexes of list
// items), or of the deepest part of it that exists (0 when nothing matches).
func (d *Doc) Line(path ...string) int {
	if d == nil || d.root == nil || len(d.root.Content) == 0 {
		return 0
	}
	n := d.root.Content[0]
	line := n.Line
	for _, key := range path {
		if n.Kind == yaml.SequenceNode {
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(n.Content) {
				return line
			}
			n = n.Content[i]
			line = n.Line
			continue
		}
		if n.Kind != yaml.MappingNode {
			return line
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line, n, found = n.Content[i].Line, n.Content[i+1], true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}

// Errorf makes a FieldError at path.
func (d *Doc) Errorf(path []string, format string, args ...any) *FieldError {
	name := ""
	if d != nil {
		name = d.Name
	}
	return &FieldError{File: name, Line: d.Line(path...), Field: strings.Join(path, "."), Msg: fmt.Sprintf(format, args...)}
}

// ParseWith decodes data strictly into a new F (see DecodeYAML) and hands it,
// with the document for line numbers, to validate: the shape of every emtm
// policy file (program.yaml, outreach.yaml, payment.yaml, the risk policy).
func ParseWith[F, P any](name string, data []byte, validate func(*Doc, F) (P, error)) (P, error) {
	var f F
	doc, err := DecodeYAML(name, data, &f)
	if err != nil {
		var zero P
		return zero, err
	}
	return validate(doc, f)
}

// LoadWith is ParseWith over the file at path.
func LoadWith[F, P any](path string, validate func(*Doc, F) (P, error)) (P, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var zero P
		return zero, err
	}
	return ParseWith(path, b, validate)
}

// CheckPlans checks what every per-plan policy file shares: version 1, the
// default (when def is not nil) and each plan, named contract-pbp, in key
// order so that the first error is the same every time. check validates one
// plan's settings at its path.
func CheckPlans[P any](doc *Doc, version int, def *P, plans map[string]P, check func(at []string, p P) error) error {
	if version != 1 {
		return doc.Errorf([]string{"version"}, "version %d is not supported (use 1)", version)
	}
	if def != nil {
		if err := check([]string{"default"}, *def); err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(plans))
	for k := range plans {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if !planid.IsKey(key) {
			return doc.Errorf([]string{"plans", key}, "a plan is named contract-pbp, e.g. S9925-001")
		}
		if err := check([]string{"plans", key}, plans[key]); err != nil {
			return err
		}
	}
	return nil
}

// Source is a policy's text as a service read it at start.
type Source struct {
	Name string
	Data []byte
}

// ReadSource reads the policy file at path, or returns the built-in sample
// (named sampleName) when path is empty: the bytes a service parses are the
// bytes it reports (GetPolicy).
func ReadSource(path, sampleName string, sample []byte) (Source, error) {
	if path == "" {
		return Source{Name: sampleName, Data: sample}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Source{}, err
	}
	return Source{Name: path, Data: b}, nil
}
