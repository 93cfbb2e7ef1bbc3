package grpcx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// TLS holds certificate files. On a server: its certificate and key, and
// ClientCA to require and verify client certificates (mTLS). On a client:
// CA to trust for the server, and its own certificate and key for mTLS.
type TLS struct {
	CertFile, KeyFile string
	// CAFile: on a server, the CA of client certificates (set: mTLS required);
	// on a client, the CA that signed the servers' certificates.
	CAFile string
}

// Enabled reports whether any TLS setting is given.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" || t.CAFile != "" }

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls: CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: CA %s holds no PEM certificate", file)
	}
	return pool, nil
}

// ServerConfig is the server's TLS configuration (TLS 1.2 at least).
func (t TLS) ServerConfig() (*tls.Config, error) {
	if t.CertFile == "" || t.KeyFile == "" {
		return nil, errors.New("tls: a server needs both -tls-cert and -tls-key")
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		if cfg.ClientCAs, err = loadPool(t.CAFile); err != nil {
			return nil, err
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClientConfig is a client's TLS configuration.
func (t TLS) ClientConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	var err error
	if t.CAFile != "" {
		if cfg.RootCAs, err = loadPool(t.CAFile); err != nil {
			return nil, err
		}
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// AllContracts in a client certificate's OU makes the caller an operator.
const AllContracts = "*"

// Organizational-unit prefixes of the other roles a client certificate can hold.
const (
	PharmacyOU = "pharmacy:" // pharmacy:<NPI>: a pharmacy system, for its own NPI
	FeedOU     = "feed:"     // feed:<contract>: the sponsor's data feed (enrollment, Parts A/B, conditions)
)

// Caller is who made a request. With mTLS it is the verified client
// certificate: its common name, and as organizational units its roles: the
// Part D contracts (sponsor's plans, e.g. S9925) its holder works on, "*" for
// an operator, pharmacy:<NPI> for a pharmacy system, feed:<contract> for the
// sponsor's enrollment and Parts A/B feed. Without a client certificate the
// caller is its address and is not restricted (plaintext or server-only TLS:
// a trusted network, such as make run's loopback).
type Caller struct {
	Name       string
	Contracts  []string
	Pharmacies []string
	Feeds      []string
	Restricted bool
}

// callerOf reads a verified certificate's roles from its organizational units.
func callerOf(name string, ous []string) Caller {
	c := Caller{Name: name, Restricted: true}
	for _, ou := range ous {
		switch {
		case strings.HasPrefix(ou, PharmacyOU):
			c.Pharmacies = append(c.Pharmacies, strings.TrimPrefix(ou, PharmacyOU))
		case strings.HasPrefix(ou, FeedOU):
			c.Feeds = append(c.Feeds, strings.TrimPrefix(ou, FeedOU))
		case ou != "":
			c.Contracts = append(c.Contracts, ou)
		}
	}
	return c
}

// CallerOfCert is the caller a verified client certificate names (the
// console applies the services' rule to its own HTTPS clients with it).
func CallerOfCert(leaf *x509.Certificate) Caller {
	return callerOf("cert:"+leaf.Subject.CommonName, leaf.Subject.OrganizationalUnit)
}

// Pharmacy reports whether the caller may submit for the pharmacy npi.
func (c Caller) Pharmacy(npi string) bool {
	return !c.Restricted || slices.Contains(c.Pharmacies, npi)
}

// Feed reports whether the caller may feed enrollment and Parts A/B data for contract.
func (c Caller) Feed(contract string) bool {
	return !c.Restricted || slices.Contains(c.Feeds, AllContracts) || slices.Contains(c.Feeds, contract)
}

// MayActOn reports whether the caller may see and change contract's data.
func (c Caller) MayActOn(contract string) bool {
	return !c.Restricted || slices.Contains(c.Contracts, AllContracts) || (contract != "" && slices.Contains(c.Contracts, contract))
}

// MayActOnContract reports whether the caller of ctx may see and change a
// contract's data (a resource of another contract is reported as missing by
// the services, so that ids cannot be probed).
func MayActOnContract(ctx context.Context, contract string) bool {
	return CallerOf(ctx).MayActOn(contract)
}

// Operator reports whether the caller may act on every contract.
func (c Caller) Operator() bool { return !c.Restricted || slices.Contains(c.Contracts, AllContracts) }

// CallerOf returns the caller of a request.
func CallerOf(ctx context.Context) Caller {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Caller{Name: "unknown"}
	}
	if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.VerifiedChains) > 0 && len(ti.State.VerifiedChains[0]) > 0 {
		return CallerOfCert(ti.State.VerifiedChains[0][0])
	}
	host, _, err := net.SplitHostPort(p.Addr.String())
	if err != nil {
		host = p.Addr.String()
	}
	return Caller{Name: "addr:" + host}
}

// RateLimit bounds each caller's requests: Rate a second with bursts of Burst.
type RateLimit struct {
	Rate  float64
	Burst int
}

// limiter keeps one token bucket per caller.
type limiter struct {
	cfg     RateLimit
	mu      sync.Mutex
	callers map[string]*rate.Limiter
}

// maxCallers bounds the limiter's memory; past it the buckets start afresh.
const maxCallers = 10000

func (l *limiter) allow(ctx context.Context) error {
	c := CallerOf(ctx)
	l.mu.Lock()
	lim, ok := l.callers[c.Name]
	if !ok {
		if len(l.callers) >= maxCallers {
			l.callers = map[string]*rate.Limiter{}
		}
		lim = rate.NewLimiter(rate.Limit(l.cfg.Rate), l.cfg.Burst)
		l.callers[c.Name] = lim
	}
	l.mu.Unlock()
	if !lim.Allow() {
		return status.Errorf(codes.ResourceExhausted, "rate limit: %s may make %g requests a second (bursts of %d); slow down and retry", c.Name, l.cfg.Rate, l.cfg.Burst)
	}
	return nil
}

func (l *limiter) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := l.allow(ctx); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (l *limiter) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := l.allow(ss.Context()); err != nil {
		return err
	}
	return h(srv, ss)
}
