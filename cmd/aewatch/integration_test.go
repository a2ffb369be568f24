package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/internal/testsvc"
	"github.com/aewatch/aewatch/sensorcsv"
	"github.com/aewatch/aewatch/stream/codec"
	"github.com/aewatch/aewatch/synth"
)

// runProc is a running `aewatch run`.
type runProc struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	http   string
}

func startRun(t *testing.T, brokers, influxURL, group string, extra ...string) *runProc {
	t.Helper()
	addr := testsvc.FreeAddr(t)
	args := append([]string{"run", "--brokers", brokers, "--topics", "sensors", "--group", group,
		"--influx-url", influxURL, "--influx-bucket", "sensors/autogen", "--http-addr", addr,
		"--set", "influx.flush_interval=100ms", "--set", "kafka.commit_interval=100ms"}, extra...)
	p := &runProc{cmd: exec.Command(binary, args...), stderr: &bytes.Buffer{}, http: "http://" + addr}
	p.cmd.Stderr = p.stderr
	p.cmd.Env = append(os.Environ(), "AEWATCH_INFLUX_TOKEN="+secretToken)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("aewatch run (group %s) stderr:\n%s", group, p.stderr)
		}
	})
	return p
}

// peers skips in -short mode, else starts the real peers of an integration
// test: an InfluxDB with database sensors and an in-process Kafka broker
// holding topics of the given partition count.
func peers(t *testing.T, partitions int32, topics ...string) (*testsvc.Influx, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	return testsvc.StartInflux(t, "sensors"), testsvc.Kafka(t, partitions, topics...)
}

// fileMessages encodes a single-channel CSV file as the JSON messages
// produce sends, one per row, keyed by series.
func fileMessages(t *testing.T, file string) []kafka.Message {
	t.Helper()
	f, err := sensorcsv.Read(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []kafka.Message
	for k, ts := range f.Times {
		v, _ := codec.EncodeSample("json", sensorcsv.SeriesName(file), []string{"value"}, ts, f.Values[k])
		msgs = append(msgs, kafka.Message{Key: []byte(sensorcsv.SeriesName(file)), Value: v})
	}
	return msgs
}

// secretToken is passed to every run, and urlPassword inside the InfluxDB
// URL of some; neither may appear in a log.
const (
	secretToken = "top-secret-token-42"
	urlPassword = "url-secret-pw-17"
)

// stop sends SIGTERM and requires exit 0 within 10 s and a log without
// the secrets.
func (p *runProc) stop(t *testing.T) {
	t.Helper()
	if err := p.terminate(t); err != nil {
		t.Fatalf("aewatch run exited with %v after SIGTERM; stderr:\n%s", err, p.stderr)
	}
}

// terminate sends SIGTERM, requires an exit within 10 s and a log without
// the secrets, and returns how it exited.
func (p *runProc) terminate(t *testing.T) error {
	t.Helper()
	return p.signalStop(t, syscall.SIGTERM)
}

// signalStop is terminate with another signal.
func (p *runProc) signalStop(t *testing.T, sig os.Signal) error {
	t.Helper()
	p.cmd.Process.Signal(sig)
	exited, err := p.waitExit(10 * time.Second)
	if !exited {
		t.Fatalf("aewatch run did not exit within 10s of %v; stderr:\n%s", sig, p.stderr)
	}
	if strings.Contains(p.stderr.String(), secretToken) {
		t.Fatal("the InfluxDB token appears in the log")
	}
	if strings.Contains(p.stderr.String(), urlPassword) {
		t.Fatal("the password inside influx.url appears in the log")
	}
	return err
}

// waitExit waits up to timeout for the run to exit; if it has not by then,
// it is killed and exited is false.
func (p *runProc) waitExit(timeout time.Duration) (exited bool, err error) {
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err = <-done:
		return true, err
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-done
		return false, nil
	}
}

// scrape returns the lines of the run's /metrics.
func (p *runProc) scrape() ([]string, error) {
	resp, err := http.Get(p.http + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}

// metric returns the sum of the samples of a metric whose labels contain
// match.
func (p *runProc) metric(t *testing.T, name, match string) float64 {
	t.Helper()
	lines, err := p.scrape()
	if err != nil {
		return -1
	}
	sum := 0.0
	for _, line := range lines {
		if !strings.HasPrefix(line, name) || !strings.Contains(line, match) {
			continue
		}
		rest := line[len(name):]
		if rest[0] != ' ' && rest[0] != '{' {
			continue
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		sum += v
	}
	return sum
}

// stableFor is how long a count must stay unchanged for waitStable: a
// loaded CI machine can pause a run's writes for a second or more.
const stableFor = 3 * time.Second

// waitStable waits until count() is positive and unchanged for stableFor.
func waitStable(t *testing.T, what string, count func() int) int {
	t.Helper()
	last, since := -1, time.Now()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		n := count()
		if n != last {
			last, since = n, time.Now()
		} else if n > 0 && time.Since(since) > stableFor {
			return n
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s did not settle within 90s (last %d)", what, last)
	return 0
}

// testFile is a NAB file when the corpus is beside the checkout, else a
// generated one of the same length.
func testFile(t *testing.T) string {
	t.Helper()
	nab := filepath.Join("..", "..", "..", "shared", "datasets", "nab", "data", "realKnownCause", "machine_temperature_system_failure.csv")
	if _, err := os.Stat(nab); err == nil {
		return nab
	}
	t.Logf("NAB not found at %s; using a generated file", nab)
	s, err := synth.Generate("seasonal", "stuck", 22695, 1)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "machine.csv")
	os.WriteFile(p, s.CSV(), 0o644)
	return p
}

// evalScores runs `aewatch eval` on file and returns anomaly_score by
// timestamp (first row of each timestamp) and the timestamps in row order.
func evalScores(t *testing.T, file string) (map[int64]float64, []int64) {
	t.Helper()
	out := t.TempDir()
	if _, stderr, code := cli(t, "eval", "--quiet", "--out", out, file); code != 0 {
		t.Fatalf("eval: %s", stderr)
	}
	f, err := sensorcsv.Read(filepath.Join(out, filepath.Base(file)), []string{"anomaly_score", "alert", "error", "threshold", "alert_kind", "explanation"})
	if err != nil {
		t.Fatal(err)
	}
	col := -1
	for i, h := range f.Header {
		if h == "anomaly_score" {
			col = i
		}
	}
	scores := map[int64]float64{}
	var order []int64
	for i, row := range f.Rows {
		if _, dup := scores[f.Times[i]]; dup {
			continue
		}
		v, _ := strconv.ParseFloat(row[col], 64)
		scores[f.Times[i]] = v
		order = append(order, f.Times[i])
	}
	return scores, order
}

// influxScores returns the ae_score points of one series: score by time.
func influxScores(t *testing.T, in *testsvc.Influx, series string) map[int64]float64 {
	return scoresWhere(t, in, `"series" = '`+series+`'`)
}

// scoresWhere returns score by time of the ae_score points matching where.
func scoresWhere(t *testing.T, in *testsvc.Influx, where string) map[int64]float64 {
	t.Helper()
	out := map[int64]float64{}
	for _, r := range in.Rows("sensors", "SELECT score FROM ae_score WHERE "+where) {
		ts, _ := r["time"].(json.Number).Int64()
		v, _ := r["score"].(json.Number).Float64()
		out[ts] = v
	}
	return out
}

// TestRunMatchesEval: a file produced to Kafka and scored by `aewatch run`
// gives exactly one point per sample from the first full window on, whose
// score equals eval's anomaly_score bit for bit.
func TestRunMatchesEval(t *testing.T) {
	influx, brokers := peers(t, 4, "sensors")
	file := testFile(t)
	produceFiles(t, brokers, file)
	want, order := evalScores(t, file)
	// A password inside the URL (InfluxDB 1.8 without auth ignores it)
	// must not reach the log either.
	withPassword := strings.Replace(influx.URL, "://", "://admin:"+urlPassword+"@", 1)
	run := startRun(t, brokers, withPassword, "g1")
	n := waitStable(t, "ae_score points", scoreCount(influx))
	run.stop(t)
	series := sensorcsv.SeriesName(file)
	got := influxScores(t, influx, series)
	const fill = 31 // window.size - 1: samples before the first full window
	if len(got) != n || n != len(order)-fill {
		t.Fatalf("%d points (%d for %s), want %d: one per sample from the first full window on", n, len(got), series, len(order)-fill)
	}
	for i, ts := range order {
		g, ok := got[ts]
		switch {
		case i < fill && ok:
			t.Fatalf("sample %d (before the first full window) has a point", i)
		case i >= fill && !ok:
			t.Fatalf("sample %d (time %d) has no point", i, ts)
		case ok && math.Float64bits(g) != math.Float64bits(want[ts]):
			t.Fatalf("sample %d: run wrote score %v, eval %v", i, g, want[ts])
		}
	}
	if alerts := influx.Count("sensors", "SELECT count(score) FROM ae_alert"); alerts == 0 {
		t.Error("no ae_alert points")
	}
	requireEvalFields(t, influx, file, "from run")
	t.Logf("%d points identical to eval", n)
}

// TestBadInputChangesNothing interleaves malformed JSON, wrong types,
// missing fields, non-finite values, unknown series and a 2 MB message among
// a good series: the service keeps running, counts each reason, and the good
// points equal eval's.
func TestBadInputChangesNothing(t *testing.T) {
	influx, brokers := peers(t, 2, "sensors", "rejected")
	s, err := synth.Generate("oscillating", "shape", 3000, 2)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "good-vib.csv")
	os.WriteFile(file, s.CSV(), 0o644)
	want, order := evalScores(t, file)
	f, err := sensorcsv.Read(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]string{
		"malformed":      {`{"series":"good-vib","time":1,`, `not json at all`, `{"series":"good-vib","time":1,"value":NaN}`},
		"wrong_type":     {`{"series":"good-vib","time":1,"value":"61.2"}`, `{"series":"good-vib","time":"noon","value":1}`, `{"series":["x"],"time":1,"value":1}`},
		"missing_field":  {`{"time":1,"value":1}`, `{"series":"good-vib","value":1}`, `{"series":"good-vib","time":1}`},
		"unknown_series": {`{"series":"intruder","time":1,"value":1}`},
		"too_large":      {`{"series":"good-vib","time":1,"value":1,"pad":"` + strings.Repeat("x", 2<<20) + `"}`},
		// One sample from 2099 would make every later one out of order, for
		// good; 1677 would be stored as 2261.
		"bad_time": {`{"series":"good-vib","time":"2099-01-01T00:00:00Z","value":1}`, `{"series":"good-vib","time":"1677-01-01T00:00:00Z","value":1}`,
			`{"series":"good-vib","time":9223372036854775807,"value":1}`},
		// Lines InfluxDB refuses: on 2.x they took their whole batch with them.
		"bad_name": {`{"series":"good-vib\\","time":1,"value":1}`, `{"series":"good-vib","time":1,"value":1,"tags":{"time":"x"}}`,
			`{"series":"good-vib","time":1,"value":1,"tags":{"site":"a\\"}}`, `{"series":"good-vib","time":1,"values":{"":1}}`,
			`{"series":"good-vib","time":1,"value":1,"tags":{"k":"` + strings.Repeat("t", 70<<10) + `"}}`}, // a series key over 64 KB
		"channel_limit": {wideMessage(300)},
		// Bad-value marks of transmitters and historians: in a warming-up
		// normaliser one set the series' spread for good.
		"out_of_range": {`{"series":"good-vib","time":1,"value":9.9e37}`, `{"series":"good-vib","time":1,"values":{"value":-3.4e38}}`},
	}
	w := &kafka.Writer{Transport: ownTransport(), Addr: kafka.TCP(brokers), Topic: "sensors", Balancer: &kafka.Hash{}, BatchBytes: 8 << 20, BatchSize: 1, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	var msgs []kafka.Message
	nBad := map[string]int{}
	k, outOfOrder, timeJumps := 0, 0, 0
	for i, ts := range f.Times {
		val, _ := codec.EncodeSample("json", "good-vib", []string{"value"}, ts, f.Values[i])
		msgs = append(msgs, kafka.Message{Key: []byte("good-vib"), Value: val})
		if i%97 == 5 {
			reasons := []string{"malformed", "wrong_type", "missing_field", "unknown_series", "too_large", "bad_time", "bad_name", "channel_limit", "out_of_range"}
			r := reasons[k%len(reasons)]
			if r == "too_large" && nBad[r] > 1 {
				r = "malformed"
			}
			m := bad[r][k%len(bad[r])]
			msgs = append(msgs, kafka.Message{Key: []byte("good-vib"), Value: []byte(m)})
			nBad[r]++
			k++
		}
		if i%250 == 100 { // a well-formed sample from the past: dropped as out of order
			val, _ := codec.EncodeSample("json", "good-vib", []string{"value"}, f.Times[0]-1e9, []float64{1})
			msgs = append(msgs, kafka.Message{Key: []byte("good-vib"), Value: val})
			outOfOrder++
		}
		if i%250 == 180 { // one dated 50 steps ahead (a clock glitch): dropped, not the 50 after it
			val, _ := codec.EncodeSample("json", "good-vib", []string{"value"}, f.Times[i]+50*(f.Times[1]-f.Times[0]), []float64{f.Values[i][0]})
			msgs = append(msgs, kafka.Message{Key: []byte("good-vib"), Value: val})
			timeJumps++
		}
	}
	// A series whose points InfluxDB refuses: their shard (2020's first
	// week) already holds ae_score's score as a string, so each is a field
	// type conflict. They are isolated and dropped, the others' batches go
	// through.
	const refusedSamples = 40
	refusedFrom := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	influx.Exec("CREATE DATABASE sensors")
	resp, err := http.Post(influx.URL+"/write?db=sensors&rp=autogen", "text/plain",
		strings.NewReader(fmt.Sprintf("ae_score,series=elsewhere,channel=value score=\"text\" %d\n", refusedFrom)))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Body.Close(); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("writing the conflicting point: HTTP %d", resp.StatusCode)
	}
	for i := range refusedSamples {
		val := fmt.Sprintf(`{"series":"good-refused","time":%d,"value":%d}`, refusedFrom+int64(i)*1e9, i)
		msgs = append(msgs, kafka.Message{Key: []byte("good-refused"), Value: []byte(val)})
	}
	for len(msgs) > 0 {
		n := min(len(msgs), 500)
		if err := w.WriteMessages(context.Background(), msgs[:n]...); err != nil {
			t.Fatal(err)
		}
		msgs = msgs[n:]
	}
	run := startRun(t, brokers, influx.URL, "g-bad", "--set", "kafka.series=good-*", "--set", "kafka.dead_letter_topic=rejected",
		"--set", "checkpoint.interval=1s")
	waitStable(t, "ae_score points", scoreCount(influx))
	for r, n := range nBad {
		if got := run.metric(t, "aewatch_messages_rejected_total", `reason="`+r+`"`); int(got) != n {
			t.Errorf("rejected %s: /metrics says %v, sent %d (messages %v)", r, got, n, run.metric(t, "aewatch_messages_total", ""))
		}
	}
	if got := run.metric(t, "aewatch_samples_rejected_total", `reason="out_of_order"`); int(got) != outOfOrder {
		t.Errorf("out of order: /metrics says %v, sent %d", got, outOfOrder)
	}
	if got := run.metric(t, "aewatch_samples_rejected_total", `reason="time_jump"`); int(got) != timeJumps {
		t.Errorf("dated ahead: /metrics says %v, sent %d", got, timeJumps)
	}
	if got := run.metric(t, "aewatch_points_rejected_by_influx_total", ""); int(got) != refusedSamples-31 {
		t.Errorf("points InfluxDB refused: /metrics says %v, want the %d of series good-refused", got, refusedSamples-31)
	}
	ends := topicEnds(t, brokers, 2)
	committed := waitCommitted(t, brokers, "g-bad", ends, 10*time.Second)
	if !atEnd(committed, ends) {
		t.Errorf("committed offsets %v, want the partitions' ends %v", committed, ends)
	}
	if resp, err := http.Get(run.http + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/readyz: %v %v", resp, err)
	}
	run.stop(t)
	if n := strings.Count(run.stderr.String(), "not after its series' previous one"); n < 1 || n > 3 {
		t.Errorf("%d log lines for %d out-of-order samples, want 1 to 3 (one per 10 s)", n, outOfOrder)
	}
	got := influxScores(t, influx, "good-vib")
	if len(got) != len(order)-31 {
		t.Fatalf("%d good points, want %d", len(got), len(order)-31)
	}
	for ts, g := range got {
		if math.Float64bits(g) != math.Float64bits(want[ts]) {
			t.Fatalf("time %d: score %v with bad input around, eval %v", ts, g, want[ts])
		}
	}
	// Every rejected message is in the dead-letter topic with its reason.
	dead := map[string]int{}
	for part := range 2 {
		for _, m := range partitionRecords(t, brokers, "rejected", part) {
			for _, h := range m.Headers {
				if h.Key == "aewatch-reason" {
					dead[string(h.Value)]++
				}
			}
		}
	}
	// Points InfluxDB refused go there too.
	wantDead := map[string]int{"influx_refused": refusedSamples - 31}
	for r, n := range nBad {
		wantDead[r] = n
	}
	if !reflect.DeepEqual(dead, wantDead) {
		t.Errorf("dead-letter topic holds %v, want %v", dead, wantDead)
	}
	t.Logf("rejected by reason (all in the dead-letter topic): %v; %d good points identical to eval", nBad, len(got))
}

// wideMessage is a sample of series good-vib with n channels.
func wideMessage(n int) string {
	var b strings.Builder
	b.WriteString(`{"series":"good-vib","time":1,"values":{`)
	for j := range n {
		if j > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"c%d":%d`, j, j)
	}
	b.WriteString("}}")
	return b.String()
}

// TestSigtermLosesNothing stops `aewatch run` with SIGTERM while data is
// still arriving, then starts it again: it exits 0 within 10 s, and since it
// checkpoints every detector on the way out, the restarted service resumes
// exactly: every series' points equal those of eval on its whole file.
func TestSigtermLosesNothing(t *testing.T) {
	influx, brokers := peers(t, 4, "sensors")
	files := writeSeries(t, 3, 8000)
	run := startRun(t, brokers, influx.URL, "g-term")
	producer := exec.Command(binary, append([]string{"produce", "--brokers", brokers, "--topic", "sensors", "--rate", "5000"}, files...)...)
	if err := producer.Start(); err != nil {
		t.Fatal(err)
	}
	defer producer.Process.Kill()
	deadline := time.Now().Add(30 * time.Second)
	for influx.Count("sensors", "SELECT count(score) FROM ae_score") < 4000 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	run.stop(t)
	before := influx.Count("sensors", "SELECT count(score) FROM ae_score")
	if err := producer.Wait(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	if before >= 3*(8000-31) {
		t.Fatalf("all %d points were written before SIGTERM: the test did not stop mid-stream", before)
	}
	run = startRun(t, brokers, influx.URL, "g-term")
	// The count is already high: stability alone could be read before the
	// new run has joined its group and written anything.
	count := scoreCount(influx)
	waitAtLeast(t, 3*(8000-31), 60*time.Second, count)
	waitStable(t, "ae_score points", count)
	run.stop(t)
	for _, file := range files {
		want, order := evalScores(t, file)
		compareToEval(t, influxScores(t, influx, sensorcsv.SeriesName(file)), want, order, file)
	}
	t.Logf("%d points before SIGTERM; after the restart every series equals eval", before)
}

// writeSeries writes n generated series of the given length;
// AEWATCH_TEST_ROWS overrides the length (the full-size runs).
func writeSeries(t *testing.T, n, rows int) []string {
	t.Helper()
	if v, err := strconv.Atoi(os.Getenv("AEWATCH_TEST_ROWS")); err == nil && v > 100 {
		rows = v
	}
	dir := t.TempDir()
	var files []string
	for i := 0; i < n; i++ {
		sig := synth.Signals[i%len(synth.Signals)]
		s, err := synth.Generate(sig, synth.Faults[1+i%(len(synth.Faults)-1)], rows, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "line"+strconv.Itoa(i)+".csv")
		os.WriteFile(p, s.CSV(), 0o644)
		files = append(files, p)
	}
	return files
}

// nabFiles returns NAB's realKnownCause files (four series, 52k samples)
// when the corpus is beside the checkout, else nil.
func nabFiles(t *testing.T) []string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "datasets", "nab", "data", "realKnownCause")
	var out []string
	for _, f := range []string{"ambient_temperature_system_failure.csv", "cpu_utilization_asg_misconfiguration.csv",
		"ec2_request_latency_system_failure.csv", "machine_temperature_system_failure.csv"} {
		p := filepath.Join(dir, f)
		if _, err := os.Stat(p); err != nil {
			t.Logf("NAB not found (%v); using generated series", err)
			return nil
		}
		out = append(out, p)
	}
	return out
}

// expectedPoints is the number of ae_score points the files give: one per
// sample from each series' first full window on.
func expectedPoints(t *testing.T, files []string) int {
	t.Helper()
	n := 0
	for _, f := range files {
		_, order := evalScores(t, f)
		n += len(order) - 31
	}
	return n
}

// TestKill9ChangesNothing kills `aewatch run` with SIGKILL three times at
// random moments while it consumes several series (NAB files when the
// corpus is beside the checkout) from a 4-partition topic,
// restarting it each time: when it is done, every ae_score point (every
// field, the denoised value included) equals that of an uninterrupted
// run, which equals eval.
func TestKill9ChangesNothing(t *testing.T) {
	influx, brokers := peers(t, 4, "sensors")
	files := nabFiles(t)
	if files == nil {
		files = writeSeries(t, 6, 6000)
	}
	produceFiles(t, brokers, files...)
	total := expectedPoints(t, files)
	// The denoiser on: its pending sums and fitted code go through the
	// checkpoints too.
	cfg := filepath.Join(t.TempDir(), "denoise.yaml")
	if err := os.WriteFile(cfg, []byte("detector:\n  denoise:\n    enabled: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	slow := []string{"--config", cfg, "--set", "checkpoint.interval=200ms", "--set", "pipeline.queue_size=200", "--set", "influx.batch_size=500",
		"--set", "kafka.session_timeout=6s"} // brokers refuse less than 6s by default
	kills := 0
	for targets := []int{total / 5, total / 2, total * 4 / 5}; kills < len(targets); kills++ {
		run := startRun(t, brokers, influx.URL, "g-kill", slow...)
		deadline := time.Now().Add(60 * time.Second)
		for influx.Count("sensors", "SELECT count(score) FROM ae_score") < targets[kills] && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		run.cmd.Process.Kill() // SIGKILL: no shutdown path at all
		run.cmd.Wait()
	}
	run := startRun(t, brokers, influx.URL, "g-kill", slow...)
	// The killed members hold their partitions until the session timeout.
	started := time.Now()
	count := scoreCount(influx)
	if got := waitAtLeast(t, total, 60*time.Second, count); got < total {
		run.diagnose(t)
		logMissing(t, influx, files)
		t.Fatalf("after 3 kills the last run stopped at %d of %d points (its stacks and metrics above and below)", got, total)
	}
	t.Logf("the last run wrote the rest in %v", time.Since(started).Round(time.Millisecond))
	waitStable(t, "ae_score points", count)
	run.stop(t)
	for _, file := range files {
		want, order := evalScores(t, file)
		compareToEval(t, influxScores(t, influx, sensorcsv.SeriesName(file)), want, order, file+" after 3 kills")
		requireEvalFields(t, influx, file, "after kills", "--config", cfg)
	}
	t.Logf("3 kills over %d files: all %d points equal an uninterrupted run", len(files), total)
}

// logMissing logs, per file, which samples have no ae_score point: how
// many, and the runs of missing sample indices (a stalled run's shortfall
// says which series and where in it).
func logMissing(t *testing.T, influx *testsvc.Influx, files []string) {
	t.Helper()
	for _, file := range files {
		_, order := evalScores(t, file)
		got := influxScores(t, influx, sensorcsv.SeriesName(file))
		var runs []string
		from := -1 // the first sample of the current run without a point
		for i := 31; i < len(order); i++ {
			if _, ok := got[order[i]]; !ok {
				if from < 0 {
					from = i
				}
				continue
			}
			if from >= 0 {
				runs = append(runs, fmt.Sprintf("%d-%d", from, i-1))
				from = -1
			}
		}
		if from >= 0 {
			runs = append(runs, fmt.Sprintf("%d-%d", from, len(order)-1))
		}
		t.Logf("%s: %d of %d points; samples without one: %v", sensorcsv.SeriesName(file), len(got), len(order)-31, runs)
	}
}

// evalFields are the ae_score fields and the eval columns they equal.
var evalFields = map[string]string{"value": "value", "error": "error", "score": "anomaly_score", "threshold": "threshold",
	"alert": "alert", "reference_score": "reference_score", "alert_score": "alert_score", "drift_score": "drift_score", "drift_alert": "drift_alert",
	"quality_alert": "quality_alert", "silenced": "silenced", "yhat": "yhat", "yhat_lower": "yhat_lower", "yhat_upper": "yhat_upper",
	"z0": "z0", "z1": "z1", "denoised": "denoised"}

// sparseFields are written only where they hold: silenced where true, the
// band where finite (eval writes it empty before scoring, ±Inf where no
// value would reach the threshold).
var sparseFields = map[string]func(eval float64) bool{
	"silenced":   func(v float64) bool { return v == 0 },
	"yhat":       func(v float64) bool { return math.IsNaN(v) },
	"yhat_lower": func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) },
	"yhat_upper": func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) },
	"z0":         func(v float64) bool { return math.IsNaN(v) }, // with output.latent only
	"z1":         func(v float64) bool { return math.IsNaN(v) },
	"denoised":   func(v float64) bool { return math.IsNaN(v) }, // with detector.denoise only, denoise.delay samples late
}

// requireEvalFields checks that every field of every ae_score point of
// file's series equals eval's column for that row (eval run with evalArgs).
func requireEvalFields(t *testing.T, influx *testsvc.Influx, file, context string, evalArgs ...string) {
	t.Helper()
	series := sensorcsv.SeriesName(file)
	rows := influx.Rows("sensors", `SELECT * FROM ae_score WHERE "series" = '`+series+`'`)
	if len(rows) == 0 {
		t.Fatalf("%s: no ae_score points %s", series, context)
	}
	ref := evalRows(t, file, evalArgs...)
	for _, r := range rows {
		ts, _ := r["time"].(json.Number).Int64()
		for f := range evalFields {
			n, ok := r[f].(json.Number)
			w := ref[ts][f]
			if !ok {
				if absent, sparse := sparseFields[f]; !sparse || !absent(w) {
					t.Fatalf("%s time %d: no field %s %s (eval %v)", series, ts, f, context, w)
				}
				continue
			}
			if got, _ := n.Float64(); got != w {
				t.Fatalf("%s time %d field %s: %v %s, eval %v\nrow %v\neval %v", series, ts, f, got, context, w, r, ref[ts])
			}
		}
	}
}

// evalOutput runs eval on file and returns its output and the index of
// each output column.
func evalOutput(t *testing.T, file string, args ...string) (*sensorcsv.File, map[string]int) {
	t.Helper()
	out := t.TempDir()
	if _, stderr, code := cli(t, append(append([]string{"eval", "--quiet", "--out", out}, args...), file)...); code != 0 {
		t.Fatalf("eval: %s", stderr)
	}
	f, err := sensorcsv.Read(filepath.Join(out, filepath.Base(file)), []string{"alert_kind", "explanation"})
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range f.Header {
		col[h] = i
	}
	return f, col
}

// evalRows returns eval's columns for evalFields by time.
func evalRows(t *testing.T, file string, args ...string) map[int64]map[string]float64 {
	t.Helper()
	f, col := evalOutput(t, file, args...)
	res := map[int64]map[string]float64{}
	for i, row := range f.Rows {
		m := map[string]float64{}
		for name, c := range evalFields {
			m[name] = math.NaN() // an empty cell, or no such column
			if at, ok := col[c]; ok && row[at] != "" {
				m[name], _ = strconv.ParseFloat(row[at], 64)
			}
		}
		if _, dup := res[f.Times[i]]; !dup {
			res[f.Times[i]] = m
		}
	}
	return res
}

// produceFiles sends files to topic sensors with `aewatch produce`; extra
// flags may precede the files.
func produceFiles(t *testing.T, brokers string, args ...string) {
	t.Helper()
	if _, stderr, code := cli(t, append([]string{"produce", "--brokers", brokers, "--topic", "sensors"}, args...)...); code != 0 {
		t.Fatalf("produce: %s", stderr)
	}
}

// scoreCount counts the ae_score points InfluxDB holds, for the waits.
func scoreCount(influx *testsvc.Influx) func() int {
	return func() int { return influx.Count("sensors", "SELECT count(score) FROM ae_score") }
}

// waitAtLeast polls count until it reaches n. It gives up once the count
// has not moved for stall (the service is stuck, not slow: on a loaded CI
// machine a run may take minutes where it takes seconds here), and after
// maxWait in all; the caller's checks then say what is missing.
func waitAtLeast(t *testing.T, n int, stall time.Duration, count func() int) int {
	t.Helper()
	start := time.Now()
	got, moved := count(), start
	for got < n && time.Since(moved) < stall && time.Since(start) < maxWait {
		time.Sleep(50 * time.Millisecond)
		if c := count(); c != got {
			got, moved = c, time.Now()
		}
	}
	if got < n {
		t.Logf("have %d of %d after %v (%v without a change)", got, n, time.Since(start).Round(time.Millisecond), time.Since(moved).Round(time.Millisecond))
	}
	return got
}

// maxWait bounds any one wait of waitAtLeast.
const maxWait = 5 * time.Minute

// diagnose logs what a run that fell short was doing: its aewatch metrics
// and, from SIGQUIT, every goroutine's stack (the run ends with it).
func (p *runProc) diagnose(t *testing.T) {
	t.Helper()
	if lines, err := p.scrape(); err == nil {
		var b strings.Builder
		for _, line := range lines {
			if strings.HasPrefix(line, "aewatch_") && !strings.Contains(line, "_bucket{") {
				b.WriteString(line + "\n")
			}
		}
		t.Logf("metrics of the run:\n%s", b.String())
	}
	p.cmd.Process.Signal(syscall.SIGQUIT)
	p.waitExit(10 * time.Second)
}

// httpBody is the body of a GET of url.
func httpBody(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// httpGet returns the status code of a GET.
func httpGet(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestInfluxOutage stops the InfluxDB server mid-stream and starts it again
// on the same data: aewatch holds back (bounded queues, retries), reports
// itself not ready meanwhile, and afterwards no point is missing or
// different. AEWATCH_TEST_OUTAGE sets the outage (default 5s; the issue's
// full-size run uses 30s).
func TestInfluxOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	outage := 5 * time.Second
	if v := os.Getenv("AEWATCH_TEST_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("AEWATCH_TEST_OUTAGE: %v", err)
		}
		outage = d
	}
	influx := testsvc.StartInflux(t, "sensors")
	brokers := testsvc.Kafka(t, 4, "sensors")
	files := writeSeries(t, 3, 8000)
	run := startRun(t, brokers, influx.URL, "g-outage", "--set", "influx.max_backoff=500ms")
	producer := exec.Command(binary, append([]string{"produce", "--brokers", brokers, "--topic", "sensors", "--rate", "3000"}, files...)...)
	if err := producer.Start(); err != nil {
		t.Fatal(err)
	}
	defer producer.Process.Kill()
	for influx.Count("sensors", "SELECT count(score) FROM ae_score") < 3000 {
		time.Sleep(50 * time.Millisecond)
	}
	influx.Stop()
	time.Sleep(outage / 2)
	if code, _ := httpGet(run.http + "/readyz"); code != 503 {
		t.Errorf("/readyz answered %d during the outage, want 503", code)
	}
	if n := run.metric(t, "aewatch_write_retries_total", ""); n < 1 {
		t.Errorf("no write retries counted during the outage")
	}
	rss := run.metric(t, "process_resident_memory_bytes", "")
	time.Sleep(outage / 2)
	influx.Start()
	if err := producer.Wait(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	total := 3 * (8000 - 31)
	deadline := time.Now().Add(90 * time.Second)
	for influx.Count("sensors", "SELECT count(score) FROM ae_score") < total && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if code, _ := httpGet(run.http + "/readyz"); code != 200 {
		t.Errorf("/readyz answered %d after the outage, want 200", code)
	}
	run.stop(t)
	if !strings.Contains(run.stderr.String(), `"msg":"InfluxDB answered"`) {
		t.Errorf("the service's start did not log InfluxDB's answer to its probe")
	}
	for _, file := range files {
		want, order := evalScores(t, file)
		compareToEval(t, influxScores(t, influx, sensorcsv.SeriesName(file)), want, order, file+" after the outage")
	}
	t.Logf("outage of %v: resident memory %.0f MB during it; every point present and equal to eval", outage, rss/1e6)
}

// TestCreateBucketWaitsForInflux: with influx.create_bucket, an InfluxDB
// that does not listen yet when the service starts (started beside it) is
// waited for, with a warning, and the database is created once it
// answers; points then land in it.
func TestCreateBucketWaitsForInflux(t *testing.T) {
	influx, brokers := peers(t, 2, "sensors")
	influx.Stop()
	run := startRun(t, brokers, influx.URL, "g-wait", "--set", "influx.create_bucket=true", "--influx-bucket", "fresh/autogen")
	time.Sleep(2 * time.Second)
	influx.Start()
	produceFiles(t, brokers, writeSeries(t, 1, 200)...)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) { // the database, before counting in it
		if body, err := httpBody(influx.URL + "/query?q=SHOW+DATABASES"); err == nil && strings.Contains(body, `"fresh"`) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for influx.Count("fresh", "SELECT count(score) FROM ae_score") < 200-31 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	run.stop(t)
	if got := influx.Count("fresh", "SELECT count(score) FROM ae_score"); got != 200-31 {
		t.Errorf("%d points in the database created once InfluxDB answered, want %d", got, 200-31)
	}
	for _, want := range []string{"InfluxDB does not answer yet; retrying", `"created":true`} {
		if !strings.Contains(run.stderr.String(), want) {
			t.Errorf("the service's log lacks %q:\n%s", want, run.stderr)
		}
	}
}

// TestHostileInput interleaves random and mutated messages (10k; set
// AEWATCH_TEST_HOSTILE=100000 for the full-size run) with two good series:
// no crash, every message is either scored or counted under a reason, every
// score written is in [0,1], and the good series' points equal eval's.
func TestHostileInput(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	n := 10000
	if v := os.Getenv("AEWATCH_TEST_HOSTILE"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	influx := testsvc.StartInflux(t, "sensors")
	brokers := testsvc.Kafka(t, 4, "sensors")
	var files []string
	var good [][]kafka.Message
	for i, sig := range []string{"oscillating", "duty"} {
		s, _ := synth.Generate(sig, "shape", 4000, uint64(i+3))
		p := filepath.Join(t.TempDir(), "good-"+sig+".csv")
		os.WriteFile(p, s.CSV(), 0o644)
		files = append(files, p)
		good = append(good, fileMessages(t, p))
	}
	rng := rand.New(rand.NewPCG(42, 42))
	hostile := func(i int) kafka.Message {
		src := good[rng.IntN(2)][rng.IntN(4000)].Value
		// Mutations of other series' messages: the good series are isolated
		// by series, whatever the bytes.
		b := []byte(strings.Replace(string(src), `"good-`, `"hostile-`, 1))
		switch rng.IntN(6) {
		case 0: // random bytes
			b = make([]byte, rng.IntN(200))
			for j := range b {
				b[j] = byte(rng.IntN(256))
			}
		case 1: // bit flips
			for k := 0; k < 1+rng.IntN(4); k++ {
				j := rng.IntN(len(b))
				b[j] ^= 1 << rng.IntN(8)
			}
		case 2: // truncation
			b = b[:rng.IntN(len(b))]
		case 3: // spliced garbage
			j := rng.IntN(len(b))
			b = append(append(append([]byte{}, b[:j]...), `,"x":[1,{"y":null}]`...), b[j:]...)
		case 4: // line protocol on a JSON topic, with odd values
			b = []byte(fmt.Sprintf("hostile,tag=%d v=%v %d", i, []string{"NaN", "1e999", "-0", "abc", "3"}[rng.IntN(5)], rng.Int64()))
		case 5: // valid JSON of a hostile series with extreme values
			b = []byte(fmt.Sprintf(`{"series":"hostile-%d","time":%d,"value":%v}`, rng.IntN(20), rng.Int64N(1<<62), []float64{1e308, -1e308, 0, 5e-324}[rng.IntN(4)]))
		}
		return kafka.Message{Key: []byte(fmt.Sprintf("h%d", rng.IntN(50))), Value: b}
	}
	var all []kafka.Message
	gi := [2]int{}
	for len(all) < 8000+n {
		if r := rng.IntN(8000 + n); r < 8000 && (gi[0] < 4000 || gi[1] < 4000) {
			s := rng.IntN(2)
			if gi[s] == 4000 {
				s = 1 - s
			}
			all = append(all, good[s][gi[s]])
			gi[s]++
		} else if len(all)-gi[0]-gi[1] < n {
			all = append(all, hostile(len(all)))
		}
	}
	w := &kafka.Writer{Transport: ownTransport(), Addr: kafka.TCP(brokers), Topic: "sensors", Balancer: &kafka.Hash{}, BatchSize: 1000,
		BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	for i := 0; i < len(all); i += 1000 {
		if err := w.WriteMessages(context.Background(), all[i:min(i+1000, len(all))]...); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	run := startRun(t, brokers, influx.URL, "g-hostile")
	deadline := time.Now().Add(120 * time.Second)
	for run.metric(t, "aewatch_messages_total", "") < float64(len(all)) && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	waitStable(t, "ae_score points", scoreCount(influx))
	consumed := run.metric(t, "aewatch_messages_total", "")
	rejected := run.metric(t, "aewatch_messages_rejected_total", "")
	run.stop(t)
	if int(consumed) != len(all) {
		t.Fatalf("consumed %v messages, sent %d", consumed, len(all))
	}
	if rejected < float64(n)/3 {
		t.Errorf("only %v of %d hostile messages rejected", rejected, n)
	}
	if bad := influx.Count("sensors", "SELECT count(value) FROM ae_score WHERE score < 0 OR score > 1"); bad != 0 {
		t.Errorf("%d points with a score outside [0,1]", bad)
	}
	if missing := influx.Count("sensors", "SELECT count(value) FROM ae_score") - influx.Count("sensors", "SELECT count(score) FROM ae_score"); missing != 0 {
		t.Errorf("%d points without a score (a NaN was dropped)", missing)
	}
	for _, file := range files {
		want, order := evalScores(t, file)
		compareToEval(t, influxScores(t, influx, sensorcsv.SeriesName(file)), want, order, file+" among hostile input")
	}
	t.Logf("%d messages (%d hostile): %v rejected by reason; good series equal eval", len(all), n, rejected)
}

// TestRebalance runs two instances in one group on the same input, stops
// one half-way with SIGTERM and later starts it again: partitions move
// between them with their checkpoints, and every point equals an
// uninterrupted run (eval).
func TestRebalance(t *testing.T) {
	influx, brokers := peers(t, 4, "sensors")
	files := writeSeries(t, 6, 6000)
	total := expectedPoints(t, files)
	opts := []string{"--set", "checkpoint.interval=300ms", "--set", "kafka.session_timeout=6s"}
	a := startRun(t, brokers, influx.URL, "g-reb", opts...)
	b := startRun(t, brokers, influx.URL, "g-reb", opts...)
	producer := exec.Command(binary, append([]string{"produce", "--brokers", brokers, "--topic", "sensors", "--rate", "4000"}, files...)...)
	if err := producer.Start(); err != nil {
		t.Fatal(err)
	}
	defer producer.Process.Kill()
	count := scoreCount(influx)
	waitAtLeast(t, total/2, 60*time.Second, count)
	b.stop(t)
	first := b
	mid := count()
	time.Sleep(2 * time.Second)
	b = startRun(t, brokers, influx.URL, "g-reb", opts...)
	if err := producer.Wait(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	waitAtLeast(t, total, 90*time.Second, count)
	waitStable(t, "ae_score points", count)
	kept := a.metric(t, "aewatch_detectors_kept_total", "")
	restored := a.metric(t, "aewatch_detectors_restored_total", "")
	a.stop(t)
	b.stop(t)
	if mid >= total {
		t.Fatalf("all points were written before the stop: the test did not rebalance mid-stream")
	}
	// The instance that stayed kept the detectors of the partitions it kept
	// through both rebalances and restored only those of the partitions it
	// gained (the 6 series' detectors at most once each, when b left).
	if kept < 1 || restored > 6 {
		t.Errorf("instance a: %v detectors kept across rebalances, %v restored; want some kept and at most the 6 series' restored once", kept, restored)
	}
	// Each generation of instance a kept exactly the partitions it had in
	// the one before (which ones the group assigns is its own business),
	// none after a generation it missed (a join that failed in a
	// rebalance): another member may have gone on with them.
	var prev, cur []string
	var prevGen, curGen int32
	loads := 0
	for _, line := range strings.Split(a.stderr.String(), "\n") {
		var rec struct {
			Msg        string   `json:"msg"`
			Generation int32    `json:"generation"`
			Partitions []string `json:"partitions"`
			Kept       int      `json:"partitions_kept"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		switch rec.Msg {
		case "generation started":
			prev, cur = cur, nil
			prevGen, curGen = curGen, rec.Generation
			for _, p := range rec.Partitions {
				cur = append(cur, strings.Split(p, "@")[0]) // "topic/partition@offset"
			}
		case "checkpoints loaded":
			loads++
			stayed := 0
			for _, p := range cur {
				if slices.Contains(prev, p) && curGen == prevGen+1 {
					stayed++
				}
			}
			if rec.Kept != stayed {
				t.Errorf("instance a kept %d partitions across a rebalance, %d stayed (%v, then %v): %s", rec.Kept, stayed, prev, cur, line)
			}
		}
	}
	for _, file := range files {
		want, order := evalScores(t, file)
		got := influxScores(t, influx, sensorcsv.SeriesName(file))
		if len(got) != len(order)-31 {
			for i, ts := range order {
				if _, ok := got[ts]; !ok && i >= 31 {
					t.Logf("first missing sample after the first window: %d", i)
					break
				}
			}
			for _, p := range []*runProc{a, first, b} {
				for _, line := range strings.Split(p.stderr.String(), "\n") {
					if !strings.Contains(line, `"level":"INFO","msg":"aewatch running"`) {
						t.Log(line)
					}
				}
			}
		}
		compareToEval(t, got, want, order, file+" across rebalances")
	}
	t.Logf("instance stopped at %d of %d points and restarted; the other kept %v detectors and restored %v over %d generations; all points equal eval",
		mid, total, kept, restored, loads)
}

// TestEvictionChangesNothing bounds live detectors below the number of
// series (pipeline.max_series), so idle detectors are parked in the
// checkpoint topic and read back when their series returns: every point
// still equals eval.
func TestEvictionChangesNothing(t *testing.T) {
	// One partition, so that the series arrive in the order produced: with
	// several, one partition's reader may run ahead of the others and the
	// series no longer take turns (evictions then range from 4 to 35).
	influx, brokers := peers(t, 1, "sensors")
	files := writeSeries(t, 6, 3000)
	var msgs [][]kafka.Message
	for _, file := range files {
		msgs = append(msgs, fileMessages(t, file))
	}
	// Blocks of 250 samples per series, round-robin: series go idle and return.
	var all []kafka.Message
	for start := 0; start < 3000; start += 250 {
		for _, m := range msgs {
			all = append(all, m[start:start+250]...)
		}
	}
	w := &kafka.Writer{Transport: ownTransport(), Addr: kafka.TCP(brokers), Topic: "sensors", Balancer: &kafka.Hash{}, BatchSize: 1000,
		BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	if err := w.WriteMessages(context.Background(), all...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	run := startRun(t, brokers, influx.URL, "g-evict", "--set", "pipeline.max_series=4", "--set", "pipeline.workers=2",
		"--set", "influx.flush_interval=20ms")
	total := 6 * (3000 - 31)
	waitAtLeast(t, total, 90*time.Second, scoreCount(influx))
	evicted := run.metric(t, "aewatch_detectors_evicted_total", "")
	live := run.metric(t, "aewatch_live_series", "")
	run.stop(t)
	if evicted < 6 || live > 4 {
		t.Fatalf("evicted %v detectors, %v live at the end: want evictions and at most 4 live", evicted, live)
	}
	for _, file := range files {
		want, order := evalScores(t, file)
		compareToEval(t, influxScores(t, influx, sensorcsv.SeriesName(file)), want, order, file+" with eviction")
	}
	t.Logf("%v evictions with max_series 4 for 6 series; all points equal eval", evicted)
}

// TestKafkaOutage stops the broker mid-stream and starts it again on the
// same address and state: aewatch reports itself not ready, reconnects,
// and every point equals eval afterwards.
func TestKafkaOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	influx := testsvc.StartInflux(t, "sensors")
	kafkaSrv := testsvc.StartKafka(t, 4, "sensors")
	files := writeSeries(t, 4, 6000)
	produceFiles(t, kafkaSrv.Addr, files...)
	total := expectedPoints(t, files)
	run := startRun(t, kafkaSrv.Addr, influx.URL, "g-kout", "--set", "checkpoint.interval=300ms",
		"--set", "kafka.session_timeout=6s", "--set", "pipeline.queue_size=100", "--set", "influx.batch_size=200")
	count := scoreCount(influx)
	waitAtLeast(t, total/4, 60*time.Second, count)
	kafkaSrv.Stop()
	time.Sleep(4 * time.Second)
	ready, _ := httpGet(run.http + "/readyz")
	errs := run.metric(t, "aewatch_kafka_errors_total", "")
	kafkaSrv.Start()
	waitAtLeast(t, total, 90*time.Second, count)
	waitStable(t, "ae_score points", count)
	run.stop(t)
	if ready != 503 || errs < 1 {
		t.Errorf("during the outage: /readyz %d (want 503), kafka errors %v (want > 0)", ready, errs)
	}
	for _, file := range files {
		want, order := evalScores(t, file)
		compareToEval(t, influxScores(t, influx, sensorcsv.SeriesName(file)), want, order, file+" across a broker outage")
	}
	t.Logf("broker down 4s: /readyz %d, %v kafka errors; all %d points equal eval", ready, errs, total)
}

// TestSigtermDuringInfluxOutage: with InfluxDB frozen (SIGSTOP), SIGTERM
// still ends aewatch within the shutdown timeout, with a non-zero exit and
// a log of how many samples were left unwritten; once InfluxDB is back, a
// restart writes every point, equal to eval.
func TestSigtermDuringInfluxOutage(t *testing.T) {
	influx, brokers := peers(t, 4, "sensors")
	files := writeSeries(t, 3, 6000)
	run := startRun(t, brokers, influx.URL, "g-sigterm-outage", "--set", "influx.max_backoff=500ms", "--set", "pipeline.queue_size=512")
	produceFiles(t, brokers, files[:1]...)
	waitAtLeast(t, 1000, 60*time.Second, scoreCount(influx))
	influx.Pause()
	produceFiles(t, brokers, files[1:]...)
	time.Sleep(2 * time.Second) // fetched and scored, stuck in a write
	start := time.Now()
	run.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- run.cmd.Wait() }()
	select {
	case err := <-done:
		took := time.Since(start)
		if err == nil {
			t.Errorf("exit 0 after SIGTERM with samples unwritten, want non-zero")
		}
		if !strings.Contains(run.stderr.String(), "re-delivered") {
			t.Errorf("the log does not say that unwritten samples will be re-delivered:\n%s", run.stderr)
		}
		t.Logf("exited in %v with %v", took.Round(time.Millisecond), err)
	case <-time.After(15 * time.Second):
		run.cmd.Process.Kill()
		t.Fatalf("aewatch run did not exit within 15s of SIGTERM while InfluxDB was frozen; stderr:\n%s", run.stderr)
	}
	influx.Resume()
	again := startRun(t, brokers, influx.URL, "g-sigterm-outage")
	total := 3 * (6000 - 31)
	waitAtLeast(t, total, 90*time.Second, scoreCount(influx))
	again.stop(t)
	for _, file := range files {
		want, order := evalScores(t, file)
		compareToEval(t, influxScores(t, influx, sensorcsv.SeriesName(file)), want, order, file+" after SIGTERM during an outage")
	}
}

// TestMissingDatabaseIsSaid: writing to a database that does not exist is
// an operator's problem: `run` logs it at once with InfluxDB's answer and
// then at a bounded rate, /readyz names it, and `demo` shows it in its
// progress line instead of counting "0/N samples scored" in silence.
func TestMissingDatabaseIsSaid(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	produceFiles(t, brokers, writeSeries(t, 1, 500)...)
	run := startRun(t, brokers, influx.URL, "g-nodb", "--influx-bucket", "nodb/autogen")
	var body string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(run.http + "/readyz")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if body = string(b); resp.StatusCode == 503 && strings.Contains(body, "database not found") {
			break
		}
	}
	if !strings.Contains(body, "database not found") {
		t.Errorf("/readyz says %q, want InfluxDB's answer", body)
	}
	time.Sleep(3 * time.Second)
	run.terminate(t) // exit 1: the samples could not be written
	if n := strings.Count(run.stderr.String(), "no such database"); n != 1 {
		t.Errorf("%d log lines about the missing database in about 5 s, want 1 (then one per 30 s):\n%s", n, run.stderr)
	}

	// The demo, stopped as a user would (Ctrl-C), says why nothing was
	// written and leaves no temporary files behind.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	tmp := t.TempDir()
	demo := exec.CommandContext(ctx, binary, "demo", "--rows", "600", "--influx-url", influx.URL, "--influx-bucket", "nodb/autogen")
	demo.Env = append(os.Environ(), "TMPDIR="+tmp)
	demo.Cancel = func() error { return demo.Process.Signal(os.Interrupt) }
	demo.WaitDelay = 10 * time.Second
	out, _ := demo.CombinedOutput()
	if !strings.Contains(string(out), "InfluxDB refuses the writes") || !strings.Contains(string(out), "database not found") {
		t.Errorf("demo's progress does not say why nothing is written:\n%s", out)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("the demo left %s in its temporary directory after Ctrl-C", left[0].Name())
	}
}

// ownTransport is a kafka-go transport for one test writer or one helper's
// request (whose caller closes its idle connections). The default
// one is shared by the whole process and keeps each address's metadata for
// seconds: a broker of an earlier test whose port a later one reused made a
// writer send to partitions the new broker does not have ("topic partition
// not found", seen once in CI).
func ownTransport() *kafka.Transport { return &kafka.Transport{} }

// topicEnds returns the end offset of each partition of topic sensors.
func topicEnds(t *testing.T, brokers string, partitions int) map[int]int64 {
	t.Helper()
	out := map[int]int64{}
	for p := range partitions {
		conn, err := kafka.DialLeader(context.Background(), "tcp", brokers, "sensors", p)
		if err != nil {
			t.Fatal(err)
		}
		if out[p], err = conn.ReadLastOffset(); err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	return out
}

// TestIdleTopicIsCommitted: after a burst the topic goes quiet; the
// checkpoint round and the commit still run on their interval, so the
// committed offsets reach the end of every partition (lag monitors see 0)
// within two intervals, not when the next message comes.
func TestIdleTopicIsCommitted(t *testing.T) {
	influx, brokers := peers(t, 4, "sensors")
	files := writeSeries(t, 4, 2000)
	run := startRun(t, brokers, influx.URL, "g-idle", "--set", "checkpoint.interval=2s")
	produceFiles(t, brokers, files...)
	waitAtLeast(t, 4*(2000-31), 60*time.Second, scoreCount(influx))
	written := time.Now()
	ends := topicEnds(t, brokers, 4)
	var got map[int]int64
	for time.Since(written) < 2*2*time.Second+time.Second {
		if got = groupOffsets(t, brokers, "g-idle"); reflect.DeepEqual(got, ends) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !reflect.DeepEqual(got, ends) {
		t.Errorf("committed offsets %v %v after the last point was written, want the partitions' ends %v", got, time.Since(written).Round(time.Millisecond), ends)
	}
	run.stop(t)
}

// TestCompressedBatches: producers compress their batches (Telegraf's
// compression_codec, librdkafka's compression.type); a series sent in
// each of Kafka's four codecs is scored exactly as eval scores its file.
func TestCompressedBatches(t *testing.T) {
	influx, brokers := peers(t, 2, "sensors")
	codecs := []kafka.Compression{kafka.Gzip, kafka.Snappy, kafka.Lz4, kafka.Zstd}
	files := writeSeries(t, len(codecs), 300)
	for i, c := range codecs {
		w := &kafka.Writer{Addr: kafka.TCP(brokers), Topic: "sensors", Balancer: &kafka.Hash{}, Compression: c, BatchSize: 100,
			RequiredAcks: kafka.RequireAll}
		if err := w.WriteMessages(context.Background(), fileMessages(t, files[i])...); err != nil {
			t.Fatalf("writing with %s: %v", c, err)
		}
		w.Close()
	}
	run := startRun(t, brokers, influx.URL, "g-compressed")
	const fill = 31 // window.size - 1
	waitAtLeast(t, len(codecs)*(300-fill), 60*time.Second, scoreCount(influx))
	run.stop(t)
	for i, c := range codecs {
		want, order := evalScores(t, files[i])
		got := influxScores(t, influx, sensorcsv.SeriesName(files[i]))
		if len(got) != len(order)-fill {
			t.Errorf("%s: %d points, want %d", c, len(got), len(order)-fill)
			continue
		}
		for ts, g := range got {
			if math.Float64bits(g) != math.Float64bits(want[ts]) {
				t.Errorf("%s: at %d run wrote score %v, eval %v", c, ts, g, want[ts])
				break
			}
		}
	}
}

// TestStuckPipelineIsUnhealthy: with InfluxDB frozen, fetched samples wait
// and nothing is written: after pipeline.stall_timeout /healthz says the
// pipeline is stuck (503), and once writes go through again it is ok.
func TestStuckPipelineIsUnhealthy(t *testing.T) {
	influx, brokers := peers(t, 2, "sensors")
	files := writeSeries(t, 2, 1500)
	run := startRun(t, brokers, influx.URL, "g-stuck", "--set", "pipeline.stall_timeout=2s", "--set", "influx.timeout=1s")
	produceFiles(t, brokers, files[:1]...)
	waitAtLeast(t, 1000, 60*time.Second, scoreCount(influx))
	if code, _ := httpGet(run.http + "/healthz"); code != 200 {
		t.Fatalf("/healthz %d while writing, want 200", code)
	}
	influx.Pause()
	produceFiles(t, brokers, files[1:]...)
	body := waitHealth(t, run, 503, 15*time.Second)
	if !strings.Contains(body, "stuck") {
		t.Errorf("/healthz with InfluxDB frozen: %q, want 503 saying stuck", body)
	}
	influx.Resume()
	if body := waitHealth(t, run, 200, 30*time.Second); body != "ok\n" {
		t.Errorf("/healthz after InfluxDB came back: %q, want ok", body)
	}
	run.stop(t)
}

// waitHealth polls /healthz until it answers code, and returns its body.
func waitHealth(t *testing.T, run *runProc, code int, timeout time.Duration) string {
	t.Helper()
	var body string
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(run.http + "/healthz")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if body = string(b); resp.StatusCode == code {
			return body
		}
	}
	t.Errorf("/healthz did not answer %d within %v (last: %q)", code, timeout, body)
	return body
}

// wideFile writes a CSV of rows samples of 64 correlated channels, one
// per minute from synth.Start.
func wideFile(t *testing.T, rows int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("time")
	for j := range 64 {
		fmt.Fprintf(&b, ",c%02d", j)
	}
	b.WriteString("\n")
	r := rand.New(rand.NewPCG(7, 64))
	for i := range rows {
		b.WriteString(synth.Start.Add(time.Duration(i) * time.Minute).Format(time.RFC3339))
		base := math.Sin(2 * math.Pi * float64(i) / 50)
		for j := range 64 {
			fmt.Fprintf(&b, ",%.4f", 10+float64(j)+base*float64(1+j%5)+0.1*r.NormFloat64())
		}
		b.WriteString("\n")
	}
	file := filepath.Join(t.TempDir(), "wide.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestWideMultivariateCheckpoints: one multivariate series of 64 channels
// has a checkpoint of several MB, over the broker's 1 MiB record limit. It
// is written in chunks: the offsets are committed to the end of the idle
// topic within two checkpoint intervals, the stop is clean, and a restart
// on the rest of the data resumes exactly (every point equals eval's).
func TestWideMultivariateCheckpoints(t *testing.T) {
	influx, brokers := peers(t, 2, "sensors")
	file := wideFile(t, 1200)
	const cut = 700
	head, rest := filepath.Join(t.TempDir(), "wide.csv"), filepath.Join(t.TempDir(), "wide.csv")
	lines := strings.SplitAfter(strings.TrimSuffix(mustRead(t, file), "\n"), "\n")
	os.WriteFile(head, []byte(strings.Join(lines[:1+cut], "")), 0o644)
	os.WriteFile(rest, []byte(lines[0]+strings.Join(lines[1+cut:], "")+"\n"), 0o644)
	_, _, want := multivariateEval(t, file)
	opts := []string{"--set", "pipeline.multivariate=true", "--set", "checkpoint.interval=2s"}
	produceFiles(t, brokers, head)
	run := startRun(t, brokers, influx.URL, "g-wide", opts...)
	count := func() int {
		return influx.Count("sensors", `SELECT count(score) FROM ae_score WHERE "channel" = 'c00'`)
	}
	waitAtLeast(t, cut-31, 60*time.Second, count)
	written := time.Now()
	ends := topicEnds(t, brokers, 2)
	got := waitCommitted(t, brokers, "g-wide", ends, 2*2*time.Second+2*time.Second-time.Since(written))
	if !atEnd(got, ends) {
		t.Errorf("committed %v, want the ends %v within two checkpoint intervals", got, ends)
	}
	run.stop(t)
	produceFiles(t, brokers, rest)
	again := startRun(t, brokers, influx.URL, "g-wide", opts...)
	waitAtLeast(t, 1200-31, 60*time.Second, count)
	again.stop(t)
	sameAsEval(t, scoresWhere(t, influx, `"channel" = 'c00'`), want, 1200-31, "channel c00 after a restart")
}

// TestMultivariateDropoutMatchesEval: a multivariate series whose third
// channel drops out for 40 rows and whose fourth is sent every fourth row
// (a slower tag, held between its readings). produce sends the rows
// without the values they lack; the service scores them on the others,
// bit for bit as eval does, and writes no point for a channel a message
// lacked.
func TestMultivariateDropoutMatchesEval(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	const rows, from, to = 600, 300, 340
	var b strings.Builder
	b.WriteString("time,flow,pressure,temp,level\n")
	r := rand.New(rand.NewPCG(3, 3))
	levelMissing := 0
	for i := range rows {
		base := math.Sin(2 * math.Pi * float64(i) / 60)
		temp := fmt.Sprintf("%.3f", 60+0.2*r.NormFloat64())
		if i >= from && i < to {
			temp = ""
		}
		level := fmt.Sprintf("%.3f", 50+2*base+0.1*r.NormFloat64())
		if i%4 != 0 && i != rows-1 { // a row lacking values waits for the next: the last has them all
			level = ""
			if i >= 31 {
				levelMissing++
			}
		}
		fmt.Fprintf(&b, "%s,%.3f,%.3f,%s,%s\n", synth.Start.Add(time.Duration(i)*time.Minute).Format(time.RFC3339),
			100+5*base+0.3*r.NormFloat64(), 3+0.2*base+0.02*r.NormFloat64(), temp, level)
	}
	file := filepath.Join(t.TempDir(), "pump.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, _, want := multivariateEval(t, file)
	if !strings.Contains(stdout, fmt.Sprintf("missing values filled: %d ", to-from+rows*3/4-1)) || strings.Contains(stdout, " 0 of them held") {
		t.Fatalf("eval: stdout %q", stdout)
	}
	produceFiles(t, brokers, file)
	run := startRun(t, brokers, influx.URL, "g-dropout", "--set", "pipeline.multivariate=true")
	waitAtLeast(t, rows-31, 60*time.Second, func() int {
		return influx.Count("sensors", `SELECT count(score) FROM ae_score WHERE "channel" = 'flow'`)
	})
	run.stop(t)
	sameAsEval(t, scoresWhere(t, influx, `"channel" = 'flow'`), want, rows-31, "flow, a point a row from the first full window")
	if n := influx.Count("sensors", `SELECT count(score) FROM ae_score WHERE "channel" = 'temp'`); n != rows-31-(to-from) {
		t.Errorf("%d points for temp, want %d: none while it was missing", n, rows-31-(to-from))
	}
	if n := influx.Count("sensors", `SELECT count(score) FROM ae_score WHERE "channel" = 'level'`); n != rows-31-levelMissing {
		t.Errorf("%d points for level, want %d: one a reading", n, rows-31-levelMissing)
	}
}

// TestChannelPerMessageMatchesEval: a multivariate series sent one
// channel a message, from its first row on: both at each row's time (a
// gateway publishing each tag as it reads it), or the second stamped 20 s
// after the first on a 1-minute step (each tag stamped when it was read).
// The service widens the series to the channels of its first row, merges
// the messages of each row into one at its first's time, and keeps the
// channel set over a restart (the checkpoint names it, though the first
// message after it carries one channel): the scores are bit for bit
// eval's of the file as the messages have it (whole rows, or a row a
// message at its own time). Before, the series was its first message's
// one channel, and the other's messages were rejected; stamped apart, each
// message was a row of its own, the other channel filled.
func TestChannelPerMessageMatchesEval(t *testing.T) {
	for _, apart := range []time.Duration{0, 20 * time.Second} {
		t.Run(fmt.Sprintf("apart %v", apart), func(t *testing.T) { channelPerMessage(t, apart) })
	}
}

func channelPerMessage(t *testing.T, apart time.Duration) {
	influx, brokers := peers(t, 1, "sensors")
	const rows, cut = 400, 200
	var b strings.Builder
	b.WriteString("time,flow,pressure\n")
	r := rand.New(rand.NewPCG(5, 5))
	var msgs []kafka.Message
	for i := range rows {
		at := synth.Start.Add(time.Duration(i) * time.Minute)
		base := math.Sin(2 * math.Pi * float64(i) / 60)
		flow, pressure := thousandths(100+5*base+0.3*r.NormFloat64()), thousandths(3+0.2*base+0.02*r.NormFloat64())
		if apart == 0 {
			fmt.Fprintf(&b, "%s,%.3f,%.3f\n", at.Format(time.RFC3339), flow, pressure)
		} else {
			fmt.Fprintf(&b, "%s,%.3f,\n%s,,%.3f\n", at.Format(time.RFC3339), flow, at.Add(apart).Format(time.RFC3339), pressure)
		}
		if apart == 0 { // pressure first: not in name order either
			msgs = append(msgs, channelMessage(t, "pressure", at, pressure))
		}
		msgs = append(msgs, channelMessage(t, "flow", at, flow))
		if apart > 0 {
			msgs = append(msgs, channelMessage(t, "pressure", at.Add(apart), pressure))
		}
	}
	file := filepath.Join(t.TempDir(), "pump.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, want := multivariateEval(t, file)
	write := func(msgs []kafka.Message) {
		w := &kafka.Writer{Transport: ownTransport(), Addr: kafka.TCP(brokers), Topic: "sensors", Balancer: &kafka.Hash{}, BatchSize: 1000,
			BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
		if err := w.WriteMessages(context.Background(), msgs...); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
	count := func() int {
		return influx.Count("sensors", `SELECT count(score) FROM ae_score WHERE "channel" = 'pressure'`)
	}
	opts := []string{"--set", "pipeline.multivariate=true", "--set", "checkpoint.interval=1s"}
	write(msgs[:2*cut])
	run := startRun(t, brokers, influx.URL, "g-per-channel", opts...)
	waitAtLeast(t, cut-31, 60*time.Second, count)
	ends := topicEnds(t, brokers, 1)
	waitCommitted(t, brokers, "g-per-channel", ends, 10*time.Second)
	merged := run.metric(t, "aewatch_messages_merged_total", "")
	run.stop(t)
	write(msgs[2*cut:])
	again := startRun(t, brokers, influx.URL, "g-per-channel", opts...)
	waitAtLeast(t, rows-31, 60*time.Second, count)
	merged += again.metric(t, "aewatch_messages_merged_total", "")
	rejected := again.metric(t, "aewatch_samples_rejected_total", `reason="out_of_order"`) + again.metric(t, "aewatch_samples_rejected_total", `reason="channels"`)
	again.stop(t)
	if merged != rows-1 || rejected != 0 {
		t.Errorf("%v messages merged, %v rejected after the restart: want %d (the first row's second message widens the series) and 0", merged, rejected, rows-1)
	}
	sameAsEval(t, scoresWhere(t, influx, `"channel" = 'flow'`), want, rows-31, "flow")
}

// thousandths is v as a file written with three decimals holds it.
func thousandths(v float64) float64 {
	v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'f', 3, 64), 64)
	return v
}

// channelMessage is one channel's value at a time, as produce sends it.
func channelMessage(t *testing.T, channel string, at time.Time, v float64) kafka.Message {
	t.Helper()
	val, ok := codec.EncodeSample("json", "pump", []string{channel}, at.UnixNano(), []float64{v})
	if !ok {
		t.Fatalf("%s at %v: %v encodes as nothing", channel, at, v)
	}
	return kafka.Message{Key: []byte("pump"), Value: val}
}

// multivariateEval runs eval --multivariate on file and returns what it
// printed, its output file and the anomaly score of each time.
func multivariateEval(t *testing.T, file string) (string, *sensorcsv.File, map[int64]float64) {
	t.Helper()
	out := t.TempDir()
	stdout, stderr, code := cli(t, "eval", "--quiet", "--multivariate", "--out", out, file)
	if code != 0 {
		t.Fatalf("eval: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	f, err := sensorcsv.Read(filepath.Join(out, filepath.Base(file)), []string{"alert_kind", "explanation"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]float64{}
	col := slices.Index(f.Header, "anomaly_score")
	for i, row := range f.Rows {
		want[f.Times[i]], _ = strconv.ParseFloat(row[col], 64)
	}
	return stdout, f, want
}

// sameAsEval fails unless got holds n scores, each eval's bit for bit.
func sameAsEval(t *testing.T, got, want map[int64]float64, n int, what string) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%s: %d points, want %d", what, len(got), n)
	}
	for ts, g := range got {
		if math.Float64bits(g) != math.Float64bits(want[ts]) {
			t.Fatalf("%s: time %d: score %v, eval %v", what, ts, g, want[ts])
		}
	}
}

// waitCommitted polls group's committed offsets until they reach ends (or
// within has passed) and returns the last it read.
func waitCommitted(t *testing.T, brokers, group string, ends map[int]int64, within time.Duration) map[int]int64 {
	t.Helper()
	committed := groupOffsets(t, brokers, group)
	for deadline := time.Now().Add(within); !atEnd(committed, ends) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		committed = groupOffsets(t, brokers, group)
	}
	return committed
}

// atEnd reports whether the committed offsets reach each partition's end
// (an empty partition has no commit).
func atEnd(committed, ends map[int]int64) bool {
	for p, end := range ends {
		if end > 0 && committed[p] != end {
			return false
		}
	}
	return true
}

func mustRead(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestEvictionThrashIsSaid: 200 series take turns one sample at a time
// with pipeline.max_series 50, the worst case for eviction: every point
// still equals eval's, a metric counts the detectors read back, and a
// warning (at most one per 10 s) tells the operator the bound thrashes.
func TestEvictionThrashIsSaid(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	const series, rows = 200, 40
	files := writeSeries(t, series, rows)
	var msgs [][]kafka.Message
	for _, file := range files {
		msgs = append(msgs, fileMessages(t, file))
	}
	var all []kafka.Message
	for i := range rows {
		for _, m := range msgs {
			all = append(all, m[i])
		}
	}
	w := &kafka.Writer{Transport: ownTransport(), Addr: kafka.TCP(brokers), Topic: "sensors", Balancer: &kafka.Hash{}, BatchSize: 1000,
		BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll}
	if err := w.WriteMessages(context.Background(), all...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	start := time.Now()
	run := startRun(t, brokers, influx.URL, "g-thrash", "--set", "pipeline.max_series=50", "--set", "pipeline.workers=2",
		"--set", "influx.flush_interval=20ms")
	total := series * (rows - 31)
	waitAtLeast(t, total, 120*time.Second, scoreCount(influx))
	took := time.Since(start)
	readBack := run.metric(t, "aewatch_detectors_read_back_total", "")
	run.stop(t)
	warnings := strings.Count(run.stderr.String(), "pipeline.max_series is below the series in use")
	if readBack < series || warnings < 1 || float64(warnings) > took.Seconds()/10+2 {
		t.Errorf("%v detectors read back, %d warnings in %v: want at least %d read back and one warning per 10 s", readBack, warnings, took.Round(time.Second), series)
	}
	for _, file := range files[:5] {
		want, order := evalScores(t, file)
		compareToEval(t, influxScores(t, influx, sensorcsv.SeriesName(file)), want, order, file+" while eviction thrashes")
	}
	t.Logf("%d samples of %d series with max_series 50 in %v (%.0f samples/s, this machine); %v detectors read back",
		series*rows, series, took.Round(time.Millisecond), float64(series*rows)/took.Seconds(), readBack)
}

// TestRebalanceDuringOutage: InfluxDB freezes while an instance consumes;
// a second instance joins (a rebalance) during the outage. The first one's
// generation cannot write what it fetched: it ends within its drain time,
// leaves nothing committed past what was written, rejoins, and both
// instances consume again once InfluxDB is back: every point equals eval.
func TestRebalanceDuringOutage(t *testing.T) {
	influx, brokers := peers(t, 4, "sensors")
	files := writeSeries(t, 4, 3000)
	total := expectedPoints(t, files)
	opts := []string{"--set", "checkpoint.interval=500ms", "--set", "kafka.session_timeout=6s", "--set", "pipeline.shutdown_timeout=4s",
		"--set", "influx.max_backoff=500ms"}
	a := startRun(t, brokers, influx.URL, "g-reb-out", opts...)
	produceFiles(t, brokers, files[:2]...)
	count := scoreCount(influx)
	waitAtLeast(t, 1000, 60*time.Second, count)
	influx.Pause()
	produceFiles(t, brokers, files[2:]...)
	time.Sleep(time.Second)
	b := startRun(t, brokers, influx.URL, "g-reb-out", opts...)
	time.Sleep(10 * time.Second) // the rebalance, and a's drain timing out
	influx.Resume()
	waitAtLeast(t, total, 90*time.Second, count)
	for _, p := range []*runProc{a, b} {
		if code, _ := httpGet(p.http + "/healthz"); code != 200 {
			t.Errorf("an instance answers /healthz %d after the outage", code)
		}
	}
	a.stop(t)
	b.stop(t)
	if !strings.Contains(a.stderr.String(), "generation ended with samples unwritten; rejoining") {
		t.Errorf("the first instance's generation did not end with samples unwritten: the test did not rebalance during the outage")
	}
	for _, file := range files {
		want, order := evalScores(t, file)
		compareToEval(t, influxScores(t, influx, sensorcsv.SeriesName(file)), want, order, file+" across a rebalance during an outage")
	}
}

// TestHTTPTLSAndToken: the endpoint over TLS with a bearer token from
// AEWATCH_HTTP_TOKEN. `aewatch rebaseline` (and `aewatch silence` and `aewatch feedback`) without the token is refused
// (401, exit 1), with it accepted; a client that does not trust the CA is
// refused; /debug/pprof is not served; the token never reaches the log.
func TestHTTPTLSAndToken(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	dir := t.TempDir()
	caFile, certFile, keyFile := testsvc.WriteCert(t, dir)
	const httpToken = "http-secret-token-99"
	files := writeSeries(t, 1, 500)
	produceFiles(t, brokers, files...)
	addr := testsvc.FreeAddr(t)
	cmd := exec.Command(binary, "run", "--brokers", brokers, "--topics", "sensors", "--group", "g-tls",
		"--influx-url", influx.URL, "--influx-bucket", "sensors/autogen", "--http-addr", addr,
		"--set", "http.tls.cert_file="+certFile, "--set", "http.tls.key_file="+keyFile)
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	cmd.Env = append(os.Environ(), "AEWATCH_HTTP_TOKEN="+httpToken)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	run := &runProc{cmd: cmd, stderr: stderr, http: "https://" + addr}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	waitAtLeast(t, 500-31, 60*time.Second, scoreCount(influx))
	series := sensorcsv.SeriesName(files[0])
	env := func(token string) []string {
		var out []string
		for _, e := range os.Environ() {
			if !strings.HasPrefix(e, "AEWATCH_HTTP_TOKEN=") {
				out = append(out, e)
			}
		}
		if token != "" {
			out = append(out, "AEWATCH_HTTP_TOKEN="+token)
		}
		return out
	}
	operator := func(command, token string, args ...string) (string, int) {
		c := exec.Command(binary, append([]string{command, "--addr", run.http}, args...)...)
		c.Env = env(token)
		out, err := c.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return string(out), code
	}
	rebaseline := func(token string, args ...string) (string, int) { return operator("rebaseline", token, args...) }
	if out, code := rebaseline("", "--ca-file", caFile, series); code != 1 || !strings.Contains(out, "401") {
		t.Errorf("rebaseline without the token: exit %d: %s", code, out)
	}
	if out, code := rebaseline("wrong", "--ca-file", caFile, series); code != 1 || !strings.Contains(out, "401") {
		t.Errorf("rebaseline with a wrong token: exit %d: %s", code, out)
	}
	if out, code := rebaseline(httpToken, series); code != 1 || !strings.Contains(out, "certificate") {
		t.Errorf("rebaseline not trusting the CA: exit %d: %s", code, out)
	}
	if out, code := rebaseline(httpToken, "--ca-file", caFile, series); code != 0 || !strings.Contains(out, "queued") {
		t.Errorf("rebaseline with the token over TLS: exit %d: %s", code, out)
	}
	// Maintenance windows take the same token.
	if out, code := operator("silence", "", "--ca-file", caFile, "--for", "1h", series); code != 1 || !strings.Contains(out, "401") {
		t.Errorf("silence without the token: exit %d: %s", code, out)
	}
	if out, code := operator("silence", httpToken, "--ca-file", caFile, "--for", "1h", series); code != 0 || !strings.Contains(out, `"stored":true`) {
		t.Errorf("silence with the token over TLS: exit %d: %s", code, out)
	}
	// So do verdicts on alerts (queued here: no feedback topic).
	verdict := []string{"--ca-file", caFile, "--at", "2024-03-01T00:00:00Z", "--false-positive", series}
	if out, code := operator("feedback", "", verdict...); code != 1 || !strings.Contains(out, "401") {
		t.Errorf("feedback without the token: exit %d: %s", code, out)
	}
	if out, code := operator("feedback", httpToken, verdict...); code != 0 || !strings.Contains(out, "queued on this instance") {
		t.Errorf("feedback with the token over TLS: exit %d: %s", code, out)
	}
	// A misspelled series or channel is refused, not queued for a sample
	// that never comes.
	verdict[len(verdict)-1] = series + "-typo"
	if out, code := operator("feedback", httpToken, verdict...); code != 1 || !strings.Contains(out, `series "`+series+`-typo": no instance in --addr has seen it`) {
		t.Errorf("feedback for a misspelled series: exit %d: %s", code, out)
	}
	verdict = append(verdict[:len(verdict)-1], "--channel", "valeu", series)
	if out, code := operator("feedback", httpToken, verdict...); code != 1 || !strings.Contains(out, `channel "valeu": no instance in --addr has seen it`) {
		t.Errorf("feedback for a misspelled channel: exit %d: %s", code, out)
	}
	pool := x509.NewCertPool()
	pemCA, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(pemCA)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for path, want := range map[string]int{"/debug/pprof/": 404, "/metrics": 200, "/healthz": 200} {
		resp, err := client.Get(run.http + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s over TLS: %d, want %d", path, resp.StatusCode, want)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if strings.Contains(stderr.String(), httpToken) {
		t.Error("the HTTP token appears in the log")
	}
}

// TestKafkaTLSAndSASL: a broker that speaks only TLS (a CA made here) and
// SCRAM. `produce` (SCRAM-SHA-512), `run` and `replay` (SCRAM-SHA-256)
// connect with the right settings (the password from
// AEWATCH_KAFKA_SASL_PASSWORD) and every point equals eval; with a wrong
// password run says the authentication failed and /readyz names it; the
// password never reaches a log or /metrics.
func TestKafkaTLSAndSASL(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	dir := t.TempDir()
	caFile, certFile, keyFile := testsvc.WriteCert(t, dir)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	const password = "kafka-secret-pw-31"
	brokers := testsvc.KafkaWith(t, 2, []string{"sensors"}, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}}),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "aewatch", password),
		kfake.Superuser("SCRAM-SHA-512", "writer", password+"-512"))
	influx := testsvc.StartInflux(t, "sensors")
	trustedCA := caFile
	env := func(pass string) []string {
		return append(os.Environ(), "AEWATCH_KAFKA_TLS_ENABLED=true", "AEWATCH_KAFKA_TLS_CA_FILE="+trustedCA,
			"AEWATCH_KAFKA_SASL_MECHANISM=scram-sha-256", "AEWATCH_KAFKA_SASL_USERNAME=aewatch", "AEWATCH_KAFKA_SASL_PASSWORD="+pass)
	}
	files := writeSeries(t, 2, 800)
	// The producer logs in with SCRAM-SHA-512 as another user.
	prod := exec.Command(binary, append([]string{"produce", "--brokers", brokers, "--topic", "sensors"}, files...)...)
	prod.Env = append(env(password+"-512"), "AEWATCH_KAFKA_SASL_MECHANISM=scram-sha-512", "AEWATCH_KAFKA_SASL_USERNAME=writer")
	if out, err := prod.CombinedOutput(); err != nil {
		t.Fatalf("produce over TLS and SASL: %v\n%s", err, out)
	}
	// Every secret at once: SASL password, InfluxDB token, HTTP token and a
	// password inside the InfluxDB URL; none may show in a log or /metrics.
	const httpToken = "http-secret-token-77"
	withPassword := strings.Replace(influx.URL, "://", "://admin:"+urlPassword+"@", 1)
	start := func(pass, group string) *runProc {
		addr := testsvc.FreeAddr(t)
		cmd := exec.Command(binary, "run", "--brokers", brokers, "--topics", "sensors", "--group", group,
			"--influx-url", withPassword, "--influx-bucket", "sensors/autogen", "--http-addr", addr)
		cmd.Env = append(env(pass), "AEWATCH_INFLUX_TOKEN="+secretToken, "AEWATCH_HTTP_TOKEN="+httpToken)
		p := &runProc{cmd: cmd, stderr: &bytes.Buffer{}, http: "http://" + addr}
		cmd.Stderr = p.stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
		})
		return p
	}
	run := start(password, "g-secure")
	waitAtLeast(t, 2*(800-31), 60*time.Second, scoreCount(influx))
	lines, _ := run.scrape()
	metrics := strings.Join(lines, "\n")
	run.stop(t)
	for _, file := range files {
		want, order := evalScores(t, file)
		compareToEval(t, influxScores(t, influx, sensorcsv.SeriesName(file)), want, order, file+" over TLS and SASL")
	}
	replay := exec.Command(binary, "replay", "--brokers", brokers, "--topics", "sensors", "--from", "earliest", "--run", "secure",
		"--influx-url", influx.URL, "--influx-bucket", "sensors/autogen", "--log-format", "text")
	replay.Env = env(password)
	replayLog, err := replay.CombinedOutput()
	if err != nil {
		t.Fatalf("replay over TLS and SASL: %v\n%s", err, replayLog)
	}
	for _, file := range files {
		want, order := evalScores(t, file)
		compareToEval(t, replayScores(t, influx, sensorcsv.SeriesName(file), "secure"), want, order, file+" replayed over TLS and SASL")
	}
	for _, secret := range []string{password, secretToken, httpToken, urlPassword} {
		if strings.Contains(metrics+string(replayLog)+run.stderr.String(), secret) {
			t.Errorf("secret %q appears in /metrics or a log", secret)
		}
	}
	bad := start("wrong-password", "g-secure-bad")
	time.Sleep(6 * time.Second)
	code, _ := httpGet(bad.http + "/readyz")
	if resp, err := http.Get(bad.http + "/readyz"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "SASL Authentication") {
			t.Errorf("/readyz with a wrong password says %q, want the broker's answer", body)
		}
	}
	bad.terminate(t)
	log := bad.stderr.String()
	if code != 503 || !strings.Contains(strings.ToLower(log), "authentication") {
		t.Errorf("wrong password: /readyz %d, want 503; the log should say the authentication failed:\n%.3000s", code, log)
	}
	if strings.Contains(run.stderr.String()+log, password) || strings.Contains(log, "wrong-password") {
		t.Error("a SASL password appears in the log")
	}

	// A CA that did not sign the broker's certificate: not ready, and both
	// /readyz and the log say the certificate is not trusted.
	trustedCA, _, _ = testsvc.WriteCert(t, t.TempDir())
	untrusted := start(password, "g-secure-ca")
	time.Sleep(6 * time.Second)
	var readyz string
	if resp, err := http.Get(untrusted.http + "/readyz"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		readyz = fmt.Sprintf("%d %s", resp.StatusCode, body)
	}
	untrusted.terminate(t)
	if !strings.HasPrefix(readyz, "503 ") || !strings.Contains(readyz, "unknown authority") ||
		!strings.Contains(untrusted.stderr.String(), "unknown authority") {
		t.Errorf("broker certificate from an untrusted CA: /readyz %q; the log should say so too:\n%.3000s", readyz, untrusted.stderr.String())
	}

	// produce and replay fail with a clear message too: an untrusted CA
	// (still set), then a wrong password with the right CA.
	for _, c := range []struct {
		name, ca, pass, want string
	}{{"untrusted CA", trustedCA, password, "unknown authority"}, {"wrong password", caFile, "wrong-password", "SASL Authentication failed"}} {
		trustedCA = c.ca
		for _, args := range [][]string{
			{"produce", "--brokers", brokers, "--topic", "sensors", files[0]},
			{"replay", "--brokers", brokers, "--topics", "sensors", "--from", "earliest", "--influx-url", influx.URL, "--influx-bucket", "sensors/autogen"},
		} {
			cmd := exec.Command(binary, args...)
			cmd.Env = env(c.pass)
			done := make(chan struct{})
			var out []byte
			go func() { out, _ = cmd.CombinedOutput(); close(done) }()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Errorf("%s with a %s: still running after 60 s", args[0], c.name)
			}
			if cmd.ProcessState.ExitCode() == 0 || !strings.Contains(string(out), c.want) {
				t.Errorf("%s with a %s: exit %d, want non-zero and %q:\n%.2000s", args[0], c.name, cmd.ProcessState.ExitCode(), c.want, out)
			}
			if strings.Contains(string(out), password) {
				t.Errorf("%s with a %s: the password appears in its output", args[0], c.name)
			}
		}
	}
}

// TestKafkaACLs: with ACLs on, a user allowed the input topic and the
// group but not the checkpoint topic stops with an error that names the
// authorisation failure, instead of retrying for ever.
func TestKafkaACLs(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	allow := func(res kmsg.ACLResourceType, name string, op kmsg.ACLOperation) kfake.ACL {
		return kfake.ACL{Resource: res, Name: name, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true}
	}
	brokers := testsvc.KafkaWith(t, 1, []string{"sensors"}, kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "admin", "admin-pw"),
		kfake.User("PLAIN", "reader", "reader-pw",
			allow(kmsg.ACLResourceTypeTopic, "sensors", kmsg.ACLOperationAll),
			allow(kmsg.ACLResourceTypeGroup, "g-acl", kmsg.ACLOperationAll)),
		kfake.User("PLAIN", "blind", "blind-pw",
			allow(kmsg.ACLResourceTypeTopic, "g-blind-checkpoints", kmsg.ACLOperationAll),
			allow(kmsg.ACLResourceTypeCluster, "kafka-cluster", kmsg.ACLOperationAll),
			allow(kmsg.ACLResourceTypeGroup, "g-blind", kmsg.ACLOperationAll)),
		kfake.User("PLAIN", "nodlq", "nodlq-pw",
			allow(kmsg.ACLResourceTypeTopic, "sensors", kmsg.ACLOperationAll),
			allow(kmsg.ACLResourceTypeTopic, "g-nodlq-checkpoints", kmsg.ACLOperationAll),
			allow(kmsg.ACLResourceTypeGroup, "g-nodlq", kmsg.ACLOperationAll)))
	influx := testsvc.StartInflux(t, "sensors")
	addr := testsvc.FreeAddr(t)
	cmd := exec.Command(binary, "run", "--brokers", brokers, "--topics", "sensors", "--group", "g-acl",
		"--influx-url", influx.URL, "--influx-bucket", "sensors/autogen", "--http-addr", addr)
	cmd.Env = append(os.Environ(), "AEWATCH_KAFKA_SASL_MECHANISM=plain", "AEWATCH_KAFKA_SASL_USERNAME=reader",
		"AEWATCH_KAFKA_SASL_PASSWORD=reader-pw")
	out := &bytes.Buffer{}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Logf("%s", strings.TrimSpace(out.String()[strings.LastIndex(strings.TrimSpace(out.String()), "\n")+1:]))
		if err == nil || !strings.Contains(out.String(), "g-acl-checkpoints") || !strings.Contains(strings.ToLower(out.String()), "authoriz") {
			t.Errorf("exit %v; want an error naming the checkpoint topic's authorisation failure:\n%.3000s", err, out)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("run without rights to the checkpoint topic still runs after 30 s:\n%.3000s", out)
	}
	if strings.Contains(out.String(), "reader-pw") {
		t.Error("the SASL password appears in the log")
	}

	// A user who may not read the input topic: not ready, and /readyz and
	// the log name the topic's authorisation failure.
	addr = testsvc.FreeAddr(t)
	blind := exec.Command(binary, "run", "--brokers", brokers, "--topics", "sensors", "--group", "g-blind",
		"--influx-url", influx.URL, "--influx-bucket", "sensors/autogen", "--http-addr", addr)
	blind.Env = append(os.Environ(), "AEWATCH_KAFKA_SASL_MECHANISM=plain", "AEWATCH_KAFKA_SASL_USERNAME=blind",
		"AEWATCH_KAFKA_SASL_PASSWORD=blind-pw")
	blindOut := &bytes.Buffer{}
	blind.Stderr = blindOut
	if err := blind.Start(); err != nil {
		t.Fatal(err)
	}
	blindDone := make(chan error, 1)
	go func() { blindDone <- blind.Wait() }()
	var readyz string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			readyz = fmt.Sprintf("%d %s", resp.StatusCode, body)
			if strings.Contains(strings.ToLower(readyz), "authoriz") {
				break
			}
		}
		select {
		case err := <-blindDone:
			blindDone <- err
		default:
			continue
		}
		break
	}
	blind.Process.Signal(syscall.SIGTERM)
	select {
	case <-blindDone:
	case <-time.After(20 * time.Second):
		blind.Process.Kill()
		t.Error("run without rights to the input topic did not stop within 20 s of SIGTERM")
	}
	t.Logf("no read right on the input topic: /readyz %q", readyz)
	defer checkNoDeadLetterRight(t, brokers, influx)
	want := `Authorization Failed: the client is not authorized to access the requested topic (user \"blind\" needs to read topics [sensors] and join group \"g-blind\")`
	if !strings.HasPrefix(readyz, "503 degraded: kafka refused access") || !strings.Contains(readyz, strings.ReplaceAll(want, `\"`, `"`)) ||
		!strings.Contains(blindOut.String(), want) {
		t.Errorf("no read right on the input topic: /readyz and the log should name the authorisation failure, the topic and the group; /readyz %q:\n%.3000s", readyz, blindOut)
	}
}

// checkNoDeadLetterRight: a user who may not write the dead-letter topic.
// A malformed message cannot be dead-lettered. The failure names the topic
// and Kafka's refusal, is retried with backoff and logged at a bounded
// rate, not every second. The run still stops on SIGTERM, within its
// shutdown timeout.
func checkNoDeadLetterRight(t *testing.T, brokers string, influx *testsvc.Influx) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(brokers), Topic: "sensors", BatchTimeout: time.Millisecond, RequiredAcks: kafka.RequireAll,
		Transport: &kafka.Transport{SASL: plain.Mechanism{Username: "admin", Password: "admin-pw"}}}
	if err := w.WriteMessages(context.Background(), kafka.Message{Key: []byte("pump1"), Value: []byte("not json")}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	cmd := exec.Command(binary, "run", "--brokers", brokers, "--topics", "sensors", "--group", "g-nodlq",
		"--influx-url", influx.URL, "--influx-bucket", "sensors/autogen", "--set", "kafka.dead_letter_topic=rejects",
		"--set", "pipeline.shutdown_timeout=5s")
	cmd.Env = append(os.Environ(), "AEWATCH_KAFKA_SASL_MECHANISM=plain", "AEWATCH_KAFKA_SASL_USERNAME=nodlq",
		"AEWATCH_KAFKA_SASL_PASSWORD=nodlq-pw")
	out := &bytes.Buffer{}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second)
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Errorf("no write right on the dead-letter topic: not stopped 20 s after SIGTERM")
	}
	log := out.String()
	lines := strings.Count(log, "dead-letter write failed")
	t.Logf("no write right on the dead-letter topic: %d log lines in 10 s", lines)
	if lines == 0 || lines > 2 || !strings.Contains(log, `"topic":"rejects"`) || !strings.Contains(log, "Authorization Failed") {
		t.Errorf("no write right on the dead-letter topic: want one or two lines naming the topic and the refusal, got %d:\n%.3000s", lines, log)
	}
}

// TestHTTPClosesSlowAndIdleClients: a client that never finishes its
// request headers, and a keep-alive connection left idle, are both closed
// by the service after http.read_header_timeout and http.idle_timeout,
// so that such clients cannot hold connections open for good.
func TestHTTPClosesSlowAndIdleClients(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	run := startRun(t, brokers, influx.URL, "g-http-timeouts",
		"--set", "http.read_header_timeout=1s", "--set", "http.idle_timeout=1s")
	addr := strings.TrimPrefix(run.http, "http://")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(run.http + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the endpoint never answered; stderr:\n%s", run.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// closedWithin reports how long the server took to close c, reading
	// (and discarding) whatever it sends first.
	closedWithin := func(c net.Conn, limit time.Duration) time.Duration {
		start := time.Now()
		c.SetReadDeadline(start.Add(limit))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("the connection stayed open for %v: %v", limit, err)
		}
		return time.Since(start)
	}

	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := io.WriteString(slow, "GET /healthz HTTP/1.1\r\nHost: aewatch\r\n"); err != nil { // no blank line: headers never end
		t.Fatal(err)
	}
	took := closedWithin(slow, 10*time.Second)
	t.Logf("unfinished headers: closed after %v", took.Round(10*time.Millisecond))

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if _, err := io.WriteString(idle, "GET /healthz HTTP/1.1\r\nHost: aewatch\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(idle)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	start := time.Now()
	idle.SetReadDeadline(start.Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, br); err != nil {
		t.Fatalf("the idle keep-alive connection stayed open for 10s: %v", err)
	}
	t.Logf("idle keep-alive connection: closed after %v", time.Since(start).Round(10*time.Millisecond))
	run.stop(t)
}

// fetchesTopic reports whether a fetch asks for topic at offset from or
// beyond on every partition it names.
func fetchesTopic(req *kmsg.FetchRequest, topic string, from int64) bool {
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			if rt.Topic != topic || rp.FetchOffset < from {
				return false
			}
		}
	}
	return len(req.Topics) > 0
}

// TestFetchErrorDoesNotStopAPartition: a broker that answers one fetch
// per partition with an error (56, KAFKA_STORAGE_ERROR, as a broker with a
// failing disk does) mid-stream. kafka-go's reader hands such an error to
// the caller once and goes on retrying by itself; the partition must go on
// being read (it stopped for the rest of the generation, silently), every
// point equal eval, and the error logged.
func TestFetchErrorDoesNotStopAPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	influx := testsvc.StartInflux(t, "sensors")
	cluster := testsvc.KafkaCluster(t, 2, []string{"sensors"})
	var failed sync.Map // partitions already answered with the error
	cluster.ControlKey(int16(kmsg.Fetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		req := kreq.(*kmsg.FetchRequest)
		if !fetchesTopic(req, "sensors", 300) || len(req.Topics[0].Partitions) != 1 {
			return nil, nil, false
		}
		if _, done := failed.LoadOrStore(req.Topics[0].Partitions[0].Partition, true); done {
			return nil, nil, false
		}
		return testsvc.FetchError(req, testsvc.KafkaStorageError), nil, true
	})
	brokers := cluster.ListenAddrs()[0]
	files := writeSeries(t, 4, 1500)
	total := expectedPoints(t, files)
	run := startRun(t, brokers, influx.URL, "g-fetch-err")
	// The second half arrives while the readers wait at the end of the
	// first, so the error comes mid-stream.
	produceFiles(t, brokers, files[:2]...)
	count := scoreCount(influx)
	waitAtLeast(t, expectedPoints(t, files[:2]), 60*time.Second, count)
	produceFiles(t, brokers, files[2:]...)
	waitAtLeast(t, total, 60*time.Second, count)
	run.stop(t)
	n := 0
	failed.Range(func(any, any) bool { n++; return true })
	if n == 0 {
		t.Fatal("no fetch was answered with an error: the test tested nothing")
	}
	if !strings.Contains(run.stderr.String(), "fetching a partition failed") {
		t.Errorf("the fetch error was not logged")
	}
	if gens := strings.Count(run.stderr.String(), `"msg":"generation started"`); gens != 1 {
		t.Errorf("%d generations: a fetch error ended the group generation (want 1)", gens)
	}
	for _, file := range files {
		want, order := evalScores(t, file)
		compareToEval(t, influxScores(t, influx, sensorcsv.SeriesName(file)), want, order, file+" across a fetch error")
	}
	t.Logf("%d partitions had a fetch answered with error %d; all %d points equal eval", n, testsvc.KafkaStorageError, total)
}

// TestRestoreBeyondMemoryBound: 40 series each score their first 2,000
// samples; restarted with room for only some detectors' states
// (checkpoint.restore_bytes 1 MiB; 9 of the 40 were left over with
// snapshots of about 35 KB), the rest
// are read from the checkpoint topic as their series return with the
// next 1,000 samples, and every series still equals eval.
func TestRestoreBeyondMemoryBound(t *testing.T) {
	influx, brokers := peers(t, 4, "sensors")
	// Enough series that their checkpoints pass the smallest bound, 1 MiB.
	const n = 40 // a snapshot of 3,000 samples is about 35 KB
	files := writeSeries(t, n, 3000)
	first, second := t.TempDir(), t.TempDir()
	var firstParts, secondParts []string
	for _, file := range files {
		lines := strings.SplitAfter(mustRead(t, file), "\n")
		a, b := filepath.Join(first, filepath.Base(file)), filepath.Join(second, filepath.Base(file))
		os.WriteFile(a, []byte(strings.Join(lines[:2001], "")), 0o644)
		os.WriteFile(b, []byte(lines[0]+strings.Join(lines[2001:], "")), 0o644)
		firstParts, secondParts = append(firstParts, a), append(secondParts, b)
	}
	run := startRun(t, brokers, influx.URL, "g-restore")
	produceFiles(t, brokers, firstParts...)
	count := scoreCount(influx)
	waitAtLeast(t, n*(2000-31), time.Minute, count)
	run.stop(t)
	run = startRun(t, brokers, influx.URL, "g-restore", "--set", "checkpoint.restore_bytes=1048576")
	produceFiles(t, brokers, secondParts...)
	waitAtLeast(t, n*(3000-31), time.Minute, count)
	run.stop(t)
	m := regexp.MustCompile(`stay in the topic until their series returns.*"deferred":(\d+)`).FindStringSubmatch(run.stderr.String())
	if m == nil || m[1] == "0" {
		t.Fatalf("no checkpoint was left in the topic at the restart; stderr:\n%s", run.stderr)
	}
	for _, file := range files {
		want, order := evalScores(t, file)
		compareToEval(t, influxScores(t, influx, sensorcsv.SeriesName(file)), want, order, file+" restored beyond the memory bound")
	}
	t.Logf("%s of %d checkpoints read back as their series returned; every series equals eval", m[1], n)
}

// controlledFile writes a controlled variable pv following its setpoint sp
// through a first-order lag of 20 samples (noise 0.5), the setpoint moving
// among 90-110 about every 300 samples, and pv reading 4 high over its
// last 300 rows.
func controlledFile(t *testing.T, rows int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("time,pv,sp\n")
	r := rand.New(rand.NewPCG(20, 300))
	level, y := 100.0, 100.0
	for i := range rows {
		if r.Float64() < 1.0/300 {
			level = 90 + 5*float64(r.IntN(5))
		}
		y += (level - y) / 20
		pv := y + 0.5*r.NormFloat64()
		if i >= rows-300 {
			pv += 4
		}
		fmt.Fprintf(&b, "%s,%.4f,%.1f\n", synth.Start.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), pv, level)
	}
	file := filepath.Join(t.TempDir(), "loop.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestContextRunMatchesEval: a controlled variable with its setpoint as a
// context channel (detector.context), scored by `aewatch run` and
// restarted from its checkpoint once the relation learns on after its
// period: every point's alert evidence equals eval's bit for bit, the
// offset at the end is alerted, and no alert gives the setpoint a share.
func TestContextRunMatchesEval(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	const rows, cut = 3000, 1700
	file := controlledFile(t, rows)
	head, rest := filepath.Join(t.TempDir(), "loop.csv"), filepath.Join(t.TempDir(), "loop.csv")
	lines := strings.SplitAfter(strings.TrimSuffix(mustRead(t, file), "\n"), "\n")
	os.WriteFile(head, []byte(strings.Join(lines[:1+cut], "")), 0o644)
	os.WriteFile(rest, []byte(lines[0]+strings.Join(lines[1+cut:], "")+"\n"), 0o644)
	out := t.TempDir()
	if _, stderr, code := cli(t, "eval", "--quiet", "--multivariate", "--context", "sp", "--out", out, file); code != 0 {
		t.Fatalf("eval: %s", stderr)
	}
	scored, err := csv.NewReader(strings.NewReader(mustRead(t, filepath.Join(out, "loop.csv")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]float64{}
	col, alertCol := slices.Index(scored[0], "alert_score"), slices.Index(scored[0], "alert")
	alerted := 0
	for i, row := range scored[1:] {
		at, err := time.Parse(time.RFC3339, row[0])
		if err != nil {
			t.Fatal(err)
		}
		want[at.UnixNano()], _ = strconv.ParseFloat(row[col], 64)
		if i >= rows-300+32 && row[alertCol] == "1" {
			alerted++
		}
	}
	if alerted < 250 {
		t.Errorf("eval alerts %d of the offset's last 268 rows, want most", alerted)
	}
	opts := []string{"--set", "pipeline.multivariate=true", "--set", "detector.context=sp", "--set", "checkpoint.interval=1s"}
	count := func() int {
		return influx.Count("sensors", `SELECT count(alert_score) FROM ae_score WHERE "channel" = 'pv'`)
	}
	produceFiles(t, brokers, head)
	run := startRun(t, brokers, influx.URL, "g-context", opts...)
	waitAtLeast(t, cut-31, 60*time.Second, count)
	time.Sleep(2500 * time.Millisecond) // a checkpoint of the state at the cut
	run.stop(t)
	produceFiles(t, brokers, rest)
	again := startRun(t, brokers, influx.URL, "g-context", opts...)
	waitAtLeast(t, rows-31, 60*time.Second, count)
	again.stop(t)
	got := map[int64]float64{}
	for _, r := range influx.Rows("sensors", `SELECT alert_score FROM ae_score WHERE "channel" = 'pv'`) {
		ts, _ := r["time"].(json.Number).Int64()
		got[ts], _ = r["alert_score"].(json.Number).Float64()
	}
	if len(got) != rows-31 {
		t.Fatalf("%d points for channel pv, want %d", len(got), rows-31)
	}
	for ts, g := range got {
		if math.Float64bits(g) != math.Float64bits(want[ts]) {
			t.Fatalf("time %d: alert evidence %v from the service, eval %v", ts, g, want[ts])
		}
	}
	// An alert has a point per channel, with the channel's share of it.
	if n := influx.Count("sensors", `SELECT count(share) FROM ae_alert WHERE "channel" = 'sp' AND share > 0`); n != 0 {
		t.Errorf("%d alert points give the setpoint a share, want none", n)
	}
	if n := influx.Count("sensors", `SELECT count(share) FROM ae_alert WHERE "channel" = 'pv' AND share > 0`); n == 0 {
		t.Error("no alert point gives pv a share")
	}
}

// TestExpiredMessagesAreSaid: while aewatch was down the broker deleted
// messages it had not read (retention shorter than the downtime). kafka-go
// resumes at the log start without a word; the run says so, with the
// partition, the offsets and how many were lost, and counts them.
func TestExpiredMessagesAreSaid(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	msgs := fileMessages(t, writeSeries(t, 1, 1000)[0])
	writeSensors(t, brokers, -1, msgs[:400])
	runUntilCommitted(t, brokers, influx, "g-expired", 400)
	writeSensors(t, brokers, -1, msgs[400:])
	deleteRecordsBefore(t, brokers, "sensors", 0, 650)

	run := startRun(t, brokers, influx.URL, "g-expired", "--set", "checkpoint.interval=2s")
	// The 350 messages from 650 on are scored (less a window's fill if
	// the series starts afresh), the 250 before it lost.
	waitAtLeast(t, 400-31+350-31, 60*time.Second, scoreCount(influx))
	if got := run.metric(t, "aewatch_messages_expired_total", ""); got != 250 {
		t.Errorf("aewatch_messages_expired_total %v, want 250", got)
	}
	if got := run.metric(t, "aewatch_kafka_offset_gaps_total", ""); got != 0 {
		t.Errorf("aewatch_kafka_offset_gaps_total %v, want 0: the expired messages are counted once, as expired", got)
	}
	run.stop(t)
	requireLogLine(t, run, "messages deleted by the broker before they were read", `"partition":0`, `"committed_offset":400`, `"log_start_offset":650`, `"messages_lost":250`)
}

// writeSensors writes msgs to topic sensors through a transport of its own
// (the shared one's metadata may not know a partition added a moment
// ago), all to partition if it is >= 0.
func writeSensors(t *testing.T, brokers string, partition int, msgs []kafka.Message) {
	t.Helper()
	tr := ownTransport()
	defer tr.CloseIdleConnections()
	// Acknowledged (kafka-go's default asks for none): callers act on the
	// offsets at once (deleteRecordsBefore).
	w := &kafka.Writer{Addr: kafka.TCP(brokers), Topic: "sensors", BatchSize: 100, Transport: tr, RequiredAcks: kafka.RequireAll}
	if partition >= 0 {
		w.Balancer = kafka.BalancerFunc(func(kafka.Message, ...int) int { return partition })
	}
	defer w.Close()
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

// runUntilCommitted runs the service in group until the n messages on
// partition 0 of sensors are scored and committed, then stops it.
func runUntilCommitted(t *testing.T, brokers string, influx *testsvc.Influx, group string, n int) {
	t.Helper()
	run := startRun(t, brokers, influx.URL, group, "--set", "checkpoint.interval=2s")
	waitAtLeast(t, n-31, 60*time.Second, scoreCount(influx))
	for deadline := time.Now().Add(20 * time.Second); groupOffsets(t, brokers, group)[0] != int64(n); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("committed offset %d, want %d", groupOffsets(t, brokers, group)[0], n)
		}
	}
	run.stop(t)
}

// deleteRecordsBefore deletes a partition's records before offset, as a
// topic's retention does (kafka-go has no DeleteRecords).
func deleteRecordsBefore(t *testing.T, brokers, topic string, partition int32, offset int64) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = partition, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil || rp.LowWatermark != offset {
				t.Fatalf("deleting %s/%d before %d: %v (log start %d)", topic, rp.Partition, offset, err, rp.LowWatermark)
			}
		}
	}
}

// TestHangupStopsCleanly: a hangup (the terminal or SSH session that
// started the run closing, or a service manager's reload) stops the run as
// SIGTERM does: exit 0, everything scored and committed. It used to end
// the process at once (the signal's default action), with exit status
// "signal: hangup" and the last samples fetched but not committed.
func TestHangupStopsCleanly(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	writeSensors(t, brokers, -1, fileMessages(t, writeSeries(t, 1, 600)[0]))
	run := startRun(t, brokers, influx.URL, "g-hangup")
	waitAtLeast(t, 600-31, 60*time.Second, scoreCount(influx))
	if err := run.signalStop(t, syscall.SIGHUP); err != nil {
		t.Fatalf("aewatch run exited with %v after SIGHUP; stderr:\n%s", err, run.stderr)
	}
	if got := groupOffsets(t, brokers, "g-hangup")[0]; got != 600 {
		t.Fatalf("committed offset %d after SIGHUP, want 600", got)
	}
}

// TestRecreatedTopicIsRead: an operator deletes the input topic and
// creates it again (to change its partitions, or to clear it), and the
// producers go on. The new topic's offsets start again from 0, below the
// group's committed offset and the series' checkpoints: the run must read
// and score the new messages, not wait for the old offsets nor skip the
// new ones as already in the checkpoints.
func TestRecreatedTopicIsRead(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	msgs := fileMessages(t, writeSeries(t, 1, 1000)[0])
	writeSensors(t, brokers, -1, msgs[:600])
	runUntilCommitted(t, brokers, influx, "g-recreated", 600)

	tr := ownTransport()
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(brokers), Transport: tr}
	if _, err := cl.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: []string{"sensors"}}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := cl.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: "sensors", NumPartitions: 1, ReplicationFactor: 1}}})
		if err == nil && resp.Errors["sensors"] == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("creating the topic again: %v %v", err, resp)
		}
	}
	writeSensors(t, brokers, -1, msgs[600:])

	run := startRun(t, brokers, influx.URL, "g-recreated", "--set", "checkpoint.interval=2s")
	got := waitAtLeast(t, 1000-31, 30*time.Second, scoreCount(influx))
	run.stop(t)
	if got != 1000-31 {
		t.Errorf("%d points after the topic was created again, want %d (the 400 new messages scored)", got, 1000-31)
	}
	requireLogLine(t, run, "checkpoint reflects an offset past its partition's end", `"partition":0`, `"checkpoint_offset":599`, `"partition_end":400`)
}

// TestCommittedPastEndIsRead: a group's committed offset lies past its
// partition's end (a broker that kept the offsets of a topic created
// again, or a truncated log). kafka-go's reader would wait for those
// offsets to come back; the run says so and reads from kafka.start_offset.
func TestCommittedPastEndIsRead(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	writeSensors(t, brokers, -1, fileMessages(t, writeSeries(t, 1, 300)[0]))
	tr := ownTransport()
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(brokers), Transport: tr}
	resp, err := cl.OffsetCommit(context.Background(), &kafka.OffsetCommitRequest{GroupID: "g-past", GenerationID: -1,
		Topics: map[string][]kafka.OffsetCommit{"sensors": {{Partition: 0, Offset: 5000}}}})
	if err != nil || resp.Topics["sensors"][0].Error != nil {
		t.Fatalf("committing offset 5000: %v %+v", err, resp)
	}
	run := startRun(t, brokers, influx.URL, "g-past")
	got := waitAtLeast(t, 300-31, 30*time.Second, scoreCount(influx))
	run.stop(t)
	if got != 300-31 {
		t.Errorf("%d points, want %d", got, 300-31)
	}
	requireLogLine(t, run, "committed offset past the partition's end", `"partition":0`, `"committed_offset":5000`, `"partition_end":300`, `"start_offset":"earliest"`)
}

// requireLogLine requires a line of the run's log that holds msg and each
// of fields.
func requireLogLine(t *testing.T, run *runProc, msg string, fields ...string) {
	t.Helper()
	for _, line := range strings.Split(run.stderr.String(), "\n") {
		if strings.Contains(line, msg) {
			for _, f := range fields {
				if !strings.Contains(line, f) {
					t.Errorf("the log line lacks %s: %s", f, line)
				}
			}
			return
		}
	}
	t.Errorf("no log line says %q:\n%s", msg, run.stderr)
}

// TestAddedPartitionsAreRead: an operator adds partitions to the input
// topic while the service runs (kafka-topics --alter --partitions), and
// producers' keys move some series there. The group rebalances on its own
// and the new partitions are read: before, nothing consumed them until
// some member joined or left.
func TestAddedPartitionsAreRead(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	files := writeSeries(t, 2, 300)
	run := startRun(t, brokers, influx.URL, "g-grown")
	writeSensors(t, brokers, 0, fileMessages(t, files[0]))
	waitAtLeast(t, 300-31, 60*time.Second, scoreCount(influx))
	tr := ownTransport()
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(brokers), Transport: tr}
	resp, err := cl.CreatePartitions(context.Background(), &kafka.CreatePartitionsRequest{
		Topics: []kafka.TopicPartitionsConfig{{Name: "sensors", Count: 2}}})
	if err != nil || resp.Errors["sensors"] != nil {
		t.Fatalf("adding a partition: %v %+v", err, resp)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		meta, err := cl.Metadata(context.Background(), &kafka.MetadataRequest{Topics: []string{"sensors"}})
		if err == nil && len(meta.Topics) == 1 && len(meta.Topics[0].Partitions) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new partition does not appear: %v", err)
		}
	}
	writeSensors(t, brokers, 1, fileMessages(t, files[1]))
	got := waitAtLeast(t, 2*(300-31), 30*time.Second, scoreCount(influx))
	run.stop(t)
	if got != 2*(300-31) {
		t.Errorf("%d points, want %d: the series on the added partition is not read", got, 2*(300-31))
	}
}

// TestStandbyMemberDoesNotChurn: a second instance joins a group whose
// topic has one partition (a standby, or scale-out past the partitions).
// It gets no partition and stands by: before, its pipeline over nothing
// ended at once, and the group rebalanced about once a second for as long
// as both ran.
func TestStandbyMemberDoesNotChurn(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	active := startRun(t, brokers, influx.URL, "g-standby")
	time.Sleep(2 * time.Second)
	standby := startRun(t, brokers, influx.URL, "g-standby")
	time.Sleep(8 * time.Second)
	produceFiles(t, brokers, writeSeries(t, 1, 300)...)
	got := waitAtLeast(t, 300-31, 30*time.Second, scoreCount(influx))
	active.stop(t)
	standby.stop(t)
	if got != 300-31 {
		t.Errorf("%d points, want %d", got, 300-31)
	}
	for name, run := range map[string]*runProc{"first": active, "second": standby} {
		// The first joins once alone and once with the second.
		if n := strings.Count(run.stderr.String(), `"generation started"`); n > 2 {
			t.Errorf("the %s instance went through %d generations in 10 s, want at most 2", name, n)
		}
	}
	// Which of the two gets the partition is the assignor's choice.
	if a, b := strings.Contains(active.stderr.String(), "no partition assigned: standing by"),
		strings.Contains(standby.stderr.String(), "no partition assigned: standing by"); a == b {
		t.Errorf("the first instance stood by: %v, the second: %v; want one of them", a, b)
	}
}

// TestMissingTopicIsWaitedFor: the service starts before its input topic
// exists (a broker with auto-creation off). It says so, stands by without
// churning the group, and reads the topic once it is created.
func TestMissingTopicIsWaitedFor(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	influx := testsvc.StartInflux(t, "sensors")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "other"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()[0]
	run := startRun(t, brokers, influx.URL, "g-missing")
	time.Sleep(4 * time.Second)
	tr := ownTransport()
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(brokers), Transport: tr}
	resp, err := cl.CreateTopics(context.Background(), &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{{Topic: "sensors", NumPartitions: 1, ReplicationFactor: 1}}})
	if err != nil || resp.Errors["sensors"] != nil {
		t.Fatalf("creating the topic: %v %+v", err, resp)
	}
	writeSensors(t, brokers, -1, fileMessages(t, writeSeries(t, 1, 300)[0]))
	got := waitAtLeast(t, 300-31, 30*time.Second, scoreCount(influx))
	run.stop(t)
	if got != 300-31 {
		t.Errorf("%d points once the topic was created, want %d", got, 300-31)
	}
	requireLogLine(t, run, "input topic does not exist", `"topic":"sensors"`)
	// One generation without the topic, one with it.
	if n := strings.Count(run.stderr.String(), `"generation started"`); n > 2 {
		t.Errorf("%d generations, want at most 2", n)
	}
}

// TestNewChannelTakenInByRebaseline: a channel added to a warm
// multivariate series' messages (a tag added to a gateway) is left out
// and counted; the operator's re-baseline of the whole series takes it
// in, and from the sample that takes the request on, every channel is
// scored. A later request naming the new channel is known.
func TestNewChannelTakenInByRebaseline(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	const rows, added, rebaselined, more = 1000, 500, 550, 100
	r := rand.New(rand.NewPCG(7, 7))
	part := func(from, to int) string {
		return pumpFile(t, r, from, to, from >= added, func(int) bool { return true })
	}
	flowPoints := channelScores(influx, "flow")
	run := startRun(t, brokers, influx.URL, "g-takein", "--set", "pipeline.multivariate=true")
	produceFiles(t, brokers, part(0, added))
	produceFiles(t, brokers, part(added, rebaselined))
	waitAtLeast(t, rebaselined-31, 60*time.Second, flowPoints)
	if v := run.metric(t, "aewatch_values_left_out_total", ""); v != rebaselined-added {
		t.Errorf("aewatch_values_left_out_total %v, want %d (temp before the re-baseline)", v, rebaselined-added)
	}
	if _, stderr, code := cli(t, "rebaseline", "--addr", run.http, "--channel", "temp", "pump"); code != 1 || !strings.Contains(stderr, "its channels here: flow, pressure") {
		t.Errorf("rebaseline of the channel not yet taken in: exit %d, stderr %q", code, stderr)
	}
	if out, stderr, code := cli(t, "rebaseline", "--addr", run.http, "--by", "tester", "pump"); code != 0 || !strings.Contains(out, `"queued`) {
		t.Fatalf("rebaseline: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	produceFiles(t, brokers, part(rebaselined, rows))
	before, after := rebaselined-31, rows-rebaselined-31 // the old detector's points, the new one's
	waitAtLeast(t, before+after, 60*time.Second, flowPoints)
	if n := channelScores(influx, "temp")(); n != after {
		t.Errorf("%d points for temp, want %d: every row from the re-baseline's first full window", n, after)
	}
	if n := flowPoints(); n != before+after {
		t.Errorf("%d points for flow, want %d", n, before+after)
	}
	if rb := influx.Rows("sensors", `SELECT * FROM ae_rebaseline`); len(rb) != 1 || !strings.Contains(rb[0]["source"].(string), "tester") {
		t.Errorf("ae_rebaseline points %v, want one from tester", rb)
	}
	if _, stderr, code := cli(t, "rebaseline", "--addr", run.http, "--channel", "temp", "pump"); code != 0 {
		t.Errorf("rebaseline of the channel taken in: exit %d, stderr %q", code, stderr)
	}
	run.stop(t)
	if !strings.Contains(run.stderr.String(), "series' channels changed by a re-baseline") {
		t.Error("the log does not say the re-baseline widened the series")
	}
	// Restored with every channel: each new row is scored at once.
	run = startRun(t, brokers, influx.URL, "g-takein", "--set", "pipeline.multivariate=true")
	produceFiles(t, brokers, part(rows, rows+more))
	waitAtLeast(t, before+after+more, 60*time.Second, flowPoints)
	run.stop(t)
	if n := channelScores(influx, "temp")(); n != after+more {
		t.Errorf("%d points for temp after the restart, want %d: the widened detector restored", n, after+more)
	}
	if strings.Contains(run.stderr.String(), "beyond its series' set") {
		t.Error("after the restart, temp is left out again")
	}
}

// TestRebalanceForgetsMovedSeries: a re-baseline waiting on an instance
// for a series whose partition then moves to another instance is
// dropped there at the rebalance (logged, naming it), and that instance
// refuses new requests for the series; the instance that gained it
// takes them. Kept, the request would apply whenever a later rebalance
// brought the partition back, maybe days later.
func TestRebalanceForgetsMovedSeries(t *testing.T) {
	influx, brokers := peers(t, 2, "sensors")
	files := writeSeries(t, 8, 200)
	var series []string
	onPartition := map[int]int{}
	for _, f := range files {
		s := sensorcsv.SeriesName(f)
		series = append(series, s)
		onPartition[(&kafka.Hash{}).Balance(kafka.Message{Key: []byte(s)}, 0, 1)]++
	}
	if len(onPartition) != 2 {
		t.Fatalf("series per partition %v: the test needs series on both", onPartition)
	}
	opts := []string{"--set", "checkpoint.interval=300ms", "--set", "kafka.session_timeout=6s"}
	a := startRun(t, brokers, influx.URL, "g-moved", opts...)
	produceFiles(t, brokers, files...)
	waitAtLeast(t, expectedPoints(t, files), 60*time.Second, scoreCount(influx))
	rebaseline := func(addr, s string) int { // 0: not listening yet
		resp, err := http.Post(addr+"/rebaseline?series="+s, "", nil)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, s := range series {
		if code := rebaseline(a.http, s); code != http.StatusAccepted {
			t.Fatalf("re-baseline of %s on the only instance: %d, want 202", s, code)
		}
	}
	b := startRun(t, brokers, influx.URL, "g-moved", opts...)
	// Once the group has rebalanced, each series is known on the one
	// instance that owns it.
	deadline := time.Now().Add(90 * time.Second)
	var onA, onB []string
	for {
		onA, onB = nil, nil
		for _, s := range series {
			if rebaseline(a.http, s) == http.StatusAccepted {
				onA = append(onA, s)
			}
			if rebaseline(b.http, s) == http.StatusAccepted {
				onB = append(onB, s)
			}
		}
		if len(onA)+len(onB) == len(series) && len(onB) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(onA)+len(onB) != len(series) || len(onB) == 0 {
		t.Fatalf("after the rebalance, instance a takes re-baselines of %v, b of %v; want each series on exactly one", onA, onB)
	}
	a.stop(t)
	b.stop(t)
	if !strings.Contains(a.stderr.String(), "re-baselines dropped") || !strings.Contains(a.stderr.String(), `"`+onB[0]+`"`) {
		t.Errorf("instance a's log does not say it dropped the waiting re-baseline of %s", onB[0])
	}
}

// TestMissingChannelLetGoByRebaseline: a transmitter of a multivariate
// series that dies opens a quality alert "missing" on its channel in
// InfluxDB, with the gap's start as onset_ns; the operator's re-baseline
// of the whole series closes it (reason rebaseline) and lets the channel
// go: its values are no longer filled, and a request naming it is refused.
func TestMissingChannelLetGoByRebaseline(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	const dies, rebaselined, rows = 400, 550, 650
	r := rand.New(rand.NewPCG(8, 8))
	part := func(from, to int) string {
		return pumpFile(t, r, from, to, true, func(i int) bool { return i < dies })
	}
	flowPoints := channelScores(influx, "flow")
	run := startRun(t, brokers, influx.URL, "g-missing", "--set", "pipeline.multivariate=true", "--set", "detector.quality.learn=100")
	produceFiles(t, brokers, part(0, rebaselined))
	waitAtLeast(t, rebaselined-1-31, 60*time.Second, flowPoints) // a row lacking temp waits for the next
	opened := influx.Rows("sensors", `SELECT * FROM ae_alert WHERE "kind" = 'quality' AND "event" = 'opened' AND "channel" = 'temp'`)
	if len(opened) != 1 || opened[0]["statistic"] != "missing" {
		t.Fatalf("quality alerts opened on temp: %v, want one, missing", opened)
	}
	if onset, _ := opened[0]["onset_ns"].(json.Number).Int64(); onset != synth.Start.Add(dies*time.Minute).UnixNano() {
		t.Errorf("missing since %d, want the first row lacking temp (%d)", onset, synth.Start.Add(dies*time.Minute).UnixNano())
	}
	if out, stderr, code := cli(t, "rebaseline", "--addr", run.http, "--by", "tester", "pump"); code != 0 || !strings.Contains(out, `"queued`) {
		t.Fatalf("rebaseline: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	produceFiles(t, brokers, part(rebaselined, rows))
	waitAtLeast(t, rebaselined-31+rows-rebaselined-31, 60*time.Second, flowPoints)
	closed := influx.Rows("sensors", `SELECT * FROM ae_alert WHERE "kind" = 'quality' AND "event" = 'closed' AND "channel" = 'temp'`)
	if len(closed) != 1 || closed[0]["reason"] != "rebaseline" {
		t.Errorf("quality alerts closed on temp: %v, want one, by rebaseline", closed)
	}
	if v := run.metric(t, "aewatch_values_filled_total", ""); v != rebaselined-dies {
		t.Errorf("aewatch_values_filled_total %v, want %d: temp filled only until the re-baseline", v, rebaselined-dies)
	}
	if _, stderr, code := cli(t, "rebaseline", "--addr", run.http, "--channel", "temp", "pump"); code != 1 || !strings.Contains(stderr, "its channels here: flow, pressure") {
		t.Errorf("rebaseline of the channel let go: exit %d, stderr %q", code, stderr)
	}
	run.stop(t)
}

// pumpFile writes rows [from, to) of a pump, one a minute, as pump.csv in
// a directory of its own: flow and pressure on a 60-row cycle with noise,
// and with withTemp a temp column, its value on the rows hasTemp takes
// (empty on the others).
func pumpFile(t *testing.T, r *rand.Rand, from, to int, withTemp bool, hasTemp func(i int) bool) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("time,flow,pressure")
	if withTemp {
		b.WriteString(",temp")
	}
	b.WriteString("\n")
	for i := from; i < to; i++ {
		base := math.Sin(2 * math.Pi * float64(i) / 60)
		fmt.Fprintf(&b, "%s,%.3f,%.3f", synth.Start.Add(time.Duration(i)*time.Minute).Format(time.RFC3339),
			100+5*base+0.3*r.NormFloat64(), 3+0.2*base+0.02*r.NormFloat64())
		if withTemp {
			b.WriteString(",")
			if hasTemp(i) {
				fmt.Fprintf(&b, "%.3f", 60+0.2*r.NormFloat64())
			}
		}
		b.WriteString("\n")
	}
	file := filepath.Join(t.TempDir(), "pump.csv")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// channelScores counts the ae_score points of one channel, for the waits.
func channelScores(influx *testsvc.Influx, channel string) func() int {
	return func() int {
		return influx.Count("sensors", `SELECT count(score) FROM ae_score WHERE "channel" = '`+channel+`'`)
	}
}

// TestDeadTransmitterMatchesEval: one detector a channel (the default)
// and a pump whose temp stops coming in its messages at row 1,100 (its
// transmitter dead, the gateway sending flow and pressure) and comes back
// at 1,300, the service restarted 30 rows into the gap: a quality alert
// `missing` on temp opens at the gap's 60th row with its first row as
// onset and closes when temp returns, on the rows where eval's of the
// file (empty cells in rows with values) has it. Before, nothing was
// raised: temp's detector heard nothing of the rows without it.
func TestDeadTransmitterMatchesEval(t *testing.T) {
	influx, brokers := peers(t, 1, "sensors")
	const dies, restarted, back, rows = 1100, 1130, 1300, 1400
	hasTemp := func(i int) bool { return i < dies || i >= back }
	whole := pumpFile(t, rand.New(rand.NewPCG(9, 9)), 0, rows, true, hasTemp)
	r := rand.New(rand.NewPCG(9, 9))
	first, second := pumpFile(t, r, 0, restarted, true, hasTemp), pumpFile(t, r, restarted, rows, true, hasTemp)
	flowPoints := channelScores(influx, "flow")
	run := startRun(t, brokers, influx.URL, "g-dead")
	produceFiles(t, brokers, first)
	waitAtLeast(t, restarted-31, 60*time.Second, flowPoints)
	run.stop(t)
	run = startRun(t, brokers, influx.URL, "g-dead")
	produceFiles(t, brokers, second)
	waitAtLeast(t, rows-31, 60*time.Second, flowPoints)
	run.stop(t)

	rowTime := func(i int) int64 { return synth.Start.Add(time.Duration(i) * time.Minute).UnixNano() }
	opensAt := dies + detector.DefaultConfig().Quality.MissingSamples - 1
	var got []string
	for _, p := range influx.Rows("sensors", `SELECT * FROM ae_alert WHERE "kind" = 'quality' AND "channel" = 'temp'`) {
		var onset int64
		if n, ok := p["onset_ns"].(json.Number); ok {
			onset, _ = n.Int64()
		}
		statistic, _ := p["statistic"].(string) // none on a closing
		got = append(got, fmt.Sprintf("%v %v %s onset %d", p["time"], p["event"], statistic, onset))
	}
	want := []string{fmt.Sprintf("%d opened missing onset %d", rowTime(opensAt), rowTime(dies)), fmt.Sprintf("%d closed  onset 0", rowTime(back))}
	if !slices.Equal(got, want) {
		t.Errorf("temp's quality points %q, want %q", got, want)
	}

	out := t.TempDir()
	if _, stderr, code := cli(t, "eval", "--quiet", "--out", out, whole); code != 0 {
		t.Fatalf("eval: %s", stderr)
	}
	f, err := os.Open(filepath.Join(out, "pump.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	q, why := slices.Index(recs[0], "quality_alert"), slices.Index(recs[0], "explanation")
	var evalOpen []int
	for i, rec := range recs[1:] {
		if rec[q] == "1" {
			evalOpen = append(evalOpen, i)
		}
	}
	at := func(i int) string { return time.Unix(0, rowTime(i)).UTC().Format(time.RFC3339) }
	if len(evalOpen) != back-opensAt || evalOpen[0] != opensAt || !strings.Contains(recs[1+opensAt][why], "temp missing since "+at(dies)) {
		t.Errorf("eval's quality alert on %d rows from %v (%q), want rows %d-%d, temp missing since %s",
			len(evalOpen), evalOpen[:min(1, len(evalOpen))], recs[1+opensAt][why], opensAt, back-1, at(dies))
	}
}
