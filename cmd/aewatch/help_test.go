package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelpOnStdout: `aewatch --help` and every subcommand's --help print
// their usage on stdout and exit 0; a bad flag prints on stderr and exits 2.
func TestHelpOnStdout(t *testing.T) {
	for _, cmd := range [][]string{{"--help"}, {"help"}, {"run", "--help"}, {"replay", "--help"}, {"rebaseline", "--help"},
		{"demo", "--help"}, {"eval", "--help"}, {"produce", "--help"}, {"broker", "--help"}, {"generate", "--help"}, {"inject", "--help"}, {"silence", "--help"},
		{"config", "check", "--help"}, {"eval", "-h"}} {
		stdout, stderr, code := cli(t, cmd...)
		if code != 0 || !strings.Contains(stdout, "usage: aewatch") || stderr != "" {
			t.Errorf("aewatch %s: exit %d, stdout %q, stderr %q", strings.Join(cmd, " "), code, stdout, stderr)
		}
	}
	stdout, stderr, code := cli(t, "eval", "--bogus")
	if code != 2 || stdout != "" || !strings.Contains(stderr, "flag provided but not defined: -bogus") || !strings.Contains(stderr, "usage: aewatch eval") {
		t.Errorf("eval --bogus: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// TestREADMEConfigErrors runs `aewatch config check` on each bad.yaml the
// README shows and compares what it prints with the README's line; the
// example configuration checks ok.
func TestREADMEConfigErrors(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(readme), "```yaml\n# bad.yaml\n")[1:]
	if len(blocks) < 3 {
		t.Fatalf("README shows %d bad.yaml examples, want 3", len(blocks))
	}
	for _, b := range blocks {
		yamlText, rest, _ := strings.Cut(b, "```")
		_, after, ok := strings.Cut(rest, "$ aewatch config check bad.yaml\n")
		if !ok {
			t.Fatalf("no command after the example:\n%s", yamlText)
		}
		want, _, _ := strings.Cut(after, "\n")
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(yamlText), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(binary, "config", "check", "bad.yaml")
		cmd.Dir = dir
		out, _ := cmd.CombinedOutput()
		if got := strings.TrimSpace(string(out)); got != want || cmd.ProcessState.ExitCode() != 1 {
			t.Errorf("config check of\n%s\nprinted %q (exit %d), README says %q", yamlText, got, cmd.ProcessState.ExitCode(), want)
		}
	}
	stdout, stderr, code := cli(t, "config", "check", filepath.Join("..", "..", "config", "example.yaml"))
	if code != 0 || !strings.HasSuffix(strings.TrimSpace(stdout), "example.yaml: ok") {
		t.Errorf("config check of the example: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
