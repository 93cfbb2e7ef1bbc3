// Package consoletest drives the web console in a real headless browser
// (Debian's chromium, through chromedp) against the whole stack with the
// sample population loaded and Jaeger receiving the traces; it also takes
// the screenshots in docs/console (make console-screenshots).
package consoletest
