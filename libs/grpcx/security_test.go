package grpcx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCallerMayActOn(t *testing.T) {
	tests := []struct {
		name     string
		c        Caller
		contract string
		may, op  bool
	}{
		{"unrestricted (no client certificate)", Caller{Name: "addr:127.0.0.1"}, "S9925", true, true},
		{"own contract", Caller{Name: "cert:a", Contracts: []string{"S9925"}, Restricted: true}, "S9925", true, false},
		{"another contract", Caller{Name: "cert:a", Contracts: []string{"S9925"}, Restricted: true}, "S4321", false, false},
		{"no contract named", Caller{Name: "cert:a", Contracts: []string{"S9925"}, Restricted: true}, "", false, false},
		{"one of several", Caller{Name: "cert:b", Contracts: []string{"S1111", "S4321"}, Restricted: true}, "S4321", true, false},
		{"operator", Caller{Name: "cert:ops", Contracts: []string{AllContracts}, Restricted: true}, "S4321", true, true},
	}
	for _, tt := range tests {
		if got := tt.c.MayActOn(tt.contract); got != tt.may {
			t.Errorf("%s: MayActOn(%q) = %v, want %v", tt.name, tt.contract, got, tt.may)
		}
		if got := tt.c.Operator(); got != tt.op {
			t.Errorf("%s: Operator() = %v, want %v", tt.name, got, tt.op)
		}
	}
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	certs, err := WriteDevCerts(dir, filepath.Join(dir, "ca"), []string{"localhost"}, []Client{{Name: "a", Contracts: []string{"S9925"}}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		tls  TLS
		want string
	}{
		{"key without certificate", TLS{KeyFile: certs.ServerKey}, "needs both"},
		{"missing certificate file", TLS{CertFile: filepath.Join(dir, "none.pem"), KeyFile: certs.ServerKey}, "no such file"},
		{"CA that is not PEM", TLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, CAFile: certs.ServerKey}, "no PEM certificate"},
	}
	for _, tt := range tests {
		if _, err := tt.tls.ServerConfig(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
	cfg, err := TLS{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, CAFile: certs.CA}.ServerConfig()
	if err != nil || cfg.ClientCAs == nil || cfg.ClientAuth.String() != "RequireAndVerifyClientCert" {
		t.Fatalf("mTLS server config %v: %v", cfg, err)
	}
	if _, err := WriteDevCerts(t.TempDir(), "", nil, []Client{{Contracts: []string{"S9925"}}}, time.Hour); err == nil {
		t.Fatal("a client certificate without a name was issued")
	}
	// The CA key is kept apart from the certificates (which are mounted into containers), readable by its owner only.
	if filepath.Dir(certs.CAKey) == filepath.Dir(certs.CA) {
		t.Fatalf("the CA key %s sits beside the certificates", certs.CAKey)
	}
	if fi, err := os.Stat(certs.CAKey); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the CA key: %v %v, want mode 0600", fi, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(certs.CA), "ca-key.pem")); !os.IsNotExist(err) {
		t.Fatalf("a CA key in the certificates' directory: %v", err)
	}
}
