package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/aewatch/aewatch/config"
	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/eval"
	"github.com/aewatch/aewatch/sink"
	"github.com/aewatch/aewatch/stream"
	"github.com/aewatch/aewatch/synth"
)

// demoSensors are the demo's sensors: several shapes and sampling rates,
// with one injected fault each, or none.
var demoSensors = []struct{ signal, fault string }{
	{"seasonal", "drift"}, {"seasonal", "none"}, {"duty", "stuck"}, {"duty", "spike"},
	{"oscillating", "frequency"}, {"oscillating", "noise_burst"}, {"noisy", "level_shift"}, {"noisy", "none"},
}

func runDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: aewatch demo [--rows N] [--seed N] [--influx-url URL --influx-bucket B [--influx-token T]] [--http-addr A]
       aewatch demo --offline [--out DIR] [--seed N]

Starts an embedded Kafka-protocol broker on loopback, generates industrial
sensor signals with injected faults (drift, a stuck sensor, a spike, a
changed frequency, a noise burst, a level shift), produces them to a topic
and runs the full pipeline on it, printing alerts as they open and close.
Writes to InfluxDB when --influx-url is given. --offline scores the
labelled corpus with eval's path instead and prints its NAB score.

`)
		fs.PrintDefaults()
	}
	offline := fs.Bool("offline", false, "score the labelled corpus offline (no broker)")
	out := fs.String("out", "", "with --offline: keep data and scores in this `directory`")
	seed := fs.Uint64("seed", 1, "seed of the generated data")
	rows := fs.Int("rows", 12000, "samples per sensor (drift needs its reference of detector.drift.reference samples first)")
	influxURL := fs.String("influx-url", "", "InfluxDB `URL` to write scores and alerts to")
	bucket := fs.String("influx-bucket", "aewatch", "InfluxDB bucket (database/retention-policy for 1.8)")
	token := fs.String("influx-token", os.Getenv("AEWATCH_INFLUX_TOKEN"), "InfluxDB token (default $AEWATCH_INFLUX_TOKEN)")
	httpAddr := fs.String("http-addr", "", "serve /metrics, /healthz, /readyz on this `host:port`")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if *offline {
		return runOfflineDemo(ctx, out, seed)
	}
	if *rows < 500 {
		return fmt.Errorf("--rows: must be >= 500 (got %d)", *rows)
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "sensors"))
	if err != nil {
		return fmt.Errorf("embedded broker: %w", err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	dir, err := os.MkdirTemp("", "aewatch-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sensors := map[string]*synth.Series{}
	var files []string
	for _, d := range demoSensors {
		gen := synth.Generate
		if d.fault == "drift" && *rows >= 10000 {
			gen = synth.GenerateDrift // a slow ramp after the drift reference is complete
		}
		s, err := gen(d.signal, d.fault, *rows, *seed)
		if err != nil {
			return err
		}
		name := d.signal + "-" + d.fault
		p := filepath.Join(dir, name+".csv")
		if err := os.WriteFile(p, s.CSV(), 0o644); err != nil {
			return err
		}
		sensors[name] = s
		files = append(files, p)
	}
	fmt.Printf("aewatch demo: embedded Kafka broker at %s, topic \"sensors\" (4 partitions)\n", brokers[0])
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: "sensors", Balancer: &kafka.Hash{},
		BatchSize: 1000, BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireAll}
	p := producer{w: w, format: "json"}
	total := 0
	for _, f := range files {
		n, err := p.sendFile(ctx, eval.Input{Path: f})
		if err != nil {
			w.Close()
			return err
		}
		total += n
	}
	w.Close()
	fmt.Printf("produced %d sensors x %d samples (%d messages), keyed by sensor, stamped with event time\n\n", len(files), *rows, total)

	cfg := config.Default()
	cfg.Kafka.Brokers, cfg.Kafka.Topics, cfg.Kafka.Group = brokers, []string{"sensors"}, "aewatch-demo"
	cfg.HTTP.Addr = *httpAddr
	cfg.Influx.URL, cfg.Influx.Bucket, cfg.Influx.Token = *influxURL, *bucket, *token
	if err := cfg.Validate(); err != nil {
		return err
	}
	counter := &countingWriter{}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	writeError := func() string { return "" }
	if *influxURL != "" {
		iw, err := sink.New(cfg.Influx, nil, log.With("component", "sink"), nil, nil)
		if err != nil {
			return err
		}
		defer iw.Close()
		counter.next, writeError = iw, iw.LastError
		fmt.Printf("writing ae_score and ae_alert to %s, bucket %s\n\n", cfg.Influx.RedactedURL(), *bucket)
	}
	alerts := &alertLog{sensors: sensors}
	svc, err := newService(cfg, log, nil, counter, alerts.print)
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- svc.run(runCtx) }()
	expected := int64(total - len(files)*(cfg.Detector.Window.Size-1))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for counter.scores.Load() < expected {
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			stop()
			return <-done
		case <-tick.C:
			n := counter.scores.Load()
			fmt.Printf("  ... %d/%d samples scored (%.0f/s), %d alerts open\n", n, expected,
				float64(n)/time.Since(start).Seconds(), alerts.open())
			if e := writeError(); e != "" {
				fmt.Printf("      InfluxDB refuses the writes, retrying: %s\n", e)
			}
		}
	}
	stop()
	if err := <-done; err != nil {
		return err
	}
	alerts.summary(time.Since(start), counter.scores.Load())
	return nil
}

// countingWriter counts ae_score points and passes them on (if next is set).
type countingWriter struct {
	next   stream.PointWriter
	scores atomic.Int64
}

func (c *countingWriter) WritePoints(ctx context.Context, pts []sink.Point) error {
	if c.next != nil {
		if err := c.next.WritePoints(ctx, pts); err != nil {
			return err
		}
	}
	n := 0
	for i := range pts {
		if pts[i].Measurement == sink.ScoreMeasurement {
			n++
		}
	}
	c.scores.Add(int64(n))
	return nil
}

// alertLog prints alerts as they open and close, tells each opening in a
// fault's span from a false alarm, and sums them up per sensor.
type alertLog struct {
	mu      sync.Mutex
	sensors map[string]*synth.Series
	caught  map[string]int64 // the first alert opened in the sensor's fault span
	falses  map[string]int   // alerts opened outside it (on fault-free sensors: all)
	nOpen   int
}

// inFault reports whether time t lies in the fault's span of s: from its
// labelled window's start to the later of the window's end and the fault's.
func inFault(s *synth.Series, t int64) bool {
	if s == nil || s.Onset < 0 {
		return false
	}
	return t >= s.Times[s.Window[0]].UnixNano() && t <= s.Times[max(s.Window[1], s.End)].UnixNano()
}

func (a *alertLog) print(p sink.Point) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.caught == nil {
		a.caught, a.falses = map[string]int64{}, map[string]int{}
	}
	ts := time.Unix(0, p.Time).UTC().Format("2006-01-02 15:04:05")
	if p.Measurement == sink.RebaselineMeasurement { // not an alert: no alert closes
		fmt.Printf("rebaseline %-24s at %s  by %s\n", p.Series, ts, p.Reason)
		return
	}
	switch p.Event {
	case "closed":
	case "opened":
		a.nOpen++
		verdict := ""
		switch s := a.sensors[p.Series]; {
		case inFault(s, p.Time):
			if _, ok := a.caught[p.Series]; !ok {
				a.caught[p.Series] = p.Time
				verdict = fmt.Sprintf("  [caught the %s, %s after it began]", s.Fault, delay(s, p.Time))
			}
		case s != nil:
			a.falses[p.Series]++
			verdict = "  [false alarm]"
		}
		fmt.Printf("ALERT  %-7s %-24s opened at %s  score %.3f  %s%s\n", p.Kind, p.Series, ts, p.Score, explainPoint(p, a.unit(p.Series)), verdict)
		return
	default:
		return
	}
	a.nOpen--
	fmt.Printf("clear  %-7s %-24s closed at %s  peak %.3f after %s  %s\n", p.Kind, p.Series, ts, p.Peak,
		time.Duration(p.Duration*1e9).Round(time.Second), explainPoint(p, a.unit(p.Series)))
}

// delay is how long after the fault of s began time t is (negative: an
// alert in the labelled window before the fault itself).
func delay(s *synth.Series, t int64) time.Duration {
	return time.Duration(t - s.Times[s.Onset].UnixNano()).Round(time.Second)
}

// unit is the sensor unit of a demo series ("" for another series).
func (a *alertLog) unit(series string) string {
	if s := a.sensors[series]; s != nil {
		return synth.Units[s.Signal]
	}
	return ""
}

// explainPoint renders an ae_alert point's explanation, with departures in
// unit.
func explainPoint(p sink.Point, unit string) string {
	num := "%+.3g"
	if unit != "" {
		num += " " + unit
	}
	if p.Reason != "" {
		return "by " + p.Reason
	}
	if p.Kind == "quality" {
		switch p.Statistic {
		case "":
			return "all checks pass"
		case detector.Quantised:
			return "quantised: reports in coarser steps than it did"
		case detector.Stuck, detector.Missing:
			return p.Statistic + " since " + time.Unix(0, p.Onset).UTC().Format("2006-01-02 15:04")
		}
		return fmt.Sprintf("%s by "+num, p.Statistic, p.Departure)
	}
	s := eval.Departure(p.Statistic, p.Departure, num)
	if p.Kind == "drift" {
		s += fmt.Sprintf(", spread x%.2f", p.Spread)
		if p.Onset != 0 {
			s += fmt.Sprintf(", since %s, "+num+"/h", time.Unix(0, p.Onset).UTC().Format("2006-01-02 15:04"), p.Rate)
		}
	}
	return s
}

func (a *alertLog) open() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.nOpen
}

func (a *alertLog) summary(took time.Duration, scored int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fmt.Printf("\n%d samples scored in %.1fs (%.0f/s)\n\n", scored, took.Seconds(), float64(scored)/took.Seconds())
	fmt.Printf("%-24s %-12s %-18s %-34s %s\n", "sensor", "fault", "fault starts", "caught", "false alarms")
	var names []string
	for n := range a.sensors {
		names = append(names, n)
	}
	sort.Strings(names)
	faults, caught, falses := 0, 0, 0
	for _, n := range names {
		s := a.sensors[n]
		onset, verdict := "-", "-"
		if s.Onset >= 0 {
			faults++
			onset = s.Times[s.Onset].Format("2006-01-02 15:04")
			verdict = "MISSED"
			if t, ok := a.caught[n]; ok {
				caught++
				verdict = fmt.Sprintf("yes, %s after it began", delay(s, t))
			}
		}
		falses += a.falses[n]
		fmt.Printf("%-24s %-12s %-18s %-34s %d\n", n, s.Fault, onset, verdict, a.falses[n])
	}
	alarms := "false alarms"
	if falses == 1 {
		alarms = "false alarm"
	}
	fmt.Printf("\n%d of %d faults caught; %d %s (alerts opened outside any fault's span)\n", caught, faults, falses, alarms)
	fmt.Println("(a fault's span runs from its labelled window, which opens a little before the fault as in NAB, to the fault's end)")
}
