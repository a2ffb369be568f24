package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// binary is the real aewatch CLI, built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "aewatch-cli-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "aewatch")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cli runs the binary and returns stdout, stderr and the exit code.
func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestGenerateThenEval(t *testing.T) {
	dir := t.TempDir()
	data, out := filepath.Join(dir, "data"), filepath.Join(dir, "out")
	if _, stderr, code := cli(t, "generate", "--rows", "1500", "--variants", "1", "--out", data); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, stderr)
	}
	stdout, stderr, code := cli(t, "eval", "--detector", "persistence", "--seed", "2", "--out", out,
		"--labels", filepath.Join(data, "labels.json"), data)
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"detector persistence seed 2: 28 files, 42000 rows", "NAB (28 files): standard ", "alert vs windows: precision "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "eval: 28/28 files") {
		t.Errorf("no progress on stderr: %q", stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "duty", "duty_spike.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(b), "\n"); lines != 1501 {
		t.Errorf("output has %d lines, want 1501", lines)
	}
	if _, err := os.Stat(filepath.Join(out, "nab_files.csv")); err != nil {
		t.Error(err)
	}
}

func TestEvalErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.csv")
	os.WriteFile(good, []byte("timestamp,value\n2024-03-01 00:00:00,1\n"), 0o644)
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("timestamp,value\n2024-03-01 00:00:00,1\n2024-03-01 00:05:00,x\n"), 0o644)
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("detector:\n  window:\n    stride: 0\n"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"eval", "--out", dir, "--detector", "lstm", good}, 1, `detector.kind: must be one of autoencoder, frozen, persistence, range (got "lstm")`},
		{[]string{"eval", "--out", dir, bad}, 1, bad + `: line 3, column 2 (value): not a number: "x"`},
		{[]string{"eval", "--out", dir, "--config", cfg, good}, 1, "detector.window.stride: must be in [1, window.size=32] (got 0)"},
		{[]string{"eval", good}, 1, "--out DIR and at least one PATH are required"},
		{[]string{"eval", "--out", dir, "--ignore", "value", good}, 1, "no channel columns left after --ignore"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"config", "check", cfg}, 1, "detector.window.stride"},
	} {
		_, stderr, code := cli(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("aewatch %v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
}

func TestConfigCheckExample(t *testing.T) {
	stdout, stderr, code := cli(t, "config", "check", filepath.Join("..", "..", "config", "example.yaml"))
	if code != 0 || !strings.Contains(stdout, "ok") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole demo")
	}
	stdout, stderr, code := cli(t, "demo", "--rows", "2000")
	if code != 0 {
		t.Fatalf("demo: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"embedded Kafka broker", "ALERT  ", "15752 samples scored", "duty-stuck"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	stdout, stderr, code = cli(t, "demo", "--offline")
	if code != 0 || !strings.Contains(stdout, "NAB (28 files)") {
		t.Fatalf("demo --offline: exit %d: %s\n%s", code, stderr, stdout)
	}
}
