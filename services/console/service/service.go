// Package service is the console as a process: its settings, its
// connections to the five services' gRPC APIs and to NATS (monitoring only),
// its HTTP server and its ordered shutdown. `emtm run` starts it in-process
// with the same function its main uses.
package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/emtm/emtm/libs/app"
	"github.com/emtm/emtm/libs/bus"
	"github.com/emtm/emtm/libs/config"
	"github.com/emtm/emtm/libs/directory"
	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	opsv1 "github.com/emtm/emtm/libs/gen/emtm/ops/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/planid"
	"github.com/emtm/emtm/services/console/internal/web"
)

// Name is the console's service name (telemetry, logs).
const Name = "console"

// DefaultAddr is where `make run` serves the console.
const DefaultAddr = "127.0.0.1:8080"

// Config are the console's settings (flags, or EMTM_CONSOLE_* in the environment).
type Config struct {
	// Addr is the HTTP(S) listen address.
	Addr string
	// Services are the five services' gRPC addresses, by name.
	Services map[string]string
	// NATSURL, NATSUser and NATSPassword read stream and consumer info (monitoring).
	NATSURL, NATSUser, NATSPassword string
	// JaegerURL is Jaeger's query API (e.g. http://127.0.0.1:16686); empty: no traces.
	JaegerURL string
	// Plans are the plans the console shows ("S9925-001,...").
	Plans []planid.ID
	// TLSCert and TLSKey serve HTTPS; TLSClientCA also requires a client
	// certificate whose OUs are the contracts its holder may see ("*": operator).
	TLSCert, TLSKey, TLSClientCA string
	// GRPCTLS is how the console calls the services (its own client certificate).
	GRPCTLS grpcx.TLS
	// MetricsAddr serves /metrics ("off": not served).
	MetricsAddr     string
	LogFormat       string
	ShutdownTimeout time.Duration
	// Refresh is how often the overview reloads itself.
	Refresh time.Duration
	// OpenBeyondLoopback serves an open console (no client certificates) on
	// an address beyond loopback: refused unless set.
	OpenBeyondLoopback bool
	// WhatIf runs the what-if page's replays; the process that embeds the
	// console gives it (emtm run does); nil: the page sends people to emtmctl whatif.
	WhatIf WhatIf
}

// WhatIf, WhatIfRequest and WhatIfResult are the what-if page's (web.WhatIf).
type (
	WhatIf        = web.WhatIf
	WhatIfRequest = web.WhatIfRequest
	WhatIfResult  = web.WhatIfResult
)

// Flags defines the console's settings on set.
func Flags(set *config.Set) *Config {
	c := &Config{Services: map[string]string{}}
	addr := set.String("addr", DefaultAddr, "HTTP listen address of the console (HTTPS with -tls-cert)")
	addrs := map[string]*string{}
	for _, d := range directory.All {
		addrs[d.Name] = set.String(d.Name+"-addr", d.GRPCAddr, "gRPC address of "+d.Name)
	}
	natsURL := set.String("nats-url", "nats://127.0.0.1:4222", "NATS server, for stream and consumer info only")
	natsUser := set.String("nats-user", "", "NATS user (deploy/nats/auth.conf: console, monitoring only); empty: none")
	natsPassword := set.String("nats-password", "", "NATS password; set it in the environment (EMTM_NATS_PASSWORD), not on the command line")
	jaeger := set.String("jaeger-url", "", "Jaeger query API for the claim journey's trace (e.g. http://127.0.0.1:16686); empty: none")
	plans := set.String("plans", "S9925-001", "plans shown, comma-separated <contract>-<pbp>")
	cert := set.String("tls-cert", "", "serve HTTPS with this certificate (PEM)")
	key := set.String("tls-key", "", "key of -tls-cert")
	clientCA := set.String("tls-client-ca", "", "require client certificates issued by this CA; their OUs are the contracts a person may see (* = operator)")
	gcert := set.String("grpc-tls-cert", "", "the console's client certificate for the services' gRPC APIs")
	gkey := set.String("grpc-tls-key", "", "key of -grpc-tls-cert")
	gca := set.String("grpc-tls-ca", "", "CA of the services' gRPC certificates")
	metrics := set.String("metrics-addr", "off", "where /metrics is served for Prometheus (off: not served)")
	lf := set.String("log-format", "text", "log format: text or json")
	st := set.Duration("shutdown-timeout", 15*time.Second, "bound on graceful shutdown")
	refresh := set.Duration("refresh", 15*time.Second, "how often the overview page reloads its figures")
	openBeyond := set.Bool("open-beyond-loopback", false, "serve without client certificates on an address beyond loopback (everyone who reaches it is an operator)")
	set.AfterParse(func() error {
		c.Addr, c.NATSURL, c.NATSUser, c.NATSPassword, c.JaegerURL = *addr, *natsURL, *natsUser, *natsPassword, strings.TrimRight(*jaeger, "/")
		for n, a := range addrs {
			c.Services[n] = *a
		}
		c.TLSCert, c.TLSKey, c.TLSClientCA = *cert, *key, *clientCA
		c.GRPCTLS = grpcx.TLS{CertFile: *gcert, KeyFile: *gkey, CAFile: *gca}
		c.MetricsAddr, c.LogFormat, c.ShutdownTimeout, c.Refresh, c.OpenBeyondLoopback = *metrics, *lf, *st, *refresh, *openBeyond
		if *lf != "text" && *lf != "json" {
			return fmt.Errorf("-log-format: %q is neither text nor json", *lf)
		}
		if (*cert == "") != (*key == "") {
			return errors.New("-tls-cert and -tls-key go together")
		}
		if *clientCA != "" && *cert == "" {
			return errors.New("-tls-client-ca needs -tls-cert and -tls-key (client certificates are asked for over HTTPS)")
		}
		if *refresh < time.Second {
			return fmt.Errorf("-refresh: %s is below a second", *refresh)
		}
		var err error
		if c.Plans, err = ParsePlans(*plans); err != nil {
			return fmt.Errorf("-plans: %w", err)
		}
		return nil
	})
	return c
}

// ParsePlans reads "S9925-001,H1234-002".
func ParsePlans(s string) ([]planid.ID, error) {
	var out []planid.ID
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		contract, pbp, ok := strings.Cut(p, "-")
		id := planid.ID{Contract: contract, PBP: pbp}
		if !ok || !id.Valid() {
			return nil, fmt.Errorf("%q is not <contract>-<pbp> (e.g. S9925-001)", p)
		}
		out = append(out, id)
	}
	if len(out) == 0 {
		return nil, errors.New("name at least one plan")
	}
	return out, nil
}

// Command is the console's main: exit code 0 ok, 1 failed, 2 bad configuration.
// `console probe URL` is a health check for images without a shell: it
// exits 0 when URL (the console's own /healthz on loopback) answers 200.
func Command(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	if len(args) == 2 && args[0] == "probe" {
		if err := probe(ctx, args[1]); err != nil {
			fmt.Fprintf(stderr, "console probe: %v\n", err)
			return 1
		}
		return 0
	}
	set := config.New(Name, getenv)
	set.SetOutput(stderr)
	c := Flags(set)
	if err := set.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "console: %v\n", err)
		return 2
	}
	if err := Run(ctx, *c, getenv, stderr, nil); err != nil {
		fmt.Fprintf(stderr, "console: %v\n", err)
		return 1
	}
	return 0
}

// probe GETs a loopback health URL; the console's own certificate is not
// checked (the probe runs beside it, and only loopback is allowed).
func probe(ctx context.Context, u string) error {
	parsed, err := url.Parse(u)
	if err != nil {
		return err
	}
	if h := parsed.Hostname(); h != "localhost" && !net.ParseIP(h).IsLoopback() {
		return fmt.Errorf("%s is not a loopback address", h)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // loopback self-check
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", u, resp.Status)
	}
	return nil
}

// Server is a console that is listening.
type Server struct {
	URL  string
	Open bool // no client certificates: everyone on the network may see everything
	ln   net.Listener
	srv  *http.Server
	conn []*grpc.ClientConn
	nc   *nats.Conn
	log  *slog.Logger
	tel  *otelx.Telemetry
	ms   *http.Server
	mln  net.Listener
	cfg  Config
}

// Start connects and listens; Serve serves. tel is the caller's telemetry.
func Start(ctx context.Context, c Config, tel *otelx.Telemetry, log *slog.Logger) (*Server, error) {
	s := &Server{log: log, tel: tel, cfg: c, Open: c.TLSClientCA == ""}
	if s.Open && app.BeyondLoopback(c.Addr) != "" && !c.OpenBeyondLoopback {
		return nil, fmt.Errorf("the console would be open (no -tls-client-ca: everyone an operator) on %s, beyond loopback: "+
			"set -tls-cert, -tls-key and -tls-client-ca, or -open-beyond-loopback to accept it", c.Addr)
	}
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()
	b := &web.Backend{Plans: c.Plans, JaegerURL: c.JaegerURL, Health: map[string]healthpb.HealthClient{},
		DeadLetters: map[string]opsv1.DeadLetterServiceClient{}, WhatIf: c.WhatIf}
	for _, d := range directory.All {
		addr := c.Services[d.Name]
		if addr == "" {
			addr = d.GRPCAddr
		}
		cc, err := grpcx.Dial(addr, tel, c.GRPCTLS)
		if err != nil {
			return nil, fmt.Errorf("%s at %s: %w", d.Name, addr, err)
		}
		s.conn = append(s.conn, cc)
		b.Health[d.Name] = healthpb.NewHealthClient(cc)
		b.DeadLetters[d.Name] = opsv1.NewDeadLetterServiceClient(cc)
		switch d.Name {
		case directory.Ingestion.Name:
			b.Ingestion = ingestionv1.NewIngestionServiceClient(cc)
		case directory.RiskScoring.Name:
			b.Risk = riskv1.NewRiskScoringServiceClient(cc)
		case directory.InterventionScheduling.Name:
			b.Scheduling = schedulingv1.NewInterventionSchedulingServiceClient(cc)
		case directory.PrescriberOutreach.Name:
			b.Outreach = outreachv1.NewPrescriberOutreachServiceClient(cc)
		case directory.PaymentReconciliation.Name:
			b.Payment = ledgerv1.NewPaymentReconciliationServiceClient(cc)
		}
	}
	if c.NATSURL != "" {
		// Started before NATS answers (a rolling deployment), it connects when NATS does.
		opts := []nats.Option{nats.Name("emtm-console"), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true)}
		if c.NATSUser != "" {
			opts = append(opts, nats.UserInfo(c.NATSUser, c.NATSPassword), nats.CustomInboxPrefix(bus.InboxPrefix(c.NATSUser)))
		}
		nc, err := nats.Connect(c.NATSURL, opts...)
		if err != nil {
			return nil, fmt.Errorf("connect to NATS at %s: %w", config.RedactURLs(c.NATSURL), err)
		}
		s.nc = nc
		if b.JS, err = jetstream.New(nc); err != nil {
			return nil, err
		}
	}
	h, err := web.New(b, web.Options{Open: s.Open, Refresh: c.Refresh, Log: log, Tracer: tel.Tracer("emtm/console"),
		Meter: tel.Meter("emtm/console")})
	if err != nil {
		return nil, err
	}
	s.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	scheme := "http"
	if c.TLSCert != "" {
		tc, err := serverTLS(c)
		if err != nil {
			return nil, err
		}
		s.srv.TLSConfig = tc
		scheme = "https"
	}
	if s.ln, err = net.Listen("tcp", c.Addr); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", c.Addr, err)
	}

	if s.srv.TLSConfig != nil {
		s.ln = tls.NewListener(s.ln, s.srv.TLSConfig)
	}
	s.URL = scheme + "://" + s.ln.Addr().String()
	if c.MetricsAddr != "" && c.MetricsAddr != "off" {
		if s.mln, err = net.Listen("tcp", c.MetricsAddr); err != nil {
			return nil, fmt.Errorf("metrics listen on %s: %w", c.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", tel.MetricsHandler())
		s.ms = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	}
	ok = true
	return s, nil
}

// serverTLS serves HTTPS, asking for and verifying client certificates when a client CA is set.
func serverTLS(c Config) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("console certificate: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.TLSClientCA != "" {
		pem, err := os.ReadFile(c.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client CA %s holds no PEM certificate", c.TLSClientCA)
		}
		// Verified when given; every page then asks for one (web.handler.viewer), while
		// /healthz and /readyz answer probes that carry none.
		tc.ClientCAs, tc.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// Serve serves until ctx is done, then shuts down: HTTP first (requests in
// flight finish), then the gRPC connections and NATS.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() { errc <- ignoreClosed(s.srv.Serve(s.ln)) }()
	if s.ms != nil {
		go func() { errc <- ignoreClosed(s.ms.Serve(s.mln)) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	timeout := s.cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = s.srv.Shutdown(sctx)
	if s.ms != nil {
		_ = s.ms.Shutdown(sctx)
	}
	s.close()
	s.log.Info("stopped")
	return err
}

func ignoreClosed(err error) error {
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (s *Server) close() {
	for _, cc := range s.conn {
		_ = cc.Close()
	}
	s.conn = nil
	if s.nc != nil {
		_ = s.nc.Drain()
		s.nc = nil
	}
	if s.ln != nil {
		_ = s.ln.Close() // already closed after Shutdown; this is for a console that never served
	}
	if s.mln != nil {
		_ = s.mln.Close()
	}
}

// Run runs the console until ctx is done; started (when not nil) receives
// the server once it listens.
func Run(ctx context.Context, c Config, getenv func(string) string, stderr io.Writer, started func(*Server)) error {
	log := app.NewLogger(stderr, c.LogFormat, Name)
	tel, err := otelx.Setup(ctx, Name, getenv)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(sctx)
	}()
	s, err := Start(ctx, c, tel, log)
	if err != nil {
		return err
	}
	access := "open: no client certificates (loopback development); every page and action is available to whoever reaches it"
	if !s.Open {
		access = "client certificates required: OU = the contracts a person may see, * = operator"
	}
	log.Info("serving", "url", s.URL, "access", access)
	if started != nil {
		started(s)
	}
	return s.Serve(ctx)
}
