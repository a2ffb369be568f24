package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chromium finds Debian's chromium (or another Chrome), or skips (fails
// under AEWATCH_TEST_REQUIRE_SERVICES=1, where .ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no headless browser: apt-get install chromium"
	if os.Getenv("AEWATCH_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestEvalReportInBrowser: eval --report on NAB's realKnownCause files (or,
// without ../shared or $AEWATCH_TEST_NAB_DIR, a generated corpus) writes one page that a real
// headless browser opens with every figure drawn (two per file) and no
// console error.
func TestEvalReportInBrowser(t *testing.T) {
	browser := chromium(t)
	dir := t.TempDir()
	nab := os.Getenv("AEWATCH_TEST_NAB_DIR")
	if nab == "" {
		nab = filepath.Join("..", "..", "..", "shared", "datasets", "nab")
	}
	data, args := filepath.Join(nab, "data", "realKnownCause"), []string{"--labels", filepath.Join(nab, "labels", "combined_windows.json")}
	files := 7
	if _, err := os.Stat(data); err != nil {
		t.Logf("no NAB at %s: a generated corpus instead", nab)
		gen := filepath.Join(dir, "gen")
		if _, stderr, code := cli(t, "generate", "--rows", "2000", "--variants", "1", "--out", gen); code != 0 {
			t.Fatalf("generate: exit %d: %s", code, stderr)
		}
		data, args = gen, []string{"--labels", filepath.Join(gen, "labels.json")}
		entries, _ := filepath.Glob(filepath.Join(data, "*", "*.csv"))
		files = len(entries)
	}
	report := filepath.Join(dir, "report")
	stdout, stderr, code := cli(t, append([]string{"eval", "--quiet", "--report", report, "--out", filepath.Join(dir, "out")}, append(args, data)...)...)
	if code != 0 {
		t.Fatalf("eval --report: exit %d: %s", code, stderr)
	}
	page := filepath.Join(report, "index.html")
	if !strings.Contains(stdout, "report: "+page) {
		t.Errorf("eval did not name the report: %s", stdout)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(src|href)="(https?:)?//`).Match(html) {
		t.Error("the report refers to the network; it must open offline")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--enable-logging=stderr", "--v=0",
		"--virtual-time-budget=10000", "--dump-dom", "file://"+page)
	var logs strings.Builder
	cmd.Stderr = &logs
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", browser, err, logs.String())
	}
	want := regexp.MustCompile(`id="status">(\d+) of (\d+) figures drawn`).FindStringSubmatch(string(dom))
	if want == nil {
		t.Fatalf("the page's script did not run: no figure count in the DOM\n%s", logs.String())
	}
	if want[1] != want[2] || want[2] != strconv.Itoa(2*files) {
		t.Errorf("%s of %s figures drawn, want %d of %d", want[1], want[2], 2*files, 2*files)
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Uncaught") {
			t.Errorf("console: %s", line)
		}
	}
	t.Logf("%s figures drawn for %d files (%d KB page)", want[1], files, len(html)/1024)
}
