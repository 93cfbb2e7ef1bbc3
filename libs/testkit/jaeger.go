package testkit

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// JaegerBinary finds the pinned Jaeger all-in-one (make jaeger builds it).
func JaegerBinary(t testing.TB) string {
	t.Helper()
	path := os.Getenv("EMTM_JAEGER")
	if path == "" {
		home, _ := os.UserHomeDir()
		path = filepath.Join(home, ".cache", "emtm", "tools", "jaeger-v1.76.0", "jaeger")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("Jaeger is not built (%s): run `make jaeger` (it builds github.com/jaegertracing/jaeger/cmd/jaeger v1.76.0 once), or set EMTM_JAEGER", path)
	}
	return path
}

// StartJaeger runs Jaeger with config (deploy/jaeger/jaeger.yaml) on free
// loopback ports until the test ends; it returns the OTLP/gRPC and query (HTTP) addresses.
func StartJaeger(t testing.TB, config string) (otlp, query string) {
	t.Helper()
	otlp, query = FreeAddr(t), FreeAddr(t)
	cmd := exec.Command(JaegerBinary(t), "--config=file:"+config)
	cmd.Env = append(os.Environ(), "JAEGER_OTLP_GRPC_ADDR="+otlp, "JAEGER_UI_ADDR="+query, "JAEGER_QUERY_GRPC_ADDR="+FreeAddr(t))
	logf, err := os.Create(filepath.Join(t.TempDir(), "jaeger.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + query + "/api/services")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return otlp, query
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("Jaeger did not answer on %s within 30s:\n%s", query, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
