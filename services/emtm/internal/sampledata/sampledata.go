// Package sampledata embeds the bundled sample population, so that `emtm run`
// works from any directory on a machine with nothing but the binary.
package sampledata

import (
	"embed"
	"io/fs"
)

//go:embed synthea-ca-50/*.csv
var files embed.FS

// SyntheaCA50 is the Synthea sample of 50 synthetic Californians.
func SyntheaCA50() fs.FS {
	sub, err := fs.Sub(files, "synthea-ca-50")
	if err != nil {
		// The directory is embedded at build time; fs.Sub cannot fail on it.
		return files
	}
	return sub
}
