// Package natsembed runs a real NATS server with JetStream inside the process:
// the embedded default of `emtm run` and the bus of every integration test.
package natsembed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure the embedded server.
type Options struct {
	// StoreDir holds JetStream's file store; it must be set.
	StoreDir string
	// Host defaults to 127.0.0.1 (loopback only).
	Host string
	// Port: 0 picks a free port.
	Port int
	// SyncAlways makes JetStream fsync every write before acknowledging it
	// (sync_interval: always), the durable mode for money and clinical facts.
	// Off, the server flushes on its default interval (replay/backfill mode).
	SyncAlways bool
	// ServerName names the server (defaults to "emtm-embedded").
	ServerName string
	// Authorization, when set, is a nats-server authorization block (users
	// with permissions, as bin/emtmctl nats-auth writes it); without it the
	// server accepts any client.
	Authorization string
}

// Start starts the server and waits until it accepts connections.
func Start(o Options) (*server.Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("natsembed: StoreDir is required")
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = server.RANDOM_PORT
	}
	if o.ServerName == "" {
		o.ServerName = "emtm-embedded"
	}
	opts := &server.Options{
		ServerName: o.ServerName,
		Host:       o.Host,
		Port:       o.Port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: 4 << 20,
	}
	if o.SyncAlways {
		opts.SyncAlways = true
	}
	if o.Authorization != "" {
		if err := os.MkdirAll(o.StoreDir, 0o700); err != nil {
			return nil, fmt.Errorf("natsembed: %w", err)
		}
		f := filepath.Join(o.StoreDir, "authorization.conf")
		if err := os.WriteFile(f, []byte(o.Authorization), 0o600); err != nil {
			return nil, fmt.Errorf("natsembed: %w", err)
		}
		fo, err := server.ProcessConfigFile(f)
		if err != nil {
			return nil, fmt.Errorf("natsembed: authorization: %w", err)
		}
		opts.Users = fo.Users
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsembed: configure server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("natsembed: server not ready for connections within 10s")
	}
	return ns, nil
}
