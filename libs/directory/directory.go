// Package directory names emtm's five services and the loopback gRPC
// addresses `emtm run` gives them, so that emtmctl, the runner and the
// services agree without emtmctl linking the services themselves.
package directory

// Service is one of the five.
type Service struct {
	Name string
	// GRPCAddr is the address `emtm run` serves its gRPC API on (its
	// /metrics follow from it: 71NN -> 91NN, libs/config).
	GRPCAddr string
}

// The five services.
var (
	Ingestion              = Service{Name: "ingestion", GRPCAddr: "127.0.0.1:7101"}
	RiskScoring            = Service{Name: "risk-scoring", GRPCAddr: "127.0.0.1:7102"}
	InterventionScheduling = Service{Name: "intervention-scheduling", GRPCAddr: "127.0.0.1:7103"}
	PrescriberOutreach     = Service{Name: "prescriber-outreach", GRPCAddr: "127.0.0.1:7104"}
	PaymentReconciliation  = Service{Name: "payment-reconciliation", GRPCAddr: "127.0.0.1:7105"}
)

// All are the five, in start order (each one's events feed the next).
var All = []Service{Ingestion, RiskScoring, InterventionScheduling, PrescriberOutreach, PaymentReconciliation}
