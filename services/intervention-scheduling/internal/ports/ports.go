// Package ports translates the bus and gRPC into the tasks use case.
package ports

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/services/intervention-scheduling/internal/tasks"
)

// AssessmentsHandler consumes EMTM_ASSESSMENTS.
func AssessmentsHandler(s *tasks.Scheduler) bus.Handler {
	return func(ctx context.Context, m *bus.Msg) error {
		var a riskv1.RiskAssessment
		if err := proto.Unmarshal(m.Data, &a); err != nil {
			return bus.Permanent(fmt.Errorf("decode assessment: %w", err))
		}
		return s.OnAssessment(ctx, &a)
	}
}

// GRPC serves emtm.scheduling.v1.InterventionSchedulingService.
type GRPC struct {
	schedulingv1.UnimplementedInterventionSchedulingServiceServer
	s *tasks.Scheduler
}

// NewGRPC returns the gRPC port.
func NewGRPC(s *tasks.Scheduler) *GRPC { return &GRPC{s: s} }

func (g *GRPC) ListTasks(ctx context.Context, req *schedulingv1.ListTasksRequest) (*schedulingv1.ListTasksResponse, error) {
	limit := int(req.GetLimit())
	switch {
	case limit == 0:
		limit = 100
	case limit < 0 || limit > 1000:
		return nil, status.Errorf(codes.InvalidArgument, "limit must be 1..1000, got %d", limit)
	}
	out, err := g.s.List(ctx, req.GetMemberId(), req.GetStatus(), limit)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "list tasks: %v", err)
	}
	return &schedulingv1.ListTasksResponse{Tasks: out}, nil
}

func (g *GRPC) GetTaskCounts(ctx context.Context, _ *schedulingv1.GetTaskCountsRequest) (*schedulingv1.GetTaskCountsResponse, error) {
	counts, scheduled, err := g.s.Counts(ctx)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "task counts: %v", err)
	}
	return &schedulingv1.GetTaskCountsResponse{Counts: counts, Scheduled: scheduled}, nil
}
