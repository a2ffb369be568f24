package detector

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"testing"
)

// TestSnapshotResumesExactly: for every kind (and the sparse and variational variants), a detector restored from a
// snapshot taken mid-stream scores the rest of the stream bit for bit as
// the uninterrupted one, alert state and random source included.
func TestSnapshotResumesExactly(t *testing.T) {
	xs := signal(3000, 11)
	for i := range xs {
		xs[i] += 3 * math.Sin(2*math.Pi*float64(i)/200) // a cycle the reference's seasonal context finds
	}
	for i := 2000; i < len(xs); i++ {
		xs[i] += 2 * float64(i-2000) / 1000 // a drift the monitor sees
	}
	for i := 2700; i < 2800; i++ {
		xs[i] = xs[2699] // a stuck stretch the quality checks see
	}
	ts := times(len(xs))
	for _, k := range Kinds {
		for _, cut := range []int{10, 400, 1700, 2600, 2750} {
			cfg := DefaultConfig()
			cfg.Kind = k
			cfg.Drift.Reference, cfg.Drift.Horizon = 1000, 100
			want := run(t, cfg, ts, xs)
			resumesExactly(t, fmt.Sprintf("%s cut %d", k, cut), cfg, ts, xs, cut, want)
		}
	}
	for _, variant := range []string{"sparse", "variational"} {
		for _, cut := range []int{400, 1700} {
			cfg := DefaultConfig()
			cfg.Model.Variant = variant
			resumesExactly(t, fmt.Sprintf("%s variant cut %d", variant, cut), cfg, ts, xs, cut, run(t, cfg, ts, xs))
		}
	}
}

func TestSnapshotRejectsDamage(t *testing.T) {
	cfg := DefaultConfig()
	a, _ := New(cfg, 1)
	xs := signal(800, 12)
	for i, v := range xs {
		a.Push(int64(i+1), []float64{v})
	}
	snap, _ := a.MarshalBinary()
	fresh := func() *Detector { d, _ := New(cfg, 1); return d }

	bad := append([]byte(nil), snap...)
	bad[len(bad)/2] ^= 0x40
	if err := fresh().UnmarshalBinary(bad); err == nil || err.Error() != "detector: snapshot checksum mismatch (corrupt)" {
		t.Errorf("flipped bit: %v", err)
	}
	if err := fresh().UnmarshalBinary(snap[:len(snap)-9]); err == nil {
		t.Error("truncated snapshot accepted")
	}
	if err := fresh().UnmarshalBinary([]byte("hello")); err == nil {
		t.Error("garbage accepted")
	}
	other := cfg
	other.Seed = 2
	d, _ := New(other, 1)
	if err := d.UnmarshalBinary(snap); !errors.Is(err, ErrSnapshotMismatch) {
		t.Errorf("other config: %v, want ErrSnapshotMismatch", err)
	}
}

func FuzzUnmarshalSnapshot(f *testing.F) {
	cfg := DefaultConfig()
	cfg.Window.Size = 8
	cfg.Model.Hidden = []int{4, 2, 4}
	cfg.Calibration.History = 50
	cfg.Drift.Reference, cfg.Drift.Horizon = 100, 20                                           // monitoring by the snapshot
	cfg.Denoise = DenoiseConfig{Enabled: true, Window: 8, Delay: 4, Components: 2, Learn: 100} // fitted by the snapshot
	a, _ := New(cfg, 1)
	for i := 0; i < 300; i++ {
		a.Push(int64(i+1), []float64{math.Sin(float64(i))})
	}
	snap, _ := a.MarshalBinary()
	f.Add(snap)
	f.Add(snap[:100])
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 4 { // re-seal, so that damage reaches the decoder
			b = binary.LittleEndian.AppendUint32(b[:len(b)-4:len(b)-4], crc32.Checksum(b[:len(b)-4], castagnoli))
		}
		d, _ := New(cfg, 1)
		if d.UnmarshalBinary(b) != nil {
			return
		}
		// A snapshot that decodes must leave a detector that works.
		for i := 0; i < 50; i++ {
			for _, r := range d.Push(int64(1e12+i), []float64{1}) {
				if math.IsNaN(r.Score) || r.Score < 0 || r.Score > 1 || !(r.Drift >= 0 && r.Drift < 1) {
					t.Fatalf("score %v, drift %v after restore", r.Score, r.Drift)
				}
			}
			for _, o := range d.Denoised() {
				if !finite(o.Values[0]) {
					t.Fatalf("denoised %v after restore", o.Values[0])
				}
			}
		}
	})
}

// resumesExactly feeds xs[:cut] to a detector, restores a fresh one from
// its snapshot and checks that it scores the rest as the uninterrupted run
// want did, bit for bit.
func resumesExactly(t *testing.T, name string, cfg Config, ts []int64, xs []float64, cut int, want []scored) {
	t.Helper()
	a, _ := New(cfg, 1)
	x := []float64{0}
	for i := 0; i < cut; i++ {
		x[0] = xs[i]
		a.Push(ts[i], x)
	}
	snap, err := a.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(cfg, 1)
	if err := b.UnmarshalBinary(snap); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for i := cut; i < len(xs); i++ {
		x[0] = xs[i]
		for _, r := range b.Push(ts[i], x) {
			w := want[r.Seq]
			if math.Float64bits(r.Score) != math.Float64bits(w.score) || r.Anomaly.Open != w.alert ||
				math.Float64bits(r.Drift) != math.Float64bits(w.drift) || r.DriftAlert.Open != w.driftAlert ||
				math.Float64bits(r.Evidence) != math.Float64bits(w.evidence) || math.Float64bits(r.RefScore) != math.Float64bits(w.ref) ||
				r.Quality.Open != w.quality {
				t.Fatalf("%s: sample %d scores %v/%v reference %v drift %v/%v after restore, %v/%v reference %v drift %v/%v uninterrupted",
					name, r.Seq, r.Score, r.Anomaly.Open, r.RefScore, r.Drift, r.DriftAlert.Open, w.score, w.alert, w.ref, w.drift, w.driftAlert)
			}
		}
	}
}

// TestSnapshotChannelNames: a snapshot keeps the channel names it was
// given, readable without restoring it, and restores them; a name list of
// the wrong length is refused.
func TestSnapshotChannelNames(t *testing.T) {
	d, _ := New(DefaultConfig(), 2)
	if err := d.SetChannelNames([]string{"flow"}); err == nil {
		t.Error("one name for two channels accepted")
	}
	snap, _ := d.MarshalBinary()
	if names, err := SnapshotChannelNames(snap); err != nil || names != nil {
		t.Errorf("no names set: got %v, %v", names, err)
	}
	if err := d.SetChannelNames([]string{"flow", "pressure"}); err != nil {
		t.Fatal(err)
	}
	d.Push(1e9, []float64{1, 2})
	snap, _ = d.MarshalBinary()
	names, err := SnapshotChannelNames(snap)
	if err != nil || !slices.Equal(names, []string{"flow", "pressure"}) {
		t.Fatalf("names %v, %v", names, err)
	}
	r, _ := New(DefaultConfig(), 2)
	if err := r.UnmarshalBinary(snap); err != nil || !slices.Equal(r.names, names) {
		t.Fatalf("restored names %v, %v", r.names, err)
	}
	if _, err := SnapshotChannelNames(snap[:10]); err == nil {
		t.Error("a cut snapshot read")
	}
}
