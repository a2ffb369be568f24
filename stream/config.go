package stream

import (
	"fmt"
	"path"
	"time"

	"github.com/aewatch/aewatch/stream/codec"
)

// KafkaConfig says where samples come from.
type KafkaConfig struct {
	Brokers []string `yaml:"brokers"`
	Topics  []string `yaml:"topics"`
	Group   string   `yaml:"group"`
	// Format is the default message format: json or line.
	Format string `yaml:"format"`
	// TopicFormats overrides Format per topic.
	TopicFormats map[string]string `yaml:"topic_formats"`
	// TimeUnit is what a message's integer time counts: ns, us, ms or s
	// (empty: ns), in every topic.
	TimeUnit string `yaml:"time_unit"`
	// Series, if set, lists the series (path.Match patterns) to score;
	// messages of other series are rejected as unknown_series.
	Series          []string      `yaml:"series"`
	MaxMessageBytes int           `yaml:"max_message_bytes"`
	MaxWait         time.Duration `yaml:"max_wait"`
	CommitInterval  time.Duration `yaml:"commit_interval"`
	// SessionTimeout is how long the group waits for a silent member (say,
	// a killed instance) before giving its partitions to others.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// RebalanceTimeout is how long a rebalance waits for members to
	// rejoin. A member rejoins only after it has checkpointed, written and
	// committed what it had, so the next owner of a partition never loads
	// a checkpoint older than its state: keep it above the drain time
	// (pipeline.shutdown_timeout). It is also how long a rebalance can
	// wait for a member that died while joining: with the broker in
	// `aewatch broker`, 60s here stalled a group for a minute after a
	// restart (cmd/aewatch TestChaos).
	RebalanceTimeout time.Duration `yaml:"rebalance_timeout"`
	// DeadLetterTopic, if set, receives every rejected message with its
	// reason in the aewatch-reason header.
	DeadLetterTopic string `yaml:"dead_letter_topic"`
	// FeedbackTopic, if set, carries operators' verdicts on alerts to every
	// instance (FeedbackTopic); POST /feedback publishes to it.
	FeedbackTopic string `yaml:"feedback_topic"`
	// StartOffset is where a group with no committed offset starts:
	// earliest or latest.
	StartOffset string          `yaml:"start_offset"`
	TLS         KafkaTLSConfig  `yaml:"tls"`
	SASL        KafkaSASLConfig `yaml:"sasl"`
}

// PipelineConfig sizes the scoring stage.
type PipelineConfig struct {
	// Multivariate scores the channels of a series as one detector;
	// otherwise each (series, channel) is its own.
	Multivariate bool `yaml:"multivariate"`
	// Workers is the number of shard goroutines (0: one per CPU).
	Workers int `yaml:"workers"`
	// QueueSize bounds each channel between stages, in samples.
	QueueSize int `yaml:"queue_size"`
	// MaxSeries bounds live detectors; samples of new series beyond it are
	// rejected as series_limit.
	MaxSeries int `yaml:"max_series"`
	// ShutdownTimeout bounds a stop (SIGTERM, or the end of a generation
	// at a rebalance): scoring, writing and committing what was fetched get
	// most of it; what is still unwritten then is left to be re-delivered.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// MaxFuture rejects (bad_time) a sample dated more than this after the
	// later of its Kafka record's time and the wall clock: one sample dated
	// 2099 would otherwise make every later sample of its series out of
	// order. MaxPast (0: no bound) rejects one dated more than this before
	// the earlier of the two; leave it 0 to replay old data.
	MaxFuture time.Duration `yaml:"max_future"`
	MaxPast   time.Duration `yaml:"max_past"`
	// StallTimeout: /healthz fails while fetched samples have waited this
	// long with no write acknowledged (a wedged pipeline, or an InfluxDB
	// outage that long); 0 turns the check off.
	StallTimeout time.Duration `yaml:"stall_timeout"`
	// MaxChannels rejects (channel_limit) a message with a sample of more
	// channels: 40 messages of 10,000 channels once took 5 GB.
	MaxChannels int `yaml:"max_channels"`
	// NewSeriesPerSecond paces the creation of detectors for series never
	// seen (no checkpoint): beyond it, their samples wait. 0: unpaced.
	NewSeriesPerSecond int `yaml:"new_series_per_second"`
}

// DefaultKafkaConfig returns the defaults.
func DefaultKafkaConfig() KafkaConfig {
	return KafkaConfig{Brokers: []string{"localhost:9092"}, Group: "aewatch", Format: "json", TimeUnit: "ns",
		MaxMessageBytes: 1 << 20, MaxWait: 250 * time.Millisecond, CommitInterval: time.Second,
		SessionTimeout: 10 * time.Second, RebalanceTimeout: 30 * time.Second, StartOffset: "earliest"}
}

// DefaultPipelineConfig returns the defaults.
func DefaultPipelineConfig() PipelineConfig {
	return PipelineConfig{QueueSize: 10000, MaxSeries: 100000, ShutdownTimeout: 10 * time.Second, MaxFuture: time.Hour, StallTimeout: 5 * time.Minute,
		MaxChannels: 256, NewSeriesPerSecond: 2000}
}

// Validate names the first invalid field and its value.
func (c KafkaConfig) Validate() error {
	if len(c.Brokers) == 0 {
		return fmt.Errorf("kafka.brokers: at least one host:port (got %v)", c.Brokers)
	}
	for i, b := range c.Brokers {
		if b == "" {
			return fmt.Errorf("kafka.brokers[%d]: empty", i)
		}
	}
	if _, err := codec.ParseTimeUnit(c.TimeUnit); err != nil {
		return fmt.Errorf("kafka.time_unit: %w", err)
	}
	if _, err := codec.DecoderFor(c.Format, codec.Nanosecond); err != nil {
		return fmt.Errorf("kafka.format: %w", err)
	}
	for t, f := range c.TopicFormats {
		if _, err := codec.DecoderFor(f, codec.Nanosecond); err != nil {
			return fmt.Errorf("kafka.topic_formats[%s]: %w", t, err)
		}
	}
	for i, p := range c.Series {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("kafka.series[%d]: bad pattern %q: %v", i, p, err)
		}
	}
	switch {
	case c.Group == "":
		return fmt.Errorf("kafka.group: required (got %q)", c.Group)
	case c.MaxMessageBytes < 64 || c.MaxMessageBytes > 64<<20:
		return fmt.Errorf("kafka.max_message_bytes: must be in [64, 67108864] (got %d)", c.MaxMessageBytes)
	case c.MaxWait < time.Millisecond:
		return fmt.Errorf("kafka.max_wait: must be >= 1ms (got %v)", c.MaxWait)
	case c.CommitInterval <= 0:
		return fmt.Errorf("kafka.commit_interval: must be > 0 (got %v)", c.CommitInterval)
	case c.SessionTimeout < time.Second || c.SessionTimeout > 30*time.Minute:
		return fmt.Errorf("kafka.session_timeout: must be in [1s, 30m] (got %v)", c.SessionTimeout)
	case c.RebalanceTimeout < 10*time.Second || c.RebalanceTimeout > 30*time.Minute:
		return fmt.Errorf("kafka.rebalance_timeout: must be in [10s, 30m] (got %v)", c.RebalanceTimeout)
	case c.StartOffset != "earliest" && c.StartOffset != "latest":
		return fmt.Errorf("kafka.start_offset: must be earliest or latest (got %q)", c.StartOffset)
	}
	if err := c.TLS.validate(); err != nil {
		return err
	}
	return c.SASL.validate()
}

// ValidateForRun also requires topics.
func (c KafkaConfig) ValidateForRun() error {
	if err := c.Validate(); err != nil {
		return err
	}
	if len(c.Topics) == 0 {
		return fmt.Errorf("kafka.topics: at least one topic (got %v)", c.Topics)
	}
	return nil
}

// Validate names the first invalid field and its value.
func (c PipelineConfig) Validate() error {
	switch {
	case c.Workers < 0 || c.Workers > 1024:
		return fmt.Errorf("pipeline.workers: must be in [0, 1024] (got %d)", c.Workers)
	case c.QueueSize < 1 || c.QueueSize > 10_000_000:
		return fmt.Errorf("pipeline.queue_size: must be in [1, 10000000] (got %d)", c.QueueSize)
	case c.MaxSeries < 1:
		return fmt.Errorf("pipeline.max_series: must be >= 1 (got %d)", c.MaxSeries)
	case c.MaxFuture < time.Second:
		return fmt.Errorf("pipeline.max_future: must be >= 1s (got %v)", c.MaxFuture)
	case c.MaxChannels < 1 || c.MaxChannels > 1<<16:
		return fmt.Errorf("pipeline.max_channels: must be in [1, 65536] (got %d)", c.MaxChannels)
	case c.NewSeriesPerSecond < 0:
		return fmt.Errorf("pipeline.new_series_per_second: must be >= 0, 0 for no pacing (got %d)", c.NewSeriesPerSecond)
	case c.StallTimeout != 0 && c.StallTimeout < time.Second:
		return fmt.Errorf("pipeline.stall_timeout: must be 0 (off) or >= 1s (got %v)", c.StallTimeout)
	case c.MaxPast < 0:
		return fmt.Errorf("pipeline.max_past: must be >= 0, 0 for no bound (got %v)", c.MaxPast)
	case c.ShutdownTimeout < time.Second || c.ShutdownTimeout > time.Hour:
		return fmt.Errorf("pipeline.shutdown_timeout: must be in [1s, 1h] (got %v)", c.ShutdownTimeout)
	}
	return nil
}

// Decoder returns the decoder of topic's messages: its format
// (kafka.topic_formats, else kafka.format) with kafka.time_unit.
func (c KafkaConfig) Decoder(topic string) (codec.Decoder, error) {
	f := c.Format
	if tf, ok := c.TopicFormats[topic]; ok {
		f = tf
	}
	unit, err := codec.ParseTimeUnit(c.TimeUnit)
	if err != nil {
		return nil, fmt.Errorf("kafka.time_unit: %w", err)
	}
	return codec.DecoderFor(f, unit)
}
