package careplan

import (
	"strings"

	"github.com/google/fhir/go/fhirversion"
	d3 "github.com/google/fhir/go/proto/google/fhir/proto/stu3/datatypes_go_proto"
	r3 "github.com/google/fhir/go/proto/google/fhir/proto/stu3/resources_go_proto"

	"github.com/emtm/emtm/libs/civil"
)

// ReadSTU3 reads a care plan of the PhCP's earlier STU3 edition (FHIR 3.0)
// for the content it shares with R4: the document's identifier and date, the
// patient's identifiers, the problems (Condition: STU3's clinicalStatus is a
// code), the services (Procedure), the medications (MedicationRequest,
// MedicationDispense, MedicationStatement: RxNorm) and the pharmacist and
// pharmacy NPIs. STU3 interventions as RequestGroup and ProcedureRequest have
// no R4 resource of the same kind in the R4 reading (R4 made them Procedure
// and ServiceRequest) and are counted, not mapped. Entries without an id are
// known by their fullUrl.
func ReadSTU3(data []byte) (*Plan, []Violation) {
	m, vs := unmarshal(data, fhirversion.STU3)
	if vs != nil {
		return nil, vs
	}
	cr, ok := m.(*r3.ContainedResource)
	if !ok || cr.GetBundle() == nil {
		return nil, []Violation{{Path: "(document)", Reason: "FHIR_INVALID", Msg: "an STU3 care plan is a Bundle"}}
	}
	b := cr.GetBundle()
	p := &Plan{ID: b.GetIdentifier().GetValue().GetValue(), Resources: map[string]int{}}
	npiOf := func(ids []*d3.Identifier) string {
		for _, id := range ids {
			if isNPI(id.GetSystem().GetValue()) {
				return strings.TrimSpace(id.GetValue().GetValue())
			}
		}
		return ""
	}
	practitioners := map[string]string{} // fullUrl -> NPI
	var authors []string
	for _, e := range b.GetEntry() {
		r, url := e.GetResource(), e.GetFullUrl().GetValue()
		id := func(v string) string {
			if v != "" {
				return v
			}
			return url
		}
		switch {
		case r.GetComposition() != nil:
			c := r.GetComposition()
			if p.ID == "" {
				p.ID = c.GetIdentifier().GetValue().GetValue()
			}
			if dt := c.GetDate(); dt != nil {
				p.Date = civil.OfMicros(dt.GetValueUs(), dt.GetTimezone())
			}
			for _, a := range c.GetAuthor() {
				authors = append(authors, a.GetUri().GetValue())
			}
		case r.GetPatient() != nil:
			pt := r.GetPatient()
			p.PatientID = id(pt.GetId().GetValue())
			for _, i := range pt.GetIdentifier() {
				if v := strings.TrimSpace(i.GetValue().GetValue()); v != "" {
					p.MemberIDs = append(p.MemberIDs, v)
				}
			}
		case r.GetPractitioner() != nil:
			practitioners[url] = npiOf(r.GetPractitioner().GetIdentifier())
		case r.GetOrganization() != nil:
			if npi := npiOf(r.GetOrganization().GetIdentifier()); npi != "" && p.PharmacyNPI == "" {
				p.PharmacyNPI = npi
			}
		case r.GetCondition() != nil:
			c := r.GetCondition()
			pr := Problem{ID: id(c.GetId().GetValue()), Text: c.GetCode().GetText().GetValue()}
			for _, cd := range c.GetCode().GetCoding() {
				if cd.GetSystem().GetValue() == SNOMED {
					pr.Code = Code{System: SNOMED, Code: cd.GetCode().GetValue(), Display: cd.GetDisplay().GetValue()}
					break
				}
			}
			pr.Resolved = resolved(strings.ToLower(c.GetClinicalStatus().GetValue().String()))
			if dt := c.GetOnset().GetDateTime(); dt != nil {
				pr.Onset = civil.OfMicros(dt.GetValueUs(), dt.GetTimezone())
			}
			p.Problems = append(p.Problems, pr)
		case r.GetProcedure() != nil:
			pc := r.GetProcedure()
			s := Service{ID: id(pc.GetId().GetValue()), Completed: pc.GetStatus().GetValue().String() == "COMPLETED"}
			for _, cd := range pc.GetCode().GetCoding() {
				if cd.GetSystem().GetValue() == SNOMED {
					s.Code = Code{System: SNOMED, Code: cd.GetCode().GetValue(), Display: cd.GetDisplay().GetValue()}
					break
				}
			}
			if dt := pc.GetPerformed().GetDateTime(); dt != nil {
				s.Date = civil.OfMicros(dt.GetValueUs(), dt.GetTimezone())
			} else if st := pc.GetPerformed().GetPeriod().GetStart(); st != nil {
				s.Date = civil.OfMicros(st.GetValueUs(), st.GetTimezone())
			}
			p.Services = append(p.Services, s)
		case r.GetMedicationRequest() != nil:
			addMed3(p, r.GetMedicationRequest().GetMedication().GetCodeableConcept())
		case r.GetMedicationDispense() != nil:
			addMed3(p, r.GetMedicationDispense().GetMedication().GetCodeableConcept())
		case r.GetMedicationStatement() != nil:
			addMed3(p, r.GetMedicationStatement().GetMedication().GetCodeableConcept())
		}
		p.Resources[ResourceType(r)]++
	}
	for _, a := range authors {
		if npi := practitioners[a]; npi != "" {
			p.PharmacistNPI = npi
			break
		}
	}
	return p, nil
}

func addMed3(p *Plan, cc *d3.CodeableConcept) {
	for _, c := range cc.GetCoding() {
		if c.GetSystem().GetValue() == RxNorm {
			p.Medications = append(p.Medications, Code{System: RxNorm, Code: c.GetCode().GetValue(), Display: c.GetDisplay().GetValue()})
			return
		}
	}
}
