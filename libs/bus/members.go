package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Members counts the running instances of one service, so that each can hold
// its share of the partitions (Consumer's rebalancing). It decides nothing
// about who owns a partition: JetStream's pinned priority group does that
// (see Consumer). Each instance says it is alive on
// emtm.instances.<service>.<id> every beat, over core NATS (nothing is
// stored), and counts the instances it heard within the last three beats.
type Members struct {
	nc      *nats.Conn
	service string
	id      string
	beat    time.Duration
	sub     *nats.Subscription

	mu   sync.Mutex
	seen map[string]time.Time
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
	m := &Members{nc: nc, service: service, id: hex.EncodeToString(b[:]), beat: beat, seen: map[string]time.Time{}}
	sub, err := nc.Subscribe(MembersSubject(service, "*"), func(msg *nats.Msg) {
		id := msg.Subject[strings.LastIndexByte(msg.Subject, '.')+1:]
		m.mu.Lock()
		if len(m.seen) < 4096 { // bounded: a flood of made-up ids cannot grow it without end
			m.seen[id] = time.Now()
		} else if _, ok := m.seen[id]; ok {
			m.seen[id] = time.Now()
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
		_ = m.nc.Publish(MembersSubject(m.service, m.id), nil) // a lost beat is made up by the next
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Count is how many instances of the service are alive, this one included.
func (m *Members) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 1
	for id, at := range m.seen {
		switch {
		case time.Since(at) > 3*m.beat:
			delete(m.seen, id)
		case id != m.id:
			n++
		}
	}
	return n
}
