// Package sink owns aewatch's output to InfluxDB: the ae_score, ae_alert
// (anomaly and drift alerts with their explanations) and ae_rebaseline
// measurements, their line-protocol encoding, and blocking, batched writes
// with retries. A write returns only once InfluxDB has acknowledged every
// point of the batch, so callers may commit input offsets after it.
//
// Points carry the sample's event time; re-writing a point rewrites the same
// series key and timestamp, so re-processing is idempotent. Non-finite
// field values never reach the client.
//
// Concurrency: a Writer is safe for concurrent use; it holds one reused
// InfluxDB client. Retries back off exponentially up to MaxBackoff and go on
// until the context ends.
package sink
