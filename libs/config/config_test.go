package config

import (
	"strings"
	"testing"
	"time"
)

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
		wait time.Duration
	}{
		{"default", nil, nil, "nats://127.0.0.1:4222", 15 * time.Second},
		{"env", map[string]string{"EMTM_NATS_URL": "nats://env:1", "EMTM_SHUTDOWN_TIMEOUT": "3s"}, nil, "nats://env:1", 3 * time.Second},
		{"flag beats env", map[string]string{"EMTM_NATS_URL": "nats://env:1"}, []string{"-nats-url", "nats://flag:2"}, "nats://flag:2", 15 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New("x", func(k string) string { return tt.env[k] })
			c := RegisterCommon(s, "127.0.0.1:0")
			if err := s.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if c.NATSURL != tt.want || c.ShutdownTimeout != tt.wait {
				t.Fatalf("got %q %v, want %q %v", c.NATSURL, c.ShutdownTimeout, tt.want, tt.wait)
			}
		})
	}
}

func TestBadValuesNameTheirSource(t *testing.T) {
	tests := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"EMTM_PARTITIONS": "four"}, nil, "EMTM_PARTITIONS"},
		{map[string]string{"EMTM_SHUTDOWN_TIMEOUT": "soon"}, nil, "EMTM_SHUTDOWN_TIMEOUT"},
		{nil, []string{"-partitions", "0"}, "partitions: 0 is out of range"},
		{nil, []string{"-stream-replicas", "2"}, "stream-replicas"},
		{nil, []string{"-log-format", "xml"}, "log-format"},
		{nil, []string{"-batch", "0"}, "batch: 0 is out of range 1..1000"},
		{map[string]string{"EMTM_BATCH": "5000"}, nil, "batch: 5000 is out of range"},
	}
	for _, tt := range tests {
		s := New("x", func(k string) string { return tt.env[k] })
		s.SetOutput(new(strings.Builder))
		RegisterCommon(s, "127.0.0.1:0")
		err := s.Parse(tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("env %v args %v: got %v, want an error naming %q", tt.env, tt.args, err, tt.want)
		}
	}
}

func TestRedactURLs(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                   "nats://127.0.0.1:4222",
		"nats://admin:secret@127.0.0.1:4222":      "nats://admin:xxxxx@127.0.0.1:4222",
		"nats://a:s1@n1:4222,nats://a:s2@n2:4222": "nats://a:xxxxx@n1:4222,nats://a:xxxxx@n2:4222",
		"redis://:pw@127.0.0.1:6379/0":            "redis://:xxxxx@127.0.0.1:6379/0",
	} {
		if got := RedactURLs(in); got != want {
			t.Errorf("RedactURLs(%q) = %q, want %q", in, got, want)
		}
	}
}
