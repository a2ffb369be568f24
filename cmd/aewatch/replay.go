package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aewatch/aewatch/sensorcsv"
	"github.com/aewatch/aewatch/sink"
	"github.com/aewatch/aewatch/stream"
	"github.com/aewatch/aewatch/stream/codec"
)

func runReplay(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: aewatch replay [--config FILE] --from TIME|earliest [--to TIME|now] [--run NAME] [--topics T,...]
                      [--series S,...] [--state fresh|checkpoint] [--speed N|max]

Re-scores history: reads the topics' partitions outside the live consumer
group (its offsets and members are never touched), from the offset Kafka
finds for --from up to the end offsets of when the replay starts, skips
samples outside [--from, --to] per series, scores them with fresh detectors
and writes points tagged run=NAME (default replay-<start time>); --run live
rewrites the live points instead (back-fill). TIME: RFC3339,
"2006-01-02 15:04:05" (UTC) or Unix seconds; --from/--to are event times.
A replay serves no HTTP endpoint (http.addr is not used): its progress
and outcome go to the log, and its exit code says whether all was written.

`)
		fs.PrintDefaults()
	}
	fromText := fs.String("from", "", "first event time to score, or earliest (required)")
	toText := fs.String("to", "now", "last event time to score, or now")
	runName := fs.String("run", "", "value of the run tag on written points; live: no tag, rewrite live points")
	seriesText := fs.String("series", "", "comma-separated series (path.Match patterns) to replay; default all")
	state := fs.String("state", "fresh", "fresh: new detectors; checkpoint: start from checkpoints (not supported yet)")
	speedText := fs.String("speed", "max", "max, or N: pace event time at N times real time")
	logFormat := fs.String("log-format", "json", "log format: json or text")
	cfg, _, err := loadRunConfig(fs, args, false)
	if err != nil {
		return err
	}
	start := time.Now().UTC()
	from, to, err := replayInterval(*fromText, *toText, start)
	if err != nil {
		return err
	}
	switch *state {
	case "fresh":
	case "checkpoint":
		return errors.New("--state checkpoint: not supported yet: the checkpoint topic is compacted and keeps each series' newest state only, which is newer than --from while the live service runs; use --state fresh")
	default:
		return fmt.Errorf("--state: must be fresh or checkpoint (got %q)", *state)
	}
	speed := 0.0
	if *speedText != "max" {
		if speed, err = strconv.ParseFloat(*speedText, 64); err != nil || !(speed > 0) {
			return fmt.Errorf("--speed: must be max or a number > 0 (got %q)", *speedText)
		}
	}
	series := splitList(*seriesText)
	for _, p := range series {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("--series: bad pattern %q", p)
		}
	}
	if err := cfg.Kafka.ValidateForRun(); err != nil {
		return err
	}
	if cfg.Influx.URL == "" {
		return errors.New("influx.url: required by replay (got \"\")")
	}
	if *runName == "" {
		*runName = "replay-" + start.Format("20060102T150405Z")
	}
	log, err := newLogger(*logFormat)
	if err != nil {
		return err
	}
	conn, err := stream.NewConn(cfg.Kafka)
	if err != nil {
		return err
	}
	if err := conn.CheckBrokers(ctx); err != nil {
		return err
	}
	if w := conn.SlowBrokerWarning(cfg.Kafka.MaxWait); w != "" {
		log.Warn(w)
	}
	plan, err := stream.PlanReplay(ctx, conn, cfg.Kafka, from, log)
	if err != nil {
		return err
	}
	if !plan.Oldest.IsZero() && !from.IsZero() && from.Before(plan.Oldest) {
		return fmt.Errorf("--from %s is before the oldest retained record (%s) of %v: that history is gone (retention); use --from %s or later",
			from.Format(time.RFC3339), plan.Oldest.Format(time.RFC3339), cfg.Kafka.Topics, plan.Oldest.Format(time.RFC3339))
	}
	if plan.Oldest.IsZero() || to.Before(plan.Oldest) {
		return fmt.Errorf("nothing to replay: %v hold no record with event time in [%s, %s] (oldest retained: %s)",
			cfg.Kafka.Topics, fmtTime(from), fmtTime(to), fmtTime(plan.Oldest))
	}
	var extra []sink.Tag
	if *runName != "live" {
		extra = []sink.Tag{{Key: "run", Value: *runName}}
	}
	writer, err := sink.New(cfg.Influx, extra, log.With("component", "sink"), nil, nil)
	if err != nil {
		return err
	}
	defer writer.Close()
	if cfg.Influx.CreateBucket {
		if err := ensureBucket(writer, cfg.Influx, log); err != nil {
			return err
		}
	}
	src := stream.NewReplaySource(conn, plan, speed, cfg.Kafka)
	src.Log = log.With("component", "replay")
	fromNs, toNs := from.UnixNano(), to.UnixNano()
	if from.IsZero() {
		fromNs = -1 << 63
	}
	// What was kept, per --series pattern: a misspelled one replays
	// nothing and must say so.
	var kept atomic.Int64
	matched := make([]atomic.Bool, len(series))
	keep := func(s *codec.Sample) bool {
		if s.Time < fromNs || s.Time > toNs {
			return false
		}
		if len(series) == 0 {
			kept.Add(1)
			return true
		}
		for i, p := range series {
			if ok, _ := path.Match(p, s.Series); ok {
				matched[i].Store(true)
				kept.Add(1)
				return true
			}
		}
		return false
	}
	pipe, err := stream.New(stream.Options{Kafka: cfg.Kafka, Pipeline: cfg.Pipeline, Detector: cfg.Detector, Output: cfg.Output,
		Reader: src, Writer: writer, BatchSize: cfg.Influx.BatchSize, FlushInterval: cfg.Influx.FlushInterval,
		Log: log.With("component", "replay"), Keep: keep})
	if err != nil {
		return err
	}
	log.Info("replay starting", "topics", cfg.Kafka.Topics, "from", fmtTime(from), "to", fmtTime(to), "run", *runName,
		"messages", plan.Messages(), "partitions", len(plan.Ranges), "speed", *speedText)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	src.Start(runCtx)
	stopProgress := replayProgress(src, log)
	err = pipe.Run(ctx)
	stopProgress()
	done, total := src.Progress()
	var n, of int64
	for i := range done {
		n, of = n+done[i], of+total[i]
	}
	// A replay commits no offsets: what was not written is written by
	// replaying the range again (points are idempotent), and the exit
	// code says that it must be.
	var unwritten *stream.UnwrittenError
	switch {
	case errors.As(err, &unwritten):
		return fmt.Errorf("replay (run %s) incomplete: %d samples of %d messages scored but not written (%v); replay the range again, points already written are rewritten unchanged",
			*runName, unwritten.Samples, unwritten.Messages, unwritten.Err)
	case err != nil:
		return err
	case ctx.Err() != nil:
		return fmt.Errorf("replay (run %s) interrupted after %d of %d messages; what was read is written; replay the range again to finish it", *runName, n, of)
	}
	var unmatched []string
	for i, p := range series {
		if !matched[i].Load() {
			unmatched = append(unmatched, p)
		}
	}
	if kept.Load() == 0 {
		what := "no sample"
		if len(series) > 0 {
			what = fmt.Sprintf("no sample of --series %s", strings.Join(series, ","))
		}
		return fmt.Errorf("nothing replayed (run %s): %s in [%s, %s] among the %d messages read", *runName, what, fmtTime(from), fmtTime(to), n)
	}
	if len(unmatched) > 0 {
		log.Warn("--series: no sample of these in the range; misspelled?", "series", unmatched, "from", fmtTime(from), "to", fmtTime(to))
	}
	log.Info("replay done", "run", *runName, "messages", n, "samples", kept.Load(), "seconds", time.Since(start).Seconds())
	return nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "earliest"
	}
	return t.Format(time.RFC3339Nano)
}

// replayInterval parses --from and --to; from is zero for "earliest".
func replayInterval(fromText, toText string, now time.Time) (from, to time.Time, err error) {
	switch fromText {
	case "":
		return from, to, errors.New("--from: required (a time, or earliest)")
	case "earliest":
	default:
		ns, err := sensorcsv.ParseTime(fromText)
		if err != nil {
			return from, to, fmt.Errorf("--from: %v", err)
		}
		from = time.Unix(0, ns).UTC()
	}
	if toText == "now" {
		to = now
	} else {
		ns, err := sensorcsv.ParseTime(toText)
		if err != nil {
			return from, to, fmt.Errorf("--to: %v", err)
		}
		to = time.Unix(0, ns).UTC()
	}
	if !from.IsZero() && from.After(to) {
		return from, to, fmt.Errorf("--from %s is after --to %s", fromText, toText)
	}
	return from, to, nil
}

// replayProgress draws a bar on a terminal, or logs every 5 s otherwise.
func replayProgress(src *stream.ReplaySource, log *slog.Logger) (stop func()) {
	line := newProgressLine(os.Stderr, "replay", "msgs", 5*time.Second, log)
	quit := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				line.finish()
				return
			case <-t.C:
			}
			done, total := src.Progress()
			var d, n int64
			parts := make([]string, len(done))
			for i := range done {
				d, n = d+done[i], n+total[i]
				parts[i] = fmt.Sprintf("%d/%d", done[i], total[i])
			}
			rate := float64(d) / time.Since(start).Seconds()
			eta := time.Duration(float64(n-d) / max(rate, 1e-9) * float64(time.Second)).Round(time.Second)
			line.show(d, n, fmt.Sprintf("(partitions %s) %.0f msg/s ETA %s", strings.Join(parts, " "), rate, eta))
		}
	}()
	return func() { close(quit); <-finished }
}
