package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/aewatch/aewatch/detector"
)

// Config is the whole configuration file.
type Config struct {
	Detector detector.Config `yaml:"detector"`
}

// Default returns the configuration used when no file is given.
func Default() Config {
	return Config{Detector: detector.DefaultConfig()}
}

// Load reads a YAML file over the defaults. Unknown keys are errors, so a
// typo never silently falls back to a default.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return Config{}, fmt.Errorf("parsing %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes YAML over the defaults and validates the result.
func Parse(b []byte) (Config, error) {
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks every field; the detector is checked for univariate
// series (multivariate shapes are checked when the channel count is known).
func (c Config) Validate() error {
	return c.Detector.Validate(1)
}
