package adversarial

import (
	"os"
	"testing"

	"github.com/emtm/emtm/libs/testkit"
)

// TestMain removes the service binaries the tests built (testkit.Binaries).
func TestMain(m *testing.M) {
	code := m.Run()
	testkit.RemoveBinaries()
	os.Exit(code)
}
