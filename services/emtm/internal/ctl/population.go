package ctl

import (
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

// readPopulation turns a generated directory (or any directory of the same
// four files) into work: each member's enrollment, diagnoses, claims and
// Parts A/B summaries in that order, members in parallel.
func readPopulation(dir string, stderr io.Writer) (load.Work, error) {
	w := load.Work{ByMember: map[string][]load.Submission{}, Read: map[string]int{}, Skipped: map[string]int{}}
	add := func(kind, member string, m proto.Message) {
		w.Read[kind]++
		w.ByMember[member] = append(w.ByMember[member], load.Submission{Kind: kind, Msg: m})
	}
	report := func(file string, bad []*population.LineError) {
		for i, e := range bad {
			if i == 10 {
				fmt.Fprintf(stderr, "... and %d more lines that cannot be read\n", len(bad)-10)
				break
			}
			fmt.Fprintf(stderr, "%s: %v\n", file, e)
		}
		w.Read["unreadable"] += len(bad)
		if len(bad) > 0 {
			w.Skipped["unreadable:NDJSON"] += len(bad)
		}
	}
	ndjson := func(name, kind string, newMsg func() proto.Message, member func(proto.Message) string) error {
		path := filepath.Join(dir, name)
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		bad, err := population.ReadNDJSON(f, newMsg, func(_ int, m proto.Message) error {
			add(kind, member(m), m)
			return nil
		})
		report(path, bad)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	}
	if err := ndjson(population.EnrollmentFile, "enrollment", func() proto.Message { return &enrollmentv1.Enrollment{} },
		func(m proto.Message) string { return m.(*enrollmentv1.Enrollment).GetMemberId() }); err != nil {
		return w, err
	}
	if err := ndjson(population.ConditionsFile, "condition", func() proto.Message { return &medicalv1.Condition{} },
		func(m proto.Message) string { return m.(*medicalv1.Condition).GetMemberId() }); err != nil {
		return w, err
	}
	claims, lineErrs, err := readClaimsCSV(filepath.Join(dir, population.ClaimsFile))
	if err != nil {
		return w, err
	}
	for i, e := range lineErrs {
		if i == 10 {
			fmt.Fprintf(stderr, "... and %d more rows that cannot be read\n", len(lineErrs)-10)
			break
		}
		fmt.Fprintf(stderr, "%s: %v\n", filepath.Join(dir, population.ClaimsFile), e)
	}
	for k, n := range claims.Read {
		w.Read[k] += n
	}
	for k, n := range claims.Skipped {
		w.Skipped[k] += n
	}
	for member, subs := range claims.ByMember {
		w.ByMember[member] = append(w.ByMember[member], subs...)
	}
	if err := ndjson(population.MedicalFile, "medical", func() proto.Message { return &medicalv1.PartsAbSummary{} },
		func(m proto.Message) string { return m.(*medicalv1.PartsAbSummary).GetMemberId() }); err != nil {
		return w, err
	}
	return w, nil
}
