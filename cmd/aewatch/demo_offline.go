package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/aewatch/aewatch/config"
	"github.com/aewatch/aewatch/eval"
	"github.com/aewatch/aewatch/nab"
	"github.com/aewatch/aewatch/synth"
)

// runOfflineDemo generates the labelled corpus, scores it with eval's path
// and prints what it found, with the NAB score of the run.
func runOfflineDemo(ctx context.Context, out *string, seed *uint64) error {
	dir := *out
	if dir == "" {
		tmp, err := os.MkdirTemp("", "aewatch-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	series, err := synth.Corpus(4032, 1, *seed)
	if err != nil {
		return err
	}
	data := filepath.Join(dir, "data")
	if err := synth.WriteCorpus(data, series); err != nil {
		return err
	}
	lab, err := nab.LoadLabels(filepath.Join(data, "labels.json"))
	if err != nil {
		return err
	}
	inputs, err := eval.Discover([]string{data})
	if err != nil {
		return err
	}
	cfg := config.Default()
	fmt.Printf("aewatch demo (offline): %d sensors, %d samples each, detector %s\n\n",
		len(inputs), 4032, cfg.Detector.Kind)
	start := time.Now()
	results, err := eval.Run(ctx, inputs, eval.Options{Detector: cfg.Detector, OutDir: filepath.Join(dir, "scores")})
	if err != nil {
		return err
	}
	bySeries := map[string]*synth.Series{}
	for _, s := range series {
		bySeries[s.Name] = s
	}
	fmt.Printf("%-40s %-12s %-17s %s\n", "sensor", "fault", "fault starts", "alerts opened (first in the fault window)")
	for _, r := range results {
		s := bySeries[filepath.ToSlash(r.Rel)]
		first := "-"
		for i, a := range r.Alert {
			if a && (i == 0 || !r.Alert[i-1]) && (s.Onset < 0 || i >= s.Window[0]) {
				first = s.Times[i].Format("2006-01-02 15:04")
				break
			}
		}
		onset := "-"
		if s.Onset >= 0 {
			onset = s.Times[s.Onset].Format("2006-01-02 15:04")
		}
		fmt.Printf("%-40s %-12s %-17s %d (%s)\n", r.Rel, s.Fault, onset, r.Alerts, first)
	}
	fmt.Println()
	printSummary(os.Stdout, results, cfg.Detector, time.Since(start))
	if _, err := printNAB(os.Stdout, results, lab, dir); err != nil {
		return err
	}
	if *out != "" {
		fmt.Printf("\ndata in %s, scores in %s\n", data, filepath.Join(dir, "scores"))
	}
	return nil
}
