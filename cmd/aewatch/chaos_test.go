package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/aewatch/aewatch/internal/testsvc"
	"github.com/aewatch/aewatch/sensorcsv"
)

// groupState returns the group's state and its member count ("" when
// the broker does not answer).
func groupState(brokers, group string) (string, int) {
	tr := ownTransport()
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(brokers), Timeout: 5 * time.Second, Transport: tr}
	resp, err := c.DescribeGroups(context.Background(), &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
	if err != nil || len(resp.Groups) == 0 || resp.Groups[0].Error != nil {
		return "", 0
	}
	return resp.Groups[0].GroupState, len(resp.Groups[0].Members)
}

// chaos injects broker faults while on: any request but the test's own
// produce to the input topic has its connection dropped with probability
// drop, and a fetch is answered with a broker error with probability
// fetchErr. Seeded, so a seed repeats the same sequence of draws.
type chaos struct {
	on              atomic.Bool
	drop, fetchErr  float64
	mu              sync.Mutex
	rng             *rand.Rand
	drops, failures atomic.Int64
	trace           []string // the group requests the broker saw, for a failure's log
}

// traceGroup records a consumer-group request: who joins, syncs, leaves.
func (c *chaos) traceGroup(kreq kmsg.Request) {
	var line string
	switch r := kreq.(type) {
	case *kmsg.JoinGroupRequest:
		line = fmt.Sprintf("JoinGroup member=%q", r.MemberID)
	case *kmsg.SyncGroupRequest:
		line = fmt.Sprintf("SyncGroup member=%q generation=%d assignments=%d", r.MemberID, r.Generation, len(r.GroupAssignment))
	case *kmsg.LeaveGroupRequest:
		line = fmt.Sprintf("LeaveGroup member=%q members=%d", r.MemberID, len(r.Members))
	default:
		return
	}
	c.mu.Lock()
	c.trace = append(c.trace, time.Now().Format("15:04:05.000")+" "+line)
	c.mu.Unlock()
}

// install puts c in front of every request cluster handles.
func (c *chaos) install(cluster *kfake.Cluster) {
	cluster.ControlKey(-1, func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		c.traceGroup(kreq)
		if !c.on.Load() {
			return nil, nil, false
		}
		if pr, ok := kreq.(*kmsg.ProduceRequest); ok {
			for _, pt := range pr.Topics {
				if pt.Topic == "sensors" {
					return nil, nil, false
				}
			}
		}
		c.mu.Lock()
		u := c.rng.Float64()
		c.mu.Unlock()
		switch {
		case u < c.drop:
			c.drops.Add(1)
			return nil, errors.New("chaos: connection dropped"), true
		case u < c.drop+c.fetchErr:
			if fr, ok := kreq.(*kmsg.FetchRequest); ok {
				c.failures.Add(1)
				return testsvc.FetchError(fr, testsvc.KafkaStorageError), nil, true
			}
		}
		return nil, nil, false
	})
}

// TestChaos is the guard for the family of the reliability issue: faults
// drawn at random (a seed, AEWATCH_TEST_CHAOS_SEED, repeats a run's draws;
// AEWATCH_TEST_CHAOS_ROUNDS lengthens it) while series arrive in chunks. Broker
// connections drop and fetches fail throughout; each round also pauses
// InfluxDB, SIGTERMs or SIGKILLs an instance and starts it again, or
// starts or stops a second instance (a rebalance). Whatever happened, once
// the faults stop every point equals eval, the committed offsets reach the
// end of every partition, every SIGTERM ended its instance within the
// shutdown timeout and no sample was taken as out of order. A new hang,
// loss or corruption on these paths fails here before a user finds it.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	seed, rounds := uint64(1), 8
	if v, err := strconv.ParseUint(os.Getenv("AEWATCH_TEST_CHAOS_SEED"), 10, 64); err == nil {
		seed = v
	}
	if v, err := strconv.Atoi(os.Getenv("AEWATCH_TEST_CHAOS_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	t.Logf("seed %d, %d rounds (AEWATCH_TEST_CHAOS_SEED, AEWATCH_TEST_CHAOS_ROUNDS)", seed, rounds)
	influx := testsvc.StartInflux(t, "sensors")
	cluster := testsvc.KafkaCluster(t, 4, []string{"sensors"})
	brokers := cluster.ListenAddrs()[0]
	c := &chaos{drop: 0.01, fetchErr: 0.02, rng: rand.New(rand.NewPCG(seed, 0x63686173))}
	c.install(cluster)
	act := rand.New(rand.NewPCG(seed, 0x616374))

	files := writeSeries(t, 4, 3000)
	total := expectedPoints(t, files)
	var msgs [][]kafka.Message
	for _, f := range files {
		msgs = append(msgs, fileMessages(t, f))
	}
	w := &kafka.Writer{Transport: ownTransport(), Addr: kafka.TCP(brokers), Topic: "sensors", Balancer: &kafka.Hash{}, BatchSize: 1000, BatchTimeout: time.Millisecond,
		RequiredAcks: kafka.RequireAll}
	defer w.Close()
	produceChunk := func(k int) {
		var chunk []kafka.Message
		for _, m := range msgs {
			chunk = append(chunk, m[k*len(m)/rounds:(k+1)*len(m)/rounds]...)
		}
		if err := w.WriteMessages(context.Background(), chunk...); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}

	const shutdown = 4 * time.Second
	opts := []string{"--set", "checkpoint.interval=300ms", "--set", "kafka.session_timeout=6s",
		"--set", "pipeline.shutdown_timeout=" + shutdown.String(), "--set", "influx.max_backoff=500ms", "--set", "kafka.rebalance_timeout=10s"}
	var runs, all []*runProc // live instances; every instance started
	start := func() {
		p := startRun(t, brokers, influx.URL, "g-chaos", opts...)
		runs, all = append(runs, p), append(all, p)
	}
	// sigterm requires an exit within the shutdown timeout and some slack;
	// the exit code may say that samples were left for re-delivery.
	sigterm := func(p *runProc) {
		began := time.Now()
		p.terminate(t)
		if took := time.Since(began); took > shutdown+3*time.Second {
			t.Errorf("SIGTERM took %v to end an instance (shutdown timeout %v)", took.Round(time.Millisecond), shutdown)
		}
	}
	var actions []string
	// settle waits until the group is stable with each live instance a
	// member, so that processes die and join between rebalances, not in a
	// storm of them: kfake restarts a rebalance's wait at every join (Kafka
	// does not), and kafka-go joins again under a new member ID after a
	// join that timed out, so joins every few seconds never let one end.
	// A stable group with more members than live instances holds one that
	// died while its JoinGroup was pending (kafka-go cannot leave then, its
	// #1248): Kafka expires it after the session timeout, kfake never
	// (it starts no session timer for a member whose JoinGroup answer it
	// could not deliver), so after more than a session timeout one more
	// instance joins to bring the rebalance that drops it (a kick, counted
	// in the log).
	kicks := 0
	settle := func() {
		var extraSince time.Time
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			state, members := groupState(brokers, "g-chaos")
			switch {
			case state == "Stable" && members == len(runs):
				return
			case state == "Stable" && members > len(runs):
				if extraSince.IsZero() {
					extraSince = time.Now()
				} else if time.Since(extraSince) > 8*time.Second && kicks < 8 {
					kicks++
					start()
					extraSince = time.Time{}
				}
			default:
				extraSince = time.Time{}
			}
		}
		t.Logf("the group did not settle within 60s")
	}
	t.Cleanup(func() { // after each instance's own log (cleanups run last first)
		if !t.Failed() {
			return
		}
		c.mu.Lock()
		t.Logf("rounds: %s\ngroup requests the broker saw:\n%s", strings.Join(actions, ", "), strings.Join(c.trace, "\n"))
		c.mu.Unlock()
	})
	start()
	for k := range rounds {
		c.on.Store(false)
		produceChunk(k)
		c.on.Store(true)
		a := act.IntN(5)
		if a >= 1 && a <= 3 {
			settle()
		}
		i := act.IntN(len(runs))
		switch a {
		case 0:
			actions = append(actions, "influxd paused 3s")
			influx.Pause()
			time.Sleep(3 * time.Second)
			influx.Resume()
		case 1:
			actions = append(actions, "SIGTERM and restart")
			sigterm(runs[i])
			runs = append(runs[:i], runs[i+1:]...)
			start()
		case 2:
			actions = append(actions, "SIGKILL and restart")
			runs[i].cmd.Process.Kill()
			runs[i].cmd.Wait()
			runs = append(runs[:i], runs[i+1:]...)
			start()
		case 3:
			if len(runs) == 1 {
				actions = append(actions, "second instance joins")
				start()
			} else {
				actions = append(actions, "an instance leaves")
				sigterm(runs[i])
				runs = append(runs[:i], runs[i+1:]...)
			}
		default:
			actions = append(actions, "broker faults only")
		}
		time.Sleep(time.Duration(1000+act.IntN(2000)) * time.Millisecond)
	}
	c.on.Store(false)
	settle()
	count := scoreCount(influx)
	waitAtLeast(t, total, 90*time.Second, count)
	waitStable(t, "ae_score points", count)
	ends := topicEnds(t, brokers, 4)
	committed := waitCommitted(t, brokers, "g-chaos", ends, 10*time.Second)
	for _, p := range runs {
		p.stop(t)
	}
	if !atEnd(committed, ends) {
		t.Errorf("committed offsets %v, want the partitions' ends %v", committed, ends)
	}
	// The input is in order: a sample taken as out of order was re-read
	// into a state that already held it (a checkpoint's offset behind its
	// state).
	for _, p := range all {
		if strings.Contains(p.stderr.String(), "sample not after its series' previous one") {
			t.Errorf("an instance dropped samples as out of order: a restored state and its offset disagree")
			break
		}
	}
	for _, file := range files {
		want, order := evalScores(t, file)
		got := influxScores(t, influx, sensorcsv.SeriesName(file))
		var missing []int
		for i, ts := range order[31:] {
			if _, ok := got[ts]; !ok {
				missing = append(missing, i+31)
			}
		}
		if len(missing) > 0 {
			t.Logf("%s: %d samples without a point, the first %v", sensorcsv.SeriesName(file), len(missing), missing[:min(len(missing), 40)])
		}
		compareToEval(t, got, want, order, file+" under chaos")
	}
	t.Logf("%d connections dropped, %d fetches failed; rounds: %s; %d kicks; all %d points equal eval",
		c.drops.Load(), c.failures.Load(), strings.Join(actions, ", "), kicks, total)
}
