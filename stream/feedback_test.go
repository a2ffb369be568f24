package stream

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFeedbacksQueue(t *testing.T) {
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	at := now.Add(-time.Hour)
	q := NewFeedbacks()
	for _, bad := range []struct {
		r    FeedbackRequest
		want string
	}{
		{FeedbackRequest{At: at, Verdict: "false_positive"}, "series: required"},
		{FeedbackRequest{Series: "p1", Verdict: "false_positive"}, "at: required"},
		{FeedbackRequest{Series: "p1", At: at, Verdict: "maybe"}, `verdict: must be false_positive or true_positive (got "maybe")`},
		{FeedbackRequest{Series: strings.Repeat("x", 2000), At: at, Verdict: "true_positive"}, "at most 1024 bytes"},
	} {
		if err := q.Add(bad.r, now); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Add(%+v): %v, want %q", bad.r, err, bad.want)
		}
	}
	if _, err := ParseFeedback([]byte(`{"series": 3}`)); err == nil || !strings.HasPrefix(err.Error(), "feedback: ") {
		t.Errorf("ParseFeedback of a wrong type: %v", err)
	}
	if err := q.Add(FeedbackRequest{Series: "p1", At: at, Verdict: "false_positive"}, now); err != nil {
		t.Fatal(err)
	}
	if err := q.Add(FeedbackRequest{Series: "p1", At: at, Verdict: "true_positive"}, now); err != nil {
		t.Fatal(err)
	}
	if got := q.take("p2"); len(got) != 0 {
		t.Errorf("take(p2) = %v, want none", got)
	}
	got := q.take("p1")
	if len(got) != 2 || got[0].Verdict != "false_positive" || got[1].Verdict != "true_positive" || !got[0].Given.Equal(now) {
		t.Fatalf("take(p1) = %+v, want both in order, given now", got)
	}
	if len(q.take("p1")) != 0 {
		t.Error("taken twice")
	}
	// Full: verdicts that waited longer than feedbackWait make room; none
	// did, so the next is refused.
	for i := range MaxPendingFeedback {
		given := now
		if i == 0 {
			given = now.Add(-2 * feedbackWait)
		}
		if err := q.Add(FeedbackRequest{Series: "s", At: at, Verdict: "true_positive", Given: given}, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Add(FeedbackRequest{Series: "s", At: at, Verdict: "true_positive"}, now); err != nil {
		t.Errorf("a stale verdict should have made room: %v", err)
	}
	if err := q.Add(FeedbackRequest{Series: "s", At: at, Verdict: "true_positive"}, now); !errors.Is(err, ErrTooManyFeedback) {
		t.Errorf("full queue: %v, want ErrTooManyFeedback", err)
	}
}
