package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StreamSpec is one of emtm's streams.
type StreamSpec struct {
	Name        string
	Subjects    []string
	Description string
	// Duplicates is the Nats-Msg-Id window. Consumers are idempotent by their own
	// markers, so the window only has to catch quick retries; the ledger keeps a
	// day so that a publish retried after a restart cannot double a posting.
	Duplicates time.Duration
	// Immutable streams deny delete and purge (the ledger is append-only).
	Immutable bool
	// WorkQueue streams keep a message until one consumer acknowledges it.
	WorkQueue bool
	// MaxMsgSize > 0: the server refuses a larger message at publish.
	MaxMsgSize int32
}

// MaxRawBytes bounds one raw submission on EMTM_RAW; a pharmacy publishing more
// gets the server's error at once. Ingestion rejects anything over its own,
// smaller limit (a stored rejection), so between the two nothing is lost silently.
const MaxRawBytes = 1 << 20

// Streams lists every stream emtm uses. Retention is by limits with no age
// limit: the streams are the record that Redis is rebuilt from.
var Streams = []StreamSpec{
	{Name: StreamRaw, Subjects: []string{"emtm.raw.>"}, Description: "raw submissions, stored before validation", Duplicates: 2 * time.Minute, MaxMsgSize: MaxRawBytes},
	{Name: StreamRejections, Subjects: []string{"emtm.rejections.>"}, Description: "rejected submissions with field-level reasons", Duplicates: 2 * time.Minute},
	{Name: StreamClaims, Subjects: []string{"emtm.claims.>"}, Description: "validated pharmacy claims and reversals", Duplicates: 2 * time.Minute},
	{Name: StreamEncounters, Subjects: []string{"emtm.encounters.>"}, Description: "validated MTM encounters", Duplicates: 2 * time.Minute},
	{Name: StreamEnrollment, Subjects: []string{"emtm.enrollment.>"}, Description: "validated enrollment spans", Duplicates: 2 * time.Minute},
	{Name: StreamMedical, Subjects: []string{"emtm.medical.>"}, Description: "Parts A/B claim summaries", Duplicates: 2 * time.Minute},
	{Name: StreamAssessments, Subjects: []string{"emtm.assessments.>"}, Description: "risk assessments", Duplicates: 2 * time.Minute},
	{Name: StreamTasks, Subjects: []string{"emtm.tasks.>"}, Description: "intervention task lifecycle events", Duplicates: 2 * time.Minute},
	{Name: StreamOutreach, Subjects: []string{"emtm.outreach.>"}, Description: "prescriber outreach items and the letters to prescribers", Duplicates: 2 * time.Minute},
	{Name: StreamLedger, Subjects: []string{"emtm.ledger.>"}, Description: "append-only payment ledger", Duplicates: 24 * time.Hour, Immutable: true},
	{Name: StreamDLQ, Subjects: []string{"emtm.dlq.>"}, Description: "messages a consumer gave up on, for an operator", Duplicates: 2 * time.Minute},
	{Name: StreamWork, Subjects: []string{"emtm.work.>"}, Description: "tasks ready for schedulers that take work over NATS", Duplicates: 2 * time.Minute, WorkQueue: true},
	{Name: StreamAudit, Subjects: []string{"emtm.audit.>"}, Description: "privileged actions: who, what, when, outcome", Duplicates: 2 * time.Minute, Immutable: true},
}

// EnsureStreams creates or updates every stream (idempotent; each service calls
// it at start). A stream that already exists as specified is left alone, so a
// service whose NATS user may only read stream definitions starts against
// streams the admin created (bin/emtmctl streams ensure).
func EnsureStreams(ctx context.Context, js jetstream.JetStream, replicas int) error {
	for _, cfg := range StreamConfigs(replicas) {
		if st, err := js.Stream(ctx, cfg.Name); err == nil && sameStream(st.CachedInfo().Config, cfg) {
			continue
		}
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			if errors.Is(err, nats.ErrPermissionViolation) || strings.Contains(err.Error(), "ermission") {
				return fmt.Errorf("ensure stream %s: %w (this NATS user may not create or change streams: run `bin/emtmctl streams ensure` as the admin first)", cfg.Name, err)
			}
			return fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// StreamConfigs are the configurations of emtm's streams.
func StreamConfigs(replicas int) []jetstream.StreamConfig {
	if replicas < 1 {
		replicas = 1
	}
	out := make([]jetstream.StreamConfig, 0, len(Streams))
	for _, s := range Streams {
		retention := jetstream.LimitsPolicy
		if s.WorkQueue {
			retention = jetstream.WorkQueuePolicy
		}
		out = append(out, jetstream.StreamConfig{
			Name:        s.Name,
			Description: s.Description,
			Subjects:    s.Subjects,
			Retention:   retention,
			Storage:     jetstream.FileStorage,
			Replicas:    replicas,
			Duplicates:  s.Duplicates,
			Discard:     jetstream.DiscardNew,
			DenyDelete:  s.Immutable,
			DenyPurge:   s.Immutable,
			MaxMsgSize:  s.MaxMsgSize,
		})
	}
	return out
}

// sameStream reports whether an existing stream has every setting emtm specifies
// (the server reports an unset limit as -1).
func sameStream(have, want jetstream.StreamConfig) bool {
	return have.Description == want.Description && slices.Equal(have.Subjects, want.Subjects) &&
		have.Retention == want.Retention && have.Storage == want.Storage && have.Replicas == want.Replicas &&
		have.Duplicates == want.Duplicates && have.Discard == want.Discard && have.DenyDelete == want.DenyDelete &&
		have.DenyPurge == want.DenyPurge && limit(have.MaxMsgSize) == limit(want.MaxMsgSize)
}

func limit(v int32) int32 {
	if v <= 0 {
		return -1
	}
	return v
}
