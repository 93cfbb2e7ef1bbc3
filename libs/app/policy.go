package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/emtm/emtm/libs/config"
	opsv1 "github.com/emtm/emtm/libs/gen/emtm/ops/v1"
)

// ServePolicy serves emtm.ops.v1.PolicyService: the policy the service runs
// under, as it read it at start.
func (rt *Runtime) ServePolicy(src config.Source) {
	sum := sha256.Sum256(src.Data)
	opsv1.RegisterPolicyServiceServer(rt.GRPC.GRPC, policyServer{resp: &opsv1.GetPolicyResponse{
		Name: src.Name, Text: src.Data, Sha256: hex.EncodeToString(sum[:])}})
}

type policyServer struct {
	opsv1.UnimplementedPolicyServiceServer
	resp *opsv1.GetPolicyResponse
}

func (p policyServer) GetPolicy(context.Context, *opsv1.GetPolicyRequest) (*opsv1.GetPolicyResponse, error) {
	return p.resp, nil
}
