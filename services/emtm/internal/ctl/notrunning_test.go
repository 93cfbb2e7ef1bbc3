package ctl

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/emtm/emtm/services/emtm/internal/population"
)

// Every command that talks to emtm says how to start it when nothing answers
// (here every address is loopback port 1, where nothing listens). A new
// command must be listed here or among the offline ones.
func TestEveryCommandThatTalksToEmtmSaysHowToStartIt(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "claims.csv")
	if err := os.WriteFile(csv, []byte("claim_id,member_id,contract_id,pbp_id,date_of_service,days_supply,prescriber_npi,pharmacy_npi,total\n"+
		"RX-1,M1,S9925,001,2024-01-15,30,1234567893,1245319599,12.50\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pop := filepath.Join(dir, "population")
	if _, err := population.WriteDir(pop, population.Options{Members: 3, Years: 1, FirstYear: 2021, Seed: 1, Contract: "S9925", PBP: "001"}); err != nil {
		t.Fatal(err)
	}
	talks := map[string][]string{
		"audit list":          nil,
		"awaiting":            nil,
		"dlq handle":          {"1", "--note", "n"},
		"dlq list":            nil,
		"dlq redeliver":       {"1"},
		"dlq show":            {"1"},
		"encounters export":   nil,
		"import claims":       {csv},
		"import synthea":      {"../sampledata/synthea-ca-50"},
		"import population":   {pop},
		"import pde":          {"../sampledata/cms-pde-sample/pde-mct-sample.txt"},
		"careplan":            {"M1"},
		"cmr summary":         {"E1", "--pdf", filepath.Join(dir, "summary.pdf")},
		"import eob":          {"../sampledata/bluebutton-eob/eob_search_pt_v2.json"},
		"import ab2d":         {"../sampledata/ab2d-sample/bb2-sandbox-eob-page1.json"},
		"ledger list":         nil,
		"ledger rebuild":      nil,
		"ledger suspense":     nil,
		"ledger sweep":        nil,
		"measures":            {"--year", "2024"},
		"outreach letters":    {"1234567893"},
		"outreach list":       {"1234567893"},
		"outreach respond":    {"OI-1", "accepted"},
		"outreach stats":      nil,
		"outreach sweep":      nil,
		"performance":         {"--plan", "S9925-001", "--year", "2019"},
		"profile":             {"M1"},
		"profiles rebuild":    nil,
		"profiles stats":      nil,
		"rejects handle":      {"rej-1", "--note", "n"},
		"rejects list":        nil,
		"rejects resubmit":    {"rej-1"},
		"rejects show":        {"rej-1"},
		"remittance":          {"--plan", "S9925-001", "--month", "2021-11", "--pharmacy", "1234567893"},
		"reversals held":      nil,
		"statement":           {"--plan", "S9925-001", "--month", "2021-11"},
		"status":              nil,
		"streams ensure":      nil,
		"summary":             nil,
		"tasks complete":      {"task/M1/CMR/2024"},
		"tasks lease":         {"--worker", "w", "--plan", "S9925-001"},
		"tasks list":          nil,
		"tasks overdue":       nil,
		"tasks release":       {"task/M1/CMR/2024", "--worker", "w"},
		"tasks sweep":         nil,
		"whatif":              nil,
		"backfill population": {pop},
		"policy":              {"program"},
	}
	offline := map[string]bool{"certs": true, "check": true, "measures safety": true, "nats-auth": true, "topology": true, "pdc": true,
		"permissions": true, "synthea claims": true, "generate population": true,
		"pde claims": true, "eob claims": true, "ab2d claims": true}
	nowhere := []string{"--nats-url", "nats://127.0.0.1:1"}
	for _, name := range []string{"ingestion", "risk-scoring", "intervention-scheduling", "prescriber-outreach", "payment-reconciliation"} {
		nowhere = append(nowhere, "--"+name+"-addr", "127.0.0.1:1")
	}
	var found []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Runnable() && c.HasParent() {
			found = append(found, strings.TrimPrefix(c.CommandPath(), "emtmctl "))
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(New(func(string) string { return "" }))
	sort.Strings(found)
	for _, name := range found {
		if offline[name] {
			continue
		}
		args, ok := talks[name]
		if !ok {
			t.Errorf("emtmctl %s: not listed; add it to talks (with arguments) or to offline", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel() // the imports retry for 6 s before they give up
			_, err := run(append(append(strings.Fields(name), args...), nowhere...)...)
			if err == nil || !strings.Contains(ErrorText(err), "is emtm running? start it with `make run`") {
				t.Errorf("emtmctl %s with nothing running: %v; want the hint to start emtm", name, err)
			}
			if err != nil && strings.Contains(ErrorText(err), "rpc error:") {
				t.Errorf("emtmctl %s prints gRPC's framing: %s", name, ErrorText(err))
			}
		})
	}
}
