// Package config owns aewatch's configuration file: its YAML schema, the
// defaults, and validation whose errors name the field and the value. cmd
// maps a Config onto each package's own Config.
//
// Concurrency: a Config is a plain value; Load and Validate are safe to call
// from any goroutine.
package config
