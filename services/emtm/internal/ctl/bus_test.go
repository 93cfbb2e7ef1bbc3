package ctl

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/emtm/emtm/libs/bus"
)

const authConf = "../../../../deploy/nats/auth.conf"

// The committed NATS users are what nats-auth writes today: regenerate with
// bin/emtmctl nats-auth --pharmacy 1245319599 --feed S9925 > deploy/nats/auth.conf
func TestCommittedNATSAuthIsCurrent(t *testing.T) {
	out, err := run("nats-auth", "--pharmacy", "1245319599", "--feed", "S9925")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(authConf)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != out {
		t.Fatal("deploy/nats/auth.conf differs from `bin/emtmctl nats-auth --pharmacy 1245319599 --feed S9925`: regenerate it")
	}
	if _, err := run("nats-auth", "--pharmacy", "1245319590"); err == nil || !strings.Contains(err.Error(), "check digit") {
		t.Fatalf("an invalid pharmacy NPI: %v", err)
	}
}

// nats-server reads deploy/nats/nats.conf with its users, passwords from the
// environment and subjects taken literally.
func TestNATSConfigParses(t *testing.T) {
	users := bus.AuthUsers(4, []string{"1245319599"}, "S9925")
	for _, u := range users {
		t.Setenv(bus.PasswordEnv(u.User), "pw-"+u.User)
	}
	opts, err := server.ProcessConfigFile("../../../../deploy/nats/nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(opts.Users) != len(users) {
		t.Fatalf("%d users, want %d", len(opts.Users), len(users))
	}
	for _, u := range opts.Users {
		if u.Password != "pw-"+u.Username {
			t.Errorf("%s: password not taken from %s", u.Username, bus.PasswordEnv(u.Username))
		}
		switch u.Username {
		case "admin":
			if u.Permissions != nil {
				t.Error("the admin is restricted")
			}
		case "ingestion":
			if !slices.Contains(u.Permissions.Publish.Allow, "$JS.API.INFO") || !slices.Contains(u.Permissions.Publish.Allow, "emtm.claims.*.paid") {
				t.Errorf("ingestion may publish %v", u.Permissions.Publish.Allow)
			}
		case "pharmacy-1245319599":
			if !slices.Equal(u.Permissions.Publish.Allow, []string{"emtm.raw.pharmacy.1245319599.*"}) {
				t.Errorf("the pharmacy may publish %v", u.Permissions.Publish.Allow)
			}
		case "feed-S9925":
			if !slices.Equal(u.Permissions.Publish.Allow, []string{"emtm.raw.feed.S9925.*"}) {
				t.Errorf("the feed may publish %v", u.Permissions.Publish.Allow)
			}
		}
	}
	if !opts.JetStream || !opts.SyncAlways {
		t.Error("nats.conf: JetStream with sync_interval always expected")
	}
}
