// Package pseudonym turns personal identifiers (member id, MBI) into a keyed
// hash that is safe to put in logs, spans and metric labels: stable within a
// deployment (so an operator can follow one beneficiary), useless without the key.
package pseudonym

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// DevelopmentKey is public: it is used only by a service that listens on
// loopback alone and has no key configured (tests, one person's machine).
// Beyond loopback a service refuses it (libs/app), and emtm run generates a
// key per data directory. Production sets EMTM_TELEMETRY_HASH_KEY to a secret
// of at least 16 bytes.
const DevelopmentKey = "emtm-development-key-not-secret"

// publicKeys are keys published in this repository (the development key and
// docker-compose.yml's former default): pseudonyms made with them can be
// reversed by anyone who guesses an identifier.
var publicKeys = map[string]bool{DevelopmentKey: true, "compose-development-key-change-me": true}

// IsPublic reports whether key is one anyone can read in emtm's sources.
func IsPublic(key string) bool { return publicKeys[key] }

// Hasher computes keyed hashes.
type Hasher struct{ key []byte }

// New returns a Hasher for key; an empty key selects DevelopmentKey.
func New(key string) (*Hasher, error) {
	if key == "" {
		key = DevelopmentKey
	}
	if len(key) < 16 {
		return nil, errors.New("telemetry hash key: must be at least 16 bytes")
	}
	return &Hasher{key: []byte(key)}, nil
}

// Of returns "b_" followed by 16 hex digits of HMAC-SHA256(key, id).
func (h *Hasher) Of(id string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(id))
	return "b_" + hex.EncodeToString(m.Sum(nil)[:8])
}

// SpanAttribute is the span attribute that carries a beneficiary's pseudonym.
const SpanAttribute = "emtm.beneficiary"

// Tag puts the pseudonym of member (never the id) on ctx's span; nothing
// when h is nil (no key configured, as in pure unit tests).
func (h *Hasher) Tag(ctx context.Context, member string, more ...attribute.KeyValue) {
	if h == nil {
		return
	}
	trace.SpanFromContext(ctx).SetAttributes(append(more, attribute.String(SpanAttribute, h.Of(member)))...)
}
