// Command pointwait polls aewatch's /metrics until the points written reach
// a target, and prints when the first point and the last were written. It
// replaces a shell loop of curl processes, whose start-up cost fell on the
// same two cores as the run being measured.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	url := flag.String("metrics", "", "aewatch's /metrics URL (required)")
	want := flag.Float64("points", 0, "points written to wait for (required)")
	every := flag.Duration("every", 50*time.Millisecond, "polling interval")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after")
	flag.Parse()
	if *url == "" || *want <= 0 {
		fmt.Fprintln(os.Stderr, "pointwait: --metrics and --points are required")
		os.Exit(2)
	}
	deadline := time.Now().Add(*timeout)
	var first time.Time
	var firstN float64
	for time.Now().Before(deadline) {
		n, err := pointsWritten(*url)
		now := time.Now()
		if err == nil && n > 0 && first.IsZero() {
			first, firstN = now, n
		}
		if err == nil && n >= *want {
			// first_ns first_points done_ns, for the script to compute rates
			fmt.Printf("%d %.0f %d\n", first.UnixNano(), firstN, now.UnixNano())
			return
		}
		time.Sleep(*every)
	}
	fmt.Fprintf(os.Stderr, "pointwait: %v points not written within %v\n", *want, *timeout)
	os.Exit(1)
}

// plain asks for the metrics page uncompressed: gzip would cost the
// measured process CPU on every poll.
var plain = &http.Client{Transport: &http.Transport{DisableCompression: true}}

// pointsWritten reads aewatch_points_written_total from the metrics page.
func pointsWritten(url string) (float64, error) {
	resp, err := plain.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "aewatch_points_written_total "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, sc.Err()
}
