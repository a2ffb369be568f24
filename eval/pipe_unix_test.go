//go:build unix

package eval

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDiscoverPipes: a named pipe among a directory's files is refused by
// name rather than opened (which waits for a writer for ever); one named
// on its own (a shell's <(zcat x.csv.gz)) is read once and can then be
// read as often as eval's controls and produce's check read an input; a
// device is refused; a link to a file in a directory is read as the file.
func TestDiscoverPipes(t *testing.T) {
	dir := t.TempDir()
	const csv = "time,v\n2024-01-01T00:00:00Z,1\n2024-01-01T00:01:00Z,2\n"
	os.WriteFile(filepath.Join(dir, "file.csv"), []byte(csv), 0o644)
	if err := os.Symlink(filepath.Join(dir, "file.csv"), filepath.Join(dir, "link.csv")); err != nil {
		t.Fatal(err)
	}
	got, err := Discover([]string{dir})
	if err != nil || len(got) != 2 || got[1].Rel != "link.csv" {
		t.Fatalf("a file and a link to it: %v, %v", got, err)
	}
	pipe := filepath.Join(dir, "pipe.csv")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	if _, err := Discover([]string{dir}); err == nil || !strings.Contains(err.Error(), pipe+": a named pipe, not a file; name it on its own") {
		t.Fatalf("a directory holding a named pipe: %v, want it refused by name", err)
	}
	go func() {
		w, err := os.OpenFile(pipe, os.O_WRONLY, 0)
		if err != nil {
			return // the test fails on what it reads
		}
		w.WriteString(csv)
		w.Close()
	}()
	ins, err := Discover([]string{pipe})
	if err != nil || len(ins) != 1 {
		t.Fatalf("a named pipe on its own: %v, %v", ins, err)
	}
	if _, err := Discover([]string{"/dev/null"}); err == nil || !strings.Contains(err.Error(), "/dev/null: a device, not a file or a pipe") {
		t.Errorf("a device on its own: %v, want it refused (/dev/zero would be read until memory ran out)", err)
	}
	for read := range 2 {
		f, err := ins[0].Read(nil)
		if err != nil || len(f.Times) != 2 || f.Values[1][0] != 2 || f.Series() != "pipe" {
			t.Fatalf("read %d of the pipe: %v, %v", read+1, f, err)
		}
	}
}
