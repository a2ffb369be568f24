package stream

import (
	"github.com/aewatch/aewatch/stream/codec"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what a Pipeline does.
type Metrics struct {
	Messages       *prometheus.CounterVec
	Rejected       *prometheus.CounterVec
	SamplesDropped *prometheus.CounterVec
	Lag            *prometheus.GaugeVec
	Windows        prometheus.Counter
	ScoreLatency   prometheus.Histogram
	// SampleLatency: from a message's fetch until every point scored from
	// it is acknowledged by the sink; RecordAge: from its record's
	// timestamp, so the wait in Kafka (lag, a busy partition) counts too.
	SampleLatency, RecordAge prometheus.Histogram
	OpenAlerts               *prometheus.GaugeVec
	Rebaselines              prometheus.Counter
	// Feedback counts operators' verdicts by verdict and whether they
	// were applied to an alert.
	Feedback          *prometheus.CounterVec
	LiveSeries        prometheus.Gauge
	SeriesBytes       prometheus.Gauge
	Committed         *prometheus.GaugeVec
	Filtered          prometheus.Counter
	Checkpoints       prometheus.Counter
	CheckpointSeconds prometheus.Histogram
	// CheckpointBarrierSeconds is how long each round's first half kept
	// the fetch loop waiting: until every shard has reached the round's
	// barrier (the rest of a round runs while fetching goes on).
	CheckpointBarrierSeconds prometheus.Histogram
	// CheckpointRoundBytes is the most snapshot bytes the last round that
	// saved any held at once (bounded by checkpoint.round_bytes).
	CheckpointRoundBytes prometheus.Gauge
	CheckpointErrors     prometheus.Counter
	Restored             prometheus.Counter
	Kept                 prometheus.Counter
	DeadLettered         prometheus.Counter
	Evicted              prometheus.Counter
	AdmissionWaits       prometheus.Counter
	// PartitionPauses counts input partitions paused behind a busy shard;
	// PausedPartitions is how many are paused now (fairness.go).
	PartitionPauses  prometheus.Counter
	PausedPartitions prometheus.Gauge
	Unparked         prometheus.Counter
	// ValuesFilled counts the channels multivariate samples lacked, each
	// filled for its detector while the others were scored (unless a
	// message of the same row brought it: MessagesMerged).
	ValuesFilled prometheus.Counter
	// ValuesLeftOut counts the values of multivariate messages on
	// channels beyond their series' set, once its detector was warm: the
	// set's channels were scored without them.
	ValuesLeftOut prometheus.Counter
	// MessagesMerged counts multivariate messages merged into their
	// series' previous one, which lacked their channels, at its time or
	// less than half a typical step after it (detector/assemble.go).
	MessagesMerged prometheus.Counter
	// DetectorFaults counts faults of a detector's own code on a sample
	// (detector.Fault): the series' detector started afresh.
	DetectorFaults prometheus.Counter
	// SplitSeries counts samples of a series that came on another
	// partition than its detector's first: a producer that does not key
	// messages by series.
	SplitSeries prometheus.Counter
	// Expired counts input messages deleted by the broker before they
	// were read (GroupConsumer, at a generation's start).
	Expired prometheus.Counter
	// SkipsReread counts input offsets a Kafka reader skipped and handed
	// over when read again (gaps.go); OffsetGaps, offsets the log has no
	// message at (compaction, retention while behind).
	SkipsReread, OffsetGaps prometheus.Counter
	// TransactionMarkers counts the control records that end producers'
	// transactions (not samples: acknowledged, not rejected).
	TransactionMarkers prometheus.Counter
}

// NewMetrics registers the pipeline's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aewatch_messages_total",
			Help: "Kafka messages consumed."}, []string{"topic"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aewatch_messages_rejected_total",
			Help: "Messages rejected, by reason."}, []string{"reason"}),
		SamplesDropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aewatch_samples_rejected_total",
			Help: "Decoded samples the detectors rejected or could not take, by reason."}, []string{"reason"}),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "aewatch_consumer_lag",
			Help: "Messages behind the partition's high watermark at the last fetch."}, []string{"topic", "partition"}),
		Windows: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_windows_scored_total",
			Help: "Samples scored by a detector (one per channel in univariate mode)."}),
		SampleLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "aewatch_sample_latency_seconds",
			Help:    "Time from a message's fetch until every point scored from it is acknowledged by InfluxDB.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 17)}), // 1 ms to about 65 s
		RecordAge: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "aewatch_record_age_seconds",
			Help:    "Time from a message's Kafka record timestamp until every point scored from it is acknowledged by InfluxDB: the wait in Kafka included. The timestamp is the producer's send time, the broker's with LogAppendTime, or the event time where producers stamp records with it (aewatch produce without --now): then this is the data's age.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 22)}), // 1 ms to about 35 min
		ScoreLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "aewatch_score_seconds",
			Help: "Time to score one decoded sample (all its channels).", Buckets: prometheus.ExponentialBuckets(1e-6, 4, 10)}),
		OpenAlerts: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "aewatch_open_alerts", Help: "Alerts open now, by kind (anomaly, drift, quality)."}, []string{"kind"}),
		Rebaselines: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_rebaselines_total",
			Help: "Operator re-baselines applied to a series."}),
		Feedback: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aewatch_feedback_total",
			Help: "Operators' verdicts on anomaly alerts, by verdict and whether one was applied to the alert it named."}, []string{"verdict", "applied"}),
		LiveSeries: prometheus.NewGauge(prometheus.GaugeOpts{Name: "aewatch_live_series", Help: "Detectors in memory."}),
		SeriesBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "aewatch_series_memory_bytes",
			Help: "The most memory one detector (its buffers and models) holds at any time, every history full, in bytes; a young one, or one whose reference network is frozen, holds less."}),
		Committed: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "aewatch_committed_offset",
			Help: "Last offset committed (all points up to it acknowledged)."}, []string{"topic", "partition"}),
		Filtered: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_samples_filtered_total",
			Help: "Samples skipped by a filter (replay's time and series limits)."}),
		Checkpoints: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_checkpoints_written_total",
			Help: "Detector checkpoints written."}),
		CheckpointSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "aewatch_checkpoint_round_seconds",
			Help: "Time to write one checkpoint round.", Buckets: prometheus.DefBuckets}),
		CheckpointBarrierSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "aewatch_checkpoint_barrier_seconds",
			Help:    "Time fetching paused at each checkpoint round, until every shard reached the round's barrier.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 17)}), // 1 ms to about 65 s
		CheckpointRoundBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "aewatch_checkpoint_round_peak_bytes",
			Help: "The most snapshot bytes the last checkpoint round held in memory at once."}),
		CheckpointErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_checkpoint_restore_errors_total",
			Help: "Checkpoints that failed to restore (their series started fresh)."}),
		Restored: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_detectors_restored_total",
			Help: "Detectors restored from a checkpoint."}),
		Kept: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_detectors_kept_total",
			Help: "Detectors kept in memory across a consumer-group rebalance, their partition staying with this instance (not restored)."}),
		DeadLettered: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_messages_dead_lettered_total",
			Help: "Rejected messages written to the dead-letter topic."}),
		Evicted: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_detectors_evicted_total",
			Help: "Idle detectors parked in the checkpoint topic to respect pipeline.max_series."}),
		Unparked: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_detectors_read_back_total",
			Help: "Parked (evicted) detectors read back from the checkpoint topic as their series returned; a rate near the sample rate means pipeline.max_series thrashes."}),
		AdmissionWaits: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_series_admission_waits_total",
			Help: "New series whose detector waited for pipeline.new_series_per_second."}),
		PartitionPauses: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_partition_pauses_total",
			Help: "Input partitions paused because a shard behind a busy series had a full backlog of their samples (the other partitions kept flowing)."}),
		PausedPartitions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "aewatch_partitions_paused",
			Help: "Input partitions paused now behind a busy shard."}),
		ValuesFilled: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_values_filled_total",
			Help: "Channels a multivariate message lacked: filled from the channel's newest value, that channel not judged while its window holds one, the others scored; unless a message of the same row brought it (aewatch_messages_merged_total)."}),
		ValuesLeftOut: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_values_left_out_total",
			Help: "Values of multivariate messages on channels beyond their series' set (its first row's, grown while its detector warmed up), left out while the set's channels were scored."}),
		MessagesMerged: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_messages_merged_total",
			Help: "Multivariate messages merged into their series' previous one, which lacked their channels, at its time or less than half a typical step after it (a series sent one channel a message)."}),
		DetectorFaults: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_detector_faults_total",
			Help: "Faults of a detector's own code on a sample (a bug in aewatch, logged with its stack): the series' detector started afresh, its unscored samples counted in aewatch_samples_rejected_total{reason=\"detector_fault\"}."}),
		Expired: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_messages_expired_total",
			Help: "Input messages the broker deleted (retention) after the group's committed offset and before they were read (logged with the partition): the consumer was down longer than the topic keeps its messages."}),
		SkipsReread: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_kafka_skipped_offsets_reread_total",
			Help: "Input offsets a Kafka reader skipped and handed over when the gap was read again (logged): without the second read their points would have been missing."}),
		OffsetGaps: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_kafka_offset_gaps_total",
			Help: "Input offsets the log has no message at, confirmed by reading the gap again: compaction, or retention deleting messages the consumer had not reached."}),
		TransactionMarkers: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_kafka_transaction_markers_total",
			Help: "Control records ending transactional producers' transactions, read among the input messages and passed over (a producer's aborted transactions are logged: their records are scored as any others)."}),
		SplitSeries: prometheus.NewCounter(prometheus.CounterOpts{Name: "aewatch_samples_on_other_partition_total",
			Help: "Samples of a series that came on another partition than its detector's first (logged): producers must key messages by series, or a series' samples lose their order across partitions."}),
	}
	for _, r := range codec.Reasons {
		m.Rejected.WithLabelValues(string(r))
		m.SamplesDropped.WithLabelValues(string(r))
	}
	for _, kind := range alertKinds {
		m.OpenAlerts.WithLabelValues(kind).Set(0)
	}
	if reg != nil {
		reg.MustRegister(m.Messages, m.Rejected, m.SamplesDropped, m.Lag, m.Windows, m.ScoreLatency, m.SampleLatency, m.RecordAge,
			m.OpenAlerts, m.Rebaselines, m.Feedback, m.LiveSeries, m.SeriesBytes, m.Committed, m.Filtered,
			m.Checkpoints, m.CheckpointSeconds, m.CheckpointBarrierSeconds, m.CheckpointRoundBytes, m.CheckpointErrors, m.Restored, m.Kept, m.DeadLettered, m.Evicted, m.AdmissionWaits, m.Unparked,
			m.PartitionPauses, m.PausedPartitions, m.ValuesFilled, m.ValuesLeftOut, m.MessagesMerged, m.DetectorFaults, m.SplitSeries, m.Expired,
			m.SkipsReread, m.OffsetGaps, m.TransactionMarkers)
	}
	return m
}
