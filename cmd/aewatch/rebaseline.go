package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aewatch/aewatch/internal/creds"
)

// runRebaseline asks running aewatch services to accept series' current
// behaviour as their new normal (POST /rebaseline on each --addr).
func runRebaseline(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("rebaseline", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: aewatch rebaseline [--addr URL,...] [--channel C] [--by NAME] SERIES...

Accepts each series' current behaviour as its new normal, from its next sample
on: the drift monitor takes a new reference (an open drift alert closes with
reason "rebaseline") and the reference model a new reference period (a
sustained anomaly alert closes too). On a multivariate series a request
without --channel also changes its channels: those its messages now carry
beyond its set are taken in, those the quality check calls missing are let
go, and its detector starts afresh over them. With a detector a channel,
a channel the quality check calls missing is let go: its alerts close, and
messages without it open nothing more until it returns. The request is logged and
written to InfluxDB (measurement ae_rebaseline). With several instances in
one consumer group, name all of them: the one that owns the series applies
it; the exit status is 1 when no instance has seen a series (or channel).

`)
		fs.PrintDefaults()
	}
	addrs := fs.String("addr", "http://127.0.0.1:9464", "the services' http.addr, as `URLs` (comma-separated)")
	channel := fs.String("channel", "", "only this `channel` (default: every channel of the series)")
	by := fs.String("by", os.Getenv("USER"), "who asks, for the record")
	tokenFile := fs.String("token-file", "", "`file` holding the services' bearer token (default: $AEWATCH_HTTP_TOKEN)")
	caFile := fs.String("ca-file", "", "PEM `file` of the CA that signed the services' certificate (https --addr)")
	series, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(series) == 0 {
		fs.Usage()
		return errors.New("name at least one SERIES")
	}
	client, token, bases, err := operatorClient(*addrs, *tokenFile, *caFile)
	if err != nil {
		return err
	}
	var failed []string
	accepted := map[string]bool{}
	var notHere []string
	for _, u := range bases {
		for _, s := range series {
			q := url.Values{"series": {s}}
			if *channel != "" {
				q.Set("channel", *channel)
			}
			if *by != "" {
				q.Set("by", *by)
			}
			target := u.JoinPath("rebaseline")
			target.RawQuery = q.Encode()
			resp, body, err := operatorCall(ctx, client, token, http.MethodPost, target)
			if err != nil {
				failed = append(failed, fmt.Sprintf("%s %s: %v", u.Host, s, err))
				continue
			}
			if resp.StatusCode == http.StatusNotFound { // another instance may own it
				notHere = append(notHere, fmt.Sprintf("%s %s: %s", u.Host, s, body))
				continue
			}
			if resp.StatusCode != http.StatusAccepted {
				failed = append(failed, fmt.Sprintf("%s %s: %s: %s", u.Host, s, resp.Status, body))
				continue
			}
			accepted[s] = true
			fmt.Printf("%s: %s\n", u.Host, body)
		}
	}
	for _, s := range series {
		if !accepted[s] {
			failed = append(failed, notSeen(s, *channel))
		}
	}
	if len(failed) > 0 {
		failed = append(failed, notHere...)
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

// notSeen says that no instance an operator's command asked has seen
// series (or its channel, if not "").
func notSeen(series, channel string) string {
	if channel != "" {
		return fmt.Sprintf("series %q, channel %q: no instance in --addr has seen it", series, channel)
	}
	return fmt.Sprintf("series %q: no instance in --addr has seen it", series)
}

// operatorClient is what the operator's commands need to reach the
// services: their URLs from addrs (http.addr, comma-separated), an HTTP
// client trusting the CA in caFile for https ones, and the bearer token
// from tokenFile or $AEWATCH_HTTP_TOKEN.
func operatorClient(addrs, tokenFile, caFile string) (*http.Client, string, []*url.URL, error) {
	var bases []*url.URL
	for _, base := range splitList(addrs) {
		if !strings.Contains(base, "://") {
			base = "http://" + base
		}
		u, err := url.Parse(base)
		if err != nil || u.Host == "" {
			return nil, "", nil, fmt.Errorf("--addr: not a URL (got %q)", base)
		}
		bases = append(bases, u)
	}
	token := os.Getenv("AEWATCH_HTTP_TOKEN")
	if tokenFile != "" {
		var err error
		if token, err = creds.Secret("--token-file", tokenFile); err != nil {
			return nil, "", nil, err
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	if caFile != "" {
		pool, err := creds.CAPool("--ca-file", caFile)
		if err != nil {
			return nil, "", nil, err
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	return client, token, bases, nil
}

// operatorCall sends one operator request with the bearer token and
// returns the response with its body (trimmed, at most 1 MiB).
func operatorCall(ctx context.Context, client *http.Client, token, method string, target *url.URL) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, target.String(), nil)
	if err != nil {
		return nil, "", err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, strings.TrimSpace(string(body)), nil
}
