package service_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/emtm/emtm/libs/bus"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/testkit"
	"github.com/emtm/emtm/services/intervention-scheduling/service"
)

func TestSchedulerAPI(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t)
	addr := env.RunService(t, service.Definition, "-clock", "events")
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	api := schedulingv1.NewInterventionSchedulingServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	watch, err := api.WatchTasks(ctx, &schedulingv1.WatchTasksRequest{ContractId: "S9925", PbpId: "001"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Header(); err != nil { // the watch is open from here on
		t.Fatal(err)
	}
	tel, _ := otelx.Setup(ctx, "test", nil)
	a := &riskv1.RiskAssessment{Meta: &typesv1.EventMeta{EventId: "asmt/1"}, AssessmentId: "asmt/1", MemberId: "M1", ContractId: "S9925", PbpId: "001",
		AsOf: &typesv1.Date{Year: 2024, Month: 2, Day: 10}, Tier: riskv1.RiskTier_RISK_TIER_MODERATE}
	if _, err := bus.NewPublisher(env.JS, tel, "test").Publish(ctx, bus.Out{Subject: bus.AssessmentSubject(bus.Partition("M1", 4)), MsgID: "asmt/1", Msg: a}); err != nil {
		t.Fatal(err)
	}
	ev, err := watch.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if ev.Task.Kind != schedulingv1.TaskKind_TASK_KIND_TMR || ev.Task.Status != schedulingv1.TaskStatus_TASK_STATUS_SCHEDULED {
		t.Fatalf("watched %+v", ev.Task)
	}
	leased, err := api.LeaseTasks(ctx, &schedulingv1.LeaseTasksRequest{Worker: "call-centre-1", ContractId: "S9925", PbpId: "001", Max: 5})
	if err != nil || len(leased.Tasks) != 1 || leased.Queued != 0 {
		t.Fatalf("lease: %v %v", leased, err)
	}
	if ev, err = watch.Recv(); err != nil || ev.Task.Status != schedulingv1.TaskStatus_TASK_STATUS_LEASED {
		t.Fatalf("watched lease %+v %v", ev.GetTask(), err)
	}
	id := leased.Tasks[0].TaskId
	if _, err := api.ReleaseTask(ctx, &schedulingv1.ReleaseTaskRequest{TaskId: id, Worker: "someone-else"}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("release by another worker: %v", err)
	}
	if _, err := api.CompleteTask(ctx, &schedulingv1.CompleteTaskRequest{TaskId: "task/none", Worker: "call-centre-1"}); status.Code(err) != codes.NotFound {
		t.Fatalf("complete an unknown task: %v", err)
	}
	done, err := api.CompleteTask(ctx, &schedulingv1.CompleteTaskRequest{TaskId: id, Worker: "call-centre-1", Note: "TMR done by phone"})
	if err != nil || done.Task.Status != schedulingv1.TaskStatus_TASK_STATUS_COMPLETED || done.Task.CompletedOn.Day != 10 {
		t.Fatalf("complete: %v %v (completed on the scheduling clock's date, 2024-02-10)", done, err)
	}
	if _, err := api.LeaseTasks(ctx, &schedulingv1.LeaseTasksRequest{Worker: "x"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("lease without a plan: %v", err)
	}
	counts, err := api.GetTaskCounts(ctx, &schedulingv1.GetTaskCountsRequest{})
	if err != nil || counts.Scheduled != 1 || len(counts.Counts) != 1 || counts.Counts[0].Status != schedulingv1.TaskStatus_TASK_STATUS_COMPLETED {
		t.Fatalf("counts %v %v", counts, err)
	}
}
