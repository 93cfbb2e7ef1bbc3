package bus

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	auditv1 "github.com/emtm/emtm/libs/gen/emtm/audit/v1"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
)

// emtm's event topology, declared once. A Topic is one kind of event: the
// stream that keeps it, the subject it is published on and the message it
// carries. Subject builders, the streams' subjects, durable filters, handler
// dispatch (On), rebuild replays and the permissions (access.go) are all
// derived from these values; no other package spells a subject.
//
// A pattern's tokens are literals or variables in braces. "{p}" is a
// beneficiary partition token (p0, p1, …: see Partition); any other variable
// ("{npi}", "{kind}") is one token of the sender's or the event's choosing.

// TopicSpec is what every topic has, whatever it carries.
type TopicSpec struct {
	// Name says what the event is, for people ("paid claim").
	Name string
	// Stream keeps the events.
	Stream string
	// Pattern is the subject with its variables in braces.
	Pattern string
	// Carries names the message type ("emtm.claims.v1.PharmacyClaim", or "raw bytes").
	Carries string
}

// Topic is a TopicSpec whose events decode to T.
type Topic[T any] struct {
	TopicSpec
	decode func(m *Msg) (T, error)
}

// Decode reads one delivered message as the topic's type.
func (t Topic[T]) Decode(m *Msg) (T, error) { return t.decode(m) }

// protoTopic declares a topic carrying the protobuf message T.
func protoTopic[T proto.Message](name, stream, pattern string) Topic[T] {
	var zero T
	typ := zero.ProtoReflect().Type()
	return Topic[T]{
		TopicSpec: TopicSpec{Name: name, Stream: stream, Pattern: pattern, Carries: string(typ.Descriptor().FullName())},
		decode: func(m *Msg) (T, error) {
			v := typ.New().Interface().(T)
			if err := proto.Unmarshal(m.Data, v); err != nil {
				return v, err
			}
			return v, nil
		},
	}
}

// rawTopic declares a topic whose handlers read the message as delivered.
func rawTopic(name, stream, pattern, carries string) Topic[*Msg] {
	return Topic[*Msg]{TopicSpec: TopicSpec{Name: name, Stream: stream, Pattern: pattern, Carries: carries},
		decode: func(m *Msg) (*Msg, error) { return m, nil }}
}

const submission = "a submission as sent (JSON or protobuf, by Content-Type)"

// The topics.
var (
	RawPharmacy = rawTopic("pharmacy submission", StreamRaw, "emtm.raw.pharmacy.{npi}.{kind}", submission)
	RawFeed     = rawTopic("feed submission", StreamRaw, "emtm.raw.feed.{contract}.{kind}", submission)
	RawAPI      = rawTopic("gRPC submission", StreamRaw, "emtm.raw.api.{kind}", submission)
	RawResubmit = rawTopic("resubmission", StreamRaw, "emtm.raw.resubmit.{kind}", submission)

	Rejection = protoTopic[*ingestionv1.Rejection]("rejection", StreamRejections, "emtm.rejections.{kind}")

	ClaimPaid     = protoTopic[*claimsv1.PharmacyClaim]("paid claim", StreamClaims, "emtm.claims.{p}.paid")
	ClaimReversed = protoTopic[*claimsv1.ClaimReversal]("claim reversal", StreamClaims, "emtm.claims.{p}.reversed")
	Encounter     = protoTopic[*encountersv1.MtmEncounter]("MTM encounter", StreamEncounters, "emtm.encounters.{p}")
	Enrollment    = protoTopic[*enrollmentv1.Enrollment]("enrollment", StreamEnrollment, "emtm.enrollment.{p}")
	PartsAB       = protoTopic[*medicalv1.PartsAbSummary]("Parts A/B summary", StreamMedical, "emtm.medical.{p}.partsab")
	Condition     = protoTopic[*medicalv1.Condition]("condition", StreamMedical, "emtm.medical.{p}.condition")

	Assessment    = protoTopic[*riskv1.RiskAssessment]("risk assessment", StreamAssessments, "emtm.assessments.{p}")
	Task          = protoTopic[*schedulingv1.InterventionTask]("intervention task", StreamTasks, "emtm.tasks.{p}")
	Work          = protoTopic[*schedulingv1.InterventionTask]("ready task", StreamWork, "emtm.work.{plan}.{kind}")
	OutreachItem  = protoTopic[*outreachv1.OutreachItem]("outreach item", StreamOutreach, "emtm.outreach.{p}")
	Communication = protoTopic[*outreachv1.Communication]("letter to a prescriber", StreamOutreach, "emtm.outreach.communications.{npi}")
	LedgerEntry   = protoTopic[*ledgerv1.LedgerEntry]("ledger entry", StreamLedger, "emtm.ledger.{contract}")

	DeadLetter = rawTopic("dead letter", StreamDLQ, "emtm.dlq.{durable}", "the failed message as it was, with Emtm-Dlq-* headers (the error, the consumer, the original subject)")
	Audit      = protoTopic[*auditv1.AuditRecord]("audit record", StreamAudit, "emtm.audit.{service}")
)

// Topics lists every topic.
var Topics = []TopicSpec{
	RawPharmacy.TopicSpec, RawFeed.TopicSpec, RawAPI.TopicSpec, RawResubmit.TopicSpec, Rejection.TopicSpec,
	ClaimPaid.TopicSpec, ClaimReversed.TopicSpec, Encounter.TopicSpec, Enrollment.TopicSpec, PartsAB.TopicSpec, Condition.TopicSpec,
	Assessment.TopicSpec, Task.TopicSpec, Work.TopicSpec, OutreachItem.TopicSpec, Communication.TopicSpec, LedgerEntry.TopicSpec,
	DeadLetter.TopicSpec, Audit.TopicSpec,
}

// Subject fills the pattern's variables in order with values, each made
// safe as one token. It panics when the count differs: a programming error.
func (t TopicSpec) Subject(values ...string) string {
	toks := strings.Split(t.Pattern, ".")
	i := 0
	for j, tok := range toks {
		if isVar(tok) {
			if i >= len(values) {
				panic(fmt.Sprintf("bus: %s needs %d values, got %d", t.Pattern, t.vars(), len(values)))
			}
			toks[j] = token(values[i])
			i++
		}
	}
	if i != len(values) {
		panic(fmt.Sprintf("bus: %s needs %d values, got %d", t.Pattern, t.vars(), len(values)))
	}
	return strings.Join(toks, ".")
}

// Parse returns the values of the pattern's variables in subject, in order.
func (t TopicSpec) Parse(subject string) ([]string, bool) {
	return match(t.Pattern, subject, true)
}

// Matches reports whether subject is one of the topic's.
func (t TopicSpec) Matches(subject string) bool {
	_, ok := match(t.Pattern, subject, false)
	return ok
}

// Filter is the NATS subject filter of the topic's events whose variables
// have the values given, in order: a value left out or "" matches any token.
func (t TopicSpec) Filter(values ...string) string {
	toks := strings.Split(t.Pattern, ".")
	i := 0
	for j, tok := range toks {
		if !isVar(tok) {
			continue
		}
		toks[j] = "*"
		if i < len(values) && values[i] != "" {
			toks[j] = token(values[i])
		}
		i++
	}
	return strings.Join(toks, ".")
}

func (t TopicSpec) vars() int {
	n := 0
	for _, tok := range strings.Split(t.Pattern, ".") {
		if isVar(tok) {
			n++
		}
	}
	return n
}

func isVar(tok string) bool { return len(tok) > 2 && tok[0] == '{' && tok[len(tok)-1] == '}' }

// match matches subject against a pattern that may hold variables and the
// NATS wildcards * and >; with collect it returns the variables' values. It
// walks both strings without splitting them: it runs for every delivered
// message (Routes.Handle).
func match(pattern, subject string, collect bool) ([]string, bool) {
	var vals []string
	ps, ss := pattern, subject
	pmore, smore := true, true // a pattern token, a subject token left to read
	for pmore {
		var p, s string
		p, ps, pmore = strings.Cut(ps, ".")
		if p == ">" {
			return vals, smore
		}
		if !smore {
			return nil, false
		}
		s, ss, smore = strings.Cut(ss, ".")
		if s == "" {
			return nil, false
		}
		switch {
		case p == "{p}":
			if !isPartition(s) {
				return nil, false
			}
			if collect {
				vals = append(vals, s)
			}
		case isVar(p):
			if collect {
				vals = append(vals, s)
			}
		case p == "*":
		case p != s:
			return nil, false
		}
	}
	if smore {
		return nil, false
	}
	return vals, true
}

// isPartition reports whether tok is a partition token p<n>.
func isPartition(tok string) bool {
	if len(tok) < 2 || tok[0] != 'p' {
		return false
	}
	for _, r := range tok[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
