// Package codec owns aewatch's wire formats for sensor samples: decoding
// one Kafka message value (JSON or InfluxDB line protocol) into Samples,
// with every rejection classified by a Reason and worded to name the field
// and value (integer times in the unit the deployment names, TimeUnit),
// and the inverse encoders that `aewatch produce` and the tests send with.
//
// It does no I/O and keeps no state: the decoders append to the caller's
// slice, and every function is safe for concurrent use.
package codec
