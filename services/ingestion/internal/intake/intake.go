// Package intake is ingestion's use case: every submission is stored raw
// before it is validated; a valid one is published once as a canonical event
// (the same id twice is one event; the same id with other content is refused);
// an invalid or undecodable one becomes a stored Rejection with field-level
// reasons. Nothing accepted is lost and nothing is counted twice.
package intake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/careplan"
	"github.com/emtm/emtm/libs/civil"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/taskid"
	"github.com/emtm/emtm/services/ingestion/internal/validate"
)

// Channels a submission arrives on.
const (
	ChannelGRPC     = "grpc"
	ChannelNATS     = "nats"
	ChannelResubmit = "resubmit"
	// ChannelHeld: a held reversal rejected because its claim never came.
	ChannelHeld = "held"
)

// MaxSubmissionBytes bounds one submission: a claim is a few hundred bytes,
// an encounter a few kilobytes. Larger ones are rejected (OVERSIZED) and kept.
const MaxSubmissionBytes = 64 << 10

// MaxCarePlanBytes bounds a care plan: a document Bundle of a member's
// problems, services and medications (HL7's richest example, 111 entries, is
// about 330 KB of JSON), under EMTM_RAW's limit of bus.MaxRawBytes.
const MaxCarePlanBytes = 768 << 10

func maxBytes(kind string) int {
	if kind == bus.KindCarePlan {
		return MaxCarePlanBytes
	}
	return MaxSubmissionBytes
}

// Headers that describe a raw submission.
const (
	HeaderChannel = "Emtm-Channel"
	HeaderKind    = "Emtm-Kind"
	HeaderSender  = "Emtm-Sender" // who submitted over the API (a certificate's name)
)

// Roles of a sender that is not trusted with everything.
const (
	// RolePharmacy: a pharmacy system, for the NPIs in Allowed: claims,
	// reversals and MTM encounters that name one of them.
	RolePharmacy = "pharmacy"
	// RoleFeed: the sponsor's enrollment and Parts A/B feed, for the contracts
	// in Allowed ("*": all): enrollment, Parts A/B summaries, conditions.
	RoleFeed = "feed"
)

// kindsOf are the kinds each role may submit.
var kindsOf = map[string][]string{
	RolePharmacy: {bus.KindClaim, bus.KindReversal, bus.KindEncounter, bus.KindCarePlan},
	RoleFeed:     {bus.KindEnrollment, bus.KindMedical, bus.KindCondition},
}

// Source is where a submission came from and its raw form.
type Source struct {
	Channel string
	// Role and Allowed say who may have sent it (empty Role: a trusted
	// channel, such as an operator's import or make run's loopback).
	Role        string
	Allowed     []string
	Sender      string // who sent it: a pharmacy NPI, feed:<contract>, or a certificate name
	RawSubject  string
	RawSeq      uint64
	ContentType string
	Payload     []byte
	// Content, when set, identifies the submission's content for the
	// de-duplication of rejections instead of Payload: a held reversal's
	// payload is its canonical form, whose meta differs from copy to copy.
	Content string
	// Resubmits names the rejection this submission resubmits.
	Resubmits string
}

// Outcome is what became of a submission.
type Outcome struct {
	EventID string
	// Duplicate: the same submission was accepted before (nothing changed), or,
	// with Rejection, was refused before for the same reasons (the earlier
	// rejection is returned; none is stored again).
	Duplicate bool
	// Held is true for a reversal kept until its claim arrives, and for a
	// claim or encounter kept until its member's enrollment arrives
	// (AwaitingEnrollment).
	Held               bool
	AwaitingEnrollment bool
	RawSeq             uint64
	// Rejection is set when the submission was not accepted.
	Rejection *ingestionv1.Rejection
}

// ReserveState is the idempotency state of a submission.
type ReserveState int

// States returned by Store.Reserve.
const (
	StateNew      ReserveState = iota // first time: publish
	StatePending                      // reserved before but maybe not published: publish again (deduplicated)
	StateDone                         // published before: nothing to do
	StateConflict                     // the id was accepted with other content
)

// ClaimRef is a claim's identity: a claim id is unique only within the
// pharmacy that assigned it (NCPDP 402-D2, prescription/service reference
// number), so emtm identifies a claim by (pharmacy NPI, claim id).
func ClaimRef(pharmacyNPI, claimID string) string { return pharmacyNPI + ":" + claimID }

// ClaimFacts are what a reversal is checked against: the claim's member, plan
// and date of service.
type ClaimFacts struct {
	Member, Contract, PBP string
	Date                  civil.Date
}

// Awaiting is a claim or encounter kept until its member's enrollment is on
// file (raw form and sender, as first submitted).
type Awaiting struct {
	Member      string
	Kind        string
	Since       time.Time
	Channel     string
	Sender      string
	RawSubject  string
	RawSeq      uint64
	ContentType string
	Payload     []byte
	Resubmits   string
}

// ClaimJourneys are where the claims of a claim id went, and the rejections that named it.
func (in *Intake) ClaimJourneys(ctx context.Context, claimID string) ([]ClaimRecord, []string, error) {
	return in.store.ClaimJourneys(ctx, claimID)
}

// journeyID says whether a rejected claim's claim id is worth indexing (a
// rejection of a claim without a sensible id is found among the rejections).
func journeyID(id string) bool {
	return id != "" && len(id) <= 64 && utf8.ValidString(id) && !strings.ContainsRune(id, 0)
}

// Completion is what completing one published claim stores.
type Completion struct {
	Key, Hash string
	Record    ClaimRecord
}

// ClaimRecord is where an accepted claim went: the raw submission, the
// published event and its trace, so that a claim can be followed by its id.
type ClaimRecord struct {
	PharmacyNPI, ClaimID string
	Facts                ClaimFacts
	EventID, TraceID     string
	RawSeq, ClaimSeq     uint64
	RecordedAt           time.Time
}

// Held is a reversal kept until the claim it reverses has been published.
type Held struct {
	ClaimID     string
	PharmacyNPI string
	Since       time.Time
	RawSeq      uint64
	Hash        string // content hash of the reversal (its idempotency key's value)
	Reversal    []byte // the canonical ClaimReversal, meta included
}

// Ref is the identity of the held reversal's claim.
func (h Held) Ref() string { return ClaimRef(h.PharmacyNPI, h.ClaimID) }

// Store keeps ingestion's state: idempotency keys, the rejection index,
// members' enrollment spans and held reversals.
type Store interface {
	Reserve(ctx context.Context, key, hash string) (ReserveState, error)
	Complete(ctx context.Context, key, hash string) error
	// Unreserve forgets a reservation still pending with hash (a held event
	// that was rejected), so that a corrected one can be accepted.
	Unreserve(ctx context.Context, key, hash string) error
	IndexRejection(ctx context.Context, rejectionID, kind string, rejectionSeq uint64) error
	// FirstRejection records id as the rejection of the submission key unless
	// one is recorded already, and returns the recorded one.
	FirstRejection(ctx context.Context, key, id string) (string, error)
	// RejectionSeq is the EMTM_REJECTIONS sequence of a stored rejection (0: not stored).
	RejectionSeq(ctx context.Context, id string) (uint64, error)
	Spans(ctx context.Context, member string) ([]validate.Span, error)
	RecordSpan(ctx context.Context, member, enrollmentID string, sp validate.Span) error
	// RecordClaimRejection adds a rejection of a claim to its claim id's journeys.
	RecordClaimRejection(ctx context.Context, claimID, rejectionID string) error
	ClaimJourneys(ctx context.Context, claimID string) (records []ClaimRecord, rejectionIDs []string, err error)
	// RecordClaim keeps a published claim's facts under its ClaimRef; Claim reads them.
	RecordClaim(ctx context.Context, ref string, f ClaimFacts) error
	// CompleteClaim is, in one atomic round trip, what follows a claim's
	// publish: it keeps where the claim first published went (its first
	// record stays; ClaimJourneys reads them back by claim id), then
	// Complete(key, hash) and RecordClaim; it returns the reversal held for
	// the claim, if any (TakeHeld).
	CompleteClaim(ctx context.Context, key, hash string, r ClaimRecord) (Held, bool, error)
	// SpansAndReserve is Spans of each member and Reserve of each key (with
	// its hash), all in one round trip; CompleteClaims is CompleteClaim for
	// several claims (of different members) in one. Each member, key and
	// claim has its own result or error.
	SpansAndReserve(ctx context.Context, members, keys, hashes []string) ([][]validate.Span, []error, []ReserveState, []error)
	CompleteClaims(ctx context.Context, cs []Completion) ([]Held, []bool, []error)
	Claim(ctx context.Context, ref string) (ClaimFacts, bool, error)
	Hold(ctx context.Context, h Held) error
	TakeHeld(ctx context.Context, ref string) (Held, bool, error)
	Release(ctx context.Context, ref string) error
	ListHeld(ctx context.Context, limit int) ([]Held, error)
	// Await keeps a submission until its member's enrollment arrives (idempotent by raw sequence).
	Await(ctx context.Context, a Awaiting) error
	AwaitingOf(ctx context.Context, member string) ([]Awaiting, error)
	ListAwaiting(ctx context.Context, limit int) ([]Awaiting, error)
	Unawait(ctx context.Context, a Awaiting) error
	NextResubmission(ctx context.Context, rejectionID string) (int64, error)
	ResolveRejection(ctx context.Context, rejectionID, eventID string) error
	ReRejected(ctx context.Context, rejectionID, newRejectionID string) error
	// RecentRejections lists up to limit rejection ids, newest first, of kind (all when empty).
	RecentRejections(ctx context.Context, kind string, limit int) ([]string, error)
	// Statuses says what became of each rejection: the event that resolved it,
	// its latest re-rejection, an operator's mark, and how many resubmissions were tried.
	Statuses(ctx context.Context, ids []string) (resolved, last, handled []string, tries []int64, err error)
	// MarkHandled records an operator's mark on a rejection (the latest wins).
	MarkHandled(ctx context.Context, rejectionID, mark string) error
}

// RejectionStatus is what became of a rejection.
type RejectionStatus struct {
	// ResolvedBy is the event a resubmission published; LastRejection its latest re-rejection.
	ResolvedBy, LastRejection string
	// Handled is an operator's mark ("" for none); Resubmissions how many were tried.
	Handled       string
	Resubmissions int64
}

// RejectionStatuses reads what became of each rejection, in the order of ids.
func (in *Intake) RejectionStatuses(ctx context.Context, ids []string) ([]RejectionStatus, error) {
	resolved, last, handled, tries, err := in.store.Statuses(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]RejectionStatus, len(ids))
	for i := range ids {
		out[i] = RejectionStatus{ResolvedBy: resolved[i], LastRejection: last[i], Handled: handled[i], Resubmissions: tries[i]}
	}
	return out, nil
}

// RecentRejections lists up to limit rejection ids, newest first, of kind (all when empty).
func (in *Intake) RecentRejections(ctx context.Context, kind string, limit int) ([]string, error) {
	return in.store.RecentRejections(ctx, kind, limit)
}

// MarkHandled records an operator's mark on a rejection (the latest wins).
func (in *Intake) MarkHandled(ctx context.Context, rejectionID, mark string) error {
	return in.store.MarkHandled(ctx, rejectionID, mark)
}

// RejectionSeq is the EMTM_REJECTIONS sequence of a stored rejection (0: not stored).
func (in *Intake) RejectionSeq(ctx context.Context, id string) (uint64, error) {
	return in.store.RejectionSeq(ctx, id)
}

// Intake runs submissions.
type Intake struct {
	pub        bus.Events
	store      Store
	partitions int
	loc        *time.Location
	now        func() time.Time
	rejections metric.Int64Counter
	// enrollmentRequired holds claims and encounters of members without enrollment on file.
	enrollmentRequired bool
	plans              []string
	limits             validate.Limits
}

// Option adjusts an Intake.
type Option func(*Intake)

// WithoutEnrollmentHold accepts claims and encounters of members with no
// enrollment on file instead of holding them (unit tests of other rules).
func WithoutEnrollmentHold() Option { return func(in *Intake) { in.enrollmentRequired = false } }

// WithPlans names the plans (contract-pbp) the sponsor runs; events naming
// another are rejected (UNKNOWN_PLAN).
func WithPlans(plans []string) Option { return func(in *Intake) { in.plans = plans } }

// WithLimits sets the ranges of amounts and quantities.
func WithLimits(l validate.Limits) Option { return func(in *Intake) { in.limits = l } }

// WithClock replaces the wall clock (tests of dates and overdue reversals).
func WithClock(now func() time.Time) Option { return func(in *Intake) { in.now = now } }

// WithMeter counts rejections by kind and reason (the first violation's) on meter.
func WithMeter(m metric.Meter) Option {
	return func(in *Intake) {
		in.rejections, _ = m.Int64Counter("emtm.ingestion.rejections",
			metric.WithDescription("submissions rejected, by kind and the reason of their first violation"))
	}
}

// New returns an Intake. loc is the plan's time zone (it decides "today").
func New(pub bus.Events, store Store, partitions int, loc *time.Location, opts ...Option) *Intake {
	in := &Intake{pub: pub, store: store, partitions: partitions, loc: loc, now: time.Now, enrollmentRequired: true}
	for _, o := range opts {
		o(in)
	}
	return in
}

func (in *Intake) rules(ctx context.Context, member string) (validate.Rules, error) {
	if member == "" {
		return in.rulesWith(nil), nil
	}
	spans, err := in.store.Spans(ctx, member)
	return in.rulesWith(spans), err
}

// rulesWith are the rules of a submission whose member has spans on file.
func (in *Intake) rulesWith(spans []validate.Span) validate.Rules {
	return validate.Rules{Today: civil.Of(in.now().In(in.loc)), Plans: in.plans, Limits: in.limits, Enrollment: spans}
}

// NewMessage returns an empty message of kind, or nil for an unknown kind.
func NewMessage(kind string) proto.Message {
	switch kind {
	case bus.KindClaim:
		return &claimsv1.PharmacyClaim{}
	case bus.KindReversal:
		return &claimsv1.ClaimReversal{}
	case bus.KindEncounter:
		return &encountersv1.MtmEncounter{}
	case bus.KindEnrollment:
		return &enrollmentv1.Enrollment{}
	case bus.KindMedical:
		return &medicalv1.PartsAbSummary{}
	case bus.KindCondition:
		return &medicalv1.Condition{}
	case bus.KindCarePlan:
		return &encountersv1.MtmEncounter{}
	}
	return nil
}

// From is who submitted over the API: a role with what it may name (none:
// a trusted caller), and its name for the record.
type From struct {
	Role    string
	Allowed []string
	Name    string
}

// SubmitAPI stores msg raw on EMTM_RAW (emtm.raw.api.<kind>), then submits it
// as from.
func (in *Intake) SubmitAPI(ctx context.Context, kind string, msg proto.Message, from ...From) (Outcome, error) {
	var f From
	if len(from) > 0 {
		f = from[0]
	}
	if msg == nil || !msg.ProtoReflect().IsValid() {
		msg = NewMessage(kind)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return Outcome{}, fmt.Errorf("marshal submission: %w", err)
	}
	sum := sha256.Sum256(data)
	hdr := nats.Header{}
	hdr.Set(bus.HeaderContentType, bus.ContentProtobuf)
	hdr.Set(HeaderChannel, ChannelGRPC)
	hdr.Set(HeaderKind, kind)
	if f.Name != "" {
		hdr.Set(HeaderSender, f.Name)
	}
	subject := bus.RawAPISubject(kind)
	acks, err := in.pub.Publish(ctx, bus.Out{Subject: subject, MsgID: "raw/api/" + kind + "/" + hex.EncodeToString(sum[:16]), Data: data, Header: hdr})
	if err != nil {
		return Outcome{}, fmt.Errorf("store raw submission: %w", err)
	}
	src := Source{Channel: ChannelGRPC, Role: f.Role, Allowed: f.Allowed, Sender: f.Name, RawSubject: subject, RawSeq: acks[0].Sequence, ContentType: bus.ContentProtobuf, Payload: data}
	if v := oversized(kind, src); v != nil {
		return in.reject(ctx, kind, src, []validate.Violation{*v})
	}
	return in.Submit(ctx, kind, msg, src)
}

// SubmitAPIDocument stores a document (a care plan's FHIR JSON) raw on
// EMTM_RAW (emtm.raw.api.<kind>) with its content type, then reads and
// submits it as from, as if it had arrived on the bus.
func (in *Intake) SubmitAPIDocument(ctx context.Context, kind, contentType string, data []byte, f From) (Outcome, error) {
	if contentType == "" {
		contentType = bus.ContentFHIRJSON
	}
	sum := sha256.Sum256(append([]byte(contentType+"\n"), data...))
	hdr := nats.Header{}
	hdr.Set(bus.HeaderContentType, contentType)
	hdr.Set(HeaderChannel, ChannelGRPC)
	hdr.Set(HeaderKind, kind)
	if f.Name != "" {
		hdr.Set(HeaderSender, f.Name)
	}
	subject := bus.RawAPISubject(kind)
	if len(data) > maxBytes(kind) {
		// Too large to store whole: a rejection keeps what fits and says so.
		src := Source{Channel: ChannelGRPC, Role: f.Role, Allowed: f.Allowed, Sender: f.Name, RawSubject: subject, ContentType: contentType, Payload: data}
		v := oversized(kind, src)
		data = data[:maxBytes(kind)/2]
		acks, err := in.pub.Publish(ctx, bus.Out{Subject: subject, MsgID: "raw/api/" + kind + "/" + hex.EncodeToString(sum[:16]), Data: data, Header: hdr})
		if err != nil {
			return Outcome{}, fmt.Errorf("store raw submission: %w", err)
		}
		src.RawSeq, src.Payload = acks[0].Sequence, data
		return in.reject(ctx, kind, src, []validate.Violation{*v})
	}
	acks, err := in.pub.Publish(ctx, bus.Out{Subject: subject, MsgID: "raw/api/" + kind + "/" + hex.EncodeToString(sum[:16]), Data: data, Header: hdr})
	if err != nil {
		return Outcome{}, fmt.Errorf("store raw submission: %w", err)
	}
	return in.SubmitRaw(ctx, kind, Source{Channel: ChannelGRPC, Role: f.Role, Allowed: f.Allowed, Sender: f.Name, RawSubject: subject,
		RawSeq: acks[0].Sequence, ContentType: contentType, Payload: data})
}

// oversized is the violation of a submission over its kind's limit (nil if within).
func oversized(kind string, src Source) *validate.Violation {
	if len(src.Payload) <= maxBytes(kind) {
		return nil
	}
	return &validate.Violation{Reason: "OVERSIZED",
		Description: fmt.Sprintf("the submission is %d bytes; one %s may be at most %d bytes", len(src.Payload), kind, maxBytes(kind))}
}

// SubmitRaw decodes a raw submission already stored on EMTM_RAW and submits
// it; an undecodable payload or an unknown kind becomes a rejection.
func (in *Intake) SubmitRaw(ctx context.Context, kind string, src Source) (Outcome, error) {
	msg, rejectAs, vs := readRaw(kind, src)
	if len(vs) > 0 {
		return in.reject(ctx, rejectAs, src, vs)
	}
	return in.Submit(ctx, kind, msg, src)
}

// SubmitRawBatch is SubmitRaw for raw submissions of different members (at
// most one each; Msg unset): those it can read go on together
// (SubmitBatch), the others are rejected at the same time.
func (in *Intake) SubmitRawBatch(ctx context.Context, raws []Submission) ([]Outcome, []error) {
	outs := make([]Outcome, len(raws))
	errs := make([]error, len(raws))
	var (
		subs []Submission
		of   []int
		wg   sync.WaitGroup
	)
	for i, r := range raws {
		msg, rejectAs, vs := readRaw(r.Kind, r.Src)
		if len(vs) > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				outs[i], errs[i] = in.reject(r.Ctx, rejectAs, r.Src, vs)
			}()
			continue
		}
		r.Msg = msg
		subs, of = append(subs, r), append(of, i)
	}
	o, e := in.SubmitBatch(ctx, subs)
	for j, i := range of {
		outs[i], errs[i] = o[j], e[j]
	}
	wg.Wait()
	return outs, errs
}

// readRaw reads a raw submission of kind stored at src: its message, or
// the kind it is rejected under and why (too large, unreadable, a kind
// nobody knows).
func readRaw(kind string, src Source) (proto.Message, string, []validate.Violation) {
	if v := oversized(kind, src); v != nil {
		return nil, kind, []validate.Violation{*v}
	}
	if kind == bus.KindCarePlan {
		e, vs := DecodeCarePlan(src.ContentType, src.Payload)
		if len(vs) > 0 {
			return nil, kind, vs
		}
		return e, kind, nil
	}
	msg, bad := Decode(kind, src.ContentType, src.Payload)
	if bad != nil {
		k := kind
		if bad.Reason == "UNKNOWN_KIND" {
			k = bus.KindUnknown
			bad.Description += " (subject " + src.RawSubject + ")"
		}
		return nil, k, []validate.Violation{*bad}
	}
	return msg, kind, nil
}

// Decode reads a raw payload of kind in its content type (application/json,
// the protobuf JSON mapping, or application/protobuf, also assumed when the
// header is missing). It never panics; a payload it cannot read is a violation.
func Decode(kind, contentType string, payload []byte) (proto.Message, *validate.Violation) {
	if kind == bus.KindCarePlan {
		e, vs := DecodeCarePlan(contentType, payload)
		if len(vs) > 0 {
			return nil, &vs[0]
		}
		return e, nil
	}
	msg := NewMessage(kind)
	if msg == nil {
		return nil, &validate.Violation{Reason: "UNKNOWN_KIND",
			Description: fmt.Sprintf("unknown submission kind %q; use one of %v", kind, bus.Kinds)}
	}
	media, err := bus.MediaType(contentType)
	if err != nil {
		return nil, &validate.Violation{Reason: "UNSUPPORTED_CONTENT_TYPE", Description: err.Error()}
	}
	switch media {
	case bus.ContentJSON:
		err = protojson.Unmarshal(payload, msg)
	case bus.ContentProtobuf, "":
		err = proto.Unmarshal(payload, msg)
	default:
		return nil, &validate.Violation{Reason: "UNSUPPORTED_CONTENT_TYPE",
			Description: fmt.Sprintf("Content-Type %q is not supported; use application/json or application/protobuf", contentType)}
	}
	if err != nil {
		ct := contentType
		if ct == "" {
			ct = bus.ContentProtobuf + " (no Content-Type header)"
		}
		v := &validate.Violation{Reason: "MALFORMED_PAYLOAD",
			Description: fmt.Sprintf("payload is not a valid %s in %s: %v", msg.ProtoReflect().Descriptor().FullName(), ct, err)}
		if media == bus.ContentJSON {
			v.Field = jsonField(msg, err)
		}
		return nil, v
	}
	return msg, nil
}

// DecodeCarePlan reads an HL7 Pharmacist eCare Plan (FHIR R4 JSON,
// application/fhir+json or application/json) into the MTM encounter it
// records (libs/careplan: the mapping and its readings). Every violation
// names its FHIR path.
func DecodeCarePlan(contentType string, payload []byte) (*encountersv1.MtmEncounter, []validate.Violation) {
	media, err := bus.MediaType(contentType)
	if err != nil {
		return nil, []validate.Violation{{Reason: "UNSUPPORTED_CONTENT_TYPE", Description: err.Error()}}
	}
	if media != bus.ContentFHIRJSON && media != bus.ContentJSON {
		return nil, []validate.Violation{{Reason: "UNSUPPORTED_CONTENT_TYPE",
			Description: fmt.Sprintf("a care plan is FHIR JSON: Content-Type %s, got %q", bus.ContentFHIRJSON, contentType)}}
	}
	p, vs := careplan.Read(payload)
	if len(vs) == 0 {
		var e *encountersv1.MtmEncounter
		e, vs = careplan.Encounter(p)
		if len(vs) == 0 {
			return e, nil
		}
	}
	out := make([]validate.Violation, 0, len(vs))
	for _, v := range vs {
		out = append(out, validate.Violation{Field: v.Path, Reason: v.Reason, Description: v.Path + ": " + v.Msg})
	}
	return nil, out
}

// jsonFieldPattern finds the field protojson names in its errors ("unknown
// field", "duplicate field", "invalid value for int32 field daysSupply").
var jsonFieldPattern = regexp.MustCompile(`(?:unknown|duplicate) field "([^"]+)"|invalid value for \w+ field (\w+)`)

// jsonField is the field a JSON decoding error names, by its proto name when
// it is one of msg's own fields ("" when the error names none: a syntax error).
func jsonField(msg proto.Message, err error) string {
	m := jsonFieldPattern.FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	name := m[1] + m[2]
	fields := msg.ProtoReflect().Descriptor().Fields()
	if fd := fields.ByJSONName(name); fd != nil {
		return string(fd.Name())
	}
	if fd := fields.ByTextName(name); fd != nil {
		return string(fd.Name())
	}
	return name
}

// canonical is a validated event ready to publish.
type canonical struct {
	key     string // idempotency key
	eventID string
	subject string
	idField string // the field to blame on a conflict
	msg     proto.Message
	// identity, when set, is what the duplicate check hashes instead of msg:
	// msg without the fields ingestion derives from others.
	identity proto.Message
	setMeta  func(*typesv1.EventMeta)
	// holdIf may keep the event back instead of publishing it (a reversal before its claim).
	holdIf func(ctx context.Context, hash string) (bool, error)
	// check adds what needs the store once the event is otherwise valid (a
	// reversal against its claim).
	check func(ctx context.Context) ([]validate.Violation, error)
	// member and needsEnrollment: the event waits for the member's enrollment when none is on file.
	member          string
	needsEnrollment bool
	// after runs once the event is published, and again when it comes back as a
	// duplicate, so that a crash between the two is mended by a resubmission.
	after func(ctx context.Context) error
	// complete, when set, replaces the store's Complete and after once the
	// event is published (again, after a crash before it), with its meta
	// (trace id) and its stream sequence: one round trip instead of several (a claim).
	complete func(ctx context.Context, meta *typesv1.EventMeta, seq uint64, key, hash string) error
	// claim is what completing a paid claim records (set for claims only).
	claim *claimParts
}

// claimParts are a paid claim's identity, its facts, and its journey record
// once published with meta at stream sequence seq.
type claimParts struct {
	ref    string
	facts  ClaimFacts
	record func(meta *typesv1.EventMeta, seq uint64) ClaimRecord
}

// hashed is what the duplicate check compares: identity, or the event itself.
func (c canonical) hashed() proto.Message {
	if c.identity != nil {
		return c.identity
	}
	return c.msg
}

// memberOf is the member id of a submission before validation ("" if none).
func memberOf(msg proto.Message) string {
	switch m := msg.(type) {
	case *claimsv1.PharmacyClaim:
		return m.GetMemberId()
	case *encountersv1.MtmEncounter:
		return m.GetMemberId()
	}
	return ""
}

// MemberKey is the member id a raw submission names, or "" when it cannot be
// read: the key that keeps one beneficiary's submissions in order while
// others are handled in parallel. Every kind carries a member id.
func MemberKey(kind, contentType string, payload []byte) string {
	msg, bad := Decode(kind, contentType, payload)
	if bad != nil {
		return ""
	}
	if m, ok := msg.(interface{ GetMemberId() string }); ok {
		return m.GetMemberId()
	}
	return ""
}

// Submit validates msg (already stored raw at src) and publishes it or a
// rejection. A paid claim goes through SubmitBatch, as a batch of one: its
// member's spans read with its reservation, two Redis round trips in all.
func (in *Intake) Submit(ctx context.Context, kind string, msg proto.Message, src Source) (Outcome, error) {
	if _, ok := msg.(*claimsv1.PharmacyClaim); ok {
		outs, errs := in.SubmitBatch(ctx, []Submission{{Ctx: ctx, Kind: kind, Msg: msg, Src: src}})
		return outs[0], errs[0]
	}
	r, err := in.rules(ctx, memberOf(msg))
	if err != nil {
		return Outcome{}, err
	}
	c, v, err := in.prepare(ctx, kind, msg, src, r)
	if err != nil {
		return Outcome{}, err
	}
	return in.decide(ctx, kind, msg, src, c, v, r)
}

// Submission is one submission of a batch: msg, of kind, decoded from the
// raw submission src, handled in its own context (its trace).
type Submission struct {
	Ctx  context.Context
	Kind string
	Msg  proto.Message
	Src  Source
}

// SubmitBatch is Submit for submissions of different members (at most one
// each, as a batch of the bus holds), with their Redis work in few round
// trips. A paid claim valid but for its member's enrollment has its id
// reserved in the round trip that reads the members' enrollment spans; the
// claims then found in enrollment are published, in flight together, and
// completed in one round trip: two round trips for a batch of valid claims,
// however many it holds (Submit of a lone claim goes this way too).
// Whatever is not that common case (another kind, a violation, a member
// without enrollment, a duplicate, a reversal held for a claim) goes on as
// Submit does for other kinds, at the same time as the rest; a claim that
// reserved its id and is then rejected or kept waiting for its member's
// enrollment gives the reservation back first, so that a corrected claim
// under the same id is not taken for a conflict. Each submission has its
// outcome or its error.
func (in *Intake) SubmitBatch(ctx context.Context, subs []Submission) ([]Outcome, []error) {
	outs := make([]Outcome, len(subs))
	errs := make([]error, len(subs))
	var wg sync.WaitGroup
	// alone hands submission i to f, which does what Submit does from there on.
	alone := func(i int, f func(ctx context.Context) (Outcome, error)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = f(subs[i].Ctx)
		}()
	}
	type ready struct {
		i    int
		c    canonical
		hash string
	}
	members := make([]string, len(subs))
	var claims []ready
	reserved := map[int]int{} // submission -> its claim's index in claims
	keys := map[string]bool{}
	for i, sub := range subs {
		members[i] = memberOf(sub.Msg)
		if _, ok := sub.Msg.(*claimsv1.PharmacyClaim); !ok {
			continue
		}
		c, v, err := in.prepare(sub.Ctx, sub.Kind, sub.Msg, sub.Src, in.rulesWith(nil))
		if err != nil || len(v) > 0 || c.claim == nil || c.holdIf != nil || keys[c.key] {
			continue // checked against the member's spans, as Submit does
		}
		keys[c.key] = true
		reserved[i] = len(claims)
		claims = append(claims, ready{i: i, c: c, hash: contentHash(c.hashed())})
	}
	rkeys, hashes := make([]string, len(claims)), make([]string, len(claims))
	for j, cl := range claims {
		rkeys[j], hashes[j] = cl.c.key, cl.hash
	}
	spans, serrs, states, rerrs := in.store.SpansAndReserve(ctx, members, rkeys, hashes)
	var fresh []ready
	for i, sub := range subs {
		if serrs[i] != nil {
			errs[i] = serrs[i] // a reservation made stays pending: the redelivery finds it
			continue
		}
		r := in.rulesWith(spans[i])
		j, isReserved := reserved[i]
		if isReserved && rerrs[j] != nil {
			errs[i] = rerrs[j]
			continue
		}
		if isReserved && len(validate.ClaimEnrollment(claims[j].c.msg.(*claimsv1.PharmacyClaim), r)) == 0 &&
			(!in.enrollmentRequired || len(r.Enrollment) > 0) {
			if st := states[j]; st == StateDone || st == StateConflict {
				cl := claims[j]
				alone(i, func(ctx context.Context) (Outcome, error) {
					return in.acceptReserved(ctx, sub.Kind, sub.Src, cl.c, cl.hash, st)
				})
			} else {
				fresh = append(fresh, claims[j])
			}
			continue
		}
		// Reserved here (new), or by an attempt that crashed before giving it
		// back (pending; the reading chosen: a claim rejected now keeps no
		// id, even in the rarer case that the crashed attempt had published
		// it under spans since changed). Done and conflicting ids are not ours.
		giveBack := isReserved && (states[j] == StateNew || states[j] == StatePending)
		alone(i, func(ctx context.Context) (Outcome, error) {
			if giveBack {
				if err := in.store.Unreserve(ctx, claims[j].c.key, claims[j].hash); err != nil {
					return Outcome{}, err
				}
			}
			c, v, err := in.prepare(ctx, sub.Kind, sub.Msg, sub.Src, r)
			if err != nil {
				return Outcome{}, err
			}
			return in.decide(ctx, sub.Kind, sub.Msg, sub.Src, c, v, r)
		})
	}
	// Each claim is published in its own trace, all at once; a crash before
	// their completion is mended by the redelivery, as in accept.
	metas := make([]*typesv1.EventMeta, len(fresh))
	acks := make([]bus.Ack, len(fresh))
	perrs := make([]error, len(fresh))
	var pub sync.WaitGroup
	for j, cl := range fresh {
		sub := subs[cl.i]
		metas[j] = in.pub.Meta(sub.Ctx, cl.c.eventID, fmt.Sprintf("raw-%d", sub.Src.RawSeq))
		cl.c.setMeta(metas[j])
		pub.Add(1)
		go func() {
			defer pub.Done()
			a, err := in.pub.Publish(sub.Ctx, bus.Out{Subject: cl.c.subject, MsgID: cl.c.eventID, Msg: cl.c.msg})
			if err == nil {
				acks[j] = a[0]
			}
			perrs[j] = err
		}()
	}
	pub.Wait()
	var (
		done []Completion
		of   []ready
	)
	for j, cl := range fresh {
		if perrs[j] != nil {
			errs[cl.i] = perrs[j]
			continue
		}
		done = append(done, Completion{Key: cl.c.key, Hash: cl.hash, Record: cl.c.claim.record(metas[j], acks[j].Sequence)})
		of = append(of, cl)
		outs[cl.i] = Outcome{EventID: cl.c.eventID, Duplicate: acks[j].Duplicate, RawSeq: subs[cl.i].Src.RawSeq}
	}
	helds, isHeld, cerrs := in.store.CompleteClaims(ctx, done)
	for k, cl := range of {
		switch {
		case cerrs[k] != nil:
			errs[cl.i] = cerrs[k]
		case isHeld[k]:
			out, h := outs[cl.i], helds[k]
			alone(cl.i, func(ctx context.Context) (Outcome, error) {
				return out, in.release(ctx, cl.c.claim.ref, h, cl.c.claim.facts)
			})
		}
	}
	wg.Wait()
	return outs, errs
}

// prepare validates msg under r: the canonical event it makes, or what is
// wrong with it.
func (in *Intake) prepare(ctx context.Context, kind string, msg proto.Message, src Source, r validate.Rules) (canonical, []validate.Violation, error) {
	var (
		c   canonical
		v   []validate.Violation
		npi string // the pharmacy the event names, checked against the sender
	)
	p := func(member string) string { return bus.Partition(member, in.partitions) }
	switch m := msg.(type) {
	case *claimsv1.PharmacyClaim:
		var out *claimsv1.PharmacyClaim
		out, v = validate.Claim(m, r)
		if out != nil {
			npi = out.PharmacyNpi
			ref := ClaimRef(out.PharmacyNpi, out.ClaimId)
			facts := ClaimFacts{Member: out.MemberId, Contract: out.ContractId, PBP: out.PbpId, Date: civil.FromProto(out.DateOfService)}
			record := func(meta *typesv1.EventMeta, seq uint64) ClaimRecord {
				return ClaimRecord{PharmacyNPI: out.PharmacyNpi, ClaimID: out.ClaimId, Facts: facts,
					EventID: meta.GetEventId(), TraceID: meta.GetTraceId(), RawSeq: src.RawSeq, ClaimSeq: seq, RecordedAt: meta.GetRecordedAt().AsTime()}
			}
			c = canonical{key: "claim:" + ref, eventID: ClaimEventID(out.PharmacyNpi, out.ClaimId), subject: bus.ClaimPaidSubject(p(out.MemberId)),
				idField: "claim_id", msg: out, setMeta: func(md *typesv1.EventMeta) { out.Meta = md },
				member: out.MemberId, needsEnrollment: true,
				claim: &claimParts{ref: ref, facts: facts, record: record},
				complete: func(ctx context.Context, meta *typesv1.EventMeta, seq uint64, key, hash string) error {
					h, held, err := in.store.CompleteClaim(ctx, key, hash, record(meta, seq))
					if err != nil || !held {
						return err
					}
					return in.release(ctx, ref, h, facts)
				},
				after: func(ctx context.Context) error {
					if err := in.store.RecordClaim(ctx, ref, facts); err != nil {
						return err
					}
					return in.releaseHeld(ctx, ref)
				}}
		}
	case *claimsv1.ClaimReversal:
		var out *claimsv1.ClaimReversal
		out, v = validate.Reversal(m, r)
		if out != nil {
			npi = out.PharmacyNpi
			ref := ClaimRef(out.PharmacyNpi, out.ClaimId)
			c = canonical{key: "reversal:" + ref, eventID: ReversalEventID(out.PharmacyNpi, out.ClaimId), subject: bus.ClaimReversedSubject(p(out.MemberId)),
				idField: "claim_id", msg: out, setMeta: func(md *typesv1.EventMeta) { out.Meta = md },
				check: func(ctx context.Context) ([]validate.Violation, error) {
					f, known, err := in.store.Claim(ctx, ref)
					if err != nil || !known {
						return nil, err
					}
					return ReversalViolations(out, f), nil
				},
				holdIf: func(ctx context.Context, hash string) (bool, error) { return in.holdIfEarly(ctx, out, hash, src) }}
		}
	case *encountersv1.MtmEncounter:
		var out *encountersv1.MtmEncounter
		out, v = validate.Encounter(m, r)
		if out != nil {
			npi = out.PharmacyNpi
			c = canonical{key: "encounter:" + out.EncounterId, eventID: "encounter/" + out.EncounterId, subject: bus.EncounterSubject(p(out.MemberId)),
				idField: "encounter_id", msg: out, identity: EncounterIdentity(out), setMeta: func(md *typesv1.EventMeta) { out.Meta = md },
				member: out.MemberId, needsEnrollment: true}
		}
	case *enrollmentv1.Enrollment:
		var out *enrollmentv1.Enrollment
		out, v = validate.Enrollment(m, r)
		if out != nil {
			// A changed span under the same enrollment_id is a new version (retroactive
			// change), not a conflict: the version is part of its identity.
			ver := contentHash(out)[:12]
			span := validate.Span{Contract: out.ContractId, PBP: out.PbpId, Start: civil.FromProto(out.StartDate), End: civil.FromProto(out.EndDate)}
			c = canonical{key: "enrollment:" + out.EnrollmentId + ":" + ver, eventID: "enrollment/" + out.EnrollmentId + "/" + ver,
				subject: bus.EnrollmentSubject(p(out.MemberId)), idField: "enrollment_id", msg: out,
				setMeta: func(md *typesv1.EventMeta) { out.Meta = md },
				after: func(ctx context.Context) error {
					if err := in.store.RecordSpan(ctx, out.MemberId, out.EnrollmentId, span); err != nil {
						return err
					}
					return in.releaseAwaiting(ctx, out.MemberId)
				}}
		}
	case *medicalv1.PartsAbSummary:
		var out *medicalv1.PartsAbSummary
		out, v = validate.PartsAbSummary(m, r)
		if out != nil {
			c = canonical{key: "medical:" + out.SummaryId, eventID: "medical/" + out.SummaryId, subject: bus.MedicalSubject(p(out.MemberId)),
				idField: "summary_id", msg: out, setMeta: func(md *typesv1.EventMeta) { out.Meta = md }}
		}
	case *medicalv1.Condition:
		var out *medicalv1.Condition
		out, v = validate.Condition(m, r)
		if out != nil {
			c = canonical{key: "condition:" + out.ConditionId, eventID: "condition/" + out.ConditionId, subject: bus.ConditionSubject(p(out.MemberId)),
				idField: "condition_id", msg: out, setMeta: func(md *typesv1.EventMeta) { out.Meta = md }}
		}
	default:
		return canonical{}, nil, fmt.Errorf("intake: unsupported message %T", msg)
	}
	v = append(v, roleViolations(kind, msg, npi, src)...)
	if kind == bus.KindCarePlan {
		// The sender wrote FHIR: name the element, not the encounter's field.
		for i := range v {
			path := careplan.Path(v[i].Field)
			if rest, ok := strings.CutPrefix(v[i].Description, v[i].Field); ok && v[i].Field != "" {
				v[i].Description = path + rest
			}
			v[i].Field = path
		}
	}
	if len(v) == 0 && c.check != nil {
		more, err := c.check(ctx)
		if err != nil {
			return canonical{}, nil, err
		}
		v = more
	}
	return c, v, nil
}

// decide rejects a submission with violations v, keeps one that waits for
// its member's enrollment, or accepts c.
func (in *Intake) decide(ctx context.Context, kind string, msg proto.Message, src Source, c canonical, v []validate.Violation, r validate.Rules) (Outcome, error) {
	if len(v) > 0 {
		out, err := in.reject(ctx, kind, src, v)
		if cl, ok := msg.(*claimsv1.PharmacyClaim); ok && err == nil && out.Rejection != nil && journeyID(cl.GetClaimId()) {
			err = in.store.RecordClaimRejection(ctx, cl.GetClaimId(), out.Rejection.GetRejectionId())
		}
		return out, err
	}
	if c.needsEnrollment && in.enrollmentRequired && len(r.Enrollment) == 0 {
		return in.await(ctx, kind, c, src)
	}
	return in.accept(ctx, kind, src, c)
}

// EncounterIdentity is what makes two submissions of an encounter the same:
// its content without a task_kind that ingestion derived from task_id (an
// encounter sent before task_kind existed, sent again, is the same one; so
// is one that states the kind its task id already names).
func EncounterIdentity(e *encountersv1.MtmEncounter) proto.Message {
	if e.TaskKind == "" || e.TaskKind != taskid.Kind(e.TaskId) {
		return e
	}
	id := proto.Clone(e).(*encountersv1.MtmEncounter)
	id.TaskKind = ""
	return id
}

// ClaimEventID is the event id of a paid claim; ReversalEventID of its reversal.
func ClaimEventID(pharmacyNPI, claimID string) string { return "claim/" + pharmacyNPI + "/" + claimID }

// ReversalEventID is the event id of the reversal of a claim.
func ReversalEventID(pharmacyNPI, claimID string) string {
	return "reversal/" + pharmacyNPI + "/" + claimID
}

// ReversalViolations checks a reversal against the claim it reverses (the
// same pharmacy's, by ClaimRef): it must name the claim's member and plan and
// may not predate the claim.
func ReversalViolations(r *claimsv1.ClaimReversal, f ClaimFacts) []validate.Violation {
	var v []validate.Violation
	if r.MemberId != f.Member {
		v = append(v, validate.Violation{Field: "member_id", Reason: "REVERSAL_MISMATCH",
			Description: fmt.Sprintf("member_id is not the member of claim %s; a reversal names the claim's own member", r.ClaimId)})
	}
	if r.ContractId != f.Contract || r.PbpId != f.PBP {
		v = append(v, validate.Violation{Field: "contract_id", Reason: "REVERSAL_MISMATCH",
			Description: fmt.Sprintf("plan %s-%s is not the plan of claim %s (%s-%s)", r.ContractId, r.PbpId, r.ClaimId, f.Contract, f.PBP)})
	}
	if d := civil.FromProto(r.ReversalDate); d.Valid() && d.Before(f.Date) {
		v = append(v, validate.Violation{Field: "reversal_date", Reason: "REVERSAL_BEFORE_CLAIM",
			Description: fmt.Sprintf("reversal_date %s is before claim %s's date of service %s", d, r.ClaimId, f.Date)})
	}
	return v
}

// roleViolations checks a submission against its sender's role: a pharmacy
// submits claims, reversals and encounters naming its own NPI; the sponsor's
// feed submits enrollment, Parts A/B summaries and conditions of its contracts.
func roleViolations(kind string, msg proto.Message, npi string, src Source) []validate.Violation {
	if src.Role == "" {
		return nil
	}
	if !slices.Contains(kindsOf[src.Role], kind) {
		who := map[string]string{RolePharmacy: "a pharmacy submits claims, reversals and MTM encounters; enrollment, Parts A/B summaries and conditions come from the sponsor's feed",
			RoleFeed: "the sponsor's feed submits enrollment, Parts A/B summaries and conditions; claims, reversals and encounters come from pharmacies"}[src.Role]
		return []validate.Violation{{Field: "kind", Reason: "NOT_ALLOWED_FOR_SENDER", Description: fmt.Sprintf("%s may not submit a %s: %s", src.Sender, kind, who)}}
	}
	switch src.Role {
	case RolePharmacy:
		if npi != "" && !slices.Contains(src.Allowed, npi) {
			return []validate.Violation{{Field: "pharmacy_npi", Reason: "SENDER_MISMATCH",
				Description: fmt.Sprintf("pharmacy_npi %s is not the sender's (%s): a pharmacy submits only its own events", npi, strings.Join(src.Allowed, ", "))}}
		}
	case RoleFeed:
		if slices.Contains(src.Allowed, "*") {
			return nil
		}
		contract := ""
		switch m := msg.(type) {
		case *enrollmentv1.Enrollment:
			contract = strings.ToUpper(strings.TrimSpace(m.ContractId))
		case *medicalv1.PartsAbSummary:
			contract = strings.ToUpper(strings.TrimSpace(m.ContractId))
		}
		if contract != "" && !slices.Contains(src.Allowed, contract) {
			return []validate.Violation{{Field: "contract_id", Reason: "SENDER_MISMATCH",
				Description: fmt.Sprintf("contract_id %s is not one of the feed's contracts (%s)", contract, strings.Join(src.Allowed, ", "))}}
		}
	}
	return nil
}

func contentHash(m proto.Message) string {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		// Marshalling a validated message cannot fail; keep a stable value anyway.
		b = []byte(fmt.Sprint(m))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (in *Intake) accept(ctx context.Context, kind string, src Source, c canonical) (Outcome, error) {
	hash := contentHash(c.hashed())
	state, err := in.store.Reserve(ctx, c.key, hash)
	if err != nil {
		return Outcome{}, err
	}
	return in.acceptReserved(ctx, kind, src, c, hash, state)
}

// acceptReserved goes on with c once its idempotency key is reserved (state).
func (in *Intake) acceptReserved(ctx context.Context, kind string, src Source, c canonical, hash string, state ReserveState) (Outcome, error) {
	switch state {
	case StateDone:
		if c.after != nil {
			if err := c.after(ctx); err != nil {
				return Outcome{}, err
			}
		}
		return Outcome{EventID: c.eventID, Duplicate: true, RawSeq: src.RawSeq}, nil
	case StateConflict:
		return in.reject(ctx, kind, src, []validate.Violation{{Field: c.idField, Reason: "DUPLICATE_CONFLICT",
			Description: fmt.Sprintf("%s was accepted before with different content; reverse or correct it under a new %s", c.idField, c.idField)}})
	}
	meta := in.pub.Meta(ctx, c.eventID, fmt.Sprintf("raw-%d", src.RawSeq))
	c.setMeta(meta)
	if c.holdIf != nil {
		held, err := c.holdIf(ctx, hash)
		if err != nil {
			return Outcome{}, err
		}
		if held {
			return Outcome{EventID: c.eventID, Held: true, RawSeq: src.RawSeq}, nil
		}
	}
	acks, err := in.pub.Publish(ctx, bus.Out{Subject: c.subject, MsgID: c.eventID, Msg: c.msg})
	if err != nil {
		return Outcome{}, err
	}
	// A crash before Complete is mended by the redelivery, which publishes
	// again (a duplicate, acknowledged with the stored sequence) and completes
	// again (a claim's first journey record stays).
	if c.complete != nil {
		if err := c.complete(ctx, meta, acks[0].Sequence, c.key, hash); err != nil {
			return Outcome{}, err
		}
		return Outcome{EventID: c.eventID, Duplicate: acks[0].Duplicate, RawSeq: src.RawSeq}, nil
	}
	if err := in.store.Complete(ctx, c.key, hash); err != nil {
		return Outcome{}, err
	}
	if c.after != nil {
		if err := c.after(ctx); err != nil {
			return Outcome{}, err
		}
	}
	return Outcome{EventID: c.eventID, Duplicate: acks[0].Duplicate, RawSeq: src.RawSeq}, nil
}

// holdIfEarly keeps a reversal whose claim has not been published yet, so that
// no consumer ever sees a reversal before its claim (domain.md section 5).
func (in *Intake) holdIfEarly(ctx context.Context, r *claimsv1.ClaimReversal, hash string, src Source) (bool, error) {
	_, known, err := in.store.Claim(ctx, ClaimRef(r.PharmacyNpi, r.ClaimId))
	if err != nil || known {
		return false, err
	}
	b, err := proto.Marshal(r)
	if err != nil {
		return false, err
	}
	return true, in.store.Hold(ctx, Held{ClaimID: r.ClaimId, PharmacyNPI: r.PharmacyNpi, Since: in.now().UTC(), RawSeq: src.RawSeq, Hash: hash, Reversal: b})
}

// heldSource is the source a held reversal is rejected under: its raw
// submission's sequence, so the rejection has the id it would have had.
func heldSource(h Held) Source {
	return Source{Channel: ChannelHeld, Sender: h.PharmacyNPI, RawSeq: h.RawSeq,
		RawSubject: bus.RawPharmacySubject(h.PharmacyNPI, bus.KindReversal), ContentType: bus.ContentProtobuf, Payload: h.Reversal,
		Content: "held:" + h.Hash}
}

// releaseHeld publishes the held reversal of a claim that has been published,
// or rejects it when it does not match the claim (member, plan, date).
func (in *Intake) releaseHeld(ctx context.Context, ref string) error {
	h, ok, err := in.store.TakeHeld(ctx, ref)
	if err != nil || !ok {
		return err
	}
	f, known, err := in.store.Claim(ctx, ref)
	if err != nil || !known {
		return err
	}
	return in.release(ctx, ref, h, f)
}

// release publishes h, the held reversal of the published claim ref whose
// facts are f, or rejects it when it does not match them.
func (in *Intake) release(ctx context.Context, ref string, h Held, f ClaimFacts) error {
	var r claimsv1.ClaimReversal
	if err := proto.Unmarshal(h.Reversal, &r); err != nil {
		return fmt.Errorf("held reversal of a claim is unreadable: %w", err)
	}
	key := "reversal:" + ref
	if v := ReversalViolations(&r, f); len(v) > 0 {
		if _, err := in.reject(ctx, bus.KindReversal, heldSource(h), v); err != nil {
			return err
		}
		if err := in.store.Unreserve(ctx, key, h.Hash); err != nil {
			return err
		}
		return in.store.Release(ctx, ref)
	}
	if _, err := in.pub.Publish(ctx, bus.Out{Subject: bus.ClaimReversedSubject(bus.Partition(r.MemberId, in.partitions)),
		MsgID: ReversalEventID(r.PharmacyNpi, r.ClaimId), Msg: &r}); err != nil {
		return err
	}
	if err := in.store.Complete(ctx, key, h.Hash); err != nil {
		return err
	}
	return in.store.Release(ctx, ref)
}

// await keeps a claim or encounter of a member with no enrollment on file.
func (in *Intake) await(ctx context.Context, kind string, c canonical, src Source) (Outcome, error) {
	a := Awaiting{Member: c.member, Kind: kind, Since: in.now().UTC(), Channel: src.Channel, Sender: src.Sender,
		RawSubject: src.RawSubject, RawSeq: src.RawSeq, ContentType: src.ContentType, Payload: src.Payload, Resubmits: src.Resubmits}
	if err := in.store.Await(ctx, a); err != nil {
		return Outcome{}, err
	}
	return Outcome{EventID: c.eventID, Held: true, AwaitingEnrollment: true, RawSeq: src.RawSeq}, nil
}

// releaseAwaiting submits again what waited for the member's enrollment (now
// on file): each is validated against the enrollment and accepted or rejected
// under its first raw sequence.
func (in *Intake) releaseAwaiting(ctx context.Context, member string) error {
	as, err := in.store.AwaitingOf(ctx, member)
	if err != nil {
		return err
	}
	for _, a := range as {
		if err := in.releaseOne(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

func (in *Intake) releaseOne(ctx context.Context, a Awaiting) error {
	// The sender's role was checked when it arrived; it is not checked again.
	out, err := in.SubmitRaw(ctx, a.Kind, Source{Channel: a.Channel, Sender: a.Sender, RawSubject: a.RawSubject, RawSeq: a.RawSeq,
		ContentType: a.ContentType, Payload: a.Payload, Resubmits: a.Resubmits})
	if err != nil || out.AwaitingEnrollment {
		return err
	}
	if err := in.resolved(ctx, a.Resubmits, out); err != nil {
		return err
	}
	return in.store.Unawait(ctx, a)
}

// SweepAwaiting submits again what waits for an enrollment that has arrived
// since (the two can cross), and rejects (NOT_ENROLLED) what has waited longer
// than overdue. It returns how many still wait and how many it rejected.
func (in *Intake) SweepAwaiting(ctx context.Context, overdue time.Duration) (waiting, rejected int, err error) {
	as, err := in.store.ListAwaiting(ctx, 10000)
	if err != nil {
		return 0, 0, err
	}
	for _, a := range as {
		spans, err := in.store.Spans(ctx, a.Member)
		if err != nil {
			return waiting, rejected, err
		}
		if len(spans) > 0 {
			if err := in.releaseOne(ctx, a); err != nil {
				return waiting, rejected, err
			}
			continue
		}
		if in.now().Sub(a.Since) <= overdue {
			waiting++
			continue
		}
		src := Source{Channel: a.Channel, Sender: a.Sender, RawSubject: a.RawSubject, RawSeq: a.RawSeq, ContentType: a.ContentType, Payload: a.Payload, Resubmits: a.Resubmits}
		out, err := in.reject(ctx, a.Kind, src, []validate.Violation{{Field: "member_id", Reason: "NOT_ENROLLED",
			Description: fmt.Sprintf("no enrollment of the member arrived within %s (waiting since %s); resubmit once the sponsor's feed has sent it",
				overdue, a.Since.Format(time.RFC3339))}})
		if err != nil {
			return waiting, rejected, err
		}
		if err := in.resolved(ctx, a.Resubmits, out); err != nil {
			return waiting, rejected, err
		}
		if err := in.store.Unawait(ctx, a); err != nil {
			return waiting, rejected, err
		}
		rejected++
	}
	return waiting, rejected, nil
}

// ListAwaiting lists submissions waiting for their member's enrollment, oldest first.
func (in *Intake) ListAwaiting(ctx context.Context, limit int) ([]Awaiting, error) {
	return in.store.ListAwaiting(ctx, limit)
}

// SweepHeld releases held reversals whose claims have been published since
// (a claim and its reversal arriving at once can miss each other) and rejects
// those that have waited longer than overdue (UNKNOWN_CLAIM): an operator sees
// them among the rejections and resubmits one once its claim is in. It returns
// how many reversals are still held and how many it rejected.
func (in *Intake) SweepHeld(ctx context.Context, overdue time.Duration) (held, rejected int, err error) {
	hs, err := in.store.ListHeld(ctx, 10000)
	if err != nil {
		return 0, 0, err
	}
	for _, h := range hs {
		_, known, err := in.store.Claim(ctx, h.Ref())
		if err != nil {
			return held, rejected, err
		}
		if known {
			if err := in.releaseHeld(ctx, h.Ref()); err != nil {
				return held, rejected, err
			}
			continue
		}
		if in.now().Sub(h.Since) <= overdue {
			held++
			continue
		}
		if _, err := in.reject(ctx, bus.KindReversal, heldSource(h), []validate.Violation{{Field: "claim_id", Reason: "UNKNOWN_CLAIM",
			Description: fmt.Sprintf("no claim %s of pharmacy %s arrived within %s of its reversal (held since %s); resubmit the reversal once the claim is in",
				h.ClaimID, h.PharmacyNPI, overdue, h.Since.Format(time.RFC3339))}}); err != nil {
			return held, rejected, err
		}
		if err := in.store.Unreserve(ctx, "reversal:"+h.Ref(), h.Hash); err != nil {
			return held, rejected, err
		}
		if err := in.store.Release(ctx, h.Ref()); err != nil {
			return held, rejected, err
		}
		rejected++
	}
	return held, rejected, nil
}

// ListHeld lists held reversals, oldest first.
func (in *Intake) ListHeld(ctx context.Context, limit int) ([]Held, error) {
	return in.store.ListHeld(ctx, limit)
}

// ErrNotResubmittable is returned for a rejection of an unknown kind.
var ErrNotResubmittable = errors.New("a rejection of unknown kind cannot be resubmitted: the sender must publish it again on a valid subject")

// Resubmit submits a rejected payload again (after a fix upstream). The
// attempt is stored raw on emtm.raw.resubmit.<kind>; if it is rejected again
// the new rejection names the original.
func (in *Intake) Resubmit(ctx context.Context, rej *ingestionv1.Rejection) (Outcome, error) {
	if NewMessage(rej.Kind) == nil {
		return Outcome{}, ErrNotResubmittable
	}
	n, err := in.store.NextResubmission(ctx, rej.RejectionId)
	if err != nil {
		return Outcome{}, err
	}
	hdr := nats.Header{}
	if rej.ContentType != "" {
		hdr.Set(bus.HeaderContentType, rej.ContentType)
	}
	hdr.Set(HeaderChannel, ChannelResubmit)
	hdr.Set(HeaderKind, rej.Kind)
	subject := bus.RawResubmitSubject(rej.Kind)
	acks, err := in.pub.Publish(ctx, bus.Out{Subject: subject, MsgID: fmt.Sprintf("resubmit/%s/%d", rej.RejectionId, n), Data: rej.Payload, Header: hdr})
	if err != nil {
		return Outcome{}, fmt.Errorf("store resubmission: %w", err)
	}
	out, err := in.SubmitRaw(ctx, rej.Kind, Source{Channel: ChannelResubmit, Sender: rej.Sender, RawSubject: subject,
		RawSeq: acks[0].Sequence, ContentType: rej.ContentType, Payload: rej.Payload, Resubmits: rej.RejectionId})
	if err != nil {
		return out, err
	}
	return out, in.resolved(ctx, rej.RejectionId, out)
}

// resolved records what became of a resubmission of rejectionID (none when
// empty or still waiting for an enrollment).
func (in *Intake) resolved(ctx context.Context, rejectionID string, out Outcome) error {
	switch {
	case rejectionID == "" || out.AwaitingEnrollment:
		return nil
	case out.Rejection != nil:
		return in.store.ReRejected(ctx, rejectionID, out.Rejection.RejectionId)
	}
	return in.store.ResolveRejection(ctx, rejectionID, out.EventID)
}

// RejectionID is derived from the raw submission's stream sequence, so a
// redelivered raw message yields the same rejection (deduplicated).
func RejectionID(rawSeq uint64) string { return fmt.Sprintf("rej-%d", rawSeq) }

func (in *Intake) reject(ctx context.Context, kind string, src Source, v []validate.Violation) (Outcome, error) {
	if src.RawSeq == 0 {
		return Outcome{}, errors.New("intake: a rejection needs its stored raw submission")
	}
	id := RejectionID(src.RawSeq)
	if src.Resubmits == "" {
		// The same submission (sender, kind, content) refused for the same
		// reasons is one rejection: a re-run import or a pharmacy's retry stores
		// no second one. A resubmission is always its own record.
		first, err := in.store.FirstRejection(ctx, rejectionKey(kind, src, v), id)
		if err != nil {
			return Outcome{}, err
		}
		seq, err := in.store.RejectionSeq(ctx, first)
		if err != nil {
			return Outcome{}, err
		}
		if seq != 0 {
			return Outcome{RawSeq: src.RawSeq, Rejection: in.rejection(ctx, first, kind, src, v), Duplicate: true}, nil
		}
		id = first // reserved but not yet stored (new, or a crash in between): store it now
	}
	rej := in.rejection(ctx, id, kind, src, v)
	acks, err := in.pub.Publish(ctx, bus.Out{Subject: bus.RejectionSubject(kind), MsgID: id, Msg: rej})
	if err != nil {
		return Outcome{}, fmt.Errorf("store rejection: %w", err)
	}
	if err := in.store.IndexRejection(ctx, id, kind, acks[0].Sequence); err != nil {
		return Outcome{}, err
	}
	if in.rejections != nil && !acks[0].Duplicate && len(v) > 0 {
		in.rejections.Add(ctx, 1, metric.WithAttributes(attribute.String("kind", kind), attribute.String("reason", v[0].Reason)))
	}
	return Outcome{RawSeq: src.RawSeq, Rejection: rej}, nil
}

func (in *Intake) rejection(ctx context.Context, id, kind string, src Source, v []validate.Violation) *ingestionv1.Rejection {
	rej := &ingestionv1.Rejection{
		Meta:        in.pub.Meta(ctx, id, fmt.Sprintf("raw-%d", src.RawSeq)),
		RejectionId: id,
		Kind:        kind,
		Channel:     src.Channel,
		Sender:      src.Sender,
		RawSubject:  src.RawSubject,
		RawSequence: src.RawSeq,
		Payload:     src.Payload,
		ContentType: src.ContentType,
		ReceivedAt:  timestamppb.New(in.now()),

		ResubmitsRejectionId: src.Resubmits,
	}
	for _, x := range v {
		rej.Violations = append(rej.Violations, &ingestionv1.FieldViolation{Field: x.Field, Description: x.Description, Reason: x.Reason})
	}
	return rej
}

// rejectionKey identifies a submission and its verdict: sender, kind,
// content type, payload and the fields and reasons refused.
func rejectionKey(kind string, src Source, v []validate.Violation) string {
	h := sha256.New()
	for _, part := range []string{kind, src.Sender, src.ContentType} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	if src.Content != "" {
		h.Write([]byte(src.Content))
	} else {
		h.Write(src.Payload)
	}
	reasons := make([]string, len(v))
	for i, x := range v {
		reasons[i] = x.Field + ":" + x.Reason
	}
	sort.Strings(reasons)
	h.Write([]byte{0})
	h.Write([]byte(strings.Join(reasons, ",")))
	return hex.EncodeToString(h.Sum(nil))
}
