// Package ports translates the bus and gRPC into the tasks use case.
package ports

import (
	"context"
	"errors"
	"sort"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/civil"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/libs/gen/enums"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/tasks"
)

// Subscriptions are intervention-scheduling's durables with the use case's handlers.
func Subscriptions(s *tasks.Scheduler) []bus.Subscription {
	return []bus.Subscription{
		bus.Subscribe(bus.SchedulingAssessments, bus.On(bus.Assessment, s.OnAssessment)),
		bus.Subscribe(bus.SchedulingMedical, bus.On(bus.PartsAB, s.OnPartsAB)),
		bus.Subscribe(bus.SchedulingEncounters, bus.On(bus.Encounter, s.OnEncounter)),
		bus.Subscribe(bus.SchedulingEnrollment, bus.On(bus.Enrollment, s.OnEnrollment)),
	}
}

// GRPC serves emtm.scheduling.v1.InterventionSchedulingService.
type GRPC struct {
	schedulingv1.UnimplementedInterventionSchedulingServiceServer
	s  *tasks.Scheduler
	js jetstream.JetStream
}

// NewGRPC returns the gRPC port.
func NewGRPC(s *tasks.Scheduler, js jetstream.JetStream) *GRPC { return &GRPC{s: s, js: js} }

func transitionError(err error) error {
	var na tasks.NotAllowedError
	switch {
	case errors.Is(err, tasks.ErrNotFound):
		return status.Error(codes.NotFound, tasks.ErrNotFound.Error())
	case errors.As(err, &na):
		return status.Error(codes.FailedPrecondition, na.Reason)
	}
	return status.Errorf(codes.Unavailable, "%v", err)
}

// authorize lets a caller act on a contract's tasks: with mTLS, the contracts
// its certificate names (one sponsor never sees or leases another's tasks).
func authorize(ctx context.Context, contract string) error {
	c := grpcx.CallerOf(ctx)
	if c.MayActOn(contract) {
		return nil
	}
	if contract == "" {
		return status.Errorf(codes.PermissionDenied, "%s may act only on contracts %v: name one in contract_id", c.Name, c.Contracts)
	}
	return status.Errorf(codes.PermissionDenied, "%s may not act on contract %s (its certificate allows %v)", c.Name, contract, c.Contracts)
}

// operatorOnly admits callers that may act on every contract.
func operatorOnly(ctx context.Context) error {
	if c := grpcx.CallerOf(ctx); !c.Operator() {
		return status.Errorf(codes.PermissionDenied, "%s is not an operator (its certificate allows contracts %v only)", c.Name, c.Contracts)
	}
	return nil
}

// authorizeTask checks the contract of a task named by id; another sponsor's
// task is reported as missing, so that ids cannot be probed.
func (g *GRPC) authorizeTask(ctx context.Context, id string) error {
	if grpcx.CallerOf(ctx).Operator() {
		return nil
	}
	t, err := g.s.Get(ctx, id)
	if err != nil {
		return status.Errorf(codes.Unavailable, "task: %v", err)
	}
	if t == nil || authorize(ctx, t.ContractId) != nil {
		return status.Error(codes.NotFound, tasks.ErrNotFound.Error())
	}
	return nil
}

func (g *GRPC) ListTasks(ctx context.Context, req *schedulingv1.ListTasksRequest) (*schedulingv1.ListTasksResponse, error) {
	if err := authorize(ctx, req.GetContractId()); err != nil {
		return nil, err
	}
	n, err := grpcx.Limit(req.GetLimit(), 100, 1000)
	if err != nil {
		return nil, err
	}
	out, err := g.s.List(ctx, tasks.Filter{Member: req.GetMemberId(), Contract: req.GetContractId(), PBP: req.GetPbpId(),
		Status: req.GetStatus(), Kind: req.GetKind(), OverdueOnly: req.GetOverdueOnly(), Limit: n})
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "list tasks: %v", err)
	}
	return &schedulingv1.ListTasksResponse{Tasks: out}, nil
}

func (g *GRPC) LeaseTasks(ctx context.Context, req *schedulingv1.LeaseTasksRequest) (*schedulingv1.LeaseTasksResponse, error) {
	if req.GetWorker() == "" || req.GetContractId() == "" || req.GetPbpId() == "" {
		return nil, status.Error(codes.InvalidArgument, "worker, contract_id and pbp_id are required")
	}
	if err := authorize(ctx, req.GetContractId()); err != nil {
		return nil, err
	}
	if req.GetWorker() == tasks.WorkQueueWorker {
		return nil, status.Errorf(codes.InvalidArgument, "worker %q is reserved for the NATS work queue", req.GetWorker())
	}
	n, err := grpcx.Limit(req.GetMax(), 10, 500)
	if err != nil {
		return nil, err
	}
	var kinds []string
	for _, k := range req.GetKinds() {
		kinds = append(kinds, enums.Name(k))
	}
	out, queued, err := g.s.Lease(ctx, req.GetWorker(), req.GetContractId(), req.GetPbpId(), n, kinds)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "lease: %v", err)
	}
	return &schedulingv1.LeaseTasksResponse{Tasks: out, Queued: queued}, nil
}

func (g *GRPC) CompleteTask(ctx context.Context, req *schedulingv1.CompleteTaskRequest) (*schedulingv1.CompleteTaskResponse, error) {
	if req.GetTaskId() == "" {
		return nil, status.Error(codes.InvalidArgument, "task_id is required")
	}
	if err := g.authorizeTask(ctx, req.GetTaskId()); err != nil {
		return nil, err
	}
	on := civil.FromProto(req.GetCompletedOn())
	if !on.IsZero() && !on.Valid() {
		return nil, status.Error(codes.InvalidArgument, "completed_on is not a calendar date")
	}
	t, err := g.s.Complete(ctx, req.GetTaskId(), req.GetWorker(), on, req.GetNote())
	if err != nil {
		return nil, transitionError(err)
	}
	return &schedulingv1.CompleteTaskResponse{Task: t}, nil
}

func (g *GRPC) ReleaseTask(ctx context.Context, req *schedulingv1.ReleaseTaskRequest) (*schedulingv1.ReleaseTaskResponse, error) {
	if req.GetTaskId() == "" || req.GetWorker() == "" {
		return nil, status.Error(codes.InvalidArgument, "task_id and worker are required")
	}
	if err := g.authorizeTask(ctx, req.GetTaskId()); err != nil {
		return nil, err
	}
	t, err := g.s.Release(ctx, req.GetTaskId(), req.GetWorker())
	if err != nil {
		return nil, transitionError(err)
	}
	return &schedulingv1.ReleaseTaskResponse{Task: t}, nil
}

// WatchTasks streams every task event of a plan from now on, from EMTM_TASKS.
func (g *GRPC) WatchTasks(req *schedulingv1.WatchTasksRequest, stream grpc.ServerStreamingServer[schedulingv1.WatchTasksResponse]) error {
	ctx := stream.Context()
	if err := authorize(ctx, req.GetContractId()); err != nil {
		return err
	}
	cons, err := g.js.OrderedConsumer(ctx, bus.StreamTasks, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return status.Errorf(codes.Unavailable, "watch: %v", err)
	}
	// The stream is open: tell the caller so it can rely on seeing what happens next.
	if err := stream.SendHeader(nil); err != nil {
		return err
	}
	it, err := cons.Messages()
	if err != nil {
		return status.Errorf(codes.Unavailable, "watch: %v", err)
	}
	defer it.Stop()
	go func() {
		<-ctx.Done()
		it.Stop()
	}()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return status.Errorf(codes.Unavailable, "watch: %v", err)
		}
		var t schedulingv1.InterventionTask
		if err := proto.Unmarshal(m.Data(), &t); err != nil {
			continue
		}
		if req.GetContractId() != "" && (t.ContractId != req.GetContractId() || t.PbpId != req.GetPbpId()) {
			continue
		}
		if err := stream.Send(&schedulingv1.WatchTasksResponse{Task: &t}); err != nil {
			return err
		}
	}
}

func (g *GRPC) GetTaskCounts(ctx context.Context, req *schedulingv1.GetTaskCountsRequest) (*schedulingv1.GetTaskCountsResponse, error) {
	plan, err := grpcx.PlanScope(ctx, req.GetContractId(), req.GetPbpId(), "task counts")
	if err != nil {
		return nil, err
	}
	counts, scheduled, err := g.s.Counts(ctx, plan)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "task counts: %v", err)
	}
	backlog, err := g.s.Backlog(ctx, plan)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "task backlog: %v", err)
	}
	today, err := g.s.Today(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "clock: %v", err)
	}
	out := &schedulingv1.GetTaskCountsResponse{Counts: counts, Scheduled: scheduled, Today: today.Proto(),
		PharmacistMinutes: g.s.PharmacistMinutes(req.GetContractId(), req.GetPbpId()), CompletedBy: g.s.CompletedBy(req.GetContractId(), req.GetPbpId())}
	for k, n := range backlog {
		out.Backlog = append(out.Backlog, &schedulingv1.BacklogCount{Kind: k[0], Age: k[1], Count: n})
	}
	sort.Slice(out.Backlog, func(i, j int) bool {
		a, b := out.Backlog[i], out.Backlog[j]
		return a.Kind < b.Kind || a.Kind == b.Kind && a.Age < b.Age
	})
	if plan != "" {
		caps, err := g.s.Capacity(ctx, req.GetContractId(), req.GetPbpId())
		if err != nil {
			return nil, status.Errorf(codes.Unavailable, "capacity: %v", err)
		}
		for _, c := range caps {
			out.Capacity = append(out.Capacity, &schedulingv1.CapacityUse{Kind: c.Kind, Week: c.Week, Used: c.Used, Capacity: int64(c.Capacity)})
		}
	}
	return out, nil
}

func (g *GRPC) GetMonitoringMeasures(ctx context.Context, req *schedulingv1.GetMonitoringMeasuresRequest) (*schedulingv1.GetMonitoringMeasuresResponse, error) {
	if req.GetContractId() == "" || req.GetPbpId() == "" || req.GetYear() < 2006 || req.GetYear() > 2100 {
		return nil, status.Error(codes.InvalidArgument, "contract_id, pbp_id and a year are required")
	}
	if err := authorize(ctx, req.GetContractId()); err != nil {
		return nil, err
	}
	ms, err := g.s.Measures(ctx, req.GetContractId(), req.GetPbpId(), int(req.GetYear()))
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "measures: %v", err)
	}
	resp := &schedulingv1.GetMonitoringMeasuresResponse{}
	for _, m := range ms {
		resp.Measures = append(resp.Measures, &schedulingv1.Measure{Name: m.Name, Definition: m.Definition, Numerator: m.Numerator, Denominator: m.Denominator, Rate: m.Rate()})
	}
	return resp, nil
}

func (g *GRPC) Sweep(ctx context.Context, _ *schedulingv1.SweepRequest) (*schedulingv1.SweepResponse, error) {
	if err := operatorOnly(ctx); err != nil {
		return nil, err
	}
	if err := g.s.Sweep(ctx); err != nil {
		return nil, status.Errorf(codes.Unavailable, "sweep: %v", err)
	}
	today, err := g.s.Today(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "clock: %v", err)
	}
	return &schedulingv1.SweepResponse{Today: today.Proto()}, nil
}
