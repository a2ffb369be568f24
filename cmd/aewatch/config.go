package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/aewatch/aewatch/config"
	"github.com/aewatch/aewatch/stream"
)

const configUsage = "usage: aewatch config check FILE\n\nValidates a configuration file: every key known, every value of the right kind and\nin range, every file it names (secrets, certificates, keys) readable; prints\n\"FILE: ok\" or the error, naming its key path and line or file.\n"

func runConfig(args []string) error {
	if len(args) > 0 && (args[len(args)-1] == "-h" || args[len(args)-1] == "--help" || args[len(args)-1] == "-help") {
		fmt.Print(configUsage)
		return errHelp
	}
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprint(os.Stderr, configUsage)
		return errUsage
	}
	cfg, err := config.Load(args[1])
	if err != nil {
		return err
	}
	if err := checkConfigFiles(cfg); err != nil {
		return fmt.Errorf("%s: %w", args[1], err)
	}
	fmt.Printf("%s: ok\n", args[1])
	return nil
}

// checkConfigFiles reads every file cfg names (secrets, certificates, keys), as
// run does at its start, without connecting anywhere: a path that is
// wrong, unreadable or holds no certificate fails the check, not the
// service's start.
func checkConfigFiles(cfg config.Config) error {
	_, kafkaErr := stream.NewConn(cfg.Kafka)
	_, httpErr := cfg.HTTP.BearerToken()
	return errors.Join(kafkaErr, cfg.Influx.CheckFiles(), httpErr, cfg.HTTP.TLS.Check())
}
