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
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
	ChannelGRPC   = "grpc"
	ChannelNATS   = "nats"
	ChannelImport = "import"
)

// Headers that describe a raw submission.
const (
	HeaderChannel = "Emtm-Channel"
	HeaderKind    = "Emtm-Kind"
)

// Source is where a submission came from and its raw form.
type Source struct {
	Channel     string
	Sender      string // pharmacy NPI from the subject, when published by a pharmacy
	RawSubject  string
	RawSeq      uint64
	ContentType string
	Payload     []byte
}

// Outcome is what became of a submission.
type Outcome struct {
	EventID   string
	Duplicate bool
	RawSeq    uint64
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

// Store keeps idempotency keys and the rejection index.
type Store interface {
	Reserve(ctx context.Context, key, hash string) (ReserveState, error)
	Complete(ctx context.Context, key, hash string) error
	IndexRejection(ctx context.Context, rejectionID, kind string, rejectionSeq uint64) error
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
}

// New returns an Intake. loc is the plan's time zone (it decides "today").
func New(pub Publisher, store Store, partitions int, loc *time.Location) *Intake {
	return &Intake{pub: pub, store: store, partitions: partitions, loc: loc, now: time.Now}
}

func (in *Intake) rules() validate.Rules {
	return validate.Rules{Today: civil.Of(in.now().In(in.loc))}
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
	}
	return nil
}

// SubmitAPI stores msg raw on EMTM_RAW (emtm.raw.api.<kind>), then submits it.
func (in *Intake) SubmitAPI(ctx context.Context, kind string, msg proto.Message) (Outcome, error) {
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
	subject := bus.RawAPISubject(kind)
	acks, err := in.pub.Publish(ctx, bus.Out{Subject: subject, MsgID: "raw/api/" + kind + "/" + hex.EncodeToString(sum[:16]), Data: data, Header: hdr})
	if err != nil {
		return Outcome{}, fmt.Errorf("store raw submission: %w", err)
	}
	src := Source{Channel: ChannelGRPC, RawSubject: subject, RawSeq: acks[0].Sequence, ContentType: bus.ContentProtobuf, Payload: data}
	return in.Submit(ctx, kind, msg, src)
}

// SubmitRaw decodes a raw submission already stored on EMTM_RAW and submits
// it; an undecodable payload or an unknown kind becomes a rejection.
func (in *Intake) SubmitRaw(ctx context.Context, kind string, src Source) (Outcome, error) {
	msg := NewMessage(kind)
	if msg == nil {
		return in.reject(ctx, bus.KindUnknown, src, []validate.Violation{{
			Field: "", Reason: "UNKNOWN_KIND",
			Description: fmt.Sprintf("unknown submission kind %q in subject %s; use one of %v", kind, src.RawSubject, bus.Kinds),
		}})
	}
	var err error
	switch src.ContentType {
	case bus.ContentJSON:
		err = protojson.Unmarshal(src.Payload, msg)
	case bus.ContentProtobuf, "application/x-protobuf", "":
		err = proto.Unmarshal(src.Payload, msg)
	default:
		return in.reject(ctx, kind, src, []validate.Violation{{
			Reason:      "UNSUPPORTED_CONTENT_TYPE",
			Description: fmt.Sprintf("Content-Type %q is not supported; use application/json or application/protobuf", src.ContentType),
		}})
	}
	if err != nil {
		ct := src.ContentType
		if ct == "" {
			ct = bus.ContentProtobuf + " (no Content-Type header)"
		}
		return in.reject(ctx, kind, src, []validate.Violation{{
			Reason:      "MALFORMED_PAYLOAD",
			Description: fmt.Sprintf("payload is not a valid %s in %s: %v", msg.ProtoReflect().Descriptor().FullName(), ct, err),
		}})
	}
	return in.Submit(ctx, kind, msg, src)
}

// canonical is a validated event ready to publish.
type canonical struct {
	key     string // idempotency key
	eventID string
	subject string
	idField string // the field to blame on a conflict
	msg     proto.Message
	setMeta func(*typesv1.EventMeta)
}

// Submit validates msg (already stored raw at src) and publishes it or a rejection.
func (in *Intake) Submit(ctx context.Context, kind string, msg proto.Message, src Source) (Outcome, error) {
	r := in.rules()
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
				idField: "claim_id", msg: out, setMeta: func(md *typesv1.EventMeta) { out.Meta = md }}
		}
	case *claimsv1.ClaimReversal:
		var out *claimsv1.ClaimReversal
		out, v = validate.Reversal(m, r)
		if out != nil {
			npi = out.PharmacyNpi
			c = canonical{key: "reversal:" + out.ClaimId, eventID: "reversal/" + out.ClaimId, subject: bus.ClaimReversedSubject(p(out.MemberId)),
				idField: "claim_id", msg: out, setMeta: func(md *typesv1.EventMeta) { out.Meta = md }}
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
			c = canonical{key: "enrollment:" + out.EnrollmentId + ":" + ver, eventID: "enrollment/" + out.EnrollmentId + "/" + ver,
				subject: bus.EnrollmentSubject(p(out.MemberId)), idField: "enrollment_id", msg: out,
				setMeta: func(md *typesv1.EventMeta) { out.Meta = md }}
		}
	case *medicalv1.PartsAbSummary:
		var out *medicalv1.PartsAbSummary
		out, v = validate.PartsAbSummary(m, r)
		if out != nil {
			c = canonical{key: "medical:" + out.SummaryId, eventID: "medical/" + out.SummaryId, subject: bus.MedicalSubject(p(out.MemberId)),
				idField: "summary_id", msg: out, setMeta: func(md *typesv1.EventMeta) { out.Meta = md }}
		}
	default:
		return Outcome{}, fmt.Errorf("intake: unsupported message %T", msg)
	}
	if src.Sender != "" && npi != "" && npi != src.Sender {
		v = append(v, validate.Violation{Field: "pharmacy_npi", Reason: "SENDER_MISMATCH",
			Description: fmt.Sprintf("pharmacy_npi %s differs from the sender %s in the subject: a pharmacy submits only its own events", npi, src.Sender)})
	}
	if len(v) > 0 {
		return in.reject(ctx, kind, src, v)
	}
	return in.accept(ctx, kind, src, c)
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
		return Outcome{EventID: c.eventID, Duplicate: true, RawSeq: src.RawSeq}, nil
	case StateConflict:
		return in.reject(ctx, kind, src, []validate.Violation{{Field: c.idField, Reason: "DUPLICATE_CONFLICT",
			Description: fmt.Sprintf("%s was accepted before with different content; reverse or correct it under a new %s", c.idField, c.idField)}})
	}
	c.setMeta(in.pub.Meta(ctx, c.eventID, fmt.Sprintf("raw-%d", src.RawSeq)))
	acks, err := in.pub.Publish(ctx, bus.Out{Subject: c.subject, MsgID: c.eventID, Msg: c.msg})
	if err != nil {
		return Outcome{}, err
	}
	if err := in.store.Complete(ctx, c.key, hash); err != nil {
		return Outcome{}, err
	}
	return Outcome{EventID: c.eventID, Duplicate: acks[0].Duplicate, RawSeq: src.RawSeq}, nil
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
	return Outcome{RawSeq: src.RawSeq, Rejection: rej}, nil
}
