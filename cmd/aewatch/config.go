package main

import (
	"errors"
	"fmt"

	"github.com/aewatch/aewatch/config"
)

func runConfig(args []string) error {
	if len(args) != 2 || args[0] != "check" {
		return errors.New("usage: aewatch config check FILE")
	}
	if _, err := config.Load(args[1]); err != nil {
		return err
	}
	fmt.Printf("%s: ok\n", args[1])
	return nil
}
