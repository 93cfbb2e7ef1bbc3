package redisproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of masters, each a redis-server child process on
// loopback, the 16384 hash slots split evenly between them (no replicas: a
// test of emtm's keys, not of Redis's failover).
type Cluster struct {
	Masters []*Server
}

// URL is the -redis-url of the cluster: every master's address, comma-separated.
func (c *Cluster) URL() string {
	urls := make([]string, len(c.Masters))
	for i, m := range c.Masters {
		urls[i] = m.URL()
	}
	return strings.Join(urls, ",")
}

// Stop stops every master.
func (c *Cluster) Stop() {
	for _, m := range c.Masters {
		if m != nil {
			m.Stop()
		}
	}
}

// StartCluster starts masters redis-servers in cluster mode under dir (one
// subdirectory each), gives each an equal range of slots, introduces them to
// one another and waits until every one reports the cluster ok.
func StartCluster(ctx context.Context, dir string, masters int, base Options) (c *Cluster, err error) {
	if masters < 1 {
		return nil, fmt.Errorf("redisproc: a cluster needs at least one master, not %d", masters)
	}
	c = &Cluster{}
	var busPorts []int
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	for i := 0; i < masters; i++ {
		o := base
		o.Dir = filepath.Join(dir, "master-"+strconv.Itoa(i))
		if o.Port, err = freePort(); err != nil {
			return c, err
		}
		if o.ClusterPort, err = freePort(); err != nil {
			return c, err
		}
		s, err := Start(ctx, o)
		if err != nil {
			return c, fmt.Errorf("redisproc: cluster master %d: %w", i, err)
		}
		c.Masters = append(c.Masters, s)
		busPorts = append(busPorts, o.ClusterPort)
	}
	const slots = 16384
	first := redis.NewClient(&redis.Options{Addr: c.Masters[0].Addr})
	defer first.Close()
	for i, m := range c.Masters {
		rdb := redis.NewClient(&redis.Options{Addr: m.Addr})
		lo, hi := i*slots/masters, (i+1)*slots/masters-1
		err := rdb.ClusterAddSlotsRange(ctx, lo, hi).Err()
		_ = rdb.Close()
		if err != nil {
			return c, fmt.Errorf("redisproc: cluster master %d: add slots %d-%d: %w", i, lo, hi, err)
		}
		if i > 0 {
			host, port, _ := net.SplitHostPort(m.Addr)
			if err := first.Do(ctx, "CLUSTER", "MEET", host, port, strconv.Itoa(busPorts[i])).Err(); err != nil {
				return c, fmt.Errorf("redisproc: cluster meet %s: %w", m.Addr, err)
			}
		}
	}
	return c, waitClusterOK(ctx, c.Masters)
}

// waitClusterOK waits (at most 30s) until every master sees all the others
// and reports cluster_state:ok.
func waitClusterOK(ctx context.Context, masters []*Server) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		var last string
		for _, m := range masters {
			rdb := redis.NewClient(&redis.Options{Addr: m.Addr})
			info, err := rdb.ClusterInfo(ctx).Result()
			nodes, nerr := rdb.ClusterNodes(ctx).Result()
			_ = rdb.Close()
			if err != nil || nerr != nil || !strings.Contains(info, "cluster_state:ok") ||
				strings.Count(nodes, "master") < len(masters) || strings.Contains(nodes, "handshake") {
				ok, last = false, m.Addr+": "+firstLine(info)+errString(errors.Join(err, nerr))
				break
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redisproc: the cluster is not ok within 30s (%s)", last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return " " + err.Error()
}
