package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

var builds sync.Map // the joined packages -> *build

type build struct {
	once sync.Once
	dir  string
	err  error
}

// Binaries builds each package (name -> import path) into one directory, once
// per test binary, and returns the directory; tests that run emtm as processes
// use it. A package that calls it removes the directories with TestMain =
// testkit.Main: they hold about 250 MB each.
func Binaries(t testing.TB, pkgs map[string]string) string {
	t.Helper()
	Integration(t)
	names := make([]string, 0, len(pkgs))
	for n := range pkgs {
		names = append(names, n)
	}
	sort.Strings(names)
	key := strings.Join(names, ",")
	v, _ := builds.LoadOrStore(key, &build{})
	b := v.(*build)
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "emtm-bin-"); b.err != nil {
			return
		}
		for _, n := range names {
			if out, err := exec.Command("go", "build", "-o", filepath.Join(b.dir, n), pkgs[n]).CombinedOutput(); err != nil {
				b.err = fmt.Errorf("build %s: %v\n%s", pkgs[n], err, out)
				return
			}
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.dir
}

// ServicePackages are the five services' commands (and, with extra, more).
func ServicePackages(extra ...string) map[string]string {
	out := map[string]string{}
	for _, s := range append([]string{"ingestion", "risk-scoring", "intervention-scheduling", "prescriber-outreach", "payment-reconciliation"}, extra...) {
		out[s] = "github.com/emtm/emtm/services/" + s + "/cmd/" + s
	}
	return out
}

// Main runs a package's tests and then removes the directories Binaries
// built: the TestMain of a package that runs emtm as processes.
func Main(m *testing.M) {
	code := m.Run()
	RemoveBinaries()
	os.Exit(code)
}

// RemoveBinaries deletes the directories Binaries built.
func RemoveBinaries() {
	builds.Range(func(_, v any) bool {
		if b := v.(*build); b.dir != "" {
			_ = os.RemoveAll(b.dir)
		}
		return true
	})
}
