package ports

import (
	"context"
	"log/slog"

	"github.com/nats-io/nats.go"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/services/ingestion/internal/intake"
)

// rawSender reads who published a raw submission from its subject: a
// pharmacy (emtm.raw.pharmacy.<npi>.<kind>) or the sponsor's feed for a
// contract (emtm.raw.feed.<contract>.<kind>). NATS permissions let each
// publish only under its own token, so the subject is the sender's identity.
func rawSender(subject string) (src intake.Source, kind string) {
	if npi, k, ok := bus.ParseRawPharmacySubject(subject); ok {
		return intake.Source{Role: intake.RolePharmacy, Allowed: []string{npi}, Sender: npi}, k
	}
	if contract, k, ok := bus.ParseRawFeedSubject(subject); ok {
		return intake.Source{Role: intake.RoleFeed, Allowed: []string{contract}, Sender: "feed:" + contract}, k
	}
	return intake.Source{}, bus.KindUnknown
}

// Subscriptions are ingestion's durables: raw submissions that pharmacy
// systems and the sponsor's feeds publish (already stored on EMTM_RAW by
// JetStream), each beneficiary's in order (RawKey).
func Subscriptions(in *intake.Intake, log *slog.Logger) []bus.Subscription {
	h := rawHandler(in, log)
	return []bus.Subscription{
		bus.Batched(bus.Subscribe(bus.IngestionPharmacy, bus.On(bus.RawPharmacy, h)).KeyedBy(RawKey), bus.RawPharmacy, rawBatch(in, log)),
		bus.Batched(bus.Subscribe(bus.IngestionFeed, bus.On(bus.RawFeed, h)).KeyedBy(RawKey), bus.RawFeed, rawBatch(in, log)),
	}
}

// rawSource is the intake source of a raw submission delivered on the bus, and its kind.
func rawSource(m *bus.Msg) (intake.Source, string) {
	src, kind := rawSender(m.Subject)
	src.Channel = intake.ChannelNATS
	src.RawSubject, src.RawSeq = m.Subject, m.StreamSeq
	src.ContentType, src.Payload = m.Header.Get(bus.HeaderContentType), m.Data
	return src, kind
}

// rawBatch handles a batch of raw submissions (at most one per member)
// together: intake's SubmitRawBatch.
func rawBatch(in *intake.Intake, log *slog.Logger) func(ctx context.Context, ctxs []context.Context, ms []*bus.Msg) []error {
	return func(ctx context.Context, ctxs []context.Context, ms []*bus.Msg) []error {
		raws := make([]intake.Submission, len(ms))
		for i, m := range ms {
			src, kind := rawSource(m)
			raws[i] = intake.Submission{Ctx: ctxs[i], Kind: kind, Src: src}
		}
		outs, errs := in.SubmitRawBatch(ctx, raws)
		for i, m := range ms {
			if errs[i] == nil {
				logOutcome(log, raws[i].Kind, outs[i], m.StreamSeq)
			}
		}
		return errs
	}
}

// logOutcome logs what became of a submission that was not accepted as sent.
func logOutcome(log *slog.Logger, kind string, out intake.Outcome, rawSeq uint64) {
	if out.Rejection != nil {
		reasons := make([]string, 0, len(out.Rejection.Violations))
		for _, v := range out.Rejection.Violations {
			reasons = append(reasons, v.Reason)
		}
		log.Info("submission rejected", "rejection", out.Rejection.RejectionId, "kind", kind, "reasons", reasons)
	}
	if out.Held {
		log.Info("reversal held until its claim arrives", "raw_seq", rawSeq)
	}
}

// rawHandler handles one raw submission. Every message ends as a canonical
// event or a stored rejection; only a failure to store either is retried.
func rawHandler(in *intake.Intake, log *slog.Logger) func(context.Context, *bus.Msg) error {
	return func(ctx context.Context, m *bus.Msg) error {
		src, kind := rawSource(m)
		out, err := in.SubmitRaw(ctx, kind, src)
		if err != nil {
			return err
		}
		logOutcome(log, kind, out, m.StreamSeq)
		return nil
	}
}

// RawKey keys a raw submission by the member it names, so that one
// beneficiary's claims, reversals and enrollment are handled in order.
func RawKey(subject string, hdr nats.Header, data []byte) string {
	_, kind := rawSender(subject)
	if kind == bus.KindUnknown {
		return ""
	}
	return intake.MemberKey(kind, hdr.Get(bus.HeaderContentType), data)
}
