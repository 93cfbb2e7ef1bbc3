package app

import (
	"strings"
	"testing"

	"github.com/emtm/emtm/libs/config"
	"github.com/emtm/emtm/libs/pseudonym"
)

func TestAServiceBeyondLoopbackRefusesAMissingOrPublicHashKey(t *testing.T) {
	cases := []struct {
		name, key, grpc, metrics string
		refused                  bool
	}{
		{"loopback without a key uses the development key", "", "127.0.0.1:7101", "127.0.0.1:9101", false},
		{"localhost and IPv6 loopback are loopback", "", "localhost:7101", "[::1]:9101", false},
		{"all interfaces without a key is refused", "", "0.0.0.0:7101", "off", true},
		{"metrics beyond loopback without a key is refused", "", "127.0.0.1:7101", ":9101", true},
		{"the development key beyond loopback is refused", pseudonym.DevelopmentKey, "0.0.0.0:7101", "off", true},
		{"compose's former default beyond loopback is refused", "compose-development-key-change-me", "0.0.0.0:7101", "off", true},
		{"a secret key beyond loopback is used", "0f3c9a7e5b1d2c4a8e6f0b3d5c7a9e1f", "0.0.0.0:7101", "0.0.0.0:9101", false},
	}
	for _, c := range cases {
		h, err := Hasher(c.key, config.Common{GRPCAddr: c.grpc, MetricsAddr: c.metrics})
		if c.refused != (err != nil) || (err != nil && !strings.Contains(err.Error(), "openssl rand -hex 32")) || (err == nil && h == nil) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
