package bus

import (
	"context"
	"fmt"
	"time"

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
}

// EnsureStreams creates or updates every stream (idempotent; each service calls it at start).
func EnsureStreams(ctx context.Context, js jetstream.JetStream, replicas int) error {
	if replicas < 1 {
		replicas = 1
	}
	for _, s := range Streams {
		retention := jetstream.LimitsPolicy
		if s.WorkQueue {
			retention = jetstream.WorkQueuePolicy
		}
		cfg := jetstream.StreamConfig{
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
		}
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("ensure stream %s: %w", s.Name, err)
		}
	}
	return nil
}
