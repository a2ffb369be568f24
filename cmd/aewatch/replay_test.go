package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/internal/testsvc"
	"github.com/aewatch/aewatch/sensorcsv"
	"github.com/aewatch/aewatch/synth"
)

// groupOffsets returns the committed offsets of a group on topic sensors.
func groupOffsets(t *testing.T, brokers, group string) map[int]int64 {
	t.Helper()
	tr := ownTransport()
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(brokers), Transport: tr}
	resp, err := c.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group,
		Topics: map[string][]int{"sensors": {0, 1, 2, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int64{}
	for _, p := range resp.Topics["sensors"] {
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// tail writes the rows of file from event time `from` on to a new file.
func tail(t *testing.T, file string, from time.Time) string {
	t.Helper()
	f, err := sensorcsv.Read(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(strings.Join(f.Header, ",") + "\n")
	for i, row := range f.Rows {
		if f.Times[i] >= from.UnixNano() {
			b.WriteString(strings.Join(row, ",") + "\n")
		}
	}
	p := filepath.Join(t.TempDir(), filepath.Base(file))
	os.WriteFile(p, []byte(b.String()), 0o644)
	return p
}

// replayScores returns a series' points of one run ("" for live points).
func replayScores(t *testing.T, in *testsvc.Influx, series, run string) map[int64]float64 {
	t.Helper()
	return scoresWhere(t, in, `"series" = '`+series+`' AND "run" = '`+run+`'`)
}

func compareToEval(t *testing.T, got map[int64]float64, want map[int64]float64, order []int64, what string) {
	t.Helper()
	if len(got) != len(order)-31 {
		t.Fatalf("%s: %d points, want %d (one per sample from the first full window on)", what, len(got), len(order)-31)
	}
	for i, ts := range order[31:] {
		g, ok := got[ts]
		if !ok || g != want[ts] {
			t.Fatalf("%s: sample %d (time %d): point %v (present %v), eval %v", what, i+31, ts, g, ok, want[ts])
		}
	}
}

// TestReplay: a replay from T writes points tagged with its run whose scores
// equal eval on the file's rows from T on, leaves the live group's offsets
// and a concurrently running service alone, and stays exact when records
// are stamped with append time.
func TestReplay(t *testing.T) {
	influx, brokers := peers(t, 4, "sensors")
	file := testFile(t)
	produceFiles(t, brokers, file)
	live := startRun(t, brokers, influx.URL, "live")
	waitStable(t, "live points", scoreCount(influx))
	before := groupOffsets(t, brokers, "live")

	f, _ := sensorcsv.Read(file, nil)
	from := time.Unix(0, f.Times[len(f.Times)/3]).UTC()
	wantTail, orderTail := evalScores(t, tail(t, file, from))
	_, stderr, code := cli(t, "replay", "--brokers", brokers, "--topics", "sensors", "--influx-url", influx.URL,
		"--influx-bucket", "sensors/autogen", "--from", from.Format(time.RFC3339), "--run", "r1", "--log-format", "text")
	if code != 0 {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}
	series := sensorcsv.SeriesName(file)
	compareToEval(t, replayScores(t, influx, series, "r1"), wantTail, orderTail, "replay r1")
	if after := groupOffsets(t, brokers, "live"); !reflect.DeepEqual(before, after) {
		t.Fatalf("live group offsets changed: %v before, %v after", before, after)
	}
	// The live service is unaffected: its points are still eval's.
	want, order := evalScores(t, file)
	compareToEval(t, replayScores(t, influx, series, ""), want, order, "live points after the replay")
	if resp, err := httpGet(live.http + "/readyz"); err != nil || resp != 200 {
		t.Fatalf("live service not ready after the replay: %v %v", resp, err)
	}
	live.stop(t)

	// Records stamped with append time: replay falls back and stays exact.
	brokers2 := testsvc.Kafka(t, 4, "sensors")
	produceFiles(t, brokers2, "--record-time", "now", file)
	_, stderr, code = cli(t, "replay", "--brokers", brokers2, "--topics", "sensors", "--influx-url", influx.URL,
		"--influx-bucket", "sensors/autogen", "--from", from.Format(time.RFC3339), "--run", "r2", "--log-format", "text")
	if code != 0 {
		t.Fatalf("replay (append time): exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "not stamped with event time") {
		t.Errorf("replay did not say it fell back to scanning:\n%s", stderr)
	}
	compareToEval(t, replayScores(t, influx, series, "r2"), wantTail, orderTail, "replay r2 (append time)")
}

// TestReplayWritesASampleHeldAhead: a series whose last sample is dated
// far ahead (a gap before it, or a clock glitch nothing after it can show)
// has that sample held by its detector; a replay, like eval at the end of
// a file, writes it once its source is done, so the two agree point for
// point.
func TestReplayWritesASampleHeldAhead(t *testing.T) {
	influx, brokers := peers(t, 2, "sensors")
	s, err := synth.Generate("seasonal", "none", 1500, 3)
	if err != nil {
		t.Fatal(err)
	}
	last := len(s.Times) - 1
	s.Times[last] = s.Times[last].Add(100 * s.Times[1].Sub(s.Times[0]))
	file := filepath.Join(t.TempDir(), "held-ahead.csv")
	os.WriteFile(file, s.CSV(), 0o644)
	want, order := evalScores(t, file)
	produceFiles(t, brokers, file)
	_, stderr, code := cli(t, "replay", "--brokers", brokers, "--topics", "sensors", "--influx-url", influx.URL,
		"--influx-bucket", "sensors/autogen", "--from", "earliest", "--run", "r1", "--log-format", "text")
	if code != 0 {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}
	got := replayScores(t, influx, "held-ahead", "r1")
	compareToEval(t, got, want, order, "replay")
	if _, ok := got[order[last]]; !ok {
		t.Fatalf("the last sample, dated ahead, has no point")
	}
}

func TestReplayErrors(t *testing.T) {
	influx, brokers := peers(t, 2, "sensors")
	s, _ := synth.Generate("duty", "none", 1000, 1)
	file := filepath.Join(t.TempDir(), "pump.csv")
	os.WriteFile(file, s.CSV(), 0o644)
	produceFiles(t, brokers, file)
	base := []string{"replay", "--brokers", brokers, "--influx-url", influx.URL, "--influx-bucket", "sensors/autogen"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--topics", "sensors", "--from", "2024-03-02 00:00:00", "--to", "2024-03-01 00:00:00"}, "--from 2024-03-02 00:00:00 is after --to 2024-03-01 00:00:00"},
		{[]string{"--topics", "nosuchtopic", "--from", "earliest"}, `topic "nosuchtopic"`},
		{[]string{"--topics", "sensors", "--from", "2020-01-01T00:00:00Z"}, "is before the oldest retained record (2024-03-01T00:00:00Z)"},
		{[]string{"--topics", "sensors", "--from", "earliest", "--to", "2020-01-01T00:00:00Z"}, "nothing to replay"},
		{[]string{"--topics", "sensors", "--from", "earliest", "--state", "checkpoint"}, "--state checkpoint: not supported yet"},
		{[]string{"--topics", "sensors", "--from", "yesterday"}, `--from: bad timestamp "yesterday"`},
		{[]string{"--topics", "sensors"}, "--from: required"},
		{[]string{"--topics", "sensors", "--from", "earliest", "--speed", "0"}, `--speed: must be max or a number > 0 (got "0")`},
		// A misspelled series replays nothing: an error, not a success.
		{[]string{"--topics", "sensors", "--from", "earliest", "--series", "pmup"}, "nothing replayed (run replay-"},
		{[]string{"--topics", "sensors", "--from", "earliest", "--series", "pmup"}, "no sample of --series pmup in [earliest, "},
	} {
		_, stderr, code := cli(t, append(append([]string{}, base...), c.args...)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("replay %v: exit %d, stderr %q; want an error containing %q", c.args, code, stderr, c.want)
		}
	}
	// One of several patterns that matches nothing is named.
	_, stderr, code := cli(t, append(base, "--topics", "sensors", "--from", "earliest", "--series", "pump,pmup", "--run", "named", "--log-format", "text")...)
	if code != 0 || !strings.Contains(stderr, `no sample of these in the range; misspelled?" series=[pmup]`) || !strings.Contains(stderr, "samples=1000") {
		t.Errorf("replay --series pump,pmup: exit %d, stderr %q; want pmup named and pump's 1000 samples", code, stderr)
	}
	// earliest with --speed paces event time: 1000 one-minute samples at
	// 60000x real time take about a second.
	start := time.Now()
	_, stderr, code = cli(t, append(base, "--topics", "sensors", "--from", "earliest", "--speed", "60000", "--run", "paced")...)
	if code != 0 {
		t.Fatalf("paced replay: %s", stderr)
	}
	if el := time.Since(start); el < 800*time.Millisecond {
		t.Errorf("paced replay took %v, want about 1s of event-time pacing", el)
	}
	if n := influx.Count("sensors", `SELECT count(score) FROM ae_score WHERE "run" = 'paced'`); n != 1000-31 {
		t.Errorf("paced replay wrote %d points, want %d", n, 1000-31)
	}
	// Interrupted (at 60x, the range takes 1000 s), a replay has not done
	// what it was asked: its exit code says so, as its README promises.
	cmd := exec.Command(binary, append(base, "--topics", "sensors", "--from", "earliest", "--speed", "60", "--run", "stopped", "--log-format", "text")...)
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	stop := time.AfterFunc(time.Minute, func() { cmd.Process.Signal(syscall.SIGINT) }) // if no progress line ever shows
	defer stop.Stop()
	lines := bufio.NewScanner(errPipe)
	for lines.Scan() { // interrupted once it is under way, not while it plans
		log.WriteString(lines.Text() + "\n")
		if strings.Contains(lines.Text(), "replay progress") {
			cmd.Process.Signal(syscall.SIGINT)
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 || !strings.Contains(log.String(), "replay (run stopped) interrupted after") {
		t.Errorf("interrupted replay: %v, stderr %q; want a failure saying it was interrupted", err, log.String())
	}
}
