// Package pseudonym turns personal identifiers (member id, MBI) into a keyed
// hash that is safe to put in logs, spans and metric labels: stable within a
// deployment (so an operator can follow one beneficiary), useless without the key.
package pseudonym

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
)

// DevelopmentKey is used when no key is configured (local runs and tests only).
// Production sets EMTM_TELEMETRY_HASH_KEY to a secret of at least 16 bytes.
const DevelopmentKey = "emtm-development-key-not-secret"

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
