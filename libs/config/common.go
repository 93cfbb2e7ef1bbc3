package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Common holds the settings every service shares.
type Common struct {
	// NATSURL is the NATS server (JetStream enabled).
	NATSURL string
	// NATSUser and NATSPassword authenticate to NATS (empty user: none). Each
	// service is its own user with least privilege (deploy/nats/auth.conf).
	NATSUser, NATSPassword string
	// RedisURL is the Redis server, e.g. redis://127.0.0.1:6379/0, or the
	// masters of a Redis Cluster, comma-separated.
	RedisURL string
	// RedisCluster treats a single RedisURL as a seed of a Redis Cluster.
	RedisCluster bool
	// GRPCAddr is where the service's gRPC API listens.
	GRPCAddr string
	// MetricsAddr is where /metrics is served for Prometheus ("off": not served).
	MetricsAddr string
	// Partitions is the number of beneficiary partitions in subjects; fixed per deployment.
	Partitions int
	// Workers handle each durable consumer's events in parallel, one
	// beneficiary's always in order on the same worker.
	Workers int
	// Batch bounds the batches of the durables whose handlers take a batch at
	// a time (ingestion's raw submissions, risk-scoring's claims); 1 handles
	// their events one at a time on the workers instead.
	Batch int
	// AckWait is how long a delivered event may go unacknowledged before it is
	// redelivered (e.g. after a crash of the service that had it).
	AckWait time.Duration
	// PinTTL is how long a partition stays pinned to an instance that stopped
	// pulling (it died) before JetStream pins it to another instance.
	PinTTL time.Duration
	// StreamReplicas is the replica count of emtm's streams (1 single server, 3 in a cluster).
	StreamReplicas int
	// ShutdownTimeout bounds graceful shutdown.
	ShutdownTimeout time.Duration
	// LogFormat is "text" or "json".
	LogFormat string
	// TLSCert and TLSKey serve gRPC over TLS; TLSClientCA also requires client
	// certificates (mTLS), whose OU names the contracts a caller may act on.
	TLSCert, TLSKey, TLSClientCA string
	// RateLimit bounds each caller's gRPC requests a second (0: none), with bursts of RateBurst.
	RateLimit float64
	RateBurst int
}

// DefaultMetricsAddr is a service's /metrics address when -metrics-addr is
// auto: its gRPC port 71NN becomes 91NN (ingestion 127.0.0.1:7101 serves
// metrics on 127.0.0.1:9101 .. payment 9105); "off" for any other gRPC port.
func DefaultMetricsAddr(grpcAddr string) string {
	host, port, err := net.SplitHostPort(grpcAddr)
	if err != nil || len(port) != 4 || !strings.HasPrefix(port, "71") {
		return "off"
	}
	return net.JoinHostPort(host, "91"+port[2:])
}

// RegisterCommon defines the shared settings on s, with defaultGRPC as the listen address.
func RegisterCommon(s *Set, defaultGRPC string) *Common {
	c := &Common{}
	nats := s.String("nats-url", "nats://127.0.0.1:4222", "NATS server URL (JetStream enabled)")
	natsUser := s.String("nats-user", "", "NATS user (each service its own; see deploy/nats/auth.conf); empty: no authentication")
	natsPassword := s.String("nats-password", "", "NATS password; set it in the environment (EMTM_NATS_PASSWORD), not on the command line")
	redis := s.String("redis-url", "redis://127.0.0.1:6379/0", "Redis URL; several, comma-separated, are the masters of a Redis Cluster")
	redisCluster := s.Bool("redis-cluster", false, "-redis-url is one node of a Redis Cluster (implied by several URLs)")
	grpcAddr := s.String("grpc-addr", defaultGRPC, "gRPC listen address")
	metrics := s.String("metrics-addr", "auto", "where /metrics is served for Prometheus (auto: gRPC port 71NN -> 91NN; off: not served)")
	parts := s.Int("partitions", 4, "beneficiary partitions in subjects (fixed per deployment)")
	workers := s.Int("workers", 16, "events handled in parallel per durable consumer (1..256); one beneficiary's always in order")
	batch := s.Int("batch", 128, "events handled together by a batched durable consumer (1..1000; 1: one at a time on the workers)")
	ackWait := s.Duration("ack-wait", 30*time.Second, "redeliver an event not acknowledged within this long (a crashed consumer's events)")
	pinTTL := s.Duration("pin-ttl", 10*time.Second, "a partition moves to another instance this long after its instance stopped pulling (3s..10m; docs/scaling.md)")
	repl := s.Int("stream-replicas", 1, "replicas of emtm's JetStream streams (3 in a cluster)")
	st := s.Duration("shutdown-timeout", 15*time.Second, "bound on graceful shutdown")
	lf := s.String("log-format", "text", "log format: text or json")
	tlsCert := s.String("tls-cert", "", "serve gRPC over TLS with this certificate (PEM; make certs writes local ones)")
	tlsKey := s.String("tls-key", "", "the TLS certificate's private key (PEM)")
	tlsCA := s.String("tls-client-ca", "", "require client certificates signed by this CA (mTLS); their OUs say who the caller is: * (operator), a contract, pharmacy:<NPI>, feed:<contract> (docs/security.md)")
	rl := s.Float64("rate-limit", 0, "gRPC requests a second per caller (client certificate, else address); 0: no limit")
	rb := s.Int("rate-burst", 0, "burst of -rate-limit (default: twice the rate)")
	s.AfterParse(func() error {
		c.NATSURL, c.RedisURL, c.GRPCAddr, c.MetricsAddr = *nats, *redis, *grpcAddr, *metrics
		c.RedisCluster = *redisCluster || strings.Contains(c.RedisURL, ",")
		c.NATSUser, c.NATSPassword = *natsUser, *natsPassword
		if c.MetricsAddr == "auto" {
			c.MetricsAddr = DefaultMetricsAddr(c.GRPCAddr)
		}
		c.Workers, c.Batch, c.AckWait, c.PinTTL = *workers, *batch, *ackWait, *pinTTL
		c.TLSCert, c.TLSKey, c.TLSClientCA, c.RateLimit, c.RateBurst = *tlsCert, *tlsKey, *tlsCA, *rl, *rb
		if c.RateBurst == 0 {
			c.RateBurst = int(2*c.RateLimit) + 1
		}
		c.Partitions, c.StreamReplicas, c.ShutdownTimeout, c.LogFormat = *parts, *repl, *st, *lf
		return c.Validate()
	})
	return c
}

// Validate checks the shared settings.
func (c *Common) Validate() error {
	switch {
	case c.NATSURL == "":
		return fmt.Errorf("nats-url: must not be empty")
	case c.RedisURL == "":
		return fmt.Errorf("redis-url: must not be empty")
	case c.Partitions < 1 || c.Partitions > 256:
		return fmt.Errorf("partitions: %d is out of range 1..256", c.Partitions)
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return fmt.Errorf("tls-cert and tls-key: give both or neither")
	case c.TLSClientCA != "" && c.TLSCert == "":
		return fmt.Errorf("tls-client-ca: mTLS needs the server's own -tls-cert and -tls-key")
	case c.RateLimit < 0 || c.RateBurst < 0:
		return fmt.Errorf("rate-limit and rate-burst: must not be negative")
	case c.AckWait < time.Second:
		return fmt.Errorf("ack-wait: %s is shorter than a second", c.AckWait)
	case c.PinTTL < 3*time.Second || c.PinTTL > 10*time.Minute:
		return fmt.Errorf("pin-ttl: %s is out of range 3s..10m", c.PinTTL)
	case c.Workers < 1 || c.Workers > 256:
		return fmt.Errorf("workers: %d is out of range 1..256", c.Workers)
	case c.Batch < 1 || c.Batch > 1000:
		return fmt.Errorf("batch: %d is out of range 1..1000", c.Batch)
	case c.StreamReplicas != 1 && c.StreamReplicas != 3 && c.StreamReplicas != 5:
		return fmt.Errorf("stream-replicas: %d must be 1, 3 or 5", c.StreamReplicas)
	case c.LogFormat != "text" && c.LogFormat != "json":
		return fmt.Errorf("log-format: %q must be text or json", c.LogFormat)
	}
	return nil
}

// RedactURLs hides passwords in a URL or a comma-separated list of URLs
// (nats://user:secret@host:4222,...), for messages and logs.
func RedactURLs(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil {
			parts[i] = "(unparsable URL)"
			continue
		}
		parts[i] = u.Redacted()
	}
	return strings.Join(parts, ",")
}
