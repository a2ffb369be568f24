package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/segmentio/kafka-go"

	"github.com/aewatch/aewatch/alerting"
	"github.com/aewatch/aewatch/config"
	"github.com/aewatch/aewatch/sink"
	"github.com/aewatch/aewatch/stream"
)

// setFlags collects repeated --set key=value flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

// loadRunConfig reads --config (optional), then the environment, then
// --set and the named flags, in that order of precedence (last wins).
// Without serving, there is no --http-addr (replay serves no endpoint).
func loadRunConfig(fs *flag.FlagSet, args []string, serving bool) (config.Config, []string, error) {
	cfgPath := fs.String("config", "", "YAML configuration `file`")
	var sets setFlags
	fs.Var(&sets, "set", "override one key, `key=value` (repeatable), e.g. --set kafka.group=g2")
	// Named flags: flag name -> configuration key.
	keys := map[string]string{"brokers": "kafka.brokers", "topics": "kafka.topics", "group": "kafka.group",
		"format": "kafka.format", "influx-url": "influx.url", "influx-bucket": "influx.bucket"}
	if serving {
		keys["http-addr"] = "http.addr"
	}
	for name, key := range keys {
		fs.String(name, "", "sets "+key)
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return config.Config{}, nil, err
	}
	cfg, err := config.LoadOrEnv(*cfgPath)
	if err != nil {
		return cfg, nil, err
	}
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return cfg, nil, fmt.Errorf("--set %q: want key=value", kv)
		}
		if err := cfg.Set(k, v); err != nil {
			return cfg, nil, fmt.Errorf("--set: %w", err)
		}
	}
	var setErr error
	fs.Visit(func(f *flag.Flag) {
		if key, ok := keys[f.Name]; ok && setErr == nil {
			if err := cfg.Set(key, f.Value.String()); err != nil {
				setErr = fmt.Errorf("--%s: %w", f.Name, err)
			}
		}
	})
	if setErr != nil {
		return cfg, nil, setErr
	}
	return cfg, pos, cfg.Validate()
}

func newLogger(format string) (*slog.Logger, error) {
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, nil)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, nil)), nil
	}
	return nil, fmt.Errorf("--log-format: must be json or text (got %q)", format)
}

func runRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: aewatch run [--config FILE] [--set key=value]... [flags]\n\nConsumes sensor streams from Kafka, scores them and writes scores and alerts to InfluxDB.\nPrecedence: flags and --set over AEWATCH_* environment over the file over defaults.\n\n")
		fs.PrintDefaults()
	}
	logFormat := fs.String("log-format", "json", "log format: json or text")
	cfg, _, err := loadRunConfig(fs, args, true)
	if err != nil {
		return err
	}
	if err := cfg.Kafka.ValidateForRun(); err != nil {
		return err
	}
	if cfg.Influx.URL == "" {
		return errors.New("influx.url: required by run (got \"\"); set it in the file, AEWATCH_INFLUX_URL or --influx-url")
	}
	log, err := newLogger(*logFormat)
	if err != nil {
		return err
	}
	// One Conn for the probe and the service: its files (a SASL
	// password, certificates) are read once, and cannot change between.
	conn, err := stream.NewConn(cfg.Kafka)
	if err != nil {
		return err
	}
	// A broker that answers, but not as Kafka, is a configuration error
	// (a wrong port), which retrying would only hide behind the clients'
	// errors; a silent broker or an advertised one out of reach may be
	// stalled or down for now.
	if err := conn.CheckBrokers(ctx); errors.Is(err, stream.ErrNotKafka) {
		return err
	} else if err != nil {
		log.Warn("a broker did not answer the probe; the clients retry it, and partitions it leads wait", "err", err)
	}
	if w := conn.SlowBrokerWarning(cfg.Kafka.MaxWait); w != "" {
		log.Warn(w)
	}
	svc, err := newService(cfg, log, conn, nil, nil)
	if err != nil {
		return err
	}
	return svc.run(ctx)
}

// service is one running pipeline with its reader, writer and endpoint.
type service struct {
	cfg         config.Config
	log         *slog.Logger
	reg         *prometheus.Registry
	group       *stream.GroupConsumer
	writer      stream.PointWriter
	closeW      func()
	closeCkpt   func()
	closeDLQ    func()
	kafkaErrors prometheus.Counter
	kafkaOK     atomic.Bool
	sinkOK      atomic.Bool
	listener    net.Listener
	rebaselines *stream.Rebaselines
	feedbacks   *stream.Feedbacks
	// feedbackTopic carries verdicts to every instance (nil without
	// kafka.feedback_topic).
	feedbackTopic *stream.FeedbackTopic
	silences      *stream.Silences
	ckpt          *stream.KafkaCheckpoints // nil without checkpoints
	progress      *stream.Progress
	conn          *stream.Conn // how every Kafka client connects
	kafkaErr      atomic.Value // string: the metadata probe's last error
	clientErr     atomic.Value // string: the Kafka clients' last error (a refused login says more than the probe's EOF)
	token         string       // http bearer token; "" when none is configured
	// writeError is InfluxDB's answer to the last failed write while
	// writes fail (nil for writers that do not say).
	writeError func() string
	notifier   *alerting.Notifier // nil without webhooks
}

// newService wires a pipeline. conn, if nil, is built from cfg.Kafka;
// writer, if nil, is an InfluxDB writer from cfg.Influx; onAlert sees
// alert points once written.
func newService(cfg config.Config, log *slog.Logger, conn *stream.Conn, writer stream.PointWriter, onAlert func(sink.Point)) (*service, error) {
	s := &service{cfg: cfg, log: log, reg: prometheus.NewRegistry(), rebaselines: stream.NewRebaselines(),
		feedbacks: stream.NewFeedbacks(), silences: stream.NewSilences(), progress: &stream.Progress{}}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.kafkaOK.Store(true)
	s.sinkOK.Store(true)
	tok, err := cfg.HTTP.BearerToken()
	if err != nil {
		return nil, err
	}
	s.token = tok
	if len(cfg.Alerting.Webhooks) > 0 {
		if s.notifier, err = alerting.New(cfg.Alerting, log.With("component", "alerting"), s.reg); err != nil {
			return nil, err
		}
		next := onAlert
		onAlert = func(p sink.Point) {
			s.notifier.Observe(p)
			if next != nil {
				next(p)
			}
		}
	}
	if writer == nil {
		w, err := sink.New(cfg.Influx, nil, log.With("component", "sink"), sink.NewMetrics(s.reg), s.sinkOK.Store)
		if err != nil {
			return nil, err
		}
		writer, s.closeW, s.writeError = w, w.Close, w.LastError
		// Writes are retried until InfluxDB answers, so say at the start
		// where the URL leads nowhere, or to another service; beside the
		// start, not holding it up (a stalled server takes the probe's 5 s).
		go func() {
			if version, err := w.Probe(context.Background()); err != nil {
				log.Warn("no InfluxDB answered at influx.url; writes are retried until one does", "err", err)
			} else {
				log.Info("InfluxDB answered", "url", cfg.Influx.RedactedURL(), "version", version)
			}
		}()
		if cfg.Influx.CreateBucket {
			if err := ensureBucket(w, cfg.Influx, log); err != nil {
				return nil, err
			}
		}
	}
	s.writer = writer
	start := kafka.FirstOffset
	if cfg.Kafka.StartOffset == "latest" {
		start = kafka.LastOffset
	}
	if conn == nil {
		if conn, err = stream.NewConn(cfg.Kafka); err != nil {
			return nil, err
		}
	}
	s.conn = conn
	if conn.Insecure {
		log.Warn("kafka.tls.insecure_skip_verify is on: the brokers' certificates are not checked")
	}
	if cfg.Influx.TLS.InsecureSkipVerify {
		log.Warn("influx.tls.insecure_skip_verify is on: InfluxDB's certificate is not checked")
	}
	klog := log.With("component", "kafka")
	s.kafkaErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_kafka_errors_total",
		Help: "Errors the Kafka client reported (connection losses, rebalances, coordinator moves); it reconnects with backoff."})
	s.reg.MustRegister(s.kafkaErrors)
	errLog := kafka.LoggerFunc(func(msg string, args ...any) {
		text := fmt.Sprintf(msg, args...)
		if strings.Contains(text, "i/o timeout") {
			// A fetch that found nothing before its deadline on an idle
			// partition: the reader simply fetches again. A broker that is
			// really gone shows in the metadata probe (/readyz).
			klog.Debug(text)
			return
		}
		if strings.Contains(text, "Authorization Failed") {
			// Kafka's answer names no topic or group: say what the user needs.
			text = fmt.Sprintf("%s (user %q needs to read topics %v and join group %q)", text, cfg.Kafka.SASL.Username, cfg.Kafka.Topics, cfg.Kafka.Group)
		}
		s.kafkaOK.Store(false)
		s.clientErr.Store(text)
		s.kafkaErrors.Inc()
		klog.Warn(text)
	})
	group := kafka.ConsumerGroupConfig{
		ID:                cfg.Kafka.Group,
		Brokers:           cfg.Kafka.Brokers,
		Topics:            cfg.Kafka.Topics,
		StartOffset:       start,
		SessionTimeout:    cfg.Kafka.SessionTimeout,
		RebalanceTimeout:  cfg.Kafka.RebalanceTimeout,
		HeartbeatInterval: max(cfg.Kafka.SessionTimeout/10, 100*time.Millisecond),
		JoinGroupBackoff:  time.Second,
		ErrorLogger:       errLog,
	}
	var ckpt *stream.KafkaCheckpoints
	if cfg.Checkpoint.Enabled {
		ckpt = &stream.KafkaCheckpoints{Conn: conn, Topic: cfg.Checkpoint.TopicFor(cfg.Kafka.Group),
			Partitions: inputPartitions(conn, cfg.Kafka.Topics), InputTopics: cfg.Kafka.Topics, MaxBatchBytes: cfg.Checkpoint.MaxBatchBytes, RestoreBytes: cfg.Checkpoint.RestoreBytes,
			Log: log.With("component", "checkpoints"), Silences: s.silences}
		s.closeCkpt = func() { ckpt.Close() }
		s.ckpt = ckpt
	}
	if cfg.Kafka.FeedbackTopic != "" {
		received := prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_feedback_received_total",
			Help: "Verdicts read from kafka.feedback_topic and queued for their series."})
		s.reg.MustRegister(received)
		s.feedbackTopic = &stream.FeedbackTopic{Conn: conn, Topic: cfg.Kafka.FeedbackTopic, Queue: s.feedbacks,
			Log: log.With("component", "feedback"), Received: received}
	}
	var dlq stream.DeadLetter
	if cfg.Kafka.DeadLetterTopic != "" {
		w := stream.NewDeadLetterWriter(conn, cfg.Kafka.DeadLetterTopic)
		dlq = w
		s.closeDLQ = func() { w.Close() }
		if sw, ok := writer.(*sink.Writer); ok {
			sw.OnRefused(func(ctx context.Context, p *sink.Point, line string, err error) {
				msg := kafka.Message{Key: []byte(p.Series), Value: []byte(line), Headers: []kafka.Header{
					{Key: "aewatch-reason", Value: []byte("influx_refused")}, {Key: "aewatch-detail", Value: []byte(truncateDetail(err.Error()))}}}
				if err := w.WriteMessages(ctx, msg); err != nil {
					log.Warn("a point InfluxDB refused could not be dead-lettered", "series", p.Series, "err", err)
				}
			})
		}
	}
	opts := stream.Options{
		Kafka: cfg.Kafka, Pipeline: cfg.Pipeline, Detector: cfg.Detector, Output: cfg.Output, Writer: writer,
		BatchSize: cfg.Influx.BatchSize, FlushInterval: cfg.Influx.FlushInterval,
		Log: log.With("component", "pipeline"), Metrics: stream.NewMetrics(s.reg),
		OnAlert: onAlert, OnFetch: func() { s.kafkaOK.Store(true) },
		CheckpointInterval:   cfg.Checkpoint.Interval,
		CheckpointRoundBytes: cfg.Checkpoint.RoundBytes,
		DeadLetter:           dlq,
		Rebaselines:          s.rebaselines,
		Feedbacks:            s.feedbacks,
		Silences:             s.silences,
		Progress:             s.progress,
	}
	if ckpt != nil {
		opts.Checkpoints = ckpt // a nil *KafkaCheckpoints must not become a non-nil interface
	}
	if err := stream.ValidateOptions(opts); err != nil {
		return nil, err
	}
	s.group = &stream.GroupConsumer{Options: opts, Group: group, Conn: conn, Log: log.With("component", "group"), ErrorLogger: errLog}
	return s, nil
}

// run serves the endpoint and the pipeline until ctx ends and the pipeline
// has drained.
func (s *service) run(ctx context.Context) error {
	if s.cfg.HTTP.Addr != "" {
		ln, err := net.Listen("tcp", s.cfg.HTTP.Addr)
		if err != nil {
			return fmt.Errorf("http.addr: %w", err)
		}
		s.listener = ln
		// Timeouts so that idle or slow clients cannot hold connections
		// open for good; writes allow for /debug/pprof/profile's 30 s.
		hc := s.cfg.HTTP
		srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: hc.ReadHeaderTimeout, ReadTimeout: hc.ReadHeaderTimeout + 5*time.Second,
			WriteTimeout: 60 * time.Second, IdleTimeout: hc.IdleTimeout}
		if tls := s.cfg.HTTP.TLS; tls.CertFile != "" {
			if err := tls.Check(); err != nil {
				return err
			}
			go srv.ServeTLS(ln, tls.CertFile, tls.KeyFile)
		} else {
			go srv.Serve(ln)
		}
		defer srv.Close()
		if host, _, _ := net.SplitHostPort(s.cfg.HTTP.Addr); s.token == "" && !isLoopback(host) {
			s.log.Warn("http.addr is reachable beyond this host and no token is set: anyone who reaches it can re-baseline series; set AEWATCH_HTTP_TOKEN or http.token_file",
				"http_addr", s.cfg.HTTP.Addr)
		}
		if s.cfg.HTTP.Pprof {
			s.log.Warn("http.pprof is on: /debug/pprof exposes the process's internals", "http_addr", s.cfg.HTTP.Addr)
		}
	}
	s.log.Info("aewatch running", "brokers", s.cfg.Kafka.Brokers, "topics", s.cfg.Kafka.Topics,
		"group", s.cfg.Kafka.Group, "influx_url", s.cfg.Influx.RedactedURL(), "influx_bucket", s.cfg.Influx.Bucket,
		"http_addr", s.cfg.HTTP.Addr, "detector", s.cfg.Detector.Kind, "multivariate", s.cfg.Pipeline.Multivariate)
	go s.probeKafka(ctx)
	if s.feedbackTopic != nil {
		feedbackCtx, stopFeedback := context.WithCancel(ctx)
		readDone := make(chan struct{})
		go func() { s.feedbackTopic.Run(feedbackCtx); close(readDone) }()
		defer func() { stopFeedback(); <-readDone; s.feedbackTopic.Close() }()
	}
	var stopAt time.Time // when ctx ended: the shutdown budget runs from there
	if s.notifier != nil {
		// Webhooks are posted until the pipeline has stopped and their
		// queues are empty, for at most 5 s more and within the shutdown
		// budget.
		notifyCtx, stopNotify := context.WithCancel(context.WithoutCancel(ctx))
		drained, notified := make(chan struct{}), make(chan struct{})
		go func() { s.notifier.Run(notifyCtx, drained); close(notified) }()
		defer func() {
			close(drained)
			wait := 5 * time.Second
			if !stopAt.IsZero() {
				wait = max(0, min(wait, time.Until(stopAt.Add(s.cfg.Pipeline.ShutdownTimeout))))
			}
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-notified:
			case <-t.C:
				stopNotify()
				<-notified
			}
			stopNotify()
		}()
	}
	ran := make(chan error, 1)
	go func() { ran <- s.group.Run(ctx) }()
	var err error
	select {
	case err = <-ran:
	case <-ctx.Done():
		stopAt = time.Now()
		// The pipeline bounds its own drain; this bounds everything else
		// (a client that does not return) so that a stop always ends.
		t := time.NewTimer(s.cfg.Pipeline.ShutdownTimeout)
		defer t.Stop()
		select {
		case err = <-ran:
		case <-t.C:
			return fmt.Errorf("pipeline.shutdown_timeout: not stopped after %v; samples fetched but not written are not committed and will be re-delivered",
				s.cfg.Pipeline.ShutdownTimeout)
		}
	}
	if s.closeW != nil {
		s.closeW()
	}
	if s.closeCkpt != nil {
		s.closeCkpt()
	}
	if s.closeDLQ != nil {
		s.closeDLQ()
	}
	if err != nil {
		return err
	}
	s.log.Info("aewatch stopped cleanly")
	return nil
}

// bucketWait bounds how long ensureBucket waits for InfluxDB to answer.
const bucketWait = 30 * time.Second

// ensureBucket creates influx.bucket if it is missing (influx.create_bucket).
// InfluxDB started beside aewatch (a compose file, a pod) may not listen
// yet: an error of the network (refused, timed out) is retried for up to
// bucketWait; an answer, even a refusal, is not.
func ensureBucket(w *sink.Writer, cfg sink.Config, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), bucketWait)
	defer cancel()
	for backoff := 250 * time.Millisecond; ; backoff = min(2*backoff, 4*time.Second) {
		created, err := w.EnsureBucket(ctx)
		if err == nil {
			log.Info("influx.create_bucket: the bucket exists", "bucket", cfg.Bucket, "created", created)
			return nil
		}
		if netErr := net.Error(nil); !errors.As(err, &netErr) {
			return err
		}
		log.Warn("influx.create_bucket: InfluxDB does not answer yet; retrying", "err", err, "retry_in", backoff.String())
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return fmt.Errorf("%w (InfluxDB did not answer for %s)", err, bucketWait)
		}
	}
}

func truncateDetail(s string) string {
	if len(s) > 500 {
		return s[:500]
	}
	return s
}

// inputPartitions is the partition count of the first input topic (0 if
// unknown), so that the checkpoint topic is co-partitioned with it.
func inputPartitions(conn *stream.Conn, topics []string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := conn.Client(10 * time.Second)
	meta, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: topics[:1]})
	if err != nil || len(meta.Topics) == 0 {
		return 0
	}
	return len(meta.Topics[0].Partitions)
}
