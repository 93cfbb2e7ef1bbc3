package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The repository's own files pass.
func TestRepositoryDeploymentIsValid(t *testing.T) {
	if _, err := CheckKustomize("../../deploy"); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckCompose("../../docker-compose.yml"); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  %s
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      securityContext: {runAsNonRoot: true}
      containers:
        - name: x
          image: x
          resources: {requests: {cpu: 10m, memory: 10Mi}}
          %s
`

// Broken manifests fail with a message naming the resource and the fault.
func TestBrokenManifestsFail(t *testing.T) {
	probes := "readinessProbe: {tcpSocket: {port: 1}}\n          livenessProbe: {tcpSocket: {port: 1}}"
	for _, tt := range []struct {
		name, spec, container, want string
	}{
		{"misspelt field", "replica: 1", probes, `unknown field "replica"`},
		{"wrong type", "replicas: one", probes, "Deployment/x"},
		{"no probes", "replicas: 2", "", "readiness and liveness probes are required"},
		{"one replica", "replicas: 1", probes, "at least two replicas"},
		{"recreate", "replicas: 2\n  strategy: {type: Recreate}", probes, "strategy Recreate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, map[string]string{
				"kustomization.yaml": "resources: [d.yaml]\n",
				"d.yaml":             strings.Replace(strings.Replace(deployment, "%s", tt.spec, 1), "%s", tt.container, 1),
			})
			_, err := CheckKustomize(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestBrokenComposeFails(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{"docker-compose.yml": "services:\n  nats:\n    image: nats\n    helthcheck: {test: [CMD, true]}\n"})
	if _, err := CheckCompose(filepath.Join(dir, "docker-compose.yml")); err == nil || !strings.Contains(err.Error(), "helthcheck") {
		t.Fatalf("got %v, want the misspelt key named", err)
	}
}

// Every service requires client certificates: a compose file whose service
// drops EMTM_TLS_CLIENT_CA fails.
func TestAServiceWithoutClientCertificatesFails(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	text := strings.Replace(string(b), "    EMTM_TLS_CLIENT_CA: /etc/emtm/certs/ca.pem\n", "", 1)
	write(t, dir, map[string]string{"docker-compose.yml": text})
	if err := os.MkdirAll(filepath.Join(dir, "deploy", "docker"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckCompose(filepath.Join(dir, "docker-compose.yml")); err == nil || !strings.Contains(err.Error(), "EMTM_TLS_CLIENT_CA is required") {
		t.Fatalf("got %v, want every service to require client certificates", err)
	}
}

// The telemetry hash key has no default in the compose file.
func TestADefaultedTelemetryHashKeyFails(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	re := regexp.MustCompile(`\$\{EMTM_TELEMETRY_HASH_KEY:\?[^}]*\}`)
	if !re.Match(b) {
		t.Fatal("docker-compose.yml does not require EMTM_TELEMETRY_HASH_KEY")
	}
	text := re.ReplaceAllString(string(b), "${EMTM_TELEMETRY_HASH_KEY:-a-default-anyone-can-read}")
	write(t, dir, map[string]string{"docker-compose.yml": text})
	if err := os.MkdirAll(filepath.Join(dir, "deploy", "docker"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EMTM_TELEMETRY_HASH_KEY", "")
	if _, err := CheckCompose(filepath.Join(dir, "docker-compose.yml")); err == nil || !strings.Contains(err.Error(), "EMTM_TELEMETRY_HASH_KEY must be required") {
		t.Fatalf("got %v, want a defaulted key refused", err)
	}
}
