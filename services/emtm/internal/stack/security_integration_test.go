package stack

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/testkit"
)

func wantCode(t *testing.T, what string, err error, code codes.Code, text string) {
	t.Helper()
	if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), text) {
		t.Fatalf("%s: %v, want %s mentioning %q", what, err, code, text)
	}
}

// TestTLSAuthorizationAndLimits: the scheduler API over mTLS lets a sponsor
// see and lease only its own contract's tasks; plaintext and certificate-less
// callers are refused; a caller over its rate limit and a request over the
// size limit get clear errors.
func TestTLSAuthorizationAndLimits(t *testing.T) {
	t.Parallel()
	certs, err := grpcx.WriteDevCerts(t.TempDir(), "", []string{"127.0.0.1", "localhost"}, []grpcx.Client{
		{Name: "operator", Contracts: []string{grpcx.AllContracts}},
		{Name: "sponsor-a", Contracts: []string{"S9925"}},
		{Name: "busy", Contracts: []string{"S9925"}},
	}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	redisURL, _ := testkit.StartRedis(t)
	ctx := context.Background()
	tlsArgs := []string{"-tls-cert", certs.ServerCert, "-tls-key", certs.ServerKey, "-tls-client-ca", certs.CA, "-rate-limit", "20", "-rate-burst", "20",
		"-clock", "events"} // the claims' dates are "today": their tasks are open
	st, err := Start(ctx, Options{DataDir: t.TempDir(), RedisURL: redisURL, Partitions: 4, Log: io.Discard,
		ServiceArgs: map[string][]string{"intervention-scheduling": tlsArgs, "ingestion": {"-plans", "S9925-001,S4321-001"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Stop)
	tel, _ := otelx.Setup(ctx, "security-test", nil)
	dial := func(addr string, tls grpcx.TLS) *grpc.ClientConn {
		cc, err := grpcx.Dial(addr, tel, tls)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cc.Close() })
		return cc
	}
	as := func(name string) schedulingv1.InterventionSchedulingServiceClient {
		f := certs.Clients[name]
		return schedulingv1.NewInterventionSchedulingServiceClient(dial(st.Addrs["intervention-scheduling"], grpcx.TLS{CAFile: certs.CA, CertFile: f[0], KeyFile: f[1]}))
	}

	// Two sponsors' tasks: a drug to avoid at 65+ for a member of each contract.
	ing := ingestionv1.NewIngestionServiceClient(dial(st.Addrs["ingestion"], grpcx.TLS{}))
	for i, contract := range []string{"S9925", "S4321"} {
		enroll(t, ing, contract, "SEC-M-"+contract)
		c := testClaim()
		c.ClaimId, c.MemberId, c.ContractId, c.Mbi = "SEC-RX-"+contract, "SEC-M-"+contract, contract, ""
		if _, err := ing.SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: c}); err != nil {
			t.Fatalf("claim %d: %v", i, err)
		}
	}
	operator, sponsor := as("operator"), as("sponsor-a")
	var other *schedulingv1.InterventionTask
	deadline := time.Now().Add(20 * time.Second)
	for other == nil {
		l, err := operator.ListTasks(ctx, &schedulingv1.ListTasksRequest{ContractId: "S4321", PbpId: "001"})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Tasks) > 0 {
			other = l.Tasks[0]
		} else if time.Now().After(deadline) {
			all, err := operator.ListTasks(ctx, &schedulingv1.ListTasksRequest{})
			t.Fatalf("no task for S4321 within 20s; all tasks: %v %v", all, err)
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if _, err := operator.GetTaskCounts(ctx, &schedulingv1.GetTaskCountsRequest{}); err != nil {
		t.Fatalf("the operator's task counts: %v", err)
	}

	// A sponsor sees and leases its own contract's tasks only.
	own, err := sponsor.ListTasks(ctx, &schedulingv1.ListTasksRequest{ContractId: "S9925", PbpId: "001"})
	if err != nil || len(own.Tasks) == 0 {
		t.Fatalf("sponsor-a's own tasks: %v %v", own, err)
	}
	for _, tk := range own.Tasks {
		if tk.ContractId != "S9925" {
			t.Fatalf("sponsor-a saw a task of %s", tk.ContractId)
		}
	}
	_, err = sponsor.ListTasks(ctx, &schedulingv1.ListTasksRequest{ContractId: "S4321", PbpId: "001"})
	wantCode(t, "list another sponsor's tasks", err, codes.PermissionDenied, "contract S4321 is not one of [S9925]")
	_, err = sponsor.ListTasks(ctx, &schedulingv1.ListTasksRequest{})
	wantCode(t, "list every contract's tasks", err, codes.PermissionDenied, "name one in contract_id")
	_, err = sponsor.LeaseTasks(ctx, &schedulingv1.LeaseTasksRequest{Worker: "w1", ContractId: "S4321", PbpId: "001"})
	wantCode(t, "lease another sponsor's tasks", err, codes.PermissionDenied, "contract S4321 is not one of [S9925]")
	_, err = sponsor.CompleteTask(ctx, &schedulingv1.CompleteTaskRequest{TaskId: other.TaskId, Worker: "w1"})
	wantCode(t, "complete another sponsor's task", err, codes.NotFound, "no such task")
	_, err = sponsor.ReleaseTask(ctx, &schedulingv1.ReleaseTaskRequest{TaskId: other.TaskId, Worker: "w1"})
	wantCode(t, "release another sponsor's task", err, codes.NotFound, "no such task")
	_, err = sponsor.GetTaskCounts(ctx, &schedulingv1.GetTaskCountsRequest{})
	wantCode(t, "all contracts' counts", err, codes.PermissionDenied, "not an operator")
	w, err := sponsor.WatchTasks(ctx, &schedulingv1.WatchTasksRequest{ContractId: "S4321", PbpId: "001"})
	if err == nil {
		_, err = w.Recv()
	}
	wantCode(t, "watch another sponsor's tasks", err, codes.PermissionDenied, "contract S4321 is not one of [S9925]")
	leased, err := sponsor.LeaseTasks(ctx, &schedulingv1.LeaseTasksRequest{Worker: "w1", ContractId: "S9925", PbpId: "001"})
	if err != nil || len(leased.Tasks) == 0 {
		t.Fatalf("sponsor-a leasing its own tasks: %v %v", leased, err)
	}

	// Without a client certificate, or in plaintext, nothing is served.
	noCert := schedulingv1.NewInterventionSchedulingServiceClient(dial(st.Addrs["intervention-scheduling"], grpcx.TLS{CAFile: certs.CA}))
	if _, err := noCert.ListTasks(ctx, &schedulingv1.ListTasksRequest{ContractId: "S9925", PbpId: "001"}); status.Code(err) != codes.Unavailable {
		t.Fatalf("a caller without a certificate: %v, want UNAVAILABLE (handshake refused)", err)
	}
	plain := schedulingv1.NewInterventionSchedulingServiceClient(dial(st.Addrs["intervention-scheduling"], grpcx.TLS{}))
	if _, err := plain.ListTasks(ctx, &schedulingv1.ListTasksRequest{ContractId: "S9925", PbpId: "001"}); status.Code(err) != codes.Unavailable {
		t.Fatalf("a plaintext caller: %v, want UNAVAILABLE", err)
	}

	// A caller over its rate limit (20/s, bursts of 20) is told so; others are not held up.
	// The 60 requests go at once: sent one after another, they would have to
	// finish within 2 s to exceed the limit, which a busy machine need not do.
	busy := as("busy")
	var limited error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := busy.ListTasks(ctx, &schedulingv1.ListTasksRequest{ContractId: "S9925", PbpId: "001"}); err != nil {
				mu.Lock()
				if limited == nil || status.Code(err) == codes.ResourceExhausted {
					limited = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	wantCode(t, "a burst of 60 requests", limited, codes.ResourceExhausted, "rate limit: cert:busy may make 20 requests a second")
	if _, err := sponsor.ListTasks(ctx, &schedulingv1.ListTasksRequest{ContractId: "S9925", PbpId: "001"}); err != nil {
		t.Fatalf("another caller while busy is limited: %v", err)
	}

	// A request over the size limit is refused before it reaches a handler.
	big := testClaim()
	big.DrugDescription = strings.Repeat("x", grpcx.MaxMessageBytes)
	_, err = ing.SubmitClaim(ctx, &ingestionv1.SubmitClaimRequest{Claim: big})
	var st2 interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &st2) || status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a %d-byte request: %v, want RESOURCE_EXHAUSTED", grpcx.MaxMessageBytes, err)
	}
}
