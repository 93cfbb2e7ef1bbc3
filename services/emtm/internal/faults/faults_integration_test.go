package faults

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	"github.com/emtm/emtm/libs/bus"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	encountersv1 "github.com/emtm/emtm/libs/gen/emtm/encounters/v1"
	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	ledgerv1 "github.com/emtm/emtm/libs/gen/emtm/ledger/v1"
	outreachv1 "github.com/emtm/emtm/libs/gen/emtm/outreach/v1"
	schedulingv1 "github.com/emtm/emtm/libs/gen/emtm/scheduling/v1"
	typesv1 "github.com/emtm/emtm/libs/gen/emtm/types/v1"
	"github.com/emtm/emtm/libs/grpcx"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/redisproc"
	"github.com/emtm/emtm/libs/syncbuf"
	"github.com/emtm/emtm/libs/testkit"
)

const (
	pharmacy   = "1245319599"
	prescriber = "1234567893"
	members    = 40
	fills      = 12 // claims per member
)

var services = []string{"ingestion", "risk-scoring", "intervention-scheduling", "prescriber-outreach", "payment-reconciliation"}

// serviceArgs: the event clock and no timed sweeps, so that the outcome does
// not depend on how fast the load ran; events are redelivered 2s after a crash.
var serviceArgs = map[string][]string{
	"intervention-scheduling": {"-clock", "events"},
	"prescriber-outreach":     {"-clock", "events", "-sweep-interval", "24h"},
	"payment-reconciliation":  {"-clock", "events", "-sweep-interval", "24h"},
}

// binaries builds the five services and nats-server (at the version this
// module uses, as a process of its own) once per test binary.
func binaries(t *testing.T) string {
	t.Helper()
	pkgs := testkit.ServicePackages()
	pkgs["nats-server"] = "github.com/nats-io/nats-server/v2"
	return testkit.Binaries(t, pkgs)
}

// system is NATS (in process, synced before acknowledging), redis-server
// (AOF, appendfsync always) and the five services as child processes.
type system struct {
	t        *testing.T
	dir, bin string
	// nats are nats-server processes: one, or a cluster of three with R3 streams.
	nats      []*natsNode
	rs        *redisproc.Server
	redisPort int
	// rc is the Redis Cluster, when the run has one instead of rs.
	rc    *redisproc.Cluster
	addrs map[string]string
	procs map[string]*exec.Cmd
	logs  map[string]*syncbuf.Buffer
	mu    sync.Mutex
	// enrolled: the members' enrollment has been loaded (load does it first).
	enrolled bool
}

// newLog keeps the first MiB of a process's output, for a failure's report.
func newLog() *syncbuf.Buffer { return &syncbuf.Buffer{Limit: 1 << 20} }

func start(t *testing.T) *system { return startWith(t, setup{}) }

// setup is what a run starts with.
type setup struct {
	// cluster: three nats-servers with R3 streams (else one).
	cluster bool
	// instances of each service (default 1).
	instances int
	// redisCluster: a Redis Cluster of three masters (else one redis-server).
	redisCluster bool
}

func startWith(t *testing.T, o setup) *system {
	t.Helper()
	s := &system{t: t, dir: t.TempDir(), bin: binaries(t), addrs: map[string]string{}, procs: map[string]*exec.Cmd{}, logs: map[string]*syncbuf.Buffer{}}
	s.startNATS(map[bool]int{false: 1, true: 3}[o.cluster])
	if o.redisCluster {
		s.startRedisCluster()
	} else {
		s.startRedis()
	}
	for _, name := range services {
		for i := 0; i < max(o.instances, 1); i++ {
			s.startService(instanceKey(name, i))
		}
	}
	t.Cleanup(func() {
		s.mu.Lock()
		keys := slices.Collect(maps.Keys(s.procs))
		s.mu.Unlock()
		for _, key := range keys {
			s.kill(key)
		}
		if s.rs != nil {
			s.rs.Stop()
		}
		if s.rc != nil {
			s.rc.Stop()
		}
		for _, n := range s.nats {
			n.kill()
		}
		if t.Failed() {
			for name, b := range s.logs {
				t.Logf("--- %s log (tail)\n%s", name, tail(b.String(), 3000))
			}
		}
	})
	return s
}

// instanceKey names instance i of a service: the service itself for the
// first, "<service>#<i>" for the others.
func instanceKey(name string, i int) string {
	if i == 0 {
		return name
	}
	return name + "#" + strconv.Itoa(i)
}

// serviceOf is the service an instance key names.
func serviceOf(key string) string {
	if i := strings.IndexByte(key, '#'); i >= 0 {
		return key[:i]
	}
	return key
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// natsNode is one nats-server process and the configuration it restarts with.
type natsNode struct {
	t         *testing.T
	bin, conf string
	port      int
	cmd       *exec.Cmd
	log       *syncbuf.Buffer
}

func (n *natsNode) start() {
	n.cmd = exec.Command(n.bin, "-c", n.conf)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", n.port), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("nats-server on port %d did not listen within 10s: %s", n.port, tail(n.log.String(), 2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill stops the process with SIGKILL, as a crash would.
func (n *natsNode) kill() {
	if n.cmd != nil && n.cmd.Process != nil {
		_ = n.cmd.Process.Kill()
		_ = n.cmd.Wait()
		n.cmd = nil
	}
}

func (s *system) natsURL() string {
	urls := make([]string, len(s.nats))
	for i, n := range s.nats {
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", n.port)
	}
	return strings.Join(urls, ",")
}

// startNATS starts n nats-server processes on loopback (n = 3: routed into a
// cluster), each syncing every write before acknowledging it, and creates the
// streams (R3 in a cluster) once JetStream answers.
func (s *system) startNATS(n int) {
	routes := make([]int, n)
	for i := 0; i < n; i++ {
		routes[i] = testkit.FreePort(s.t)
		s.nats = append(s.nats, &natsNode{t: s.t, bin: filepath.Join(s.bin, "nats-server"), port: testkit.FreePort(s.t), log: newLog()})
	}
	for i, node := range s.nats {
		conf := fmt.Sprintf("server_name: n%d\nlisten: 127.0.0.1:%d\nmax_payload: 4MB\njetstream {\n  store_dir: %q\n  sync_interval: always\n}\n",
			i+1, node.port, filepath.Join(s.dir, fmt.Sprintf("nats-%d", i+1)))
		if n > 1 {
			var rs []string
			for j, r := range routes {
				if j != i {
					rs = append(rs, fmt.Sprintf("nats://127.0.0.1:%d", r))
				}
			}
			conf += fmt.Sprintf("cluster {\n  name: emtm\n  listen: 127.0.0.1:%d\n  routes: [%s]\n}\n", routes[i], strings.Join(rs, ", "))
		}
		node.conf = filepath.Join(s.dir, fmt.Sprintf("nats-%d.conf", i+1))
		if err := os.WriteFile(node.conf, []byte(conf), 0o644); err != nil {
			s.t.Fatal(err)
		}
		node.start()
	}
	nc, err := nats.Connect(s.natsURL())
	if err != nil {
		s.t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := bus.EnsureStreams(ctx, js, n)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("JetStream did not take the streams within 30s: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// crashNATS kills nats-server i with SIGKILL; restart brings it back on its store.
func (s *system) crashNATS(i int, restart bool) {
	s.nats[i].kill()
	if restart {
		time.Sleep(300 * time.Millisecond)
		s.nats[i].start()
	}
}

func (s *system) redisURL() string {
	if s.rc != nil {
		return s.rc.URL()
	}
	return fmt.Sprintf("redis://127.0.0.1:%d/0", s.redisPort)
}

// startRedisCluster starts three redis-servers in cluster mode (AOF,
// appendfsync always) and joins them into a Redis Cluster.
func (s *system) startRedisCluster() {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	rc, err := redisproc.StartCluster(ctx, filepath.Join(s.dir, "rc"), 3, redisproc.Options{FsyncAlways: true})
	if err != nil {
		s.t.Fatal(err)
	}
	s.rc = rc
}

func (s *system) startRedis() {
	rs, err := redisproc.Start(context.Background(), redisproc.Options{Dir: filepath.Join(s.dir, "redis"), FsyncAlways: true, Port: s.redisPort})
	if err != nil {
		s.t.Fatal(err)
	}
	s.rs = rs
	_, port, _ := net.SplitHostPort(rs.Addr)
	s.redisPort, _ = strconv.Atoi(port)
}

// crashRedis kills redis-server -9 and starts it again on its data.
func (s *system) crashRedis() {
	s.rs.Kill()
	time.Sleep(300 * time.Millisecond)
	s.startRedis()
}

// startService starts (or restarts, on its address) the instance key names.
func (s *system) startService(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := key
	key, name = name, serviceOf(name)
	if s.addrs[key] == "" {
		s.addrs[key] = testkit.FreeAddr(s.t)
	}
	args := append([]string{"-nats-url", s.natsURL(), "-redis-url", s.redisURL(), "-grpc-addr", s.addrs[key],
		"-metrics-addr", "off", "-partitions", "4", "-ack-wait", "2s", "-pin-ttl", "3s", "-shutdown-timeout", "5s"}, serviceArgs[name]...)
	if len(s.nats) > 1 {
		args = append(args, "-stream-replicas", "3")
	}
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	if s.logs[key] == nil {
		s.logs[key] = newLog()
	}
	cmd.Stdout, cmd.Stderr = s.logs[key], s.logs[key]
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.procs[key] = cmd
}

// running lists the instance keys of a service that run now.
func (s *system) running(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for key := range s.procs {
		if serviceOf(key) == name {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

// kill stops a service with SIGKILL, as a crash would.
func (s *system) kill(name string) {
	s.mu.Lock()
	cmd := s.procs[name]
	delete(s.procs, name)
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// input is the same for every run: members' fills, a drug to avoid at 65+
// among them (so assessments, tasks and outreach follow), and one MTM
// encounter per member (a fee in the ledger).
// waitServing waits until every service reports SERVING (its consumers exist).
func (s *system) waitServing() {
	s.t.Helper()
	tel, _ := otelx.Setup(context.Background(), "faults-test", nil)
	// Ten processes creating their R3 consumers on a three-node cluster at
	// once can take a while on a busy machine (each creation is retried for
	// up to a minute).
	deadline := time.Now().Add(90 * time.Second)
	s.mu.Lock()
	keys := slices.Sorted(maps.Keys(s.procs))
	s.mu.Unlock()
	for _, key := range keys {
		name := key
		cc, err := grpcx.Dial(s.addrs[key], tel)
		if err != nil {
			s.t.Fatal(err)
		}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			r, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
			cancel()
			if err == nil && r.Status == healthpb.HealthCheckResponse_SERVING {
				break
			}
			if time.Now().After(deadline) {
				s.t.Fatalf("%s not serving within 90s: %v %v", name, r, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = cc.Close()
	}
}

// enrollments are the members' enrollment, as the sponsor's feed sends it.
func enrollments() []*nats.Msg {
	var out []*nats.Msg
	for m := 0; m < members; m++ {
		id := fmt.Sprintf("F-E-%03d", m)
		b, _ := proto.Marshal(&enrollmentv1.Enrollment{EnrollmentId: id, MemberId: fmt.Sprintf("F-M-%03d", m), ContractId: "S9925", PbpId: "001",
			StartDate: &typesv1.Date{Year: 2024, Month: 1, Day: 1}})
		msg := nats.NewMsg(bus.RawFeedSubject("S9925", bus.KindEnrollment))
		msg.Data = b
		msg.Header.Set(bus.HeaderContentType, bus.ContentProtobuf)
		msg.Header.Set(jetstream.MsgIDHeader, "enrollment/"+id)
		out = append(out, msg)
	}
	return out
}

func input() []*nats.Msg {
	drugs := []struct{ rxnorm, ingredient, desc string }{
		{"310534", "glyburide", "glyBURIDE 5 MG Oral Tablet"},
		{"617312", "atorvastatin", "atorvastatin 40 MG Oral Tablet"},
		{"314076", "lisinopril", "lisinopril 10 MG Oral Tablet"},
		{"860975", "metformin", "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet"},
	}
	var out []*nats.Msg
	add := func(kind, id string, m proto.Message) {
		b, _ := proto.Marshal(m)
		msg := nats.NewMsg(bus.RawPharmacySubject(pharmacy, kind))
		msg.Data = b
		msg.Header.Set(bus.HeaderContentType, bus.ContentProtobuf)
		msg.Header.Set(jetstream.MsgIDHeader, kind+"/"+id) // a pharmacy's retry is dropped
		out = append(out, msg)
	}
	for f := 0; f < fills; f++ {
		for m := 0; m < members; m++ {
			d := drugs[(m+f)%len(drugs)]
			if m%3 != 0 && d.ingredient == "glyburide" {
				d = drugs[1]
			}
			date := time.Date(2024, 1, 5, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 30*f+m%7)
			id := fmt.Sprintf("F-RX-%03d-%02d", m, f)
			add(bus.KindClaim, id, &claimsv1.PharmacyClaim{
				ClaimId: id, MemberId: fmt.Sprintf("F-M-%03d", m), ContractId: "S9925", PbpId: "001",
				DateOfService: &typesv1.Date{Year: int32(date.Year()), Month: int32(date.Month()), Day: int32(date.Day())},
				RxnormCode:    d.rxnorm, Ingredients: []string{d.ingredient}, DrugDescription: d.desc,
				QuantityMilli: 30000, DaysSupply: 30, FillNumber: int32(f), PrescriberNpi: prescriber, PharmacyNpi: pharmacy,
				IngredientCostCents: 9000 + int64(m*10), DispensingFeeCents: 150, TotalCents: 9150 + int64(m*10),
				BirthDate: &typesv1.Date{Year: 1948, Month: 3, Day: 1},
			})
			if f == fills/2 {
				eid := fmt.Sprintf("F-ENC-%03d", m)
				add(bus.KindEncounter, eid, &encountersv1.MtmEncounter{
					EncounterId: eid, MemberId: fmt.Sprintf("F-M-%03d", m), ContractId: "S9925", PbpId: "001",
					ServiceDate: &typesv1.Date{Year: int32(date.Year()), Month: int32(date.Month()), Day: int32(date.Day())}, ServiceCodes: []string{"430193006"},
					PharmacistNpi: prescriber, PharmacyNpi: pharmacy, Minutes: 30,
					DeliveryMode: encountersv1.DeliveryMode_DELIVERY_MODE_TELEPHONE, Outcome: encountersv1.EncounterOutcome_ENCOUNTER_OUTCOME_COMPLETED,
				})
			}
		}
	}
	return out
}

// outcome is what a run must end with.
type outcome struct {
	Claims, Assessments, Rejections, DeadLetters int
	Tasks, OutreachItems                         int64
	LedgerEntries, LedgerCents, LedgerMessages   int64
}

// load publishes the input at a steady rate as a pharmacy would: each
// submission retried until the stream acknowledges it (its Nats-Msg-Id makes
// a retry harmless), while fault() runs at the given moments.
func (s *system) load(msgs []*nats.Msg, perSecond int, faults map[int]func()) {
	s.t.Helper()
	nc, err := nats.Connect(s.natsURL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		s.t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	// The members' enrollment is on file before the load: claims of a member
	// without it would wait for it and be released in another order, and the
	// count of assessments depends on the order of fills.
	if !s.enrolled {
		s.waitServing()
		for _, m := range enrollments() {
			if _, err := js.PublishMsg(context.Background(), m); err != nil {
				s.t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := bus.WaitIdle(ctx, js, 50*time.Millisecond)
		cancel()
		if err != nil {
			s.t.Fatalf("enrollments not taken in within 30s: %v", err)
		}
		s.enrolled = true
	}
	interval := time.Second / time.Duration(perSecond)
	for i, m := range msgs {
		if f := faults[i]; f != nil {
			f()
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := js.PublishMsg(ctx, m)
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				s.t.Fatalf("submission %d not stored within 30s: %v", i, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(interval)
	}
}

// settle waits until the services have handled everything and the outcome is
// the same twice in a row, then returns it.
func (s *system) settle() outcome {
	s.t.Helper()
	nc, err := nats.Connect(s.natsURL())
	if err != nil {
		s.t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	tel, _ := otelx.Setup(context.Background(), "faults-test", nil)
	conns := map[string]*grpc.ClientConn{}
	for _, name := range []string{"intervention-scheduling", "prescriber-outreach", "payment-reconciliation"} {
		run := s.running(name)
		if len(run) == 0 {
			s.t.Fatalf("no instance of %s runs", name)
		}
		cc, err := grpcx.Dial(s.addrs[run[0]], tel)
		if err != nil {
			s.t.Fatal(err)
		}
		defer cc.Close()
		conns[name] = cc
	}
	var last outcome
	deadline := time.Now().Add(90 * time.Second)
	for stable := 0; stable < 2; {
		if time.Now().After(deadline) {
			s.t.Fatalf("the outcome did not settle within 90s; last %+v", last)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := bus.WaitIdle(ctx, js, 100*time.Millisecond)
		cancel()
		if err != nil {
			continue
		}
		o, err := s.read(js, conns)
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if o == last {
			stable++
		} else {
			stable, last = 0, o
		}
		time.Sleep(500 * time.Millisecond)
	}
	return last
}

func count(ctx context.Context, js jetstream.JetStream, stream string) (int, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	return int(st.CachedInfo().State.Msgs), nil
}

func (s *system) read(js jetstream.JetStream, conns map[string]*grpc.ClientConn) (outcome, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var o outcome
	var err error
	for _, c := range []struct {
		stream string
		n      *int
	}{{bus.StreamClaims, &o.Claims}, {bus.StreamAssessments, &o.Assessments}, {bus.StreamRejections, &o.Rejections}, {bus.StreamDLQ, &o.DeadLetters}} {
		if *c.n, err = count(ctx, js, c.stream); err != nil {
			return o, err
		}
	}
	lm, err := count(ctx, js, bus.StreamLedger)
	if err != nil {
		return o, err
	}
	o.LedgerMessages = int64(lm)
	tc, err := schedulingv1.NewInterventionSchedulingServiceClient(conns["intervention-scheduling"]).GetTaskCounts(ctx, &schedulingv1.GetTaskCountsRequest{})
	if err != nil {
		return o, err
	}
	o.Tasks = tc.Scheduled
	oc, err := outreachv1.NewPrescriberOutreachServiceClient(conns["prescriber-outreach"]).GetOutreachCounts(ctx, &outreachv1.GetOutreachCountsRequest{})
	if err != nil {
		return o, err
	}
	o.OutreachItems = oc.Items
	lt, err := ledgerv1.NewPaymentReconciliationServiceClient(conns["payment-reconciliation"]).GetLedgerTotals(ctx, &ledgerv1.GetLedgerTotalsRequest{})
	if err != nil {
		return o, err
	}
	o.LedgerEntries, o.LedgerCents = lt.Entries, lt.TotalCents
	return o, nil
}

var (
	baselineOnce sync.Once
	baseline     outcome
)

const rate = 150 // submissions a second

// faultFree is the outcome of the input without faults (once per test binary).
func faultFree(t *testing.T) outcome {
	t.Helper()
	testkit.Integration(t) // before the Once: a skip inside it would leave a zero baseline
	baselineOnce.Do(func() {
		s := start(t)
		s.load(input(), rate, nil)
		baseline = s.settle()
	})
	if baseline.Claims != members*fills || baseline.LedgerEntries != members || baseline.Assessments == 0 ||
		baseline.Tasks == 0 || baseline.OutreachItems == 0 || baseline.Rejections != 0 || baseline.DeadLetters != 0 {
		t.Fatalf("the fault-free run is not what the input should give: %+v", baseline)
	}
	return baseline
}

func check(t *testing.T, name string, got, want outcome) {
	t.Helper()
	t.Logf("%s: %+v", name, got)
	if got != want {
		t.Fatalf("%s: outcome %+v\nfault-free   %+v", name, got, want)
	}
}

func TestFaultFreeBaseline(t *testing.T) {
	t.Logf("fault-free: %+v", faultFree(t))
}

// (a) each service in turn is killed -9 mid-load and started again.
func TestKillEachServiceMidLoad(t *testing.T) {
	want := faultFree(t)
	s := start(t)
	msgs := input()
	faults := map[int]func(){}
	for i, name := range services {
		at := len(msgs) * (i + 1) / (len(services) + 2)
		faults[at] = func() {
			s.kill(name)
			time.Sleep(200 * time.Millisecond)
			s.startService(name)
		}
	}
	s.load(msgs, rate, faults)
	check(t, "kill -9 each service", s.settle(), want)
	s.checkOrder()
}

// (b) redis-server is killed -9 mid-load (AOF, appendfsync always) and restarted.
func TestKillRedisMidLoad(t *testing.T) {
	want := faultFree(t)
	s := start(t)
	msgs := input()
	s.load(msgs, rate, map[int]func(){len(msgs) / 3: s.crashRedis, 2 * len(msgs) / 3: s.crashRedis})
	check(t, "kill -9 redis-server", s.settle(), want)
	s.checkOrder()
}

// (c) nats-server is killed -9 mid-load and started again on its store.
func TestRestartNATSMidLoad(t *testing.T) {
	want := faultFree(t)
	s := start(t)
	msgs := input()
	s.load(msgs, rate, map[int]func(){len(msgs) / 2: func() { s.crashNATS(0, true) }})
	check(t, "kill -9 and restart nats-server", s.settle(), want)
	s.checkOrder()
}

// (d) a three-node NATS cluster with R3 streams loses one node (kill -9) mid-load.
func TestKillOneNodeOfThreeMidLoad(t *testing.T) {
	want := faultFree(t)
	s := startWith(t, setup{cluster: true})
	msgs := input()
	s.load(msgs, rate, map[int]func(){len(msgs) / 2: func() { s.crashNATS(1, false) }})
	check(t, "kill -9 one of three nats-servers", s.settle(), want)
	s.checkOrder()
}
