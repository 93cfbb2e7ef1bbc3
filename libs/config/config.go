// Package config reads a service's settings from flags and the environment.
//
// Every flag has an environment variable: the flag name upper-cased, dashes
// turned into underscores, prefixed with EMTM_ (flag "nats-url" is EMTM_NATS_URL).
// Precedence: a flag on the command line, then the environment, then the default.
// A malformed environment value is an error that names the variable.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Set is a flag set whose defaults can come from the environment.
type Set struct {
	fs     *flag.FlagSet
	getenv func(string) string
	errs   []error
	post   []func() error
}

// New returns a Set named for the command. getenv is usually os.Getenv.
func New(name string, getenv func(string) string) *Set {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return &Set{fs: fs, getenv: getenv}
}

// FlagSet exposes the underlying flag set (for usage output and tests).
func (s *Set) FlagSet() *flag.FlagSet { return s.fs }

// SetOutput sets where usage and errors are written.
func (s *Set) SetOutput(w io.Writer) { s.fs.SetOutput(w) }

// EnvName is the environment variable that backs a flag.
func EnvName(flagName string) string {
	return "EMTM_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func (s *Set) env(name string) (string, bool) {
	v := s.getenv(EnvName(name))
	return v, v != ""
}

func (s *Set) usage(name, usage string) string {
	return fmt.Sprintf("%s (env %s)", usage, EnvName(name))
}

// String defines a string setting.
func (s *Set) String(name, def, usage string) *string {
	if v, ok := s.env(name); ok {
		def = v
	}
	return s.fs.String(name, def, s.usage(name, usage))
}

// Int defines an integer setting.
func (s *Set) Int(name string, def int, usage string) *int {
	if v, ok := s.env(name); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not an integer", EnvName(name), v))
		} else {
			def = n
		}
	}
	return s.fs.Int(name, def, s.usage(name, usage))
}

// Float64 defines a decimal setting.
func (s *Set) Float64(name string, def float64, usage string) *float64 {
	if v, ok := s.env(name); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not a number", EnvName(name), v))
		} else {
			def = f
		}
	}
	return s.fs.Float64(name, def, s.usage(name, usage))
}

// Bool defines a boolean setting.
func (s *Set) Bool(name string, def bool, usage string) *bool {
	if v, ok := s.env(name); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not a boolean (use true or false)", EnvName(name), v))
		} else {
			def = b
		}
	}
	return s.fs.Bool(name, def, s.usage(name, usage))
}

// Duration defines a duration setting such as "30s" or "5m".
func (s *Set) Duration(name string, def time.Duration, usage string) *time.Duration {
	if v, ok := s.env(name); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: not a duration (e.g. 30s, 5m)", EnvName(name), v))
		} else {
			def = d
		}
	}
	return s.fs.Duration(name, def, s.usage(name, usage))
}

// Parse parses the command line; it reports every malformed environment value at
// once, then runs the checks that registered groups of settings added.
func (s *Set) Parse(args []string) error {
	if len(s.errs) > 0 {
		return errors.Join(s.errs...)
	}
	if err := s.fs.Parse(args); err != nil {
		return err
	}
	for _, f := range s.post {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// AfterParse registers a check (or a copy into a struct) that Parse runs last.
func (s *Set) AfterParse(f func() error) { s.post = append(s.post, f) }
