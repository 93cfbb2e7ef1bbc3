package careplan

import (
	"regexp"
	"strings"
)

// paths are the FHIR elements the fields of an MTM encounter come from (see
// Encounter); [i] counts the resources of that type in document order.
var paths = map[string]string{
	"encounter_id":                        "Bundle.identifier",
	"member_id":                           "Patient.identifier",
	"mbi":                                 "Patient.identifier",
	"contract_id":                         "Coverage.class",
	"pbp_id":                              "Coverage.class",
	"service_date":                        "Composition.date",
	"service_codes":                       "Procedure.code",
	"pharmacist_npi":                      "Practitioner.identifier",
	"pharmacy_npi":                        "Organization.identifier",
	"minutes":                             "Encounter.length",
	"delivery_mode":                       "Encounter.class",
	"outcome":                             "Procedure.status",
	"problems_found":                      "Condition",
	"problems_resolved":                   "Condition.clinicalStatus",
	"task_kind":                           "Encounter",
	"task_id":                             "Encounter",
	"problems.problem_id":                 "Condition.id",
	"problems.code":                       "Condition.code",
	"problems.description":                "Condition.code.text",
	"problems.onset_date":                 "Condition.onsetDateTime",
	"recommendations.prescriber_npi":      "ServiceRequest.performer",
	"recommendations.problem_id":          "ServiceRequest.reasonReference",
	"recommendations.code":                "ServiceRequest.code",
	"recommendations.text":                "ServiceRequest.note",
	"prescriber_responses.prescriber_npi": "Communication.sender",
	"prescriber_responses.problem_key":    "Communication.about",
	"prescriber_responses.note":           "Communication.payload",
}

var resourceOf = map[string]string{"problems": "Condition", "recommendations": "ServiceRequest", "prescriber_responses": "Communication", "service_codes": "Procedure"}

var indexed = regexp.MustCompile(`^([a-z_]+)\[(\d+)\](?:\.([a-z_]+))?$`)

// Path is the FHIR path of an encounter field a violation names
// (problems[2].code is Condition[2].code: the third Condition), the field
// itself when it comes from no one element.
func Path(field string) string {
	if m := indexed.FindStringSubmatch(field); m != nil {
		key := m[1]
		if m[3] != "" {
			key += "." + m[3]
		}
		p, ok := paths[key]
		if !ok {
			return field
		}
		typ, elem, _ := strings.Cut(p, ".")
		if r, ok := resourceOf[m[1]]; ok && r == typ {
			return typ + "[" + m[2] + "]." + elem
		}
		return p
	}
	if p, ok := paths[field]; ok {
		return p
	}
	return field
}
