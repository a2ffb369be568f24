package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/config"
	"github.com/aewatch/aewatch/eval"
	"github.com/aewatch/aewatch/internal/parallel"
	"github.com/aewatch/aewatch/sensorcsv"
	"github.com/aewatch/aewatch/stream"
	"github.com/aewatch/aewatch/stream/codec"
)

func runProduce(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("produce", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: aewatch produce --brokers B --topic T [--format json|line] [--rate N] [--record-time event|now] [--ignore COLS] [--series NAME] PATH...

Sends CSV files (the eval input format; directories are searched for
*.csv) to Kafka: one message per row with
all its channels, keyed by series (the file name without extension).
Records are stamped with the sample's event time, so that replay can find
history by time; a broker with time-based retention deletes history stamped
in the past at once: use --record-time now for such topics. Without
--rate, 16 files are sent at once (each file's rows in order). Columns
in --ignore (labels, identifiers, text) are not sent, as eval --ignore
does not score them.

`)
		fs.PrintDefaults()
	}
	brokers := fs.String("brokers", "localhost:9092", "comma-separated Kafka `host:port` list")
	topic := fs.String("topic", "", "topic to write (required)")
	format := fs.String("format", "json", "message format: json or line")
	rate := fs.Float64("rate", 0, "messages per second (0: as fast as possible)")
	recordTime := fs.String("record-time", "event", "record timestamp: event (the sample's time) or now")
	cfgPath := fs.String("config", "", "YAML configuration `file` whose kafka.tls and kafka.sasl keys apply (AEWATCH_KAFKA_* too)")
	ignoreList := fs.String("ignore", "", "comma-separated `columns` not to send (labels, identifiers)")
	seriesName := fs.String("series", "", "the `series` of a single PATH (default: its file name without extension; a pipe such as <(zcat pump7.csv.gz) is named after /dev/fd/63)")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case *topic == "" || len(files) == 0:
		fs.Usage()
		return errors.New("--topic and at least one PATH are required")
	case *format != "json" && *format != "line":
		return fmt.Errorf("--format: must be json or line (got %q)", *format)
	case *recordTime != "event" && *recordTime != "now":
		return fmt.Errorf("--record-time: must be event or now (got %q)", *recordTime)
	case *rate < 0 || math.IsNaN(*rate):
		return fmt.Errorf("--rate: must be >= 0 (got %v)", *rate)
	case *seriesName != "" && len(files) != 1:
		return fmt.Errorf("--series: names the series of one PATH (got %q and %d PATHs)", *seriesName, len(files))
	}
	cfg, err := config.LoadOrEnv(*cfgPath)
	if err != nil {
		return err
	}
	cfg.Kafka.Brokers = splitList(*brokers)
	if err := cfg.Kafka.Validate(); err != nil {
		return err
	}
	conn, err := stream.NewConn(cfg.Kafka)
	if err != nil {
		return err
	}
	if err := conn.CheckBrokers(ctx); err != nil {
		return err
	}
	w := conn.Writer(&kafka.Writer{Topic: *topic, Balancer: &kafka.Hash{},
		BatchSize: 1000, BatchTimeout: 5 * time.Millisecond, RequiredAcks: kafka.RequireAll, AllowAutoTopicCreation: true})
	defer w.Close()
	inputs, err := eval.Discover(files)
	if err != nil {
		return err
	}
	if *seriesName != "" && len(inputs) != 1 {
		return fmt.Errorf("--series: names the series of one file (got %q and %d files in %s)", *seriesName, len(inputs), files[0])
	}
	ignore := splitList(*ignoreList)
	if err := checkFiles(ctx, inputs, ignore); err != nil {
		return err
	}
	p := producer{w: w, format: *format, rate: *rate, now: *recordTime == "now", ignore: ignore, series: *seriesName, progress: os.Stderr}
	// Unpaced, several files at once: each write waits for its batch's
	// acknowledgement, so one file at a time spent most of its time
	// waiting (100,000 files of 50 rows took ten minutes). A file is one
	// series, and its messages keep their order. Paced, or one file: one
	// at a time, with its progress bar.
	atOnce := produceFilesAtOnce
	if *rate > 0 || len(inputs) == 1 {
		atOnce = 1
	} else {
		p.progress = nil
	}
	return conn.Explain(ctx, p.sendFiles(ctx, inputs, *topic, atOnce))
}

// checkFiles reads every input before any is sent: a malformed file found
// halfway would leave the topic with part of the files (and a second run
// would send that part twice). It names every file that does not read.
// What it parses is dropped and sent files are read again: holding every
// parsed file until it is sent would hold the whole input (100,000 files)
// in memory, where a second read holds only the files being sent.
func checkFiles(ctx context.Context, inputs []eval.Input, ignore []string) error {
	errs := make([]error, len(inputs))
	err := parallel.Each(ctx, len(inputs), runtime.GOMAXPROCS(0), func(_ context.Context, _, i int) error {
		_, errs[i] = inputs[i].Read(ignore)
		return nil
	})
	if err != nil {
		return err
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nothing sent: %w", err)
	}
	return nil
}

// produceFilesAtOnce is how many files an unpaced produce sends at once.
const produceFilesAtOnce = 16

// sendFiles sends every input, atOnce at a time (in input order), and
// returns the first error (the others stop at their next write).
func (p *producer) sendFiles(ctx context.Context, inputs []eval.Input, topic string, atOnce int) error {
	var mu sync.Mutex // serialises the lines on stderr
	return parallel.Each(ctx, len(inputs), atOnce, func(ctx context.Context, _, i int) error {
		n, err := p.sendFile(ctx, inputs[i])
		if err != nil {
			return err
		}
		mu.Lock()
		fmt.Fprintf(os.Stderr, "%s: %d messages to %s\n", inputs[i].Path, n, topic)
		mu.Unlock()
		return nil
	})
}

// producer sends sensor CSV rows as Kafka messages.
type producer struct {
	w      *kafka.Writer
	format string
	rate   float64
	now    bool
	ignore []string // columns not sent
	series string   // the series of the one input ("": each file's name)
	// progress, if set, shows each file's progress (a bar on a terminal).
	progress io.Writer
}

func (p *producer) sendFile(ctx context.Context, in eval.Input) (int, error) {
	f, err := in.Read(p.ignore)
	if err != nil {
		return 0, err
	}
	path := in.Path
	series := sensorcsv.SeriesName(path)
	if p.series != "" {
		series = p.series
	}
	names := f.ChannelNames()
	msgs := make([]kafka.Message, 0, 1000)
	// Paced sends go in chunks of about 10 ms worth of messages.
	chunk := cap(msgs)
	if p.rate > 0 {
		chunk = int(min(1000, max(1, p.rate/100)))
	}
	start := time.Now()
	sent := 0
	var bar *progressLine
	if p.progress != nil {
		bar = newProgressLine(p.progress, filepath.Base(path), "msgs", 0, nil)
		defer bar.finish()
	}
	for i, t := range f.Times {
		val, ok := codec.EncodeSample(p.format, series, names, t, f.Values[i])
		if !ok {
			continue // every value missing: nothing to send
		}
		rt := time.Unix(0, t)
		if p.now {
			rt = time.Now()
		}
		msgs = append(msgs, kafka.Message{Key: []byte(series), Value: val, Time: rt})
		if len(msgs) >= chunk || i == len(f.Times)-1 {
			if err := p.w.WriteMessages(ctx, msgs...); err != nil {
				return sent, fmt.Errorf("%s: write to kafka: %w", path, err)
			}
			sent += len(msgs)
			msgs = msgs[:0]
			if bar != nil {
				bar.show(int64(sent), int64(len(f.Times)), fmt.Sprintf("%.0f msg/s", float64(sent)/max(time.Since(start).Seconds(), 1e-9)))
			}
		}
		if p.rate > 0 && len(msgs) == 0 {
			wait := time.Until(start.Add(time.Duration(float64(sent) / p.rate * float64(time.Second))))
			select {
			case <-ctx.Done():
				return sent, ctx.Err()
			case <-time.After(wait):
			}
		}
	}
	if len(msgs) > 0 {
		if err := p.w.WriteMessages(ctx, msgs...); err != nil {
			return sent, fmt.Errorf("%s: write to kafka: %w", path, err)
		}
		sent += len(msgs)
	}
	return sent, nil
}
