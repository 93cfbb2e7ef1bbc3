package ports

import (
	"context"
	"github.com/nats-io/nats.go"
	"log/slog"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/services/ingestion/internal/intake"
)

// PharmacyHandler consumes raw submissions that pharmacy systems publish on
// emtm.raw.pharmacy.<npi>.<kind> (already stored on EMTM_RAW by JetStream).
// Every message ends as a canonical event or a stored rejection; only a
// failure to store either is retried.
func PharmacyHandler(in *intake.Intake, log *slog.Logger) bus.Handler {
	return func(ctx context.Context, m *bus.Msg) error {
		npi, kind, ok := bus.ParseRawPharmacySubject(m.Subject)
		if !ok {
			kind = bus.KindUnknown
		}
		src := intake.Source{
			Channel:     intake.ChannelNATS,
			Sender:      npi,
			RawSubject:  m.Subject,
			RawSeq:      m.StreamSeq,
			ContentType: m.Header.Get(bus.HeaderContentType),
			Payload:     m.Data,
		}
		out, err := in.SubmitRaw(ctx, kind, src)
		if err != nil {
			return err
		}
		if out.Rejection != nil {
			reasons := make([]string, 0, len(out.Rejection.Violations))
			for _, v := range out.Rejection.Violations {
				reasons = append(reasons, v.Reason)
			}
			log.Info("submission rejected", "rejection", out.Rejection.RejectionId, "kind", kind, "reasons", reasons)
		}
		if out.Held {
			log.Info("reversal held until its claim arrives", "raw_seq", m.StreamSeq)
		}
		return nil
	}
}

// PharmacyKey keys a raw pharmacy submission by the member it names, so that
// one beneficiary's claims, reversals and enrollment are handled in order.
func PharmacyKey(subject string, hdr nats.Header, data []byte) string {
	_, kind, ok := bus.ParseRawPharmacySubject(subject)
	if !ok {
		return ""
	}
	return intake.MemberKey(kind, hdr.Get(bus.HeaderContentType), data)
}
