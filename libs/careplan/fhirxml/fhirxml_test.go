package fhirxml_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	r4 "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	stu3 "github.com/google/fhir/go/proto/google/fhir/proto/stu3/resources_go_proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/emtm/emtm/libs/careplan/fhirxml"
)

var update = flag.Bool("update", false, "rewrite the committed JSON of the examples")

// TestTheExamplesJSONIsTheConversionOfTheirXML re-runs the conversion of every
// PhCP example (HL7's XML, unchanged) and compares it with the committed JSON
// the careplan tests read; -update rewrites it. Each converted resource is
// then read by the FHIR library of its version, with its base validation.
func TestTheExamplesJSONIsTheConversionOfTheirXML(t *testing.T) {
	for _, set := range []struct {
		dir       string
		contained protoreflect.MessageDescriptor
		version   fhirversion.Version
	}{
		{"r4-stu1", (&r4.ContainedResource{}).ProtoReflect().Descriptor(), fhirversion.R4},
		{"stu3-ballot", (&stu3.ContainedResource{}).ProtoReflect().Descriptor(), fhirversion.STU3},
	} {
		files, err := filepath.Glob(filepath.Join("..", "testdata", "phcp", set.dir, "*.xml"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no examples in %s: %v", set.dir, err)
		}
		u, err := jsonformat.NewUnmarshaller("UTC", set.version)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			xmlData, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := fhirxml.Convert(xmlData, set.contained)
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			jsonPath := filepath.Join("..", "testdata", "phcp-json", set.dir, strings.TrimSuffix(filepath.Base(f), ".xml")+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(jsonPath), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(jsonPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatalf("%v (run go test ./libs/careplan/fhirxml -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: the committed JSON is not the conversion of the XML (go test ./libs/careplan/fhirxml -update)", jsonPath)
			}
			if _, err := u.Unmarshal(got); err != nil {
				t.Errorf("%s: the FHIR library refuses the conversion: %v", jsonPath, err)
			}
		}
	}
}

func TestWhatTheConverterDoesNotKnowIsRefused(t *testing.T) {
	contained := (&r4.ContainedResource{}).ProtoReflect().Descriptor()
	for _, tt := range []struct{ name, xml, want string }{
		{"not FHIR", `<Patient/>`, "not in the FHIR namespace"},
		{"no such resource", `<Patiente xmlns="http://hl7.org/fhir"/>`, "no resource type"},
		{"no such element", `<Patient xmlns="http://hl7.org/fhir"><nom value="x"/></Patient>`, "Patient.nom: no such element"},
		{"a boolean that is not", `<Patient xmlns="http://hl7.org/fhir"><active value="yes"/></Patient>`, "no boolean"},
		{"broken XML", `<Patient xmlns="http://hl7.org/fhir">`, "EOF"},
	} {
		if _, err := fhirxml.Convert([]byte(tt.xml), contained); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}
