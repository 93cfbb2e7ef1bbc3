package adversarial

import (
	"testing"

	"github.com/emtm/emtm/libs/testkit"
)

// TestMain removes the service binaries the tests built (testkit.Binaries).
func TestMain(m *testing.M) { testkit.Main(m) }
