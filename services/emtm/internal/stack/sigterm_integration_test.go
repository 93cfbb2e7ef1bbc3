package stack

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/emtm/emtm/libs/testkit"
)

// Every service binary serves grpc.health.v1 and reflection, and on SIGTERM
// stops gracefully (exit 0) after draining.
func TestServiceBinariesServeHealthAndReflectionAndStopOnSIGTERM(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t)
	bin := t.TempDir()
	apis := map[string]string{
		"ingestion":               "emtm.ingestion.v1.IngestionService",
		"risk-scoring":            "emtm.risk.v1.RiskScoringService",
		"intervention-scheduling": "emtm.scheduling.v1.InterventionSchedulingService",
		"prescriber-outreach":     "emtm.outreach.v1.PrescriberOutreachService",
		"payment-reconciliation":  "emtm.ledger.v1.PaymentReconciliationService",
	}
	for _, def := range Services {
		name := def.ServiceName()
		t.Run(name, func(t *testing.T) {
			exe := filepath.Join(bin, name)
			if out, err := exec.Command("go", "build", "-o", exe, "github.com/emtm/emtm/services/"+name+"/cmd/"+name).CombinedOutput(); err != nil {
				t.Fatalf("build %s: %v\n%s", name, err, out)
			}
			addr := testkit.FreeAddr(t)
			cmd := exec.Command(exe, "-nats-url", env.NATSURL, "-redis-url", env.RedisURL, "-grpc-addr", addr)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() { _ = cmd.Process.Kill() })

			cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			waitServing(t, cc, exited, &stderr)
			// Reflection lists the service's API.
			stream, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
				t.Fatal(err)
			}
			resp, err := stream.Recv()
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range resp.GetListServicesResponse().GetService() {
				names = append(names, s.Name)
			}
			if !strings.Contains(strings.Join(names, " "), apis[name]) || !strings.Contains(strings.Join(names, " "), "grpc.health.v1.Health") {
				t.Fatalf("reflection lists %v", names)
			}
			_ = stream.CloseSend()

			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("still running 30s after SIGTERM\n%s", stderr.String())
			}
			if !strings.Contains(stderr.String(), "msg=stopped") {
				t.Fatalf("no orderly stop in the log:\n%s", stderr.String())
			}
		})
	}
}

func waitServing(t *testing.T, cc *grpc.ClientConn, exited chan error, stderr *bytes.Buffer) {
	t.Helper()
	h := healthpb.NewHealthClient(cc)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("exited at start: %v\n%s", err, stderr.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		r, err := h.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && r.Status == healthpb.HealthCheckResponse_SERVING {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("not SERVING within 30s\n%s", stderr.String())
}

func TestOneEmtmPerDataDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	redisURL, _ := testkit.StartRedis(t)
	st, err := Start(context.Background(), Options{DataDir: dir, RedisURL: redisURL, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(context.Background(), Options{DataDir: dir, RedisURL: redisURL, Log: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "in use by another emtm") {
		t.Fatalf("a second emtm on the same data directory: %v", err)
	}
	st.Stop()
	st2, err := Start(context.Background(), Options{DataDir: dir, RedisURL: redisURL, Log: io.Discard})
	if err != nil {
		t.Fatalf("a start after the first stopped: %v", err)
	}
	st2.Stop()
}

func TestADataDirectoryOfAnotherDataFormatIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	redisURL, _ := testkit.StartRedis(t)
	if err := os.MkdirAll(filepath.Join(dir, "nats"), 0o700); err != nil { // an earlier emtm's data, unmarked
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Options{DataDir: dir, RedisURL: redisURL, Log: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "data of an earlier emtm") {
		t.Fatalf("an unmarked data directory with data: %v", err)
	}
	fresh := t.TempDir()
	st, err := Start(context.Background(), Options{DataDir: fresh, RedisURL: redisURL, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	st.Stop()
	if err := os.WriteFile(filepath.Join(fresh, dataFormatFile), []byte("1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(context.Background(), Options{DataDir: fresh, RedisURL: redisURL, Log: io.Discard}); err == nil || !strings.Contains(err.Error(), "format 1") {
		t.Fatalf("a format-1 directory: %v", err)
	}
}
