package ctl

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/emtm/emtm/services/risk-scoring/safety"
)

// safetyCmd is `emtmctl measures safety`: the five PQA safety measures from
// three CSV files, exactly as docs/domain.md section 4.3 defines the command.
func safetyCmd() *cobra.Command {
	var claims, members, exclusions, year string
	c := &cobra.Command{
		Use:   "safety --claims FILE --members FILE --exclusions FILE --year Y",
		Short: "PQA safety measures (SUPD, COB, POLY-ACH, POLY-CNS, OHD) from CSV files; prints CSV",
		Long: "Reads claims (" + strings.Join(safety.ClaimColumns, ",") + "), members (" + strings.Join(safety.MemberColumns, ",") + ")\n" +
			"and exclusions (" + strings.Join(safety.ExclusionColumns, ",") + "): a header row, columns in any order.\n" +
			"Prints " + safety.ReportHeader + ", one row per beneficiary and measure whose age and\n" +
			"denominator criteria hold, sorted by beneficiary then measure (docs/domain.md section 4).\n" +
			"Every input is checked first: the first error is printed as FILE:LINE: FIELD: reason, nothing goes to\n" +
			"stdout, and the exit status is 1.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			y, err := safety.ParseYear(year)
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "--year: %v\n", err)
				return ExitError{Code: 1}
			}
			var files []safety.File
			for _, name := range []string{claims, members, exclusions} {
				f, err := os.Open(name)
				if err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s:0: file: %v\n", name, errors.Unwrap(err))
					return ExitError{Code: 1}
				}
				defer f.Close()
				files = append(files, safety.File{Name: name, Data: f})
			}
			in, err := safety.ReadInput(files[0], files[1], files[2])
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				return ExitError{Code: 1}
			}
			return safety.WriteReport(cmd.OutOrStdout(), safety.Report(in, y))
		},
	}
	c.Flags().StringVar(&claims, "claims", "", "claims CSV")
	c.Flags().StringVar(&members, "members", "", "members CSV (beneficiary_id, birth_date)")
	c.Flags().StringVar(&exclusions, "exclusions", "", "exclusions CSV")
	c.Flags().StringVar(&year, "year", "", "measurement year, four digits")
	for _, f := range []string{"claims", "members", "exclusions", "year"} {
		_ = c.MarkFlagRequired(f)
	}
	return c
}
