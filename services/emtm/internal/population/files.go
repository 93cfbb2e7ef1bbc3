package population

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"os"
	"path/filepath"
)

// The files of a population directory.
const (
	ClaimsFile     = "claims.csv"
	EnrollmentFile = "enrollment.ndjson"
	ConditionsFile = "conditions.ndjson"
	MedicalFile    = "medical.ndjson"
	ManifestFile   = "manifest.json"
)

// Version names the generator's shapes: the same version, options and seed
// give the same files.
const Version = "emtm-population/1"

// Manifest describes a generated directory.
type Manifest struct {
	Generator string            `json:"generator"`
	Members   int               `json:"members"`
	Years     int               `json:"years"`
	FirstYear int               `json:"first_year"`
	Seed      uint64            `json:"seed"`
	Contract  string            `json:"contract_id"`
	PBP       string            `json:"pbp_id"`
	Counts    Counts            `json:"counts"`
	SHA256    map[string]string `json:"sha256"`
}

// WriteDir generates the population into dir (created if missing). Each
// file is written beside its final name and renamed when all four are
// complete: a failed run leaves the directory as it was.
func WriteDir(dir string, o Options) (Manifest, error) {
	if err := o.Check(); err != nil {
		return Manifest{}, err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return Manifest{}, err
	}
	names := []string{ClaimsFile, EnrollmentFile, ConditionsFile, MedicalFile}
	files := make([]*os.File, len(names))
	sums := make([]hash.Hash, len(names))
	writers := make([]io.Writer, len(names))
	cleanup := func() {
		for _, f := range files {
			if f != nil {
				_ = f.Close()
				_ = os.Remove(f.Name())
			}
		}
	}
	for i, name := range names {
		f, err := os.CreateTemp(dir, "."+name+".*")
		if err != nil {
			cleanup()
			return Manifest{}, err
		}
		files[i], sums[i] = f, sha256.New()
		writers[i] = io.MultiWriter(f, sums[i])
	}
	counts, err := Generate(o, Writers{Claims: writers[0], Enrollment: writers[1], Conditions: writers[2], Medical: writers[3]})
	if err != nil {
		cleanup()
		return Manifest{}, err
	}
	m := Manifest{Generator: Version, Members: o.Members, Years: o.Years, FirstYear: o.FirstYear, Seed: o.Seed,
		Contract: o.Contract, PBP: o.PBP, Counts: counts, SHA256: map[string]string{}}
	for i, f := range files {
		if err := errors.Join(f.Sync(), f.Close()); err != nil {
			cleanup()
			return Manifest{}, err
		}
		m.SHA256[names[i]] = hex.EncodeToString(sums[i].Sum(nil))
	}
	for i, f := range files {
		if err := os.Rename(f.Name(), filepath.Join(dir, names[i])); err != nil {
			cleanup()
			return Manifest{}, err
		}
		files[i] = nil
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, err
	}
	return m, os.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o640)
}
