package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Members tells the running instances of one service how many partitions of
// each durable the others hold, so that each can hold its share (Consumer's
// rebalancing). It decides nothing about who owns a partition: JetStream's
// pinned priority group does that (see Consumer). Each instance says it is
// alive, with what it holds, on emtm.instances.<service>.<id> every beat over
// core NATS (nothing is stored), and counts the instances it heard within the
// last three beats.
type Members struct {
	nc      *nats.Conn
	service string
	id      string
	beat    time.Duration
	sub     *nats.Subscription

	mu   sync.Mutex
	seen map[string]heard
	mine map[string]int // durable -> partitions held, as reported by this instance's consumers
}

type heard struct {
	at   time.Time
	held map[string]int
}

// maxBeat bounds what one beat may say: durables and bytes.
const (
	maxBeatDurables = 64
	maxBeatBytes    = 4 << 10
)

// encodeHeld writes held as "durable=count" lines, sorted.
func encodeHeld(held map[string]int) []byte {
	var b strings.Builder
	for _, d := range slices.Sorted(maps.Keys(held)) {
		fmt.Fprintf(&b, "%s=%d\n", d, held[d])
	}
	return []byte(b.String())
}

// decodeHeld reads a beat; what it cannot read it leaves out.
func decodeHeld(data []byte) map[string]int {
	out := map[string]int{}
	if len(data) > maxBeatBytes {
		return out
	}
	for _, line := range strings.Split(string(data), "\n") {
		d, n, ok := strings.Cut(line, "=")
		if !ok || d == "" || len(out) >= maxBeatDurables {
			continue
		}
		if v, err := strconv.Atoi(n); err == nil && v >= 0 && v <= 1<<16 {
			out[d] = v
		}
	}
	return out
}

// MembersSubject is where the instances of service say they are alive.
func MembersSubject(service, id string) string {
	return "emtm.instances." + token(service) + "." + id
}

// NewMembers starts listening for the other instances of service; Run says
// this one is alive until its context ends.
func NewMembers(nc *nats.Conn, service string, beat time.Duration) (*Members, error) {
	if beat <= 0 {
		return nil, fmt.Errorf("members of %s: beat %s must be positive", service, beat)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	m := &Members{nc: nc, service: service, id: hex.EncodeToString(b[:]), beat: beat, seen: map[string]heard{}, mine: map[string]int{}}
	sub, err := nc.Subscribe(MembersSubject(service, "*"), func(msg *nats.Msg) {
		id := msg.Subject[strings.LastIndexByte(msg.Subject, '.')+1:]
		h := heard{at: time.Now(), held: decodeHeld(msg.Data)}
		m.mu.Lock()
		if _, ok := m.seen[id]; ok || len(m.seen) < 4096 { // bounded: made-up ids cannot grow it without end
			m.seen[id] = h
		}
		m.mu.Unlock()
	})
	if err != nil {
		return nil, fmt.Errorf("members of %s: %w", service, err)
	}
	m.sub = sub
	return m, nil
}

// ID is this instance's random identity (no personal data; it names a process).
func (m *Members) ID() string { return m.id }

// Run says this instance is alive every beat until ctx ends, then stops listening.
func (m *Members) Run(ctx context.Context) error {
	defer func() { _ = m.sub.Unsubscribe() }()
	t := time.NewTicker(m.beat)
	defer t.Stop()
	for {
		m.mu.Lock()
		data := encodeHeld(m.mine)
		m.mu.Unlock()
		_ = m.nc.Publish(MembersSubject(m.service, m.id), data) // a lost beat is made up by the next
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Report records how many partitions of durable this instance holds; the
// next beat tells the others.
func (m *Members) Report(durable string, held int) {
	m.mu.Lock()
	m.mine[durable] = held
	m.mu.Unlock()
}

// Holdings is how many partitions of durable each live instance holds, by
// instance id, this one included (as last reported).
func (m *Members) Holdings(durable string) map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{m.id: m.mine[durable]}
	for id, h := range m.seen {
		switch {
		case time.Since(h.at) > 3*m.beat:
			delete(m.seen, id)
		case id != m.id:
			out[id] = h.held[durable]
		}
	}
	return out
}
