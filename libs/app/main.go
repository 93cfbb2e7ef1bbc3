package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/emtm/emtm/libs/config"
	"github.com/emtm/emtm/libs/otelx"
	"github.com/emtm/emtm/libs/pseudonym"
)

// RegisterFunc registers a service's gRPC services and consumers on rt.
type RegisterFunc func(ctx context.Context, rt *Runtime) error

// HashKeyEnv names the secret key of the telemetry pseudonyms.
const HashKeyEnv = "EMTM_TELEMETRY_HASH_KEY"

// Main runs one service as a process until ctx is done: telemetry, runtime,
// registration, serving, ordered shutdown, telemetry flush.
func Main(ctx context.Context, name string, common config.Common, getenv func(string) string, stderr io.Writer, register RegisterFunc) error {
	log := NewLogger(stderr, common.LogFormat, name)
	tel, err := otelx.Setup(ctx, name, getenv)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(sctx); err != nil {
			log.Warn("telemetry flush", "err", err)
		}
	}()
	hasher, err := Hasher(getenv(HashKeyEnv), common)
	if err != nil {
		return err
	}
	if getenv(HashKeyEnv) == "" {
		log.Warn("using the public development telemetry hash key (this service listens on loopback only); set " + HashKeyEnv + " to a secret")
	}
	rt, err := Start(ctx, name, common, tel, log, hasher)
	if err != nil {
		return err
	}
	if err := register(ctx, rt); err != nil {
		rt.Close()
		return err
	}
	return rt.Run(ctx)
}

// Hasher is the service's pseudonym hasher. A service that listens beyond
// loopback refuses to run without a secret key, or with one of the keys
// published in emtm's sources: its pseudonyms could be reversed by anyone
// who guesses an identifier. On loopback alone the development key is used
// when none is set.
func Hasher(key string, common config.Common) (*pseudonym.Hasher, error) {
	if key == "" || pseudonym.IsPublic(key) {
		if beyond := BeyondLoopback(common.GRPCAddr, common.MetricsAddr); beyond != "" {
			what := "not set"
			if key != "" {
				what = "a key published in emtm's sources"
			}
			return nil, fmt.Errorf("%s is %s, and this service listens on %s, beyond loopback: set it to a secret of at least 16 bytes (e.g. `openssl rand -hex 32`)",
				HashKeyEnv, what, beyond)
		}
		key = pseudonym.DevelopmentKey
	}
	return pseudonym.New(key)
}

// BeyondLoopback is the first address that is not a loopback one ("" if none;
// "off" and empty addresses do not listen).
func BeyondLoopback(addrs ...string) string {
	for _, a := range addrs {
		if a == "" || a == "off" {
			continue
		}
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return a
		}
		if host == "localhost" {
			continue
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return a
		}
	}
	return ""
}
