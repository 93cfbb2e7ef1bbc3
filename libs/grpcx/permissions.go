package grpcx

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	ingestionv1 "github.com/emtm/emtm/libs/gen/emtm/ingestion/v1"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	opsv1 "github.com/emtm/emtm/libs/gen/emtm/ops/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
)

// Access is who may call a gRPC method when callers present client
// certificates (mTLS). Without them (make run's loopback) every caller may.
type Access int

// The classes of caller (docs/security.md).
const (
	// Operator: a certificate with OU "*" (every contract, the privileged actions).
	Operator Access = iota + 1
	// Sponsor: a sponsor's staff, for the contracts in its OUs (or an operator).
	// A request's contract_id must be one of them; a method that names a
	// resource (a member, a task, an item) checks the resource's contract.
	Sponsor
	// Pharmacy: a pharmacy system (OU pharmacy:<NPI>), for events that name its
	// NPI (ingestion checks the payload), or an operator.
	Pharmacy
	// Feed: the sponsor's enrollment and Parts A/B feed (OU feed:<contract>),
	// for its contracts, or an operator. Never a pharmacy.
	Feed
	// Authenticated: any verified certificate (health checks, reflection).
	Authenticated
)

func (a Access) String() string {
	return map[Access]string{Operator: "operators", Sponsor: "a sponsor's staff for the contract", Pharmacy: "a pharmacy for its own NPI",
		Feed: "the sponsor's enrollment and Parts A/B feed", Authenticated: "any authenticated caller"}[a]
}

// Permission is one method's access; an audited method writes an audit record
// of every call (who, what, when, outcome).
type Permission struct {
	Access  Access
	Audited bool
}

// Permissions declares, once, who may call every gRPC method of every
// service. A method missing here is refused (TestEveryMethodHasAPermission
// keeps the table complete).
var Permissions = map[string]Permission{
	// ingestion
	ingestionv1.IngestionService_SubmitClaim_FullMethodName:            {Access: Pharmacy},
	ingestionv1.IngestionService_SubmitReversal_FullMethodName:         {Access: Pharmacy},
	ingestionv1.IngestionService_SubmitEncounter_FullMethodName:        {Access: Pharmacy},
	ingestionv1.IngestionService_SubmitCarePlan_FullMethodName:         {Access: Pharmacy},
	ingestionv1.IngestionService_SubmitEnrollment_FullMethodName:       {Access: Feed},
	ingestionv1.IngestionService_SubmitPartsAbSummary_FullMethodName:   {Access: Feed},
	ingestionv1.IngestionService_SubmitCondition_FullMethodName:        {Access: Feed},
	ingestionv1.IngestionService_GetRejection_FullMethodName:           {Access: Operator},
	ingestionv1.IngestionService_ListRejections_FullMethodName:         {Access: Operator},
	ingestionv1.IngestionService_ResubmitRejection_FullMethodName:      {Access: Operator, Audited: true},
	ingestionv1.IngestionService_ListHeldReversals_FullMethodName:      {Access: Operator},
	ingestionv1.IngestionService_ListAwaitingEnrollment_FullMethodName: {Access: Operator},
	ingestionv1.IngestionService_MarkRejectionHandled_FullMethodName:   {Access: Operator, Audited: true},
	ingestionv1.IngestionService_FindClaim_FullMethodName:              {Access: Sponsor},
	ingestionv1.IngestionService_ExportEvents_FullMethodName:           {Access: Operator, Audited: true},
	// risk-scoring
	riskv1.RiskScoringService_GetProfile_FullMethodName:      {Access: Sponsor},
	riskv1.RiskScoringService_GetCarePlan_FullMethodName:     {Access: Sponsor},
	riskv1.RiskScoringService_GetCmrSummary_FullMethodName:   {Access: Sponsor, Audited: true},
	riskv1.RiskScoringService_ListByTier_FullMethodName:      {Access: Sponsor},
	riskv1.RiskScoringService_RebuildProfiles_FullMethodName: {Access: Operator, Audited: true},
	riskv1.RiskScoringService_GetProfileStats_FullMethodName: {Access: Sponsor},
	riskv1.RiskScoringService_ListAssessments_FullMethodName: {Access: Sponsor},
	// intervention-scheduling
	schedulingv1.InterventionSchedulingService_ListTasks_FullMethodName:             {Access: Sponsor},
	schedulingv1.InterventionSchedulingService_LeaseTasks_FullMethodName:            {Access: Sponsor},
	schedulingv1.InterventionSchedulingService_CompleteTask_FullMethodName:          {Access: Sponsor},
	schedulingv1.InterventionSchedulingService_ReleaseTask_FullMethodName:           {Access: Sponsor},
	schedulingv1.InterventionSchedulingService_WatchTasks_FullMethodName:            {Access: Sponsor},
	schedulingv1.InterventionSchedulingService_GetTaskCounts_FullMethodName:         {Access: Sponsor},
	schedulingv1.InterventionSchedulingService_GetMonitoringMeasures_FullMethodName: {Access: Sponsor},
	schedulingv1.InterventionSchedulingService_Sweep_FullMethodName:                 {Access: Operator, Audited: true},
	// prescriber-outreach
	outreachv1.PrescriberOutreachService_ListOutreach_FullMethodName:       {Access: Sponsor},
	outreachv1.PrescriberOutreachService_GetOutreachCounts_FullMethodName:  {Access: Operator},
	outreachv1.PrescriberOutreachService_RecordResponse_FullMethodName:     {Access: Sponsor},
	outreachv1.PrescriberOutreachService_ListCommunications_FullMethodName: {Access: Sponsor},
	outreachv1.PrescriberOutreachService_GetOutreachStats_FullMethodName:   {Access: Sponsor},
	outreachv1.PrescriberOutreachService_Sweep_FullMethodName:              {Access: Operator, Audited: true},
	// payment-reconciliation
	ledgerv1.PaymentReconciliationService_ListLedgerEntries_FullMethodName: {Access: Sponsor},
	ledgerv1.PaymentReconciliationService_GetLedgerTotals_FullMethodName:   {Access: Operator},
	ledgerv1.PaymentReconciliationService_GetFeeSchedule_FullMethodName:    {Access: Sponsor},
	ledgerv1.PaymentReconciliationService_GetStatement_FullMethodName:      {Access: Sponsor},
	ledgerv1.PaymentReconciliationService_GetRemittance_FullMethodName:     {Access: Sponsor},
	ledgerv1.PaymentReconciliationService_GetPerformance_FullMethodName:    {Access: Sponsor},
	ledgerv1.PaymentReconciliationService_SettlePerformance_FullMethodName: {Access: Operator, Audited: true},
	ledgerv1.PaymentReconciliationService_RebuildLedger_FullMethodName:     {Access: Operator, Audited: true},
	ledgerv1.PaymentReconciliationService_Sweep_FullMethodName:             {Access: Operator, Audited: true},
	// every service: its own dead letters
	opsv1.DeadLetterService_ListDeadLetters_FullMethodName:     {Access: Operator},
	opsv1.PolicyService_GetPolicy_FullMethodName:               {Access: Operator},
	opsv1.DeadLetterService_RedeliverDeadLetter_FullMethodName: {Access: Operator, Audited: true},
	// every server: health and reflection
	healthpb.Health_Check_FullMethodName:                                   {Access: Authenticated},
	healthpb.Health_Watch_FullMethodName:                                   {Access: Authenticated},
	healthpb.Health_List_FullMethodName:                                    {Access: Authenticated},
	reflectionv1.ServerReflection_ServerReflectionInfo_FullMethodName:      {Access: Authenticated},
	reflectionv1alpha.ServerReflection_ServerReflectionInfo_FullMethodName: {Access: Authenticated},
}

// AuditRecord is one step of a call of an audited method: Requested before
// the method runs, then its outcome (Requested false).
type AuditRecord struct {
	CallID    string
	Requested bool
	At        time.Time
	Caller    string
	Method    string
	Request   string // the request in JSON (audited methods carry no personal data)
	Code      codes.Code
	Error     string
}

// Auditor keeps audit records (the services publish them on EMTM_AUDIT). An
// error keeping a Requested record refuses the call.
type Auditor func(ctx context.Context, r AuditRecord) error

// authorize applies the method's permission to the caller and the request.
func authorize(ctx context.Context, method string, req any) error {
	p, ok := Permissions[method]
	if !ok {
		return status.Errorf(codes.PermissionDenied, "%s has no declared permission: refused", method)
	}
	c := CallerOf(ctx)
	if !c.Restricted {
		return nil
	}
	denied := func(why string) error {
		return status.Errorf(codes.PermissionDenied, "%s: %s may call it, and %s is not one (%s)", method, p.Access, c.Name, why)
	}
	switch p.Access {
	case Authenticated:
		return nil
	case Operator:
		if !c.Operator() {
			return denied("not an operator")
		}
	case Sponsor:
		if c.Operator() {
			return nil
		}
		if len(c.Contracts) == 0 {
			return denied("its certificate names no contract")
		}
		if r, ok := req.(interface{ GetContractId() string }); ok && r.GetContractId() != "" && !c.MayActOn(r.GetContractId()) {
			return denied(fmt.Sprintf("contract %s is not one of %v", r.GetContractId(), c.Contracts))
		}
	case Pharmacy:
		if !c.Operator() && len(c.Pharmacies) == 0 {
			return denied("its certificate names no pharmacy")
		}
	case Feed:
		if !c.Operator() && len(c.Feeds) == 0 {
			return denied("its certificate names no feed")
		}
	}
	return nil
}

// access is the permission interceptor, with audit records of audited methods.
type access struct{ audit Auditor }

var auditCalls atomic.Int64

func newAuditRecord(ctx context.Context, method string, req any) AuditRecord {
	r := AuditRecord{CallID: fmt.Sprintf("%d-%d", time.Now().UnixNano(), auditCalls.Add(1)),
		At: time.Now().UTC(), Caller: CallerOf(ctx).Name, Method: method}
	if m, ok := req.(proto.Message); ok {
		b, _ := protojson.Marshal(m)
		r.Request = string(b)
	}
	return r
}

// begin writes an allowed audited call's Requested record; the call runs only
// once it is kept.
func (a access) begin(ctx context.Context, method string, req any) (AuditRecord, error) {
	r := newAuditRecord(ctx, method, req)
	r.Requested = true
	if a.audit == nil || !Permissions[method].Audited {
		return r, nil
	}
	if err := a.audit(context.WithoutCancel(ctx), r); err != nil {
		return r, status.Errorf(codes.Unavailable, "%s is audited and its audit record could not be written (%v): nothing was done, try again", method, err)
	}
	return r, nil
}

// finish writes the outcome of an audited call (or of a refused one).
func (a access) finish(ctx context.Context, r AuditRecord, err error) {
	if a.audit == nil || !Permissions[r.Method].Audited {
		return
	}
	r.Requested, r.At, r.Code = false, time.Now().UTC(), status.Code(err)
	if err != nil {
		r.Error = status.Convert(err).Message()
	}
	_ = a.audit(context.WithoutCancel(ctx), r) // the call has happened; the auditor logs a record it cannot keep
}

func (a access) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := authorize(ctx, info.FullMethod, req); err != nil {
		a.finish(ctx, newAuditRecord(ctx, info.FullMethod, req), err)
		return nil, err
	}
	r, err := a.begin(ctx, info.FullMethod, req)
	if err != nil {
		return nil, err
	}
	resp, err := h(ctx, req)
	a.finish(ctx, r, err)
	return resp, err
}

// stream checks a streaming call against its first request (the contract it
// names); an audited one writes its Requested record before that request is
// handed on, and its outcome when the call ends.
func (a access) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if _, ok := Permissions[info.FullMethod]; !ok {
		return authorize(ss.Context(), info.FullMethod, nil)
	}
	cs := &checkedStream{ServerStream: ss, method: info.FullMethod, access: a}
	err := h(srv, cs)
	if cs.began {
		a.finish(ss.Context(), cs.record, err)
	}
	return err
}

// checkedStream authorizes on the first message the client sends.
type checkedStream struct {
	grpc.ServerStream
	method  string
	access  access
	checked bool
	began   bool
	record  AuditRecord
}

func (s *checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if s.checked {
		return nil
	}
	s.checked = true
	if err := authorize(s.Context(), s.method, m); err != nil {
		s.access.finish(s.Context(), newAuditRecord(s.Context(), s.method, m), err)
		return err
	}
	r, err := s.access.begin(s.Context(), s.method, m)
	if err != nil {
		return err
	}
	s.record, s.began = r, true
	return nil
}

// PermissionTable is the Permissions table in Markdown, by method
// (docs/security.md carries it; a test keeps the two the same).
func PermissionTable() string {
	methods := make([]string, 0, len(Permissions))
	for m := range Permissions {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	var b strings.Builder
	b.WriteString("| method | who may call it | audited |\n|---|---|---|\n")
	for _, m := range methods {
		p := Permissions[m]
		audited := ""
		if p.Audited {
			audited = "yes"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", m, p.Access, audited)
	}
	return b.String()
}
