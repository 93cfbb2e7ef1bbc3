package ctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	enrollmentv1 "github.com/emtm/emtm/libs/gen/emtm/enrollment/v1"
	medicalv1 "github.com/emtm/emtm/libs/gen/emtm/medical/v1"
	"github.com/emtm/emtm/services/emtm/internal/claimscsv"
	"github.com/emtm/emtm/services/emtm/internal/load"
	"github.com/emtm/emtm/services/emtm/internal/population"
)

func generateCmd() *cobra.Command {
	root := &cobra.Command{Use: "generate", Short: "Generate synthetic data for load tests and demonstrations (no real person)"}
	o := population.Options{}
	var out string
	pop := &cobra.Command{
		Use:   "population --members N --years Y --seed S --out DIR",
		Short: "Write a synthetic population: claims (claims CSV), enrollment, diagnoses and Parts A/B summaries (NDJSON)",
		Long: "Write a synthetic Part D population into DIR: claims.csv (docs/claims-csv.md), enrollment.ndjson,\n" +
			"conditions.ndjson and medical.ndjson (emtm's protobuf JSON, one message a line) and manifest.json\n" +
			"(options, counts, SHA-256 of each file). The same options give the same files. Load it with\n" +
			"`emtmctl import population DIR`. docs/population.md describes the shapes.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out: the directory to write is required")
			}
			if o.FirstYear == 0 {
				o.FirstYear = population.DefaultFirstYear(o.Years)
			}
			if err := o.Check(); err != nil {
				return err
			}
			bar := progressbar.NewOptions(o.Members, progressbar.OptionSetWriter(cmd.ErrOrStderr()),
				progressbar.OptionSetDescription("generating"), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
				progressbar.OptionSetItsString("members"), progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
			o.Progress = func() { _ = bar.Add(1) }
			start := time.Now()
			m, err := population.WriteDir(out, o)
			if err != nil {
				return err
			}
			_ = bar.Finish()
			printManifest(cmd.OutOrStdout(), out, m, time.Since(start))
			return nil
		},
	}
	f := pop.Flags()
	f.IntVar(&o.Members, "members", 1000, "beneficiaries")
	f.IntVar(&o.Years, "years", 1, "calendar years of history")
	f.Uint64Var(&o.Seed, "seed", 1, "the same seed gives the same files")
	f.IntVar(&o.FirstYear, "first-year", 0, "the history's first year (default: the one that ends it with 2021, the model's last performance year)")
	f.StringVar(&o.Contract, "contract", load.SamplePlan.Contract, "plan contract the members are enrolled in")
	f.StringVar(&o.PBP, "pbp", load.SamplePlan.PBP, "plan benefit package")
	f.StringVar(&out, "out", "", "directory to write (created if missing; its four files are replaced)")
	root.AddCommand(pop)
	return root
}

func printManifest(w io.Writer, dir string, m population.Manifest, took time.Duration) {
	c := m.Counts
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "population\t%s (%s, seed %d, %d-%d, %s-%s)\n", dir, m.Generator, m.Seed, m.FirstYear, m.FirstYear+m.Years-1, m.Contract, m.PBP)
	for _, row := range []struct {
		name string
		n    int
	}{
		{"members", c.Members}, {"claims (paid)", c.Claims}, {"reversals", c.Reversals}, {"diagnoses", c.Conditions},
		{"Parts A/B summaries", c.Medical}, {"joined during the history", c.Joined}, {"deaths", c.Deaths},
		{"disenrollments", c.Disenrollments}, {"hospice", c.Hospice}, {"inpatient stays", c.InpatientStays},
		{"opioid users", c.OpioidUsers}, {"benzodiazepine users", c.BenzoUsers}, {"both", c.OpioidAndBenzo},
		{"new starts", c.NewStarts}, {"30-day fills", c.ThirtyDayFills}, {"90-day fills", c.NinetyDayFills},
		{"refills a week or more late", c.LateRefills}, {"discontinued regimens", c.Discontinuation},
	} {
		fmt.Fprintf(tw, "%s\t%d\n", row.name, row.n)
	}
	fmt.Fprintf(tw, "seconds\t%.1f\n", took.Seconds())
	_ = tw.Flush()
}

// cursor reads one file of a population directory, one member's record at a
// time, with one record of lookahead.
type cursor struct {
	path   string
	next   func() (line int, member string, sub load.Submission, err error)
	head   *load.Submission
	member string
	last   string // the member last taken
	done   bool
}

// fill reads the cursor's next readable record into head; an unreadable one
// is reported and counted by report.
func (c *cursor) fill(report func(path, reason string, err error)) error {
	for !c.done && c.head == nil {
		line, member, sub, err := c.next()
		var le *population.LineError
		var ce *claimscsv.Error
		switch {
		case errors.Is(err, io.EOF):
			c.done = true
		case errors.As(err, &le):
			report(c.path, "NDJSON", err)
		case errors.As(err, &ce):
			report(c.path, ce.Reason, err)
		case err != nil:
			return fmt.Errorf("%s: %w", c.path, err)
		default:
			if member < c.last {
				return fmt.Errorf("%s, line %d: member %q comes after %q: each file of a population must list its members in id order", c.path, line, member, c.last)
			}
			c.head, c.member = &sub, member
		}
	}
	return nil
}

// streamPopulation reads a population directory (emtmctl generate
// population) member by member: each member's enrollment, diagnoses, claims
// and Parts A/B summaries, in that order, holding one member at a time. Each
// file must list its members in id order (the generator's do). total is the
// records the manifest counts (-1 without one); read and skipped fill as the
// source is read; close closes the files.
func streamPopulation(dir string, stderr io.Writer) (src load.MemberSource, total int, read, skipped map[string]int, closeAll func(), err error) {
	read, skipped = map[string]int{}, map[string]int{}
	var files []*os.File
	closeAll = func() {
		for _, f := range files {
			_ = f.Close()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()
	open := func(name string) (*os.File, error) {
		f, err := os.Open(filepath.Join(dir, name))
		if err == nil {
			files = append(files, f)
		}
		return f, err
	}
	ndjson := func(name, kind string, newMsg func() proto.Message, member func(proto.Message) string) (*cursor, error) {
		f, err := open(name)
		if err != nil {
			return nil, err
		}
		rd := population.NewNDJSONReader(f)
		return &cursor{path: f.Name(), next: func() (int, string, load.Submission, error) {
			line, m, err := rd.Next(newMsg)
			if err != nil {
				return line, "", load.Submission{}, err
			}
			return line, member(m), load.Submission{Kind: kind, Msg: m}, nil
		}}, nil
	}
	var cursors []*cursor
	add := func(c *cursor, err error) error {
		if err != nil {
			return err
		}
		cursors = append(cursors, c)
		return nil
	}
	if err := errors.Join(
		add(ndjson(population.EnrollmentFile, "enrollment", func() proto.Message { return &enrollmentv1.Enrollment{} },
			func(m proto.Message) string { return m.(*enrollmentv1.Enrollment).GetMemberId() })),
		add(ndjson(population.ConditionsFile, "condition", func() proto.Message { return &medicalv1.Condition{} },
			func(m proto.Message) string { return m.(*medicalv1.Condition).GetMemberId() })),
	); err != nil {
		return nil, 0, nil, nil, nil, err
	}
	cf, err := open(population.ClaimsFile)
	if err != nil {
		return nil, 0, nil, nil, nil, err
	}
	crd, err := claimscsv.NewReader(cf)
	if err != nil {
		return nil, 0, nil, nil, nil, fmt.Errorf("%s: %w", cf.Name(), err)
	}
	cursors = append(cursors, &cursor{path: cf.Name(), next: func() (int, string, load.Submission, error) {
		r, err := crd.Next()
		if err != nil {
			return 0, "", load.Submission{}, err
		}
		return r.Line, r.Member(), submissionOf(r), nil
	}})
	if err := add(ndjson(population.MedicalFile, "medical", func() proto.Message { return &medicalv1.PartsAbSummary{} },
		func(m proto.Message) string { return m.(*medicalv1.PartsAbSummary).GetMemberId() })); err != nil {
		return nil, 0, nil, nil, nil, err
	}
	total = -1
	if b, err := os.ReadFile(filepath.Join(dir, population.ManifestFile)); err == nil {
		var m population.Manifest
		if json.Unmarshal(b, &m) == nil {
			total = m.Counts.Records()
		}
	}
	reported := 0
	report := func(path, reason string, err error) {
		read["unreadable"]++
		skipped["unreadable:"+reason]++
		if reported++; reported <= 10 {
			fmt.Fprintf(stderr, "%s: %v\n", path, err)
		} else if reported == 11 {
			fmt.Fprintln(stderr, "... more lines cannot be read: the summary counts them")
		}
	}
	src = func() (string, []load.Submission, error) {
		member := ""
		for _, c := range cursors {
			if err := c.fill(report); err != nil {
				return "", nil, err
			}
			if c.head != nil && (member == "" || c.member < member) {
				member = c.member
			}
		}
		if member == "" {
			return "", nil, io.EOF
		}
		var subs []load.Submission
		for _, c := range cursors {
			for c.head != nil && c.member == member {
				subs = append(subs, *c.head)
				read[c.head.Kind]++
				c.head, c.last = nil, member
				if err := c.fill(report); err != nil {
					return "", nil, err
				}
			}
		}
		return member, subs, nil
	}
	return src, total, read, skipped, closeAll, nil
}
