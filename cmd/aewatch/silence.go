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

	"github.com/aewatch/aewatch/stream"
)

// runSilence sets, lists or lifts maintenance windows on running aewatch
// services (POST, GET and DELETE /silence on each --addr).
func runSilence(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("silence", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: aewatch silence [--addr URL,...] (--for DURATION | --to TIME) [--from TIME] [--reason R] [--by NAME] PATTERN
       aewatch silence [--addr URL,...] --list
       aewatch silence [--addr URL,...] --lift ID

Sets a maintenance window on every running instance given in --addr: the
samples of the series PATTERN matches (a path pattern such as "pump-*";
"" for every series) whose event time lies in the window are scored and
written flagged silenced, open no alert, and teach no model. It ends on its
own. The window is stored in the checkpoint topic, so it outlives restarts
and follows the series' partitions. Times are RFC 3339
(2024-03-01T08:00:00Z); --from defaults to now.

`)
		fs.PrintDefaults()
	}
	addrs := fs.String("addr", "http://127.0.0.1:9464", "the services' http.addr, as `URLs` (comma-separated)")
	from := fs.String("from", "", "start `time` (default: now)")
	to := fs.String("to", "", "end `time`")
	dur := fs.Duration("for", 0, "length of the window from --from, e.g. 2h (instead of --to)")
	reason := fs.String("reason", "", "why, for the record")
	by := fs.String("by", os.Getenv("USER"), "who sets it, for the record")
	list := fs.Bool("list", false, "list the windows each instance holds")
	lift := fs.String("lift", "", "lift the window with this `ID`")
	tokenFile := fs.String("token-file", "", "`file` holding the services' bearer token (default: $AEWATCH_HTTP_TOKEN)")
	caFile := fs.String("ca-file", "", "PEM `file` of the CA that signed the services' certificate (https --addr)")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	method, q := http.MethodPost, url.Values{}
	switch {
	case *list:
		method = http.MethodGet
	case *lift != "":
		method = http.MethodDelete
		q.Set("id", *lift)
	case len(rest) != 1:
		fs.Usage()
		return errors.New("name one series PATTERN (or --list, or --lift ID)")
	case (*dur == 0) == (*to == ""):
		return fmt.Errorf("give one of --for and --to (got --for %v, --to %q)", *dur, *to)
	default:
		q.Set("series", rest[0])
		q.Set("id", stream.NewSilenceID()) // one window, the same on every instance
		for k, v := range map[string]string{"from": *from, "to": *to, "reason": *reason, "by": *by} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if *dur != 0 {
			q.Set("for", dur.String())
		}
	}
	client, token, bases, err := operatorClient(*addrs, *tokenFile, *caFile)
	if err != nil {
		return err
	}
	var failed, notHere []string
	lifted := false
	for _, u := range bases {
		target := u.JoinPath("silence")
		target.RawQuery = q.Encode()
		resp, body, err := operatorCall(ctx, client, token, method, target)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", u.Host, err))
			continue
		}
		if method == http.MethodDelete && resp.StatusCode == http.StatusNotFound { // set on another instance only
			notHere = append(notHere, fmt.Sprintf("%s: %s: %s", u.Host, resp.Status, body))
			continue
		}
		lifted = lifted || method == http.MethodDelete
		if resp.StatusCode/100 != 2 {
			failed = append(failed, fmt.Sprintf("%s: %s: %s", u.Host, resp.Status, body))
			continue
		}
		fmt.Printf("%s: %s\n", u.Host, body)
	}
	if method == http.MethodDelete && !lifted {
		failed = append(failed, notHere...)
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}
