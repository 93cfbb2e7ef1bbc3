// Package ports translates the bus and gRPC into the outreach use case.
package ports

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	"github.com/emtm/emtm/libs/identifiers"
	"github.com/emtm/emtm/services/prescriber-outreach/internal/outreach"
)

// AssessmentsHandler consumes EMTM_ASSESSMENTS.
func AssessmentsHandler(r *outreach.Recorder) bus.Handler {
	return func(ctx context.Context, m *bus.Msg) error {
		var a riskv1.RiskAssessment
		if err := proto.Unmarshal(m.Data, &a); err != nil {
			return bus.Permanent(fmt.Errorf("decode assessment: %w", err))
		}
		return r.OnAssessment(ctx, &a)
	}
}

// GRPC serves emtm.outreach.v1.PrescriberOutreachService.
type GRPC struct {
	outreachv1.UnimplementedPrescriberOutreachServiceServer
	r *outreach.Recorder
}

// NewGRPC returns the gRPC port.
func NewGRPC(r *outreach.Recorder) *GRPC { return &GRPC{r: r} }

func (g *GRPC) ListOutreach(ctx context.Context, req *outreachv1.ListOutreachRequest) (*outreachv1.ListOutreachResponse, error) {
	if _, err := identifiers.NPI(req.GetPrescriberNpi()); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "prescriber_npi: %v", err)
	}
	limit := int(req.GetLimit())
	switch {
	case limit == 0:
		limit = 100
	case limit < 0 || limit > 1000:
		return nil, status.Errorf(codes.InvalidArgument, "limit must be 1..1000, got %d", limit)
	}
	items, err := g.r.ByPrescriber(ctx, req.GetPrescriberNpi(), limit)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "list outreach: %v", err)
	}
	return &outreachv1.ListOutreachResponse{Items: items}, nil
}

// problemCodes are the drug therapy problem codes (docs/domain.md section 4).
var problemCodes = []string{"SUPD", "OHD", "COB", "POLY-ACH", "POLY-CNS", "BEERS", "NONADH"}

func (g *GRPC) GetOutreachCounts(ctx context.Context, _ *outreachv1.GetOutreachCountsRequest) (*outreachv1.GetOutreachCountsResponse, error) {
	total, by, err := g.r.Counts(ctx, problemCodes)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "outreach counts: %v", err)
	}
	return &outreachv1.GetOutreachCountsResponse{Items: total, ByProblem: by}, nil
}
