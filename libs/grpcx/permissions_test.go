package grpcx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"os"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"

	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	opsv1 "github.com/emtm/emtm/libs/gen/emtm/ops/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
)

// Every method any emtm server registers (the five services' APIs, the
// dead-letter service each serves, the policy service four serve, health and reflection) has a declared permission, and the table names no method that
// does not exist: adding an RPC without deciding who may call it fails here.
func TestEveryMethodHasAPermission(t *testing.T) {
	registered := map[string]bool{}
	for _, sd := range []grpc.ServiceDesc{ingestionv1.IngestionService_ServiceDesc, riskv1.RiskScoringService_ServiceDesc,
		schedulingv1.InterventionSchedulingService_ServiceDesc, outreachv1.PrescriberOutreachService_ServiceDesc,
		ledgerv1.PaymentReconciliationService_ServiceDesc, opsv1.DeadLetterService_ServiceDesc, opsv1.PolicyService_ServiceDesc, healthpb.Health_ServiceDesc,
		reflectionv1.ServerReflection_ServiceDesc, reflectionv1alpha.ServerReflection_ServiceDesc} {
		for _, m := range sd.Methods {
			registered["/"+sd.ServiceName+"/"+m.MethodName] = true
		}
		for _, s := range sd.Streams {
			registered["/"+sd.ServiceName+"/"+s.StreamName] = true
		}
	}
	for m := range registered {
		if _, ok := Permissions[m]; !ok {
			t.Errorf("%s has no permission in grpcx.Permissions", m)
		}
	}
	for m := range Permissions {
		if !registered[m] {
			t.Errorf("grpcx.Permissions names %s, which no service registers", m)
		}
	}
}

// withCert is a context as a verified client certificate with these OUs makes it.
func withCert(ous ...string) context.Context {
	leaf := &x509.Certificate{Subject: pkix.Name{CommonName: "t", OrganizationalUnit: ous}}
	st := tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf}}}
	return peer.NewContext(context.Background(), &peer.Peer{AuthInfo: credentials.TLSInfo{State: st}})
}

func TestEachClassOfCallerGetsWhatItsPermissionAllows(t *testing.T) {
	operator, sponsor, other := withCert("*"), withCert("S9925"), withCert("H9999")
	pharmacy, feed, nobody := withCert("pharmacy:1245319599"), withCert("feed:S9925"), withCert()
	claim := ingestionv1.IngestionService_SubmitClaim_FullMethodName
	enroll := ingestionv1.IngestionService_SubmitEnrollment_FullMethodName
	statement := ledgerv1.PaymentReconciliationService_GetStatement_FullMethodName
	rebuild := ledgerv1.PaymentReconciliationService_RebuildLedger_FullMethodName
	health := healthpb.Health_Check_FullMethodName
	s9925 := &ledgerv1.GetStatementRequest{ContractId: "S9925", PbpId: "001"}
	cases := []struct {
		name   string
		ctx    context.Context
		method string
		req    any
		ok     bool
	}{
		{"an operator rebuilds", operator, rebuild, &ledgerv1.RebuildLedgerRequest{}, true},
		{"a sponsor may not rebuild", sponsor, rebuild, &ledgerv1.RebuildLedgerRequest{}, false},
		{"a sponsor reads its own statement", sponsor, statement, s9925, true},
		{"another sponsor may not read it", other, statement, s9925, false},
		{"a pharmacy may not read statements", pharmacy, statement, s9925, false},
		{"a pharmacy submits claims", pharmacy, claim, nil, true},
		{"a sponsor's staff may not submit claims", sponsor, claim, nil, false},
		{"a pharmacy may not submit enrollment", pharmacy, enroll, nil, false},
		{"the feed submits enrollment", feed, enroll, nil, true},
		{"the feed may not submit claims", feed, claim, nil, false},
		{"a certificate without a role checks health", nobody, health, nil, true},
		{"a certificate without a role reads no statement", nobody, statement, s9925, false},
		{"an undeclared method is refused, even to an operator", operator, "/emtm.x.v1.X/Destroy", nil, false},
		{"without a client certificate (loopback) every declared method is open", context.Background(), rebuild, nil, true},
	}
	for _, c := range cases {
		err := authorize(c.ctx, c.method, c.req)
		if (err == nil) != c.ok || (err != nil && status.Code(err) != codes.PermissionDenied) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestAuditedCallsAreRecordedBeforeAndAfterWithCallerAndOutcome(t *testing.T) {
	var got []AuditRecord
	var failing bool
	a := access{audit: func(_ context.Context, r AuditRecord) error {
		if failing {
			return errors.New("stream unavailable")
		}
		got = append(got, r)
		return nil
	}}
	info := &grpc.UnaryServerInfo{FullMethod: ledgerv1.PaymentReconciliationService_RebuildLedger_FullMethodName}
	ran := 0
	ok := func(context.Context, any) (any, error) { ran++; return &ledgerv1.RebuildLedgerResponse{}, nil }
	if _, err := a.unary(withCert("*"), &ledgerv1.RebuildLedgerRequest{Replace: true}, info, ok); err != nil {
		t.Fatal(err)
	}
	if _, err := a.unary(withCert("S9925"), &ledgerv1.RebuildLedgerRequest{}, info, ok); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("a sponsor rebuilt: %v", err)
	}
	statement := &grpc.UnaryServerInfo{FullMethod: ledgerv1.PaymentReconciliationService_GetStatement_FullMethodName}
	_, _ = a.unary(withCert("*"), &ledgerv1.GetStatementRequest{}, statement, ok)
	if len(got) != 3 || !got[0].Requested || got[0].Caller != "cert:t" || got[0].Request != `{"replace":true}` ||
		got[1].Requested || got[1].CallID != got[0].CallID || got[1].Code != codes.OK ||
		got[2].Requested || got[2].Code != codes.PermissionDenied || got[2].Error == "" || got[2].CallID == got[0].CallID {
		t.Fatalf("audit records %+v (requested then finished; a refused call is recorded once; reads are not)", got)
	}
	if ran != 2 {
		t.Fatalf("handlers ran %d times, want 2 (the rebuild and the statement)", ran)
	}

	failing = true
	_, err := a.unary(withCert("*"), &ledgerv1.RebuildLedgerRequest{}, info, ok)
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "nothing was done") || ran != 2 {
		t.Fatalf("an audited call whose record cannot be written: %v (handler runs %d), want UNAVAILABLE and no run", err, ran)
	}
}

func TestSecurityDocShowsThePermissionTable(t *testing.T) {
	doc, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), PermissionTable()) {
		t.Fatalf("docs/security.md does not show the current permission table; paste the output of bin/emtmctl permissions between its markers:\n%s", PermissionTable())
	}
}
