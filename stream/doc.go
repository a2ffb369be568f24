// Package stream owns aewatch's input: reading sensor messages from Kafka
// (decoded by package codec: JSON or InfluxDB line protocol), routing each
// series to the shard goroutine that owns its detectors, and committing
// input offsets only once every point derived from the messages up to them
// has been acknowledged by the sink (at-least-once in; with event-time
// points, effectively once out).
//
// It also owns the Kafka side of state: checkpoints in a compacted topic
// (chunked when larger than a record), parked detectors, the dead-letter
// topic, replay of history, and how every Kafka client connects (Conn:
// TLS and SASL; CheckBrokers, a probe that the brokers speak Kafka).
//
// One stage per file: pipeline.go (options, Run: starting and joining the
// stages), fetch.go (reading, decoding, time checks, hand-off to shards),
// gaps.go (a partition's offset gaps read again once; transaction markers),
// shard.go (a shard's loop and its scoring), registry.go (creating,
// restoring and evicting detectors), points.go (results and alert events as
// points), flush.go (ordered writes, acknowledgements, commits), round.go
// (checkpoint rounds), fairness.go (per-partition queues, shard backlogs and
// pauses), admit.go (new series waiting for admission), carry.go (detectors
// kept across consumer-group generations), offsets.go (the offset tracker),
// deadletter.go, rebaseline.go, feedback.go and feedbacktopic.go (operators'
// verdicts), admission.go, progress.go, group.go (consumer-group
// membership), checkpoint.go and chunks.go (the checkpoint topic),
// replay.go, conn.go (Kafka clients), probe.go (the brokers' probe).
//
// Concurrency: Pipeline.Run starts its stages in one WaitGroup and returns
// when all have stopped: one fetch goroutine, Workers shard goroutines, one
// flush goroutine (which keeps up to two writes in flight, each in its own
// goroutine, and takes their completions in batch order), the dead-letter
// sender and the drain timer; each stage closes what it feeds when it ends,
// so a stop runs down the pipeline in order. At most one goroutine
// finishes a checkpoint round (waiting for its writes, pulling the shards'
// snapshots a batch at a time over a channel per shard and saving them,
// moving the commit limits) beside the fetch loop. A round's held snapshots
// are guarded by a mutex; a shard waits for room there, or until the round
// ends. Conn, Progress, the admission pacing of new detectors and the
// readers' per-partition queues are safe for concurrent use, and so are a
// KafkaCheckpoints' read-backs (shards read parked states at once; the
// records a read-back fetched beside its own wait under a mutex).
// Each shard owns its detectors outright (no locks on models); series are
// assigned to shards by a hash of their name, and one fetch goroutine feeds
// them in partition order, so each series' samples are scored in order
// (in batches of up to 64 samples while the reader holds more messages,
// one at a time when it holds none), and a shard sends the points of each
// batch to the flush goroutine as one output. With a detector a channel, a
// sample also tells the detectors of its series' channels it lacks (the
// same shard's, as series are hashed by name) that it came without them.
// Channels between the stages are bounded (pipeline.queue_size): a slow sink
// stops fetching. A busy shard does not stop the others (fairness.go): the
// fetch loop keeps a bounded backlog per shard and pauses the partitions
// that fill it; the readers' messages wait in one queue per partition, taken
// in turn. A shard sets aside the samples of new series waiting for their
// admission and goes on with the others (admit.go). The offset tracker is
// the only state shared across goroutines and is guarded by a mutex;
// counters are Prometheus metrics.
// Operators' re-baseline requests (Rebaselines, safe for concurrent use)
// wait in a mutex-guarded queue that the owning shard drains before it
// scores the series' next sample, so a re-baseline lands in stream order.
// Verdicts on alerts (Feedbacks, safe for concurrent use) wait the same
// way; FeedbackTopic.Run reads them from kafka.feedback_topic on one
// goroutine per partition until its context ends.
// Closing a Kafka reader or leaving the group is bounded (closeWithin):
// kafka-go's Close waits for a fetch in flight, and past the bound it
// finishes on its own goroutine; a checkpoint load that waits too long for
// a record fails and is retried rather than hold its generation.
// Maintenance windows set at run time (Silences, safe for concurrent use)
// are versioned: a shard re-reads them for a series when the version
// moved since that series' last sample.
package stream
