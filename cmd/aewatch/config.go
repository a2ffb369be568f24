package main

import (
	"fmt"
	"os"

	"github.com/aewatch/aewatch/config"
)

const configUsage = "usage: aewatch config check FILE\n\nValidates a configuration file: every key known, every value of the right kind and\nin range; prints \"FILE: ok\" or the first error, naming its key path and line.\n"

func runConfig(args []string) error {
	if len(args) > 0 && (args[len(args)-1] == "-h" || args[len(args)-1] == "--help" || args[len(args)-1] == "-help") {
		fmt.Print(configUsage)
		return errHelp
	}
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprint(os.Stderr, configUsage)
		return errUsage
	}
	if _, err := config.Load(args[1]); err != nil {
		return err
	}
	fmt.Printf("%s: ok\n", args[1])
	return nil
}
