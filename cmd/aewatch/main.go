// Command aewatch is a streaming anomaly detector for industrial sensor
// signals. See README.md; `aewatch help` lists the subcommands.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// A hangup (the session that started it closing, a service manager's
	// reload) stops it as SIGTERM does: its default action ends the
	// process at once, the fetched samples neither written nor committed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	// After the first signal, a second one ends the process at once (the
	// default action), rather than waiting for the bounded stop.
	context.AfterFunc(ctx, stop)
	code := Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// Main runs one subcommand and returns the process exit code.
func Main(ctx context.Context, args []string) int {
	if len(args) == 0 {
		usage(os.Stderr)
		return 2
	}
	var err error
	switch args[0] {
	case "eval":
		err = runEval(ctx, args[1:])
	case "run":
		err = runRun(ctx, args[1:])
	case "replay":
		err = runReplay(ctx, args[1:])
	case "produce":
		err = runProduce(ctx, args[1:])
	case "demo":
		err = runDemo(ctx, args[1:])
	case "rebaseline":
		err = runRebaseline(ctx, args[1:])
	case "silence":
		err = runSilence(ctx, args[1:])
	case "feedback":
		err = runFeedback(ctx, args[1:])
	case "broker":
		err = runBroker(ctx, args[1:])
	case "generate":
		err = runGenerate(args[1:])
	case "inject":
		err = runInject(args[1:])
	case "config":
		err = runConfig(args[1:])
	case "help", "-h", "--help":
		usage(os.Stdout)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "aewatch: unknown command %q\n\n", args[0])
		usage(os.Stderr)
		return 2
	}
	if err != nil {
		switch err {
		case errHelp:
			return 0
		case errUsage:
			return 2
		}
		fmt.Fprintf(os.Stderr, "aewatch %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: aewatch <command> [flags]

commands:
  run           the service: Kafka -> detector -> InfluxDB, with /metrics, /healthz, /readyz
  replay        re-score a time range of the topics' history, outside the live group
  rebaseline    accept a series' current behaviour as its new normal (drift reference), in running services
  silence       set, list or lift maintenance windows in running services
  feedback      judge an anomaly alert: a false positive stops its kind of departure alerting
  produce       send CSV files to a Kafka topic, one message per row
  demo          generate faulty sensor signals, score them, print the alerts (no services)
  eval          score CSV files offline with the detector; optional NAB scoring
  broker        serve a Kafka-protocol broker for trying aewatch (in memory, or on disk with --data-dir)
  generate      write a labelled corpus of synthetic industrial signals with faults
  inject        write labelled faults into copies of a recording of normal operation
  config check  validate a configuration file
  help          this text

Run "aewatch <command> -h" for a command's flags.
`)
}
