package app

import (
	"context"
	"fmt"
	"io"
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
	hasher, err := pseudonym.New(getenv(HashKeyEnv))
	if err != nil {
		return err
	}
	if getenv(HashKeyEnv) == "" {
		log.Warn("using the development telemetry hash key; set " + HashKeyEnv + " in production")
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
