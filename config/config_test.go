package config

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestBadFiles loads every testdata/*.bad.yaml and expects the error its
// first line names ("# want: ...").
func TestBadFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/*.bad.yaml files")
	}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Scan()
		want := strings.TrimPrefix(sc.Text(), "# want: ")
		fh.Close()
		_, err = Load(f)
		if err == nil {
			t.Errorf("%s: loaded without error, want %q", f, want)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), f) {
			t.Errorf("%s: error %q, want it to name the file and contain %q", f, err, want)
		}
	}
}

// TestExampleIsDefault keeps the commented example in step with the
// defaults: loading it must give exactly Default().
func TestExampleIsDefault(t *testing.T) {
	c, err := Load("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("example.yaml differs from the defaults:\n got %+v\nwant %+v", c, Default())
	}
}

func TestEmptyFileIsDefault(t *testing.T) {
	c, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatal("empty config differs from the defaults")
	}
}
