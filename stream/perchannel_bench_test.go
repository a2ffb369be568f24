package stream

import (
	"fmt"
	"testing"
	"time"

	"github.com/aewatch/aewatch/detector"
	"github.com/segmentio/kafka-go"
)

// BenchmarkChannelPerMessage: a series of 50 channels sent one channel a
// message (a gateway publishing each tag on its own), 200 rows, with one
// detector a channel: "tell" with the quality check missing on (each
// message tells the detectors of the channels it lacks), "off" with it
// off. The ns/msg figures' ratio is what telling costs.
//
//	go test -run '^$' -bench ChannelPerMessage -benchmem ./stream
func BenchmarkChannelPerMessage(b *testing.B) {
	const channels, rows = 50, 200
	for _, mode := range []string{"off", "tell"} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				f := &listFetcher{allRead: make(chan struct{}), writer: &outOfOrderWriter{written: map[int64]bool{}}}
				for i := range rows {
					for c := range channels {
						msg := fmt.Sprintf(`{"series":"gw","time":%d,"values":{"c%02d":%d}}`, int64(1_700_000_000+i)*1e9, c, 100+(i+c)%7)
						f.msgs = append(f.msgs, kafka.Message{Topic: "sensors", Offset: int64(len(f.msgs)), Value: []byte(msg)})
					}
				}
				dcfg := detector.DefaultConfig()
				if mode == "off" {
					dcfg.Quality.MissingSamples = 0
				}
				p, writer, _, _ := multivariatePipeline(b, f, dcfg, func(o *Options) { o.Pipeline.Multivariate = false })
				b.StartTimer()
				if got := runUntilWritten(b, p, f, writer, channels*(rows-31), time.Minute); got < channels*(rows-31) {
					b.Fatalf("%d points written, want %d", got, channels*(rows-31))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*channels*rows), "ns/msg")
		})
	}
}
