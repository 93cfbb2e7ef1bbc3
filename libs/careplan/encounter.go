package careplan

import (
	"strings"

	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
)

// Telephone encounter (SNOMED CT 185317003): how a care plan says the
// service was by telephone (the v3 ActCode classes have no telephone).
const telephoneEncounter = "185317003"

// Key is the outreach problem key of a pharmacist-identified problem: stable
// across versions of the pharmacy's care plan, as Condition.id is.
func Key(problemID string) string { return "PHCP:" + problemID }

// Encounter maps a care plan to the MTM encounter ingestion validates:
//   - encounter_id: the document's identifier; member_id: the Patient's
//     member id (identifier typed MB, else its only identifier); the plan:
//     Coverage.class plan (S9925-001, or plan S9925 and subplan 001);
//   - service_date: the document's date; service_codes: the SNOMED CT codes
//     of the completed Procedures (the Encounter's type, a kind of visit, is
//     no service: fees are by service);
//   - pharmacist and pharmacy: the PractitionerRole's practitioner and
//     organization NPIs; minutes: Encounter.length in minutes;
//   - delivery: class AMB or HH in person, VR video, a telephone-encounter
//     type telephone; outcome: completed when a service was completed, else
//     offered for a planned Encounter, declined for a cancelled one;
//   - problems (Conditions, open or resolved), recommendations
//     (ServiceRequests to prescribers) and prescriber responses
//     (Communications from prescribers, problem key PHCP:<Condition.id>).
//
// What is missing for a submission is a violation naming the FHIR element it
// comes from; ingestion validates the rest (NPIs, SNOMED check digits, dates).
func Encounter(p *Plan) (*encountersv1.MtmEncounter, []Violation) {
	e := &encountersv1.MtmEncounter{
		EncounterId: p.ID, MemberId: p.MemberID, ContractId: p.Contract, PbpId: p.PBP, ServiceDate: p.Date.Proto(),
		PharmacistNpi: p.PharmacistNPI, PharmacyNpi: p.PharmacyNPI, Minutes: int32(p.Minutes),
	}
	var vs []Violation
	need := func(ok bool, path, msg string) {
		if !ok {
			vs = append(vs, Violation{Path: path, Reason: "FHIR_REQUIRED", Msg: msg})
		}
	}
	need(p.ID != "", "Bundle.identifier", "the care plan's identifier (the encounter's id) is required")
	need(p.MemberID != "", "Patient.identifier", "the member id is required: an identifier of type MB (http://terminology.hl7.org/CodeSystem/v2-0203)")
	need(p.Contract != "" && p.PBP != "", "Coverage.class", "the Part D plan is required: Coverage.class of type plan, e.g. S9925-001")
	need(!p.Date.IsZero(), "Composition.date", "the date of the service is required (Composition.date, Encounter.period.start or Procedure.performed)")
	need(p.PharmacistNPI != "", "PractitionerRole.practitioner", "the pharmacist's NPI (identifier system http://hl7.org/fhir/sid/us-npi) is required")
	need(p.PharmacyNPI != "", "PractitionerRole.organization", "the pharmacy's NPI (identifier system http://hl7.org/fhir/sid/us-npi) is required")
	seen := map[string]bool{}
	completed := false
	for _, s := range p.Services {
		if s.Completed && s.Code.Code != "" && !seen[s.Code.Code] {
			seen[s.Code.Code] = true
			e.ServiceCodes = append(e.ServiceCodes, s.Code.Code)
			completed = true
		}
	}
	telephone := false
	for _, t := range p.EncounterType {
		if t.Code == telephoneEncounter {
			telephone = true
		}
	}
	switch {
	case telephone:
		e.DeliveryMode = encountersv1.DeliveryMode_DELIVERY_MODE_TELEPHONE
	case p.Class == "VR":
		e.DeliveryMode = encountersv1.DeliveryMode_DELIVERY_MODE_VIDEO
	case p.Class == "AMB" || p.Class == "HH" || p.Class == "" && completed:
		e.DeliveryMode = encountersv1.DeliveryMode_DELIVERY_MODE_IN_PERSON
	default:
		vs = append(vs, Violation{Path: "Encounter.class", Reason: "FHIR_CODE", Msg: "how the service was delivered: class AMB, HH or VR (" + ActCode + "), or a telephone-encounter type"})
	}
	switch {
	case completed || p.Status == "finished":
		e.Outcome = encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED
	case p.Status == "planned":
		e.Outcome = encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_OFFERED
	case p.Status == "cancelled":
		e.Outcome = encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_DECLINED
	case len(p.Problems) > 0 || len(p.Recommendations) > 0:
		e.Outcome = encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED
	default:
		vs = append(vs, Violation{Path: "Procedure.status", Reason: "FHIR_REQUIRED", Msg: "no completed service, no finished, planned or cancelled Encounter: what happened is unknown"})
	}
	for _, pr := range p.Problems {
		e.Problems = append(e.Problems, &encountersv1.MedicationProblem{ProblemId: pr.ID, Code: pr.Code.Code,
			Description: firstNonEmpty(pr.Text, pr.Code.Display), Resolved: pr.Resolved, OnsetDate: pr.Onset.Proto()})
		e.ProblemsFound++
		if pr.Resolved {
			e.ProblemsResolved++
		}
	}
	for _, r := range p.Recommendations {
		e.Recommendations = append(e.Recommendations, &encountersv1.Recommendation{PrescriberNpi: r.PrescriberNPI, ProblemId: r.ProblemID,
			Code: r.Code.Code, Text: r.Text})
	}
	for _, r := range p.Responses {
		e.PrescriberResponses = append(e.PrescriberResponses, &encountersv1.PrescriberResponse{PrescriberNpi: r.PrescriberNPI,
			ProblemKey: Key(r.ProblemID), Accepted: r.Accepted, Note: r.Note})
	}
	if e.ServiceDate != nil && e.ServiceDate.Year == 0 {
		e.ServiceDate = nil
	}
	return e, vs
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if strings.TrimSpace(x) != "" {
			return strings.TrimSpace(x)
		}
	}
	return ""
}
