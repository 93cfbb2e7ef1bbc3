// Package bus is emtm's use of NATS JetStream: the streams and their subjects,
// asynchronous publishing with a Nats-Msg-Id derived from the event's identity,
// durable pull consumers that acknowledge only after the effect is stored, a
// dead-letter path an operator can see, and W3C trace context in headers.
package bus

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Stream names.
const (
	StreamRaw         = "EMTM_RAW"
	StreamRejections  = "EMTM_REJECTIONS"
	StreamClaims      = "EMTM_CLAIMS"
	StreamEncounters  = "EMTM_ENCOUNTERS"
	StreamEnrollment  = "EMTM_ENROLLMENT"
	StreamMedical     = "EMTM_MEDICAL"
	StreamAssessments = "EMTM_ASSESSMENTS"
	StreamTasks       = "EMTM_TASKS"
	StreamOutreach    = "EMTM_OUTREACH"
	StreamLedger      = "EMTM_LEDGER"
	StreamDLQ         = "EMTM_DLQ"
	StreamWork        = "EMTM_WORK"
	StreamAudit       = "EMTM_AUDIT"
)

// Submission kinds, as used in raw and rejection subjects.
const (
	KindClaim      = "claim"
	KindReversal   = "reversal"
	KindEncounter  = "encounter"
	KindEnrollment = "enrollment"
	KindMedical    = "medical"
	KindCondition  = "condition"
	// KindCarePlan is an HL7 Pharmacist eCare Plan (FHIR R4 JSON), read into an MTM encounter.
	KindCarePlan = "careplan"
	KindUnknown  = "unknown"
)

// Kinds lists the submission kinds a sender may use.
var Kinds = []string{KindClaim, KindReversal, KindEncounter, KindEnrollment, KindMedical, KindCondition, KindCarePlan}

// Partition maps a member id to its partition token "p<n>" with n in [0, partitions).
// FNV-1a 32-bit: stable across releases and languages, so a deployment's
// subjects never move. The member id itself never appears in a subject.
func Partition(memberID string, partitions int) string {
	if partitions < 1 {
		partitions = 1
	}
	return fmt.Sprintf("p%d", keyHash(memberID)%uint32(partitions))
}

// OrderKey is the Emtm-Order-Key of events about memberID: FNV-1a 64-bit, hex.
func OrderKey(memberID string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(memberID))
	return strconv.FormatUint(h.Sum64(), 16)
}

// keyHash is FNV-1a 32-bit of s.
func keyHash(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

// PartitionTokens lists every partition token for n partitions.
func PartitionTokens(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("p%d", i)
	}
	return out
}

// Subject builders (see the topics in topology.go). <p> is a partition token.
func ClaimPaidSubject(p string) string        { return ClaimPaid.Subject(p) }
func ClaimReversedSubject(p string) string    { return ClaimReversed.Subject(p) }
func EncounterSubject(p string) string        { return Encounter.Subject(p) }
func EnrollmentSubject(p string) string       { return Enrollment.Subject(p) }
func MedicalSubject(p string) string          { return PartsAB.Subject(p) }
func ConditionSubject(p string) string        { return Condition.Subject(p) }
func AssessmentSubject(p string) string       { return Assessment.Subject(p) }
func TaskSubject(p string) string             { return Task.Subject(p) }
func OutreachSubject(p string) string         { return OutreachItem.Subject(p) }
func RejectionSubject(kind string) string     { return Rejection.Subject(kind) }
func LedgerSubject(contract string) string    { return LedgerEntry.Subject(contract) }
func DeadLetterSubject(durable string) string { return DeadLetter.Subject(durable) }
func AuditSubject(service string) string      { return Audit.Subject(service) }

// CommunicationSubject carries the letters to one prescriber (an NPI names a
// provider, not a beneficiary, so it may appear in a subject).
func CommunicationSubject(npi string) string { return Communication.Subject(npi) }

// WorkSubject is where ready tasks wait for schedulers that take work over NATS:
// emtm.work.<contract>-<pbp>.<kind>.
func WorkSubject(plan, kind string) string { return Work.Subject(plan, kind) }

// RawPharmacySubject is where a pharmacy system publishes: emtm.raw.pharmacy.<npi>.<kind>.
func RawPharmacySubject(npi, kind string) string { return RawPharmacy.Subject(npi, kind) }

// RawAPISubject keeps submissions received over gRPC: emtm.raw.api.<kind>.
func RawAPISubject(kind string) string { return RawAPI.Subject(kind) }

// RawResubmitSubject keeps resubmissions of rejected submissions: emtm.raw.resubmit.<kind>.
func RawResubmitSubject(kind string) string { return RawResubmit.Subject(kind) }

// RawFeedSubject is where the sponsor's enrollment and Parts A/B feed for a
// contract publishes: emtm.raw.feed.<contract>.<kind> (a subject space of its
// own: no pharmacy may publish there).
func RawFeedSubject(contract, kind string) string { return RawFeed.Subject(contract, kind) }

// ParseRawFeedSubject returns the contract and kind of a feed subject.
func ParseRawFeedSubject(subject string) (contract, kind string, ok bool) {
	v, ok := RawFeed.Parse(subject)
	if !ok {
		return "", "", false
	}
	return v[0], v[1], true
}

// ParseRawPharmacySubject returns the sender NPI and kind of a pharmacy subject.
func ParseRawPharmacySubject(subject string) (npi, kind string, ok bool) {
	v, ok := RawPharmacy.Parse(subject)
	if !ok {
		return "", "", false
	}
	return v[0], v[1], true
}

// token makes s safe as one subject token (no dots, spaces or wildcards).
func token(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', ' ', '*', '>', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, s)
}
