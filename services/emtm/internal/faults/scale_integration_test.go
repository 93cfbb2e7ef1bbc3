package faults

import (
	"bufio"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/emtm/emtm/libs/bus"
	claimsv1 "github.com/emtm/emtm/libs/gen/emtm/claims/v1"
	riskv1 "github.com/emtm/emtm/libs/gen/emtm/risk/v1"
	"github.com/emtm/emtm/libs/testkit"
)

// checkOrder fails unless each member's events were stored in the order the
// member's history requires: its claims in the order the pharmacy submitted
// its fills (ingestion), its assessments never looking back in time (risk-scoring).
func (s *system) checkOrder() {
	s.t.Helper()
	nc, err := nats.Connect(s.natsURL())
	if err != nil {
		s.t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	fills := map[string]int32{}
	for _, c := range testkit.Decode(s.t, js, bus.StreamClaims, func() *claimsv1.PharmacyClaim { return &claimsv1.PharmacyClaim{} }) {
		if last, ok := fills[c.MemberId]; ok && c.FillNumber <= last {
			s.t.Fatalf("claims of member %s stored out of order: fill %d after fill %d", c.MemberId, c.FillNumber, last)
		}
		fills[c.MemberId] = c.FillNumber
	}
	asOf := map[string]string{}
	for _, a := range testkit.Decode(s.t, js, bus.StreamAssessments, func() *riskv1.RiskAssessment { return &riskv1.RiskAssessment{} }) {
		d := fmt.Sprintf("%04d-%02d-%02d", a.AsOf.GetYear(), a.AsOf.GetMonth(), a.AsOf.GetDay())
		if d < asOf[a.MemberId] {
			s.t.Fatalf("assessments of member %s out of order: as of %s after as of %s", a.MemberId, d, asOf[a.MemberId])
		}
		asOf[a.MemberId] = d
	}
}

// takeOvers are the "partition taken over" lines the instances logged after
// since: per service, how many partitions moved and how long after since the
// last of them was handled again.
var takenOver = regexp.MustCompile(`^time=(\S+) .*msg="partition taken over" .*consumer=(\S+)`)

func (s *system) handOvers(since time.Time) map[string][]time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]time.Duration{}
	for key, b := range s.logs {
		sc := bufio.NewScanner(strings.NewReader(b.String()))
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for sc.Scan() {
			m := takenOver.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			at, err := time.Parse(time.RFC3339Nano, m[1])
			if err != nil || at.Before(since) {
				continue
			}
			out[serviceOf(key)] = append(out[serviceOf(key)], at.Sub(since))
		}
	}
	return out
}

// report prints how long the hand-overs after a fault took.
func (s *system) report(what string, at time.Time) {
	s.t.Helper()
	h := s.handOvers(at)
	for _, name := range services {
		ds := h[name]
		if len(ds) == 0 {
			s.t.Logf("%s: %-24s nothing moved (what the instance held is held by another that runs on)", what, name)
			continue
		}
		slices.Sort(ds)
		s.t.Logf("%s: %-24s %2d partitions taken over, the first %s and the last %s after it",
			what, name, len(ds), ds[0].Round(10*time.Millisecond), ds[len(ds)-1].Round(10*time.Millisecond))
	}
}

// scale starts two instances of every service over a three-node NATS
// cluster (R3 streams) and a three-master Redis Cluster.
func scale(t *testing.T) *system {
	return startWith(t, setup{cluster: true, instances: 2, redisCluster: true})
}

// The pipeline against a three-master Redis Cluster, one instance each,
// ends exactly as against one redis-server: every key a change touches is in
// one slot, and what is read across partitions adds up.
func TestScalePipelineOnARedisCluster(t *testing.T) {
	want := faultFree(t)
	s := startWith(t, setup{redisCluster: true})
	s.load(input(), rate, nil)
	check(t, "one instance each on a Redis Cluster", s.settle(), want)
	s.checkOrder()
	// The data is spread: every master holds keys.
	for i, m := range s.rc.Masters {
		n, err := redisKeys(m.Addr)
		if err != nil || n == 0 {
			t.Fatalf("Redis Cluster master %d holds %d keys (%v): the hash tags do not spread the data", i, n, err)
		}
	}
}

// (a) Two instances of every service; one instance of each is killed -9 mid-load.
func TestScaleKillOneInstanceOfEachMidLoad(t *testing.T) {
	want := faultFree(t)
	s := scale(t)
	msgs := input()
	var killed time.Time
	s.load(msgs, rate, map[int]func(){len(msgs) / 2: func() {
		killed = time.Now()
		for _, name := range services {
			s.kill(instanceKey(name, 1))
		}
	}})
	got := s.settle()
	s.report("kill -9 one instance of each", killed)
	check(t, "two instances each, one of each killed -9", got, want)
	s.checkOrder()
}

// (b) Two instances of every service; a third of each joins mid-load and is
// handed partitions.
func TestScaleAddAnInstanceOfEachMidLoad(t *testing.T) {
	want := faultFree(t)
	s := scale(t)
	msgs := input()
	var added time.Time
	s.load(msgs, rate, map[int]func(){len(msgs) / 3: func() {
		added = time.Now()
		for _, name := range services {
			s.startService(instanceKey(name, 2))
		}
	}})
	got := s.settle()
	s.report("a third instance of each joins", added)
	check(t, "two instances each, a third of each added", got, want)
	s.checkOrder()
	moved := s.handOvers(added)
	for _, name := range services {
		if name == "ingestion" {
			continue // its one durable is not partitioned: one instance holds it, the others stand by
		}
		if len(moved[name]) == 0 {
			t.Errorf("%s: no partition moved after a third instance joined", name)
		}
	}
}

// redisKeys counts the keys one Redis server holds.
func redisKeys(addr string) (int64, error) {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return rdb.DBSize(ctx).Result()
}
