// Package web is the console's pages: server-rendered html/template with
// htmx and uPlot (vendored from npm, embedded), read through the five
// services' gRPC APIs. Who may see what is the services' own rule applied to
// the person's client certificate: its OUs are the contracts they may see,
// "*" an operator; without client certificates (make run's loopback) the
// console is open and says so on every page.
package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	grpccodes "google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	opsv1 "github.com/emtm/emtm/libs/gen/emtm/ops/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/planid"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Backend is what the console reads: the five services' gRPC APIs, their
// health, and JetStream's stream and consumer info (nil: not shown).
type Backend struct {
	Ingestion  ingestionv1.IngestionServiceClient
	Risk       riskv1.RiskScoringServiceClient
	Scheduling schedulingv1.InterventionSchedulingServiceClient
	Outreach   outreachv1.PrescriberOutreachServiceClient
	Payment    ledgerv1.PaymentReconciliationServiceClient
	Health     map[string]healthpb.HealthClient
	// DeadLetters are each service's own dead letters, by service name.
	DeadLetters map[string]opsv1.DeadLetterServiceClient
	JS          jetstream.JetStream
	// JaegerURL is Jaeger's query API ("" none).
	JaegerURL string
	// Plans are the plans shown; a person sees those of their contracts.
	Plans []planid.ID
	// WhatIf runs what-ifs (nil: the page sends people to emtmctl whatif).
	WhatIf WhatIf
}

// Options of the handler.
type Options struct {
	// Open: no client certificates; everyone is an operator (make run on loopback).
	Open    bool
	Refresh time.Duration
	Log     *slog.Logger
	Tracer  trace.Tracer
	// Meter records each request's duration by route and status (nil: none).
	Meter metric.Meter
	// CallTimeout bounds each page's calls to the services.
	CallTimeout time.Duration
}

type handler struct {
	b        *Backend
	o        Options
	pages    map[string]*template.Template
	mux      *http.ServeMux
	duration metric.Float64Histogram
	// noteKey signs the outcome an action redirects with, so that a link from
	// elsewhere cannot make the page say something the console did not.
	noteKey []byte
	// whatIfBusy holds the one what-if running.
	whatIfBusy chan struct{}
}

// Pages are the templates, each with the layout.
var pageNames = []string{"overview", "members", "member", "claim", "entries", "tasks", "outreach", "payments", "operations", "whatif", "error"}

// New returns the console's HTTP handler.
func New(b *Backend, o Options) (http.Handler, error) {
	if o.Refresh <= 0 {
		o.Refresh = 15 * time.Second
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Tracer == nil {
		o.Tracer = noop.NewTracerProvider().Tracer("")
	}
	h := &handler{b: b, o: o, pages: map[string]*template.Template{}, mux: http.NewServeMux(), noteKey: make([]byte, 32),
		whatIfBusy: make(chan struct{}, 1)}
	if _, err := rand.Read(h.noteKey); err != nil {
		return nil, err
	}
	if o.Meter == nil {
		o.Meter = metricnoop.NewMeterProvider().Meter("")
	}
	var err error
	if h.duration, err = o.Meter.Float64Histogram("emtm.console.request.duration", metric.WithUnit("s"),
		metric.WithDescription("time to answer a request, by route pattern and status (no path: a path names a member)")); err != nil {
		return nil, err
	}
	for _, p := range pageNames {
		t, err := template.New(p).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", p, err)
		}
		h.pages[p] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	files := http.FileServerFS(static)
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(time.Hour, files)))
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	h.mux.HandleFunc("GET /readyz", h.ready)
	h.mux.HandleFunc("GET /{$}", h.page("overview", h.overview))
	h.mux.HandleFunc("GET /members", h.findMember)
	h.mux.HandleFunc("GET /members/{member_id}", h.page("member", h.member))
	h.mux.HandleFunc("GET /claims/{claim_id}", h.page("claim", h.claim))
	h.mux.HandleFunc("GET /claims", h.findClaim)
	h.mux.HandleFunc("GET /tasks", h.page("tasks", h.tasks))
	h.mux.HandleFunc("GET /cmr/{encounter_id}/summary.pdf", h.cmrSummary)
	h.mux.HandleFunc("GET /outreach", h.page("outreach", h.outreach))
	h.mux.HandleFunc("GET /payments", h.page("payments", h.payments))
	h.mux.HandleFunc("GET /payments/entries", h.page("entries", h.entries))
	h.mux.HandleFunc("GET /operations", h.page("operations", h.operations))
	h.mux.HandleFunc("POST /operations/rejections/{rejection_id}/resubmit", h.resubmit)
	h.mux.HandleFunc("POST /operations/deadletters/{service}/{consumer}/{sequence}/redeliver", h.redeliver)
	h.mux.HandleFunc("GET /whatif", h.page("whatif", h.whatIfForm))
	h.mux.HandleFunc("POST /whatif", h.whatIfRun)
	// Actions are POSTs; a POST from another origin (a forged form) is refused.
	cop := http.NewCrossOriginProtection()
	return h.observe(securityHeaders(cop.Handler(h.mux))), nil
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(d.Seconds())))
		h.ServeHTTP(w, r)
	})
}

// securityHeaders: only the console's own scripts and styles run, and no
// other site may frame it.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status code.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// observe traces and logs each request by its route pattern (never its path:
// a path names a member).
func (h *handler) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		ctx, span := h.o.Tracer.Start(r.Context(), "console "+r.Method, trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		r = r.WithContext(ctx)
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		span.SetName("console " + route)
		span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", sw.code))
		if sw.code >= 500 {
			span.SetStatus(codes.Error, http.StatusText(sw.code))
		}
		h.duration.Record(r.Context(), time.Since(start).Seconds(), metric.WithAttributes(attribute.String("route", route), attribute.Int("status", sw.code)))
		if route != "GET /static/" && route != "GET /healthz" {
			h.o.Log.Info("request", "route", route, "status", sw.code, "ms", time.Since(start).Milliseconds())
		}
	})
}

// Viewer is the person looking at the console.
type Viewer struct {
	Name     string
	caller   grpcx.Caller
	Open     bool
	Operator bool
}

// viewer is who sent r: their verified client certificate, or anyone when the console is open.
func (h *handler) viewer(r *http.Request) (Viewer, error) {
	if h.o.Open {
		return Viewer{Name: "anyone (open console)", Open: true, Operator: true}, nil
	}
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return Viewer{}, errors.New("a client certificate is required")
	}
	c := grpcx.CallerOfCert(r.TLS.VerifiedChains[0][0])
	return Viewer{Name: c.Name, caller: c, Operator: c.Operator()}, nil
}

// MaySee reports whether the viewer may see contract's data.
func (v Viewer) MaySee(contract string) bool { return v.Open || v.caller.MayActOn(contract) }

// plans are the plans the viewer may see.
func (h *handler) plans(v Viewer) []planid.ID {
	var out []planid.ID
	for _, p := range h.b.Plans {
		if v.MaySee(p.Contract) {
			out = append(out, p)
		}
	}
	return out
}

// Page is what the layout shows around a page's own content.
type Page struct {
	Name    string
	Title   string
	Viewer  Viewer
	Plans   []planid.ID
	Plan    planid.ID
	Refresh int
	Self    string
	Notes   []string
	Data    any
	Elapsed time.Duration
}

// httpError is an error with the status to answer.
type httpError struct {
	code int
	msg  string
}

func (e httpError) Error() string { return e.msg }

func notFound(format string, a ...any) error {
	return httpError{code: http.StatusNotFound, msg: fmt.Sprintf(format, a...)}
}

func forbidden(format string, a ...any) error {
	return httpError{code: http.StatusForbidden, msg: fmt.Sprintf(format, a...)}
}

// fromRPC turns a service's error into what the page says.
func fromRPC(service string, err error) error {
	switch status.Code(err) {
	case grpccodes.NotFound:
		return notFound("%s: %s", service, status.Convert(err).Message())
	case grpccodes.PermissionDenied:
		return forbidden("%s: %s", service, status.Convert(err).Message())
	case grpccodes.InvalidArgument:
		return httpError{code: http.StatusBadRequest, msg: fmt.Sprintf("%s: %s", service, status.Convert(err).Message())}
	}
	return httpError{code: http.StatusBadGateway, msg: fmt.Sprintf("%s did not answer: %s", service, status.Convert(err).Message())}
}

// page runs a page's loader and renders it with the layout.
func (h *handler) page(name string, load func(context.Context, *Page, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		v, err := h.viewer(r)
		if err != nil {
			h.fail(w, r, Page{Name: "error", Title: "Not allowed"}, forbidden("%v", err))
			return
		}
		p := Page{Name: name, Viewer: v, Plans: h.plans(v), Self: r.URL.RequestURI()}
		if len(p.Plans) == 0 && name != "member" && name != "claim" {
			h.fail(w, r, p, forbidden("your certificate names no contract the console shows (%v)", v.caller.Contracts))
			return
		}
		if len(p.Plans) > 0 {
			if p.Plan, err = pickPlan(p.Plans, r.URL.Query().Get("plan")); err != nil {
				h.fail(w, r, p, err)
				return
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.o.CallTimeout)
		defer cancel()
		if err := load(ctx, &p, r); err != nil {
			h.fail(w, r, p, err)
			return
		}
		p.Elapsed = time.Since(start)
		h.render(w, http.StatusOK, p)
	}
}

// pickPlan is the plan named q among plans (q empty: the first); a q not
// among them is NotFound, with the first plan still to draw the page around it.
func pickPlan(plans []planid.ID, q string) (planid.ID, error) {
	if q == "" {
		return plans[0], nil
	}
	i := slices.IndexFunc(plans, func(x planid.ID) bool { return x.String() == q })
	if i < 0 {
		return plans[0], notFound("plan %q is not one you may see", q)
	}
	return plans[i], nil
}

func (h *handler) fail(w http.ResponseWriter, r *http.Request, p Page, err error) {
	code := http.StatusInternalServerError
	var he httpError
	if errors.As(err, &he) {
		code = he.code
	}
	if code >= 500 {
		h.o.Log.Warn("page failed", "route", r.Pattern, "status", code, "err", err)
	}
	p.Name, p.Title, p.Data = "error", http.StatusText(code), err.Error()
	h.render(w, code, p)
}

func (h *handler) render(w http.ResponseWriter, code int, p Page) {
	if p.Title == "" {
		p.Title = titles[p.Name]
	}
	var buf bytes.Buffer
	if err := h.pages[p.Name].ExecuteTemplate(&buf, "layout", p); err != nil {
		h.o.Log.Error("render", "page", p.Name, "err", err)
		http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

var titles = map[string]string{"overview": "Program at a glance", "member": "Member", "claim": "Claim", "members": "Members", "tasks": "Interventions", "outreach": "Prescriber outreach",
	"payments": "Payments", "operations": "Operations", "whatif": "What-if"}

// outcome is the operations page's address showing an action's outcome, signed.
func (h *handler) outcome(msg, anchor string) string {
	m := hmac.New(sha256.New, h.noteKey)
	m.Write([]byte(msg))
	return "/operations?done=" + url.QueryEscape(msg) + "&sig=" + hex.EncodeToString(m.Sum(nil)) + "#" + anchor
}

// signedOutcome is the outcome r carries, if the console signed it ("" otherwise).
func (h *handler) signedOutcome(r *http.Request) string {
	msg, sig := r.URL.Query().Get("done"), r.URL.Query().Get("sig")
	got, err := hex.DecodeString(sig)
	if msg == "" || err != nil {
		return ""
	}
	m := hmac.New(sha256.New, h.noteKey)
	m.Write([]byte(msg))
	if !hmac.Equal(got, m.Sum(nil)) {
		return ""
	}
	return msg
}

// ready answers 200 when every service's health check says SERVING.
func (h *handler) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	for name, hc := range h.b.Health {
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			http.Error(w, name+" is not serving", http.StatusServiceUnavailable)
			return
		}
	}
	_, _ = w.Write([]byte("ready\n"))
}
