package careplan

import (
	"fmt"
	"time"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
	codes "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/codes_go_proto"
	d4 "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/datatypes_go_proto"
	bpb "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/bundle_and_contained_resource_go_proto"
	composition "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/composition_go_proto"
	condition "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/condition_go_proto"
	coverage "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/coverage_go_proto"
	organization "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/organization_go_proto"
	patient "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/patient_go_proto"
	practitioner "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/practitioner_go_proto"
	servicerequest "github.com/google/fhir/go/proto/google/fhir/proto/r4/core/resources/service_request_go_proto"

	"github.com/emtm/emtm/libs/civil"
)

// Systems the writer uses besides those Read knows.
const (
	LOINC          = "http://loinc.org"
	conditionClin  = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	identifierType = "http://terminology.hl7.org/CodeSystem/v2-0203"
	coverageClass  = "http://terminology.hl7.org/CodeSystem/coverage-class"
	// PlanOfCareNote is LOINC 18776-5, the PhCP Composition's type.
	PlanOfCareNote = "18776-5"
)

// Write writes p as a PhCP document Bundle (FHIR R4 JSON, through Google's
// FHIR library): the Composition, the Patient with the member id (type MB),
// the Coverage of its plan and the payer, each problem as a Condition, each
// recommendation as a ServiceRequest to the prescriber (a Practitioner with
// the NPI). Read(Write(p)) gives back p's id, date, member, plan, problems and
// recommendations (TestACarePlanWrittenIsReadBackTheSame).
func Write(p *Plan, sponsor string) ([]byte, error) {
	if p.ID == "" || p.MemberID == "" || p.Date.IsZero() {
		return nil, fmt.Errorf("careplan: a plan to write needs its id, member and date")
	}
	var entries []*bpb.Bundle_Entry
	add := func(kind, id string, r *bpb.ContainedResource) {
		entries = append(entries, &bpb.Bundle_Entry{FullUrl: uri(fmt.Sprintf("urn:emtm:%s:%s", kind, id)), Resource: r})
	}
	ref := func(set func(*d4.Reference)) *d4.Reference { r := &d4.Reference{}; set(r); return r }
	patientRef := ref(func(r *d4.Reference) {
		r.Reference = &d4.Reference_PatientId{PatientId: &d4.ReferenceId{Value: "member"}}
	})
	add("Composition", "plan", &bpb.ContainedResource{OneofResource: &bpb.ContainedResource_Composition{Composition: &composition.Composition{
		Id:      &d4.Id{Value: "plan"},
		Status:  &composition.Composition_StatusCode{Value: codes.CompositionStatusCode_FINAL},
		Type:    concept(LOINC, PlanOfCareNote, "Plan of care note", ""),
		Subject: patientRef, Date: dateTime(p.Date), Title: str("Pharmacist Care Plan"),
		Author: []*d4.Reference{ref(func(r *d4.Reference) {
			r.Reference = &d4.Reference_OrganizationId{OrganizationId: &d4.ReferenceId{Value: "sponsor"}}
		})},
	}}})
	add("Patient", "member", &bpb.ContainedResource{OneofResource: &bpb.ContainedResource_Patient{Patient: &patient.Patient{
		Id:         &d4.Id{Value: "member"},
		Identifier: []*d4.Identifier{{Type: concept(identifierType, MemberIDType, "Member Number", ""), Value: str(p.MemberID)}},
	}}})
	add("Organization", "sponsor", &bpb.ContainedResource{OneofResource: &bpb.ContainedResource_Organization{Organization: &organization.Organization{
		Id: &d4.Id{Value: "sponsor"}, Name: str(sponsor),
	}}})
	if p.Contract != "" {
		add("Coverage", "partd", &bpb.ContainedResource{OneofResource: &bpb.ContainedResource_Coverage{Coverage: &coverage.Coverage{
			Id:          &d4.Id{Value: "partd"},
			Status:      &coverage.Coverage_StatusCode{Value: codes.FinancialResourceStatusCode_ACTIVE},
			Beneficiary: patientRef,
			Payor: []*d4.Reference{ref(func(r *d4.Reference) {
				r.Reference = &d4.Reference_OrganizationId{OrganizationId: &d4.ReferenceId{Value: "sponsor"}}
			})},
			ClassValue: []*coverage.Coverage_Class{{Type: concept(coverageClass, "plan", "Plan", ""), Value: str(p.Contract + "-" + p.PBP)}},
		}}})
	}
	prescribers := map[string]bool{}
	for _, pr := range p.Problems {
		status := "active"
		if pr.Resolved {
			status = "resolved"
		}
		c := &condition.Condition{
			Id:             &d4.Id{Value: pr.ID},
			ClinicalStatus: concept(conditionClin, status, "", ""),
			Code:           concept(SNOMED, pr.Code.Code, pr.Code.Display, pr.Text),
			Subject:        patientRef,
		}
		if !pr.Onset.IsZero() {
			c.Onset = &condition.Condition_OnsetX{Choice: &condition.Condition_OnsetX_DateTime{DateTime: dateTime(pr.Onset)}}
		}
		add("Condition", pr.ID, &bpb.ContainedResource{OneofResource: &bpb.ContainedResource_Condition{Condition: c}})
	}
	for i, r := range p.Recommendations {
		if !prescribers[r.PrescriberNPI] {
			prescribers[r.PrescriberNPI] = true
			add("Practitioner", "npi-"+r.PrescriberNPI, &bpb.ContainedResource{OneofResource: &bpb.ContainedResource_Practitioner{Practitioner: &practitioner.Practitioner{
				Id:         &d4.Id{Value: "npi-" + r.PrescriberNPI},
				Identifier: []*d4.Identifier{{System: uri(NPISystem), Value: str(r.PrescriberNPI)}},
			}}})
		}
		npi, problem := r.PrescriberNPI, r.ProblemID
		sr := &servicerequest.ServiceRequest{
			Id:      &d4.Id{Value: fmt.Sprintf("rec-%d", i+1)},
			Status:  &servicerequest.ServiceRequest_StatusCode{Value: codes.RequestStatusCode_ACTIVE},
			Intent:  &servicerequest.ServiceRequest_IntentCode{Value: codes.RequestIntentCode_PROPOSAL},
			Subject: patientRef,
			Performer: []*d4.Reference{ref(func(x *d4.Reference) {
				x.Reference = &d4.Reference_PractitionerId{PractitionerId: &d4.ReferenceId{Value: "npi-" + npi}}
			})},
			ReasonReference: []*d4.Reference{ref(func(x *d4.Reference) {
				x.Reference = &d4.Reference_ConditionId{ConditionId: &d4.ReferenceId{Value: problem}}
			})},
			Note: []*d4.Annotation{{Text: &d4.Markdown{Value: r.Text}}},
		}
		if r.Code.Code != "" {
			sr.Code = concept(SNOMED, r.Code.Code, r.Code.Display, "")
		}
		add("ServiceRequest", fmt.Sprintf("rec-%d", i+1), &bpb.ContainedResource{OneofResource: &bpb.ContainedResource_ServiceRequest{ServiceRequest: sr}})
	}
	b := &bpb.Bundle{
		Id:         &d4.Id{Value: "careplan"},
		Identifier: &d4.Identifier{System: uri("https://emtm.dev/fhir/careplan"), Value: str(p.ID)},
		Type:       &bpb.Bundle_TypeCode{Value: codes.BundleTypeCode_DOCUMENT},
		Timestamp:  &d4.Instant{ValueUs: time.Date(p.Date.Year, p.Date.Month, p.Date.Day, 0, 0, 0, 0, time.UTC).UnixMicro(), Precision: d4.Instant_SECOND, Timezone: "UTC"},
		Entry:      entries,
	}
	m, err := jsonformat.NewPrettyMarshaller(fhirversion.R4)
	if err != nil {
		return nil, err
	}
	return m.MarshalResource(b)
}

func str(s string) *d4.String { return &d4.String{Value: s} }
func uri(s string) *d4.Uri    { return &d4.Uri{Value: s} }

func concept(system, code, display, text string) *d4.CodeableConcept {
	c := &d4.CodeableConcept{Coding: []*d4.Coding{{System: uri(system), Code: &d4.Code{Value: code}}}}
	if display != "" {
		c.Coding[0].Display = str(display)
	}
	if text != "" {
		c.Text = str(text)
	}
	return c
}

func dateTime(d civil.Date) *d4.DateTime {
	return &d4.DateTime{ValueUs: time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).UnixMicro(), Precision: d4.DateTime_DAY, Timezone: "UTC"}
}
