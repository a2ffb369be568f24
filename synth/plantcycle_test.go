package synth

import "testing"

// TestPlantCycles: the start-stop temperature stays between its two
// targets and cools by more than 10 within 20 samples of a stop; the
// filter is cleaned every 1,300-1,700 samples, each time by more than 10;
// an unknown signal is refused.
func TestPlantCycles(t *testing.T) {
	s, err := GeneratePlantCycle("start_stop", 20000, 1)
	if err != nil {
		t.Fatal(err)
	}
	falls := 0
	for i, v := range s.Values {
		if v < 15 || v > 70 {
			t.Fatalf("start_stop: sample %d is %v, outside [15, 70]", i, v)
		}
		if i >= 20 && s.Values[i-20]-v > 10 { // 20 samples into a stop it has cooled by a quarter
			falls++
		}
	}
	if falls == 0 {
		t.Error("start_stop: never cooled by 10 in 20 samples: no stop")
	}
	f, err := GeneratePlantCycle("filter_reset", 20000, 1)
	if err != nil {
		t.Fatal(err)
	}
	var cleanings []int
	for i := 1; i < len(f.Values); i++ {
		if f.Values[i-1]-f.Values[i] > 10 {
			cleanings = append(cleanings, i)
		}
	}
	if len(cleanings) < 11 || len(cleanings) > 15 {
		t.Fatalf("filter_reset: %d cleanings in 20,000 samples, want 11-15", len(cleanings))
	}
	for k := 1; k < len(cleanings); k++ {
		if gap := cleanings[k] - cleanings[k-1]; gap < 1300 || gap > 1700 {
			t.Errorf("filter_reset: cleanings %d samples apart, want 1,300-1,700", gap)
		}
	}
	if _, err := GeneratePlantCycle("boiler", 10, 1); err == nil {
		t.Error("an unknown signal: no error")
	}
}
