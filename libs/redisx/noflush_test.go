package redisx

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNoCodePathFlushesADatabase: no Go source of emtm (tests aside) calls
// FLUSHDB or FLUSHALL; state is removed by key namespace (NamespaceKeys,
// DropNamespace) and never by emptying a database.
func TestNoCodePathFlushesADatabase(t *testing.T) {
	root := filepath.Join("..", "..")
	flush := regexp.MustCompile(`(?i)flush_?(db|all)`)
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git" || d.Name() == "var") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		for i, line := range strings.Split(string(b), "\n") {
			if flush.MatchString(line) {
				t.Errorf("%s:%d flushes a database: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("only %d Go files found under %s: is this the repository?", checked, root)
	}
}
