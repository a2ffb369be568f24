package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aewatch/aewatch/internal/testsvc"
	"github.com/segmentio/kafka-go"
)

// startBrokerCLI runs `aewatch broker` with args and returns once it
// listens; t's cleanup interrupts it if the test has not.
func startBrokerCLI(t *testing.T, addr string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"broker", "--addr", addr}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopBrokerCLI(cmd) })
	line, err := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "broker listening") {
		t.Fatalf("broker: first line %q (%v)", line, err)
	}
	return cmd
}

func stopBrokerCLI(cmd *exec.Cmd) {
	if cmd.ProcessState == nil {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	}
}

// readPartition returns key=value of every record of topic's partition 0
// up to its end.
func readPartition(t *testing.T, addr, topic string) []string {
	t.Helper()
	var got []string
	for _, m := range partitionRecords(t, addr, topic, 0) {
		got = append(got, string(m.Key)+"="+string(m.Value))
	}
	return got
}

// partitionRecords returns every record of a partition, from its oldest up
// to where it ended when asked, read with fetch requests of its own: a
// kafka-go reader drops an answer slower than its MaxWait and redials, and
// under CI's load that ran out the deadlines of reads like these.
func partitionRecords(t *testing.T, addr, topic string, partition int) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tr := ownTransport()
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(addr), Transport: tr}
	offs, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		topic: {kafka.FirstOffsetOf(partition), kafka.LastOffsetOf(partition)}}})
	if err != nil || len(offs.Topics[topic]) != 1 || offs.Topics[topic][0].Error != nil {
		t.Fatalf("%s/%d: offsets: %v %+v", topic, partition, err, offs)
	}
	var out []kafka.Message
	for off, end := offs.Topics[topic][0].FirstOffset, offs.Topics[topic][0].LastOffset; off < end; {
		resp, err := c.Fetch(ctx, &kafka.FetchRequest{Topic: topic, Partition: partition, Offset: off,
			MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 500 * time.Millisecond})
		if err == nil {
			err = resp.Error
		}
		if err != nil {
			t.Fatalf("%s/%d@%d: after %d records: %v", topic, partition, off, len(out), err)
		}
		for {
			r, err := resp.Records.ReadRecord()
			if err != nil {
				break
			}
			if r.Offset < off || r.Offset >= end {
				continue
			}
			m := kafka.Message{Topic: topic, Partition: partition, Offset: r.Offset, Time: r.Time, Headers: r.Headers}
			if r.Key != nil {
				m.Key, _ = io.ReadAll(r.Key)
			}
			if r.Value != nil {
				m.Value, _ = io.ReadAll(r.Value)
			}
			out, off = append(out, m), r.Offset+1
		}
	}
	return out
}

// TestBrokerDataDirAndCompaction: with --data-dir the broker's records
// survive its restart, and a compacted topic (as aewatch's checkpoints are)
// keeps only each key's newest record once --compact-every has passed, so
// the embedded broker holds one checkpoint per series, as Kafka would.
func TestBrokerDataDirAndCompaction(t *testing.T) {
	addr, dir := testsvc.FreeAddr(t), t.TempDir()
	broker := startBrokerCLI(t, addr, "--topics", "sensors", "--partitions", "1", "--data-dir", dir, "--compact-every", "1s")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	err = conn.CreateTopics(kafka.TopicConfig{Topic: "state", NumPartitions: 1, ReplicationFactor: 1,
		ConfigEntries: []kafka.ConfigEntry{{ConfigName: "cleanup.policy", ConfigValue: "compact"}}})
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	write := func(topic string, kv ...string) {
		w := &kafka.Writer{Transport: ownTransport(), Addr: kafka.TCP(addr), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
		defer w.Close()
		for i := 0; i < len(kv); i += 2 { // one batch each: compaction always keeps the last batch
			if err := w.WriteMessages(ctx, kafka.Message{Key: []byte(kv[i]), Value: []byte(kv[i+1])}); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("sensors", "s1", "1.5", "s2", "2.5", "s1", "3.5")
	write("state", "a", "1", "b", "1", "a", "2", "c", "1")
	want := "[b=1 a=2 c=1]"
	deadline := time.Now().Add(15 * time.Second)
	for got := fmt.Sprint(readPartition(t, addr, "state")); got != want; got = fmt.Sprint(readPartition(t, addr, "state")) {
		if time.Now().After(deadline) {
			t.Fatalf("compacted topic holds %s, want %s", got, want)
		}
		time.Sleep(500 * time.Millisecond)
	}

	stopBrokerCLI(broker)
	startBrokerCLI(t, addr, "--topics", "sensors", "--partitions", "1", "--data-dir", dir)
	if got := fmt.Sprint(readPartition(t, addr, "sensors")); got != "[s1=1.5 s2=2.5 s1=3.5]" {
		t.Fatalf("after a restart on its data dir the broker holds %s", got)
	}
	if got := fmt.Sprint(readPartition(t, addr, "state")); got != want {
		t.Fatalf("after a restart the compacted topic holds %s, want %s", got, want)
	}
}

func TestBrokerRejectsBadFlags(t *testing.T) {
	_, stderr, code := cli(t, "broker", "--compact-every", "10ms")
	if code == 0 || !strings.Contains(stderr, "--compact-every") || !strings.Contains(stderr, "10ms") {
		t.Fatalf("exit %d, stderr %q: want an error naming --compact-every and 10ms", code, stderr)
	}
}
