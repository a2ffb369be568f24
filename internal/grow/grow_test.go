package grow

import "testing"

func TestToDoublesUpToTheLimit(t *testing.T) {
	var s []int
	var caps []int
	for i := range 300 {
		s = To(s, i+1, 300)
		s[i] = i
		if len(caps) == 0 || caps[len(caps)-1] != cap(s) {
			caps = append(caps, cap(s))
		}
	}
	want := []int{64, 128, 256, 300}
	if len(caps) != len(want) {
		t.Fatalf("capacities %v, want %v", caps, want)
	}
	for i := range want {
		if caps[i] != want[i] {
			t.Fatalf("capacities %v, want %v", caps, want)
		}
	}
	for i, v := range s {
		if v != i {
			t.Fatalf("s[%d] = %d after growing, want %d", i, v, i)
		}
	}
}

func TestToKeepsASmallLimit(t *testing.T) {
	s := To([]float64(nil), 3, 10)
	if len(s) != 3 || cap(s) != 10 {
		t.Fatalf("len %d cap %d, want 3 and 10", len(s), cap(s))
	}
}

func TestRoomLeavesTheLength(t *testing.T) {
	s := Room([]byte{1, 2}, 5)
	if len(s) != 2 || cap(s) < 3 || cap(s) > 5 || s[0] != 1 || s[1] != 2 {
		t.Fatalf("Room gave len %d cap %d %v", len(s), cap(s), s)
	}
	s = append(s, 3)
	if s[2] != 3 {
		t.Fatal("append after Room")
	}
}

func TestToPanicsBeyondTheLimit(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for n > limit")
		}
	}()
	To([]int(nil), 11, 10)
}

func TestAppendStaysWithinTheLimit(t *testing.T) {
	var s []int
	for i := 0; i < 100; i += 4 {
		s = Append(s, 100, i, i+1, i+2, i+3)
	}
	if len(s) != 100 || cap(s) != 100 {
		t.Fatalf("len %d cap %d, want 100 and 100", len(s), cap(s))
	}
	for i, v := range s {
		if v != i {
			t.Fatalf("s[%d] = %d, want %d", i, v, i)
		}
	}
}
