package consoletest

import (
	"bytes"
	"context"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/emtm/emtm/libs/bus"

	console "github.com/emtm/emtm/services/console/service"
)

// pages are the console's pages as docs/console shows them.
var pages = []struct{ file, path string }{
	{"overview.png", "/"},
	{"claim-journey.png", "/claims/" + url.PathEscape(claimID)},
	{"member.png", "/members/M-0001"},
	{"tasks.png", "/tasks"},
	{"outreach.png", "/outreach"},
	{"payments.png", "/payments"},
	{"operations.png", "/operations"},
}

// TestScreenshotsOfEveryPage takes a full-page screenshot of each page and
// checks it is a picture of a drawn page. With EMTM_SCREENSHOT_DIR set
// (make console-screenshots sets docs/console) it keeps them there.
func TestScreenshotsOfEveryPage(t *testing.T) {
	f := start(t)
	base := f.console(t, console.Config{JaegerURL: f.jaeger})
	dir := os.Getenv("EMTM_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	b := newBrowser(t)
	waitForTrace(t, b, base)
	// The operations page shows a dead letter with its error and Redeliver button.
	if st, err := f.js.Stream(context.Background(), bus.StreamDLQ); err != nil {
		t.Fatal(err)
	} else if st.CachedInfo().State.Msgs == 0 {
		f.deadLetter(t)
	}
	for _, p := range pages {
		b.open(t, base+p.path)
		ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
		img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", p.path, err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(img))
		if err != nil || cfg.Width < 1000 || cfg.Height < 400 {
			t.Fatalf("%s: not a drawn page (%v, %dx%d)", p.path, err, cfg.Width, cfg.Height)
		}
		if err := os.WriteFile(filepath.Join(dir, p.file), img, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
