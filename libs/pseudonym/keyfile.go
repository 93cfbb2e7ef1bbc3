package pseudonym

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// LoadOrCreateKey reads the key kept at path, or, on first use, generates a
// random 256-bit key and writes it there readable by its owner only (0600).
// A key file others may read is refused: its pseudonyms could be reversed.
func LoadOrCreateKey(path string) (key string, created bool, err error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		st, err := os.Stat(path)
		if err != nil {
			return "", false, err
		}
		if st.Mode().Perm()&0o077 != 0 {
			return "", false, fmt.Errorf("telemetry hash key %s is readable by others (mode %04o): chmod 600 %s", path, st.Mode().Perm(), path)
		}
		key = strings.TrimSpace(string(b))
		if len(key) < 16 {
			return "", false, fmt.Errorf("telemetry hash key %s: must be at least 16 bytes", path)
		}
		return key, false, nil
	case !errors.Is(err, os.ErrNotExist):
		return "", false, fmt.Errorf("telemetry hash key: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", false, fmt.Errorf("telemetry hash key: %w", err)
	}
	key = hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("telemetry hash key: %w", err)
	}
	if _, err := f.WriteString(key + "\n"); err != nil {
		_ = f.Close()
		return "", false, fmt.Errorf("telemetry hash key: %w", err)
	}
	return key, true, f.Close()
}
