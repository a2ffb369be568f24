package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// runFeedback gives running aewatch services an operator's verdict on an
// anomaly alert (POST /feedback on each --addr).
func runFeedback(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("feedback", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: aewatch feedback --at TIME (--false-positive | --true-positive) [--addr URL,...] [--channel C] [--by NAME] SERIES

Judges the anomaly alert of SERIES that covered TIME (RFC 3339, such as the
alert's opening time). A false positive teaches the series' detector to
tolerate departures of that kind (the alert's channel, on its side of the
level) up to a little beyond the alert's peak, a tolerance that halves every
detector.feedback.half_life; later alerts of that kind say what is tolerated.
A true positive lowers that kind's tolerance below its own peak (and takes
it back when it corrects the only false positive). Either is applied at the
series' next sample, logged, and written to InfluxDB (measurement
ae_feedback).
With kafka.feedback_topic set, one instance in --addr is enough; without,
name every instance of the group: the one that owns the series applies it,
and the command fails when no instance has seen the series (or channel).

`)
		fs.PrintDefaults()
	}
	addrs := fs.String("addr", "http://127.0.0.1:9464", "the services' http.addr, as `URLs` (comma-separated)")
	at := fs.String("at", "", "a `time` the alert covered (RFC 3339)")
	fp := fs.Bool("false-positive", false, "the alert was harmless")
	tp := fs.Bool("true-positive", false, "the alert was right")
	channel := fs.String("channel", "", "only this `channel`'s detector (default: any channel of the series)")
	by := fs.String("by", os.Getenv("USER"), "who judges, for the record")
	tokenFile := fs.String("token-file", "", "`file` holding the services' bearer token (default: $AEWATCH_HTTP_TOKEN)")
	caFile := fs.String("ca-file", "", "PEM `file` of the CA that signed the services' certificate (https --addr)")
	series, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	verdict := ""
	switch {
	case *fp == *tp:
		fs.Usage()
		return errors.New("give one of --false-positive and --true-positive")
	case *fp:
		verdict = "false_positive"
	default:
		verdict = "true_positive"
	}
	if len(series) != 1 {
		fs.Usage()
		return fmt.Errorf("name one SERIES (got %d)", len(series))
	}
	if _, err := time.Parse(time.RFC3339Nano, *at); err != nil {
		return fmt.Errorf("--at: not an RFC 3339 time such as 2024-03-01T08:00:00Z (got %q)", *at)
	}
	client, token, bases, err := operatorClient(*addrs, *tokenFile, *caFile)
	if err != nil {
		return err
	}
	q := url.Values{"series": {series[0]}, "at": {*at}, "verdict": {verdict}}
	if *channel != "" {
		q.Set("channel", *channel)
	}
	if *by != "" {
		q.Set("by", *by)
	}
	var failed, notHere []string
	accepted := 0
	for _, u := range bases {
		target := u.JoinPath("feedback")
		target.RawQuery = q.Encode()
		resp, body, err := operatorCall(ctx, client, token, http.MethodPost, target)
		switch {
		case err != nil:
			failed = append(failed, fmt.Sprintf("%s: %v", u.Host, err))
		case resp.StatusCode == http.StatusNotFound: // another instance may own it
			notHere = append(notHere, fmt.Sprintf("%s: %s", u.Host, body))
		case resp.StatusCode != http.StatusAccepted:
			failed = append(failed, fmt.Sprintf("%s: %s: %s", u.Host, resp.Status, body))
		default:
			accepted++
			fmt.Printf("%s: %s\n", u.Host, body)
		}
	}
	if accepted == 0 {
		if len(notHere) > 0 {
			failed = append(failed, notSeen(series[0], *channel))
		}
		return errors.New(strings.Join(append(failed, notHere...), "; "))
	}
	for _, f := range failed {
		fmt.Fprintln(os.Stderr, "aewatch feedback: "+f)
	}
	return nil
}
