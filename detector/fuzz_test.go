package detector

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

// FuzzPush feeds the detector signals drawn from the fuzzer's bytes: a
// detector kind, one to four channels each of one of eight shapes (a noisy
// cycle, a duty cycle, a totaliser, a quantised speed, spikes, stuck
// stretches, a random walk, recurring drops) with its own period and
// noise, dropouts, gaps, repeated times and a stride. Whatever the signal,
// the detector must meet no fault (a panic: this package's tests do not
// contain them), give each sample one result, and keep its scores in
// [0, 1]. Against the code before the fifty-first session's fix of a
// cycle found while a restarted period learnt, it found that panic in
// 13 s (testdata/fuzz/FuzzPush: a quantised speed on an 833-sample
// cycle).
func FuzzPush(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0x84, 0x03, 30, 0, 0, 0, 0x0a, 0x28}, uint64(4))
	f.Add([]byte{0, 3, 1, 0x90, 0x01, 10, 0x11, 2, 0x10, 0x07, 0xd0}, uint64(1))
	f.Add([]byte{1, 2, 2, 0x25, 0x00, 0, 0x22, 0, 0, 0x05, 0xdc}, uint64(2))
	f.Add([]byte{2, 4, 3, 0x58, 0x02, 200, 0x34, 1, 0x21, 0x09, 0xc4}, uint64(3))
	f.Add([]byte{3, 1, 4, 0xa0, 0x05, 100, 0x45, 3, 0, 0x06, 0x40}, uint64(5))
	f.Add([]byte{0, 2, 7, 0xdc, 0x05, 30, 0x56, 0, 0x31, 0x0f, 0xa0}, uint64(6))
	f.Fuzz(func(t *testing.T, b []byte, seed uint64) {
		if len(b) < 11 {
			return
		}
		cfg := DefaultConfig()
		cfg.Kind = Kinds[int(b[0])%len(Kinds)]
		c := 1 + int(b[1])%4
		shape := int(b[2]) % 8
		period := float64(max(8, int(binary.LittleEndian.Uint16(b[3:5]))%4096))
		noise := float64(b[5]) / 100
		dropout, gappy := b[6]&0x0f != 0 && c > 1, b[6]&0xf0 != 0
		if s := int(b[7]) % 4; s > 0 {
			cfg.Window.Stride = 1 << s
		}
		tied := b[8]&0x0f != 0
		n := 400 + int(binary.BigEndian.Uint16(b[9:11]))%2601
		d, err := New(cfg, c)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(seed, uint64(len(b))))
		state, next := make([]float64, c), make([]int, c)
		level := make([]float64, c)
		x := make([]float64, c)
		results := make([]int, n)
		tm := int64(1e18)
		for i := range n {
			step := int64(1e9)
			if gappy && r.Float64() < 0.01 {
				step *= 1 + r.Int64N(5000)
			}
			if tied && r.Float64() < 0.01 {
				step = 0
			}
			tm += step
			for j := range x {
				p := period * float64(1+j)
				s, e := math.Sin(2*math.Pi*float64(i)/p), noise*r.NormFloat64()
				switch (shape + j) % 8 {
				case 0:
					x[j] = 50 + 5*s + e
				case 1:
					if i >= next[j] {
						state[j], next[j] = 1-state[j], i+10+r.IntN(int(p))
					}
					x[j] = state[j]*12 + e*state[j]
				case 2:
					level[j] += 1 + 0.1*math.Abs(e)
					x[j] = level[j]
				case 3:
					x[j] = math.Round((1450+80*s+10*e)/10) * 10
				case 4:
					x[j] = e
					if r.Float64() < 0.01 {
						x[j] += 50 * r.NormFloat64()
					}
				case 5:
					x[j] = 20 + 3*s + e
					if (i/700)%3 == 2 {
						x[j] = 20
					}
				case 6:
					level[j] += e
					x[j] = level[j]
				case 7:
					x[j] = 50 + 5*s + e
					if i%1500 > 1200 {
						x[j] -= 8
					}
				}
				if dropout && r.Float64() < 0.05 {
					x[j] = math.NaN()
				}
			}
			for _, res := range d.Push(tm, x) {
				results[res.Seq]++
				if !(res.Score >= 0 && res.Score <= 1) {
					t.Fatalf("sample %d: score %v", res.Seq, res.Score)
				}
			}
		}
		for _, res := range d.Flush() {
			results[res.Seq]++
		}
		waiting := make(map[uint64]bool)
		for _, p := range d.pending {
			waiting[p.seq] = true
		}
		for seq, k := range results {
			// Only samples waiting for the stride's next window may lack one.
			if k > 1 || k == 0 && !waiting[uint64(seq)] || k == 1 && waiting[uint64(seq)] {
				t.Fatalf("sample %d of %d: %d results (waiting for the stride: %v)", seq, n, k, waiting[uint64(seq)])
			}
		}
		if len(d.pending) >= cfg.Window.Stride {
			t.Fatalf("%d samples wait for a stride of %d", len(d.pending), cfg.Window.Stride)
		}
	})
}
