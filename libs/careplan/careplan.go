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
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"google.golang.org/protobuf/reflect/protoreflect"

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

// Recommendation is a pharmacist's request to a prescriber (a ServiceRequest
// whose performer is a Practitioner) about a problem (its reasonReference).
type Recommendation struct {
	PrescriberNPI string
	ProblemID     string
	Code          Code // SNOMED CT, when coded
	Text          string
}

// Response is a prescriber's answer (a Communication sent by the prescriber
// about a problem, with reasonCode accepted or declined in ResponseSystem).
type Response struct {
	PrescriberNPI string
	ProblemID     string
	Accepted      bool
	Note          string
}

// ResponseSystem is emtm's code system for a prescriber's answer in a care
// plan: the PhCP IG has no element for it (docs/interchange.md says so).
const ResponseSystem = "https://emtm.dev/fhir/CodeSystem/prescriber-response"

// MemberIDType is the identifier type (HL7 v2-0203 MB, member number) that
// marks the plan's member id among a Patient's identifiers.
const MemberIDType = "MB"

// Plan is what emtm reads of a care plan.
type Plan struct {
	ID              string // the document's identifier (Bundle.identifier, else Composition.identifier, else the id)
	Date            civil.Date
	PatientID       string // Patient.id
	MemberID        string // the identifier typed MB, else the only identifier
	MemberIDs       []string
	Contract, PBP   string // Coverage.class plan (and subplan)
	PharmacistNPI   string
	PharmacyNPI     string
	Class           string // the Encounter's v3 ActCode class (AMB, VR, HH...)
	EncounterType   []Code // the Encounter's SNOMED CT types
	Status          string // the Encounter's status (finished, planned...)
	Minutes         int
	Services        []Service
	Problems        []Problem
	Recommendations []Recommendation
	Responses       []Response
	Medications     []Code
	Resources       map[string]int // what the document held, by type
}

// Violation is one problem of a care plan, at its FHIR path.
type Violation struct {
	Path   string
	Reason string
	Msg    string
}

func (v Violation) Error() string { return v.Path + ": " + v.Msg }

// entry is one resource of the document and where it is.
type entry struct {
	r    *bpb.ContainedResource
	path string
}

// index resolves references within the document: Type/id and fullUrl.
type index struct {
	byURL map[string][2]string // fullUrl -> type, id
	npi   map[string]string    // Practitioner id -> NPI
	role  map[string]string    // PractitionerRole id -> Practitioner id
}

func (x *index) target(r *d4.Reference) (typ, id string) {
	switch {
	case r.GetPractitionerId() != nil:
		return "Practitioner", r.GetPractitionerId().GetValue()
	case r.GetPractitionerRoleId() != nil:
		return "PractitionerRole", r.GetPractitionerRoleId().GetValue()
	case r.GetConditionId() != nil:
		return "Condition", r.GetConditionId().GetValue()
	case r.GetOrganizationId() != nil:
		return "Organization", r.GetOrganizationId().GetValue()
	case r.GetPatientId() != nil:
		return "Patient", r.GetPatientId().GetValue()
	case r.GetUri() != nil:
		if t, ok := x.byURL[r.GetUri().GetValue()]; ok {
			return t[0], t[1]
		}
	}
	return "", ""
}

// practitionerNPI is the NPI of a Practitioner (or PractitionerRole's practitioner) reference.
func (x *index) practitionerNPI(r *d4.Reference) string {
	typ, id := x.target(r)
	if typ == "PractitionerRole" {
		typ, id = "Practitioner", x.role[id]
	}
	if typ != "Practitioner" {
		return ""
	}
	return x.npi[id]
}

func (x *index) condition(rs []*d4.Reference) string {
	for _, r := range rs {
		if typ, id := x.target(r); typ == "Condition" {
			return id
		}
	}
	return ""
}

// Read parses a care plan (a document Bundle, or one of its resources alone).
func Read(data []byte) (*Plan, []Violation) {
	m, bad := unmarshal(data, fhirversion.R4)
	if bad != nil {
		return nil, bad
	}
	cr, ok := m.(*bpb.ContainedResource)
	if !ok {
		return nil, []Violation{{Path: "(document)", Reason: "FHIR_INVALID", Msg: fmt.Sprintf("unexpected %T", m)}}
	}
	p := &Plan{Resources: map[string]int{}}
	x := &index{byURL: map[string][2]string{}, npi: map[string]string{}, role: map[string]string{}}
	var es []entry
	if b := cr.GetBundle(); b != nil {
		p.ID = b.GetIdentifier().GetValue().GetValue()
		if p.ID == "" {
			p.ID = b.GetId().GetValue()
		}
		for i, e := range b.GetEntry() {
			es = append(es, entry{e.GetResource(), fmt.Sprintf("Bundle.entry[%d].resource", i)})
			if u := e.GetFullUrl().GetValue(); u != "" {
				x.byURL[u] = [2]string{ResourceType(e.GetResource()), resourceID(e.GetResource())}
			}
		}
	} else {
		es = []entry{{cr, ""}}
	}
	// First the people: who is who decides the rest.
	orgs := map[string]string{}
	var roleOrg, rolePractitioner string
	var practitioners []string
	for _, e := range es {
		switch r := e.r; {
		case r.GetPractitioner() != nil:
			pr := r.GetPractitioner()
			practitioners = append(practitioners, pr.GetId().GetValue())
			for _, id := range pr.GetIdentifier() {
				if isNPI(id.GetSystem().GetValue()) {
					x.npi[pr.GetId().GetValue()] = strings.TrimSpace(id.GetValue().GetValue())
					break
				}
			}
		case r.GetPractitionerRole() != nil:
			pr := r.GetPractitionerRole()
			x.role[pr.GetId().GetValue()] = pr.GetPractitioner().GetPractitionerId().GetValue()
			if rolePractitioner == "" {
				roleOrg = pr.GetOrganization().GetOrganizationId().GetValue()
				rolePractitioner = pr.GetPractitioner().GetPractitionerId().GetValue()
			}
		case r.GetOrganization() != nil:
			o := r.GetOrganization()
			for _, id := range o.GetIdentifier() {
				if isNPI(id.GetSystem().GetValue()) {
					orgs[o.GetId().GetValue()] = strings.TrimSpace(id.GetValue().GetValue())
				}
			}
		}
	}
	var vs []Violation
	var author string
	prescriberIDs := map[string]bool{} // practitioners asked or answering: prescribers, not the pharmacist
	for _, e := range es {
		r, at := e.r, e.path
		switch {
		case r.GetPatient() != nil:
			pt := r.GetPatient()
			p.PatientID = pt.GetId().GetValue()
			for _, id := range pt.GetIdentifier() {
				v := strings.TrimSpace(id.GetValue().GetValue())
				if v == "" {
					continue
				}
				p.MemberIDs = append(p.MemberIDs, v)
				if hasCode(id.GetType(), MemberIDType) && p.MemberID == "" {
					p.MemberID = v
				}
			}
			if p.MemberID == "" && len(p.MemberIDs) == 1 {
				p.MemberID = p.MemberIDs[0]
			}
		case r.GetCoverage() != nil:
			for _, c := range r.GetCoverage().GetClassValue() {
				v := strings.TrimSpace(c.GetValue().GetValue())
				switch {
				case hasCode(c.GetType(), "plan"):
					if con, pbp, ok := strings.Cut(v, "-"); ok {
						p.Contract, p.PBP = strings.ToUpper(con), pbp
					} else {
						p.Contract = strings.ToUpper(v)
					}
				case hasCode(c.GetType(), "subplan"):
					p.PBP = v
				}
			}
		case r.GetCondition() != nil:
			c := r.GetCondition()
			pr := Problem{ID: c.GetId().GetValue(), Code: coding(c.GetCode(), SNOMED), Text: c.GetCode().GetText().GetValue()}
			if pr.Code.Code == "" {
				vs = append(vs, Violation{Path: join(at, "Condition.code"), Reason: "FHIR_CODE", Msg: "a medication-related problem is coded in SNOMED CT (" + SNOMED + ")"})
			}
			pr.Resolved = resolved(coding(c.GetClinicalStatus(), "").Code)
			if dt := c.GetOnset().GetDateTime(); dt != nil {
				pr.Onset = civil.OfMicros(dt.GetValueUs(), dt.GetTimezone())
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
				s.Date = civil.OfMicros(dt.GetValueUs(), dt.GetTimezone())
			} else if st := perf.GetPeriod().GetStart(); st != nil {
				s.Date = civil.OfMicros(st.GetValueUs(), st.GetTimezone())
			}
			p.Services = append(p.Services, s)
		case r.GetServiceRequest() != nil:
			sr := r.GetServiceRequest()
			rec := Recommendation{ProblemID: x.condition(sr.GetReasonReference()), Code: coding(sr.GetCode(), SNOMED), Text: sr.GetCode().GetText().GetValue()}
			for _, n := range sr.GetNote() {
				if t := n.GetText().GetValue(); t != "" {
					rec.Text = strings.TrimSpace(rec.Text + " " + t)
				}
			}
			if rec.Text == "" {
				rec.Text = rec.Code.Display
			}
			for _, perf := range sr.GetPerformer() {
				if typ, id := x.target(perf); typ == "Practitioner" {
					prescriberIDs[id] = true
				}
				if npi := x.practitionerNPI(perf); npi != "" {
					rec.PrescriberNPI = npi
					p.Recommendations = append(p.Recommendations, rec)
				}
			}
			// A request to no prescriber (a referral to a service) is an intervention, not outreach.
		case r.GetCommunication() != nil:
			cm := r.GetCommunication()
			if typ, id := x.target(cm.GetSender()); typ == "Practitioner" {
				prescriberIDs[id] = true
			}
			npi := x.practitionerNPI(cm.GetSender())
			var answer string
			for _, rc := range cm.GetReasonCode() {
				if c := coding(rc, ResponseSystem); c.Code != "" {
					answer = c.Code
				}
			}
			if npi == "" || answer == "" {
				continue // a care-coordination message, not a prescriber's answer
			}
			if answer != "accepted" && answer != "declined" {
				vs = append(vs, Violation{Path: join(at, "Communication.reasonCode"), Reason: "FHIR_CODE", Msg: fmt.Sprintf("a prescriber's answer is accepted or declined in %s, got %q", ResponseSystem, answer)})
				continue
			}
			resp := Response{PrescriberNPI: npi, ProblemID: x.condition(cm.GetAbout()), Accepted: answer == "accepted"}
			for _, pl := range cm.GetPayload() {
				resp.Note = strings.TrimSpace(resp.Note + " " + pl.GetContent().GetStringValue().GetValue())
			}
			if resp.ProblemID == "" {
				vs = append(vs, Violation{Path: join(at, "Communication.about"), Reason: "FHIR_REQUIRED", Msg: "a prescriber's answer names the problem (a Condition) it is about"})
				continue
			}
			p.Responses = append(p.Responses, resp)
		case r.GetEncounter() != nil:
			e := r.GetEncounter()
			if c := e.GetClassValue(); c.GetSystem().GetValue() == ActCode {
				p.Class = c.GetCode().GetValue()
			}
			for _, t := range e.GetType() {
				if c := coding(t, SNOMED); c.Code != "" {
					p.EncounterType = append(p.EncounterType, c)
				}
			}
			p.Status = strings.ToLower(strings.ReplaceAll(e.GetStatus().GetValue().String(), "_", "-"))
			if l := e.GetLength(); l != nil && l.GetCode().GetValue() == "min" {
				if v, err := strconv.ParseFloat(l.GetValue().GetValue(), 64); err == nil && v >= 0 && v < 100000 {
					p.Minutes = int(v)
				}
			}
			if st := e.GetPeriod().GetStart(); st != nil && p.Date.IsZero() {
				p.Date = civil.OfMicros(st.GetValueUs(), st.GetTimezone())
			}
		case r.GetComposition() != nil:
			c := r.GetComposition()
			if p.ID == "" {
				p.ID = c.GetIdentifier().GetValue().GetValue()
			}
			if p.ID == "" {
				p.ID = c.GetId().GetValue()
			}
			if dt := c.GetDate(); dt != nil {
				p.Date = civil.OfMicros(dt.GetValueUs(), dt.GetTimezone()) // the document's date wins
			}
			for _, a := range c.GetAuthor() {
				if npi := x.practitionerNPI(a); npi != "" && author == "" {
					author = npi
				}
			}
		case r.GetMedicationDispense() != nil:
			addMed(p, r.GetMedicationDispense().GetMedication().GetCodeableConcept())
		case r.GetMedicationRequest() != nil:
			addMed(p, r.GetMedicationRequest().GetMedication().GetCodeableConcept())
		case r.GetMedicationStatement() != nil:
			addMed(p, r.GetMedicationStatement().GetMedication().GetCodeableConcept())
		}
		p.Resources[ResourceType(r)]++
	}
	// The pharmacist: the PractitionerRole's practitioner, else the document's
	// author, else the only practitioner who is no prescriber of the document.
	var others []string
	for _, id := range practitioners {
		if !prescriberIDs[id] {
			others = append(others, id)
		}
	}
	switch {
	case x.npi[rolePractitioner] != "":
		p.PharmacistNPI = x.npi[rolePractitioner]
	case author != "":
		p.PharmacistNPI = author
	case len(others) == 1:
		p.PharmacistNPI = x.npi[others[0]]
	}
	if npi, ok := orgs[roleOrg]; ok {
		p.PharmacyNPI = npi
	} else if len(orgs) == 1 {
		for _, npi := range orgs {
			p.PharmacyNPI = npi
		}
	}
	if p.ID == "" && len(es) == 1 {
		p.ID = resourceID(es[0].r)
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

// resolved reports whether a Condition's clinical status (R4 code, or STU3's
// lower-cased) says the problem is no longer active.
func resolved(status string) bool {
	switch status {
	case "resolved", "inactive", "remission":
		return true
	}
	return false
}

func hasCode(cc *d4.CodeableConcept, code string) bool {
	for _, c := range cc.GetCoding() {
		if c.GetCode().GetValue() == code {
			return true
		}
	}
	return false
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

// ResourceType is the resource type a ContainedResource of any FHIR version
// holds ("(none)" when empty).
func ResourceType(cr protoreflect.ProtoMessage) string {
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

// unmarshal parses data, at most MaxBytes, with the library's base
// validation for version; a problem is returned as violations.
func unmarshal(data []byte, version fhirversion.Version) (proto.Message, []Violation) {
	if len(data) > MaxBytes {
		return nil, []Violation{{Path: "(document)", Reason: "FHIR_TOO_LARGE", Msg: fmt.Sprintf("%d bytes, at most %d", len(data), MaxBytes)}}
	}
	u, err := jsonformat.NewUnmarshaller("UTC", version)
	if err != nil {
		return nil, []Violation{{Path: "(library)", Reason: "FHIR_LIBRARY", Msg: err.Error()}}
	}
	m, err := u.Unmarshal(data)
	if err != nil {
		return nil, libraryViolations(err)
	}
	return m, nil
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
