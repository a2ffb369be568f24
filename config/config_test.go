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

func TestEnvAndSet(t *testing.T) {
	c := Default()
	err := c.FromEnv([]string{"PATH=/bin", "AEWATCH_KAFKA_BROKERS=a:1, b:2", "AEWATCH_INFLUX_TOKEN=s3cret",
		"AEWATCH_DETECTOR_WINDOW_MAX_GAP=90s", "AEWATCH_PIPELINE_MULTIVARIATE=true", "AEWATCH_DETECTOR_SEED=7"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Kafka.Brokers, []string{"a:1", "b:2"}) || c.Influx.Token != "s3cret" ||
		c.Detector.Window.MaxGap.Seconds() != 90 || !c.Pipeline.Multivariate || c.Detector.Seed != 7 {
		t.Fatalf("environment not applied: %+v", c)
	}
	if err := c.Set("detector.model.hidden", "8,2,8"); err != nil || !reflect.DeepEqual(c.Detector.Model.Hidden, []int{8, 2, 8}) {
		t.Fatalf("Set hidden: %v %v", err, c.Detector.Model.Hidden)
	}
	// A list as the YAML file writes it, from --set or the environment.
	if err := c.Set("detector.model.hidden", "[16, 3, 16]"); err != nil || !reflect.DeepEqual(c.Detector.Model.Hidden, []int{16, 3, 16}) {
		t.Fatalf("Set hidden in brackets: %v %v", err, c.Detector.Model.Hidden)
	}
	if err := c.FromEnv([]string{`AEWATCH_KAFKA_TOPICS=["sensors", 'plant']`}); err != nil || !reflect.DeepEqual(c.Kafka.Topics, []string{"sensors", "plant"}) {
		t.Fatalf("topics in brackets, quoted: %v %q", err, c.Kafka.Topics)
	}
	if err := c.Set("detector.context", "[]"); err != nil || len(c.Detector.Context) != 0 {
		t.Fatalf("an empty list: %v %q", err, c.Detector.Context)
	}
	f := func(err error, want string) {
		t.Helper()
		if err == nil || err.Error() != want {
			t.Errorf("got %v, want %q", err, want)
		}
	}
	f(c.FromEnv([]string{"AEWATCH_KAFKA_BROKRS=x"}), "environment: AEWATCH_KAFKA_BROKRS names no configuration key; did you mean AEWATCH_KAFKA_BROKERS?")
	f(c.FromEnv([]string{"AEWATCH_NOTHING_LIKE_IT=x"}), "environment: AEWATCH_NOTHING_LIKE_IT names no configuration key")
	f(c.Set("detectr.kind", "x"), "detectr.kind: no such key; did you mean detector.kind?")
	f(c.FromEnv([]string{"AEWATCH_DETECTOR_SEED=-1"}), `environment AEWATCH_DETECTOR_SEED: detector.seed: not a non-negative integer (got "-1")`)
	f(c.Set("kafka.max_wait", "soon"), `kafka.max_wait: not a duration (got "soon")`)
	f(c.Set("detector.reference.relation_lags", "1, x"), `detector.reference.relation_lags: item 2, "x": not an integer (got "1, x")`)
	f(c.Set("kafka", "x"), "kafka: not a single value")
	f(c.Set("kafka.nope", "x"), "kafka.nope: no such key")
}

func TestKeysCoverEnvNames(t *testing.T) {
	keys := strings.Join(Keys(), " ")
	for _, k := range []string{"kafka.brokers", "kafka.topics", "kafka.group", "kafka.format", "influx.url",
		"influx.token", "influx.org", "influx.bucket", "http.addr", "detector.kind"} {
		if !strings.Contains(" "+keys+" ", " "+k+" ") {
			t.Errorf("key %s missing from Keys()", k)
		}
	}
}
