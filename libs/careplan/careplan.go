// Package careplan reads the HL7 Pharmacist eCare Plan (PhCP, FHIR R4, IG
// 1.0.0 STU1), the care-plan document a pharmacy sends for the Enhanced MTM
// model: its Bundle (or a single resource of it) parsed by Google's FHIR
// library with its base validation, and what emtm needs of it gathered into
// a Plan: the patient, the pharmacist and the pharmacy, the services
// (Procedure, SNOMED CT), the medication-related problems (Condition) with
// their clinical status, the medications (RxNorm) and the encounter's date
// and class. Each problem found is a Violation naming its FHIR path.
package careplan

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	d4 "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"

	"github.com/emtm/emtm/libs/civil"
)

// Systems of the codes and identifiers a care plan carries.
const (
	SNOMED    = "http://snomed.info/sct"
	RxNorm    = "http://www.nlm.nih.gov/research/umls/rxnorm"
	NPISystem = "http://hl7.org/fhir/sid/us-npi"
	ActCode   = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	// npiMisspelled is the NPI system as HL7's own PhCP Bundle example spells
	// it (phcp-bundle-example, its Organization): read as the NPI system.
	npiMisspelled = "http://hl7.org.fhir/sid/us-npi"
)

func isNPI(system string) bool { return system == NPISystem || system == npiMisspelled }

// MaxBytes bounds one care plan: the richest example Bundle (111 entries) is
// about 320 KB of XML.
const MaxBytes = 4 << 20

// Code is a coded concept.
type Code struct{ System, Code, Display string }

// Problem is a medication-related problem (a Condition).
type Problem struct {
	ID       string
	Code     Code // SNOMED CT
	Text     string
	Resolved bool // clinicalStatus resolved, inactive or remission
	Onset    civil.Date
}

// Service is a pharmacist's service or intervention (a Procedure).
type Service struct {
	ID        string
	Code      Code // SNOMED CT
	Completed bool
	Date      civil.Date
}

// Plan is what emtm reads of a care plan.
type Plan struct {
	ID            string // the Bundle's (or resource's) id
	Date          civil.Date
	PatientID     string // Patient.id
	MemberIDs     []string
	PharmacistNPI string
	PharmacyNPI   string
	Class         string // the Encounter's v3 ActCode class (AMB, VR, HH...)
	Services      []Service
	Problems      []Problem
	Medications   []Code
	Resources     map[string]int // what the document held, by type
}

// Violation is one problem of a care plan, at its FHIR path.
type Violation struct {
	Path   string
	Reason string
	Msg    string
}

func (v Violation) Error() string { return v.Path + ": " + v.Msg }

// Read parses a care plan (a document Bundle, or one of its resources alone).
func Read(data []byte) (*Plan, []Violation) {
	if len(data) > MaxBytes {
		return nil, []Violation{{Path: "(document)", Reason: "FHIR_TOO_LARGE", Msg: fmt.Sprintf("%d bytes, at most %d", len(data), MaxBytes)}}
	}
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		return nil, []Violation{{Path: "(library)", Reason: "FHIR_LIBRARY", Msg: err.Error()}}
	}
	m, err := u.Unmarshal(data)
	if err != nil {
		return nil, libraryViolations(err)
	}
	cr, ok := m.(*bpb.ContainedResource)
	if !ok {
		return nil, []Violation{{Path: "(document)", Reason: "FHIR_INVALID", Msg: fmt.Sprintf("unexpected %T", m)}}
	}
	p := &Plan{Resources: map[string]int{}}
	var rs []*bpb.ContainedResource
	var paths []string
	if b := cr.GetBundle(); b != nil {
		p.ID = b.GetId().GetValue()
		for i, e := range b.GetEntry() {
			rs = append(rs, e.GetResource())
			paths = append(paths, fmt.Sprintf("Bundle.entry[%d].resource", i))
		}
	} else {
		rs, paths = []*bpb.ContainedResource{cr}, []string{""}
	}
	var vs []Violation
	var roleOrg string
	orgs := map[string]string{}
	for i, r := range rs {
		at := paths[i]
		switch {
		case r.GetPatient() != nil:
			pt := r.GetPatient()
			p.PatientID = pt.GetId().GetValue()
			for _, id := range pt.GetIdentifier() {
				if v := strings.TrimSpace(id.GetValue().GetValue()); v != "" {
					p.MemberIDs = append(p.MemberIDs, v)
				}
			}
		case r.GetPractitioner() != nil:
			for _, id := range r.GetPractitioner().GetIdentifier() {
				if isNPI(id.GetSystem().GetValue()) && p.PharmacistNPI == "" {
					p.PharmacistNPI = id.GetValue().GetValue()
				}
			}
		case r.GetPractitionerRole() != nil:
			roleOrg = r.GetPractitionerRole().GetOrganization().GetOrganizationId().GetValue()
		case r.GetOrganization() != nil:
			o := r.GetOrganization()
			for _, id := range o.GetIdentifier() {
				if isNPI(id.GetSystem().GetValue()) {
					orgs[o.GetId().GetValue()] = id.GetValue().GetValue()
				}
			}
		case r.GetCondition() != nil:
			c := r.GetCondition()
			pr := Problem{ID: c.GetId().GetValue(), Code: coding(c.GetCode(), SNOMED), Text: c.GetCode().GetText().GetValue()}
			if pr.Code.Code == "" {
				vs = append(vs, Violation{Path: join(at, "Condition.code"), Reason: "FHIR_CODE", Msg: "a medication-related problem is coded in SNOMED CT (" + SNOMED + ")"})
			}
			switch coding(c.GetClinicalStatus(), "").Code {
			case "resolved", "inactive", "remission":
				pr.Resolved = true
			}
			if dt := c.GetOnset().GetDateTime(); dt != nil {
				pr.Onset = dateOf(dt.GetValueUs(), dt.GetTimezone())
			}
			p.Problems = append(p.Problems, pr)
		case r.GetProcedure() != nil:
			pc := r.GetProcedure()
			s := Service{ID: pc.GetId().GetValue(), Code: coding(pc.GetCode(), SNOMED), Completed: pc.GetStatus().GetValue().String() == "COMPLETED"}
			if s.Code.Code == "" {
				vs = append(vs, Violation{Path: join(at, "Procedure.code"), Reason: "FHIR_CODE", Msg: "a pharmacist's service is coded in SNOMED CT (" + SNOMED + ")"})
			}
			perf := pc.GetPerformed()
			if dt := perf.GetDateTime(); dt != nil {
				s.Date = dateOf(dt.GetValueUs(), dt.GetTimezone())
			} else if st := perf.GetPeriod().GetStart(); st != nil {
				s.Date = dateOf(st.GetValueUs(), st.GetTimezone())
			}
			p.Services = append(p.Services, s)
		case r.GetEncounter() != nil:
			e := r.GetEncounter()
			if c := e.GetClassValue(); c.GetSystem().GetValue() == ActCode {
				p.Class = c.GetCode().GetValue()
			}
			if st := e.GetPeriod().GetStart(); st != nil && p.Date.IsZero() {
				p.Date = dateOf(st.GetValueUs(), st.GetTimezone())
			}
		case r.GetComposition() != nil:
			c := r.GetComposition()
			if p.ID == "" {
				p.ID = c.GetId().GetValue()
			}
			if dt := c.GetDate(); dt != nil {
				p.Date = dateOf(dt.GetValueUs(), dt.GetTimezone()) // the document's date wins
			}
		case r.GetMedicationDispense() != nil:
			addMed(p, r.GetMedicationDispense().GetMedication().GetCodeableConcept())
		case r.GetMedicationRequest() != nil:
			addMed(p, r.GetMedicationRequest().GetMedication().GetCodeableConcept())
		case r.GetMedicationStatement() != nil:
			addMed(p, r.GetMedicationStatement().GetMedication().GetCodeableConcept())
		}
		p.Resources[resourceType(r)]++
	}
	if npi, ok := orgs[roleOrg]; ok {
		p.PharmacyNPI = npi
	} else if len(orgs) == 1 {
		for _, npi := range orgs {
			p.PharmacyNPI = npi
		}
	}
	if p.ID == "" && len(rs) == 1 {
		p.ID = resourceID(rs[0])
	}
	if p.Date.IsZero() {
		for _, s := range p.Services {
			if s.Date.After(p.Date) {
				p.Date = s.Date
			}
		}
	}
	return p, vs
}

func addMed(p *Plan, cc *d4.CodeableConcept) {
	if c := coding(cc, RxNorm); c.Code != "" {
		p.Medications = append(p.Medications, c)
	}
}

// coding is the first coding of system (any system when empty).
func coding(cc *d4.CodeableConcept, system string) Code {
	for _, c := range cc.GetCoding() {
		if system == "" || c.GetSystem().GetValue() == system {
			return Code{System: c.GetSystem().GetValue(), Code: c.GetCode().GetValue(), Display: c.GetDisplay().GetValue()}
		}
	}
	return Code{}
}

func join(at, path string) string {
	if at == "" {
		return path
	}
	return at + "." + strings.SplitN(path, ".", 2)[1]
}

func resourceType(cr *bpb.ContainedResource) string {
	r := cr.ProtoReflect()
	if od := r.Descriptor().Oneofs().ByName("oneof_resource"); od != nil {
		if f := r.WhichOneof(od); f != nil {
			return string(f.Message().Name())
		}
	}
	return "(none)"
}

func resourceID(cr *bpb.ContainedResource) string {
	r := cr.ProtoReflect()
	od := r.Descriptor().Oneofs().ByName("oneof_resource")
	if od == nil {
		return ""
	}
	f := r.WhichOneof(od)
	if f == nil {
		return ""
	}
	msg := r.Get(f).Message()
	idf := msg.Descriptor().Fields().ByName("id")
	if idf == nil {
		return ""
	}
	id, ok := msg.Get(idf).Message().Interface().(*d4.Id)
	if !ok {
		return ""
	}
	return id.GetValue()
}

// dateOf is the civil date of a FHIR date or dateTime in its own time zone.
func dateOf(us int64, tz string) civil.Date {
	loc := time.UTC
	if tz != "" && tz != "UTC" && tz != "Z" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		} else if t, err := time.Parse("-07:00", tz); err == nil {
			_, off := t.Zone()
			loc = time.FixedZone(tz, off)
		}
	}
	return civil.Of(time.UnixMicro(us).In(loc))
}

// libraryViolations splits the library's report (one line per problem, each
// `error at "<path>": <what>`) into violations.
func libraryViolations(err error) []Violation {
	var vs []Violation
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		path, msg := "(document)", line
		if rest, ok := strings.CutPrefix(line, `error at "`); ok {
			if i := strings.Index(rest, `": `); i >= 0 {
				path, msg = rest[:i], rest[i+3:]
			}
		}
		vs = append(vs, Violation{Path: path, Reason: "FHIR_INVALID", Msg: msg})
	}
	return vs
}
