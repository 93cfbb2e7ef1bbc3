package consoletest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	console "github.com/emtm/emtm/services/console/service"
	"github.com/emtm/emtm/services/emtm/internal/runner"
)

// TestTheWhatIfPageReplaysTheProgramUnderAPolicyTypedIntoIt: the fixture's
// live program gives moderate members a CMR; the what-if page, given the
// built-in sample (CMRs for the high tier only), shows fewer CMRs beside the
// live ones, and a policy that cannot be read is said so on the page.
func TestTheWhatIfPageReplaysTheProgramUnderAPolicyTypedIntoIt(t *testing.T) {
	f := start(t)
	base := f.console(t, console.Config{WhatIf: runner.ConsoleWhatIf(f.conns, 4)})
	sample, err := os.ReadFile(filepath.Join("..", "..", "..", "intervention-scheduling", "internal", "policy", "program.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	b.open(t, base+"/whatif")
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SetValue(`#policy-program`, string(sample)), chromedp.Click(`#whatif-form button`),
		chromedp.WaitVisible(`[data-testid="whatif"]`)); err != nil {
		t.Fatalf("run the what-if: %v", err)
	}
	b.noErrors(t, "the what-if's result")
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[][]string](`[...document.querySelectorAll('[data-testid="whatif"] tbody tr')].map(r => [...r.children].map(c => c.textContent.trim()))`))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, r := range rows {
		if len(r) == 4 {
			got[r[0]] = r[1:]
		}
	}
	cmr := got["interventions CMR"]
	if cmr == nil || !strings.HasPrefix(cmr[2], "-") {
		t.Errorf("CMRs live, what-if, change: %v; want fewer without the moderate tier's (all rows: %v)", cmr, rows)
	}
	if m := got["members MODERATE"]; m == nil || m[0] != m[1] {
		t.Errorf("moderate members %v: the program policy does not change tiers", m)
	}
	if title := b.text(t, "whatif-title"); !strings.Contains(title, "risk-scoring             the live policy") {
		t.Errorf("title: %q", title)
	}
	// A policy that cannot be read: the page names the file's problem.
	if err := chromedp.Do(ctx, chromedp.SetValue(`#policy-program`, "version: 2\n"), chromedp.Click(`#whatif-form button`),
		chromedp.WaitVisible(`[data-testid="whatif-error"]`)); err != nil {
		t.Fatalf("a bad policy: %v", err)
	}
	if msg := b.text(t, "whatif-error"); !strings.Contains(msg, "version 2 is not supported") {
		t.Errorf("a bad policy says %q", msg)
	}
}
