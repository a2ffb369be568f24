package detector

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// controlled is a process value following its setpoint through a first-order
// lag of 20 samples, with noise 0.5: the setpoint moves among 90-110 about
// every 300 samples; from offsetAt on the process value reads 4 high (a
// sensor offset the setpoint does not explain).
func controlled(n, offsetAt int, seed uint64) (pv, sp []float64) {
	r := rand.New(rand.NewPCG(seed, seed))
	pv, sp = make([]float64, n), make([]float64, n)
	level, y := 100.0, 100.0
	for i := range n {
		if r.Float64() < 1.0/300 {
			level = 90 + 5*float64(r.IntN(5))
		}
		y += (level - y) / 20
		sp[i], pv[i] = level, y+0.5*r.NormFloat64()
		if i >= offsetAt {
			pv[i] += 4
		}
	}
	return pv, sp
}

// TestContextSetpointMovesAreNormal: with its setpoint as a context
// channel, a controlled variable's setpoint moves are not alerted once the
// relation has been learnt, and an offset of the process value is; the
// setpoint itself never carries an alert, not even the quality checks'
// (it holds still by design). Without the context the same moves are
// alerted for much longer, over the seeds: on one of them the reference,
// restarted until it saw the setpoint's levels (periodForStates), learns
// its moves without being told.
func TestContextSetpointMovesAreNormal(t *testing.T) {
	const n, offsetAt, learnt = 9000, 8000, 3000
	seeds := []uint64{1, 2, 3}
	var normalSum, bareSum float64
	for _, seed := range seeds {
		pv, sp := controlled(n, offsetAt, seed)
		run := func(context []bool) (normal, fault float64, spCarried bool) {
			t.Helper()
			cfg := DefaultConfig()
			d, err := New(cfg, 2)
			if err != nil {
				t.Fatal(err)
			}
			d.SetContext(context)
			out := make([]scored, n)
			for i := range n {
				for _, res := range d.Push(int64(i+1)*1e9, []float64{pv[i], sp[i]}) {
					out[res.Seq].alert = res.Anomaly.Open || res.Quality.Open
					for _, o := range []Outcome{res.Anomaly, res.Quality} {
						if o.Event == Opened && o.Why != nil && o.Why.Share[1] > o.Why.Share[0] {
							spCarried = true
						}
					}
				}
			}
			return coverage(out, learnt, offsetAt), coverage(out, offsetAt+cfg.Window.Size, n), spCarried
		}
		normal, fault, spCarried := run([]bool{false, true})
		bare, _, _ := run(nil)
		t.Logf("seed %d: context: setpoint moves' rows alerted %.3f, offset %.2f; without: %.3f", seed, normal, fault, bare)
		if normal > 0.05 || fault < 0.9 || spCarried {
			t.Errorf("seed %d: rows alerted with context %.3f (want <= 0.05), offset covered %.2f (want >= 0.9), setpoint carried an alert %v (want false)",
				seed, normal, fault, spCarried)
		}
		normalSum += normal
		bareSum += bare
	}
	normal, bare := normalSum/float64(len(seeds)), bareSum/float64(len(seeds))
	if bare < 2*normal+0.05 {
		t.Errorf("rows alerted over the seeds: %.3f with context, %.3f without (want well above)", normal, bare)
	}
}

// TestContextFor marks the configured channels by name, and nothing when
// none is present.
func TestContextFor(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Context = []string{"sp", "command"}
	if got := cfg.ContextFor([]string{"pv", "sp", "flow"}); !slices.Equal(got, []bool{false, true, false}) {
		t.Errorf("ContextFor = %v", got)
	}
	if got := cfg.ContextFor([]string{"pv", "flow"}); got != nil {
		t.Errorf("ContextFor without a context channel = %v, want nil", got)
	}
	cfg.Context = []string{"sp", "sp"}
	if err := cfg.Validate(2); err == nil {
		t.Error("a context channel named twice validates")
	}
}

// TestSlopeLeavesSetpointMovesToTheRelation: a controlled variable moves
// as fast as its loop drives it when its setpoint moves, faster than it
// ever moves between moves. Its level is the relation's to judge, and so
// are its moves: with the setpoint as context the slope test alerts no
// more of its normal rows than without the test.
func TestSlopeLeavesSetpointMovesToTheRelation(t *testing.T) {
	const n, learnt = 9000, 3000
	for _, seed := range []uint64{1, 2, 3} {
		pv, sp := controlled(n, n, seed)
		run := func(slope bool) float64 {
			t.Helper()
			cfg := DefaultConfig()
			cfg.Reference.Slope = slope
			d, err := New(cfg, 2)
			if err != nil {
				t.Fatal(err)
			}
			d.SetContext([]bool{false, true})
			out := make([]scored, n)
			for i := range n {
				for _, res := range d.Push(int64(i+1)*1e9, []float64{pv[i], sp[i]}) {
					out[res.Seq].alert = res.Anomaly.Open
				}
			}
			return coverage(out, learnt, n)
		}
		with, without := run(true), run(false)
		t.Logf("seed %d: rows alerted with the slope test %.4f, without %.4f", seed, with, without)
		if with > without+0.002 {
			t.Errorf("seed %d: the slope test alerts %.4f of the normal rows, %.4f without it", seed, with, without)
		}
	}
}

// TestContextDriftAgainstTheSetpoint: with its setpoint as a context
// channel, a controlled variable whose sensor drifts by 6 (12 noise
// deviations) over 10,000 samples is alerted as drift before the ramp
// ends, while its moves with the setpoint never are: the drift monitor
// reads the value against what the setpoint explains of it.
func TestContextDriftAgainstTheSetpoint(t *testing.T) {
	const n, from, to = 24000, 12000, 22000
	for _, seed := range []uint64{1, 2, 3} {
		pv, sp := controlled(n, n, seed)
		for i := from; i < to; i++ {
			pv[i] += 6 * float64(i-from) / float64(to-from)
		}
		d, err := New(DefaultConfig(), 2)
		if err != nil {
			t.Fatal(err)
		}
		d.SetContext([]bool{false, true})
		first, before := -1, 0
		for i := range n {
			for _, res := range d.Push(int64(i+1)*6e10, []float64{pv[i], sp[i]}) {
				if res.DriftAlert.Open && res.Seq < from {
					before++
				}
				if res.DriftAlert.Event == Opened && first < 0 && res.Seq >= from {
					first = int(res.Seq)
				}
			}
		}
		t.Logf("seed %d: drift opened at %d (ramp %d-%d), rows under a drift alert before it %d", seed, first, from, to, before)
		if first < 0 || first >= to || before > 0 {
			t.Errorf("seed %d: drift opened at %d, want within the ramp %d-%d; %d rows alerted as drift before it, want none", seed, first, from, to, before)
		}
	}
}
