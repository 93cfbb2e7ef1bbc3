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
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
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
	RolePharmacy: {bus.KindClaim, bus.KindReversal, bus.KindEncounter},
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
	// Resubmits names the rejection this submission resubmits.
	Resubmits string
}

// Outcome is what became of a submission.
type Outcome struct {
	EventID   string
	Duplicate bool
	// Held is true for a reversal kept until its claim arrives.
	Held   bool
	RawSeq uint64
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

// Held is a reversal kept until the claim it reverses has been published.
type Held struct {
	ClaimID     string
	PharmacyNPI string
	Since       time.Time
	RawSeq      uint64
	Hash        string // content hash of the reversal (its idempotency key's value)
	Reversal    []byte // the canonical ClaimReversal, meta included
}

// Store keeps ingestion's state: idempotency keys, the rejection index,
// members' enrollment spans and held reversals.
type Store interface {
	Reserve(ctx context.Context, key, hash string) (ReserveState, error)
	Complete(ctx context.Context, key, hash string) error
	IndexRejection(ctx context.Context, rejectionID, kind string, rejectionSeq uint64) error
	Spans(ctx context.Context, member string) ([]validate.Span, error)
	RecordSpan(ctx context.Context, member, enrollmentID string, sp validate.Span) error
	ClaimKnown(ctx context.Context, claimID string) (bool, error)
	Hold(ctx context.Context, h Held) error
	TakeHeld(ctx context.Context, claimID string) (Held, bool, error)
	Release(ctx context.Context, claimID string) error
	ListHeld(ctx context.Context, limit int) ([]Held, error)
	NextResubmission(ctx context.Context, rejectionID string) (int64, error)
	ResolveRejection(ctx context.Context, rejectionID, eventID string) error
	ReRejected(ctx context.Context, rejectionID, newRejectionID string) error
}

// Publisher publishes to the bus.
type Publisher interface {
	Publish(ctx context.Context, outs ...bus.Out) ([]*jetstream.PubAck, error)
	Meta(ctx context.Context, eventID, causationID string) *typesv1.EventMeta
}

// Intake runs submissions.
type Intake struct {
	pub        Publisher
	store      Store
	partitions int
	loc        *time.Location
	now        func() time.Time
	rejections metric.Int64Counter
}

// Option adjusts an Intake.
type Option func(*Intake)

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
func New(pub Publisher, store Store, partitions int, loc *time.Location, opts ...Option) *Intake {
	in := &Intake{pub: pub, store: store, partitions: partitions, loc: loc, now: time.Now}
	for _, o := range opts {
		o(in)
	}
	return in
}

func (in *Intake) rules(ctx context.Context, member string) (validate.Rules, error) {
	r := validate.Rules{Today: civil.Of(in.now().In(in.loc))}
	if member == "" {
		return r, nil
	}
	spans, err := in.store.Spans(ctx, member)
	r.Enrollment = spans
	return r, err
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
	if v := oversized(src); v != nil {
		return in.reject(ctx, kind, src, []validate.Violation{*v})
	}
	return in.Submit(ctx, kind, msg, src)
}

// oversized is the violation of a submission over MaxSubmissionBytes (nil if within).
func oversized(src Source) *validate.Violation {
	if len(src.Payload) <= MaxSubmissionBytes {
		return nil
	}
	return &validate.Violation{Reason: "OVERSIZED",
		Description: fmt.Sprintf("the submission is %d bytes; one submission may be at most %d bytes", len(src.Payload), MaxSubmissionBytes)}
}

// SubmitRaw decodes a raw submission already stored on EMTM_RAW and submits
// it; an undecodable payload or an unknown kind becomes a rejection.
func (in *Intake) SubmitRaw(ctx context.Context, kind string, src Source) (Outcome, error) {
	if v := oversized(src); v != nil {
		return in.reject(ctx, kind, src, []validate.Violation{*v})
	}
	msg, bad := Decode(kind, src.ContentType, src.Payload)
	if bad != nil {
		k := kind
		if bad.Reason == "UNKNOWN_KIND" {
			k = bus.KindUnknown
			bad.Description += " (subject " + src.RawSubject + ")"
		}
		return in.reject(ctx, k, src, []validate.Violation{*bad})
	}
	return in.Submit(ctx, kind, msg, src)
}

// Decode reads a raw payload of kind in its content type (application/json,
// the protobuf JSON mapping, or application/protobuf, also assumed when the
// header is missing). It never panics; a payload it cannot read is a violation.
func Decode(kind, contentType string, payload []byte) (proto.Message, *validate.Violation) {
	msg := NewMessage(kind)
	if msg == nil {
		return nil, &validate.Violation{Reason: "UNKNOWN_KIND",
			Description: fmt.Sprintf("unknown submission kind %q; use one of %v", kind, bus.Kinds)}
	}
	var err error
	switch contentType {
	case bus.ContentJSON:
		err = protojson.Unmarshal(payload, msg)
	case bus.ContentProtobuf, "application/x-protobuf", "":
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
		return nil, &validate.Violation{Reason: "MALFORMED_PAYLOAD",
			Description: fmt.Sprintf("payload is not a valid %s in %s: %v", msg.ProtoReflect().Descriptor().FullName(), ct, err)}
	}
	return msg, nil
}

// canonical is a validated event ready to publish.
type canonical struct {
	key     string // idempotency key
	eventID string
	subject string
	idField string // the field to blame on a conflict
	msg     proto.Message
	setMeta func(*typesv1.EventMeta)
	// holdIf may keep the event back instead of publishing it (a reversal before its claim).
	holdIf func(ctx context.Context, hash string) (bool, error)
	// after runs once the event is published, and again when it comes back as a
	// duplicate, so that a crash between the two is mended by a resubmission.
	after func(ctx context.Context) error
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

// Submit validates msg (already stored raw at src) and publishes it or a rejection.
func (in *Intake) Submit(ctx context.Context, kind string, msg proto.Message, src Source) (Outcome, error) {
	r, err := in.rules(ctx, memberOf(msg))
	if err != nil {
		return Outcome{}, err
	}
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
			c = canonical{key: "claim:" + out.ClaimId, eventID: "claim/" + out.ClaimId, subject: bus.ClaimPaidSubject(p(out.MemberId)),
				idField: "claim_id", msg: out, setMeta: func(md *typesv1.EventMeta) { out.Meta = md },
				after: func(ctx context.Context) error { return in.releaseHeld(ctx, out.ClaimId) }}
		}
	case *claimsv1.ClaimReversal:
		var out *claimsv1.ClaimReversal
		out, v = validate.Reversal(m, r)
		if out != nil {
			npi = out.PharmacyNpi
			c = canonical{key: "reversal:" + out.ClaimId, eventID: "reversal/" + out.ClaimId, subject: bus.ClaimReversedSubject(p(out.MemberId)),
				idField: "claim_id", msg: out, setMeta: func(md *typesv1.EventMeta) { out.Meta = md },
				holdIf: func(ctx context.Context, hash string) (bool, error) { return in.holdIfEarly(ctx, out, hash, src) }}
		}
	case *encountersv1.MtmEncounter:
		var out *encountersv1.MtmEncounter
		out, v = validate.Encounter(m, r)
		if out != nil {
			npi = out.PharmacyNpi
			c = canonical{key: "encounter:" + out.EncounterId, eventID: "encounter/" + out.EncounterId, subject: bus.EncounterSubject(p(out.MemberId)),
				idField: "encounter_id", msg: out, setMeta: func(md *typesv1.EventMeta) { out.Meta = md }}
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
				after:   func(ctx context.Context) error { return in.store.RecordSpan(ctx, out.MemberId, out.EnrollmentId, span) }}
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
		return Outcome{}, fmt.Errorf("intake: unsupported message %T", msg)
	}
	v = append(v, roleViolations(kind, msg, npi, src)...)
	if len(v) > 0 {
		return in.reject(ctx, kind, src, v)
	}
	return in.accept(ctx, kind, src, c)
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
	hash := contentHash(c.msg)
	state, err := in.store.Reserve(ctx, c.key, hash)
	if err != nil {
		return Outcome{}, err
	}
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
	c.setMeta(in.pub.Meta(ctx, c.eventID, fmt.Sprintf("raw-%d", src.RawSeq)))
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
	known, err := in.store.ClaimKnown(ctx, r.ClaimId)
	if err != nil || known {
		return false, err
	}
	b, err := proto.Marshal(r)
	if err != nil {
		return false, err
	}
	return true, in.store.Hold(ctx, Held{ClaimID: r.ClaimId, PharmacyNPI: r.PharmacyNpi, Since: in.now().UTC(), RawSeq: src.RawSeq, Hash: hash, Reversal: b})
}

// releaseHeld publishes the held reversal of a claim that has been published.
func (in *Intake) releaseHeld(ctx context.Context, claimID string) error {
	h, ok, err := in.store.TakeHeld(ctx, claimID)
	if err != nil || !ok {
		return err
	}
	var r claimsv1.ClaimReversal
	if err := proto.Unmarshal(h.Reversal, &r); err != nil {
		return fmt.Errorf("held reversal of a claim is unreadable: %w", err)
	}
	id := "reversal/" + r.ClaimId
	if _, err := in.pub.Publish(ctx, bus.Out{Subject: bus.ClaimReversedSubject(bus.Partition(r.MemberId, in.partitions)), MsgID: id, Msg: &r}); err != nil {
		return err
	}
	if err := in.store.Complete(ctx, "reversal:"+r.ClaimId, h.Hash); err != nil {
		return err
	}
	return in.store.Release(ctx, claimID)
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
		known, err := in.store.ClaimKnown(ctx, h.ClaimID)
		if err != nil {
			return held, rejected, err
		}
		if known {
			if err := in.releaseHeld(ctx, h.ClaimID); err != nil {
				return held, rejected, err
			}
			continue
		}
		if in.now().Sub(h.Since) <= overdue {
			held++
			continue
		}
		src := Source{Channel: ChannelHeld, Sender: h.PharmacyNPI, RawSeq: h.RawSeq,
			RawSubject: bus.RawPharmacySubject(h.PharmacyNPI, bus.KindReversal), ContentType: bus.ContentProtobuf, Payload: h.Reversal}
		if _, err := in.reject(ctx, bus.KindReversal, src, []validate.Violation{{Field: "claim_id", Reason: "UNKNOWN_CLAIM",
			Description: fmt.Sprintf("no claim %s arrived within %s of its reversal (held since %s); resubmit the reversal once the claim is in",
				h.ClaimID, overdue, h.Since.Format(time.RFC3339))}}); err != nil {
			return held, rejected, err
		}
		if err := in.store.Release(ctx, h.ClaimID); err != nil {
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
	if out.Rejection != nil {
		return out, in.store.ReRejected(ctx, rej.RejectionId, out.Rejection.RejectionId)
	}
	return out, in.store.ResolveRejection(ctx, rej.RejectionId, out.EventID)
}

// RejectionID is derived from the raw submission's stream sequence, so a
// redelivered raw message yields the same rejection (deduplicated).
func RejectionID(rawSeq uint64) string { return fmt.Sprintf("rej-%d", rawSeq) }

func (in *Intake) reject(ctx context.Context, kind string, src Source, v []validate.Violation) (Outcome, error) {
	if src.RawSeq == 0 {
		return Outcome{}, errors.New("intake: a rejection needs its stored raw submission")
	}
	id := RejectionID(src.RawSeq)
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
