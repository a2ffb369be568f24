package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aewatch/aewatch/sensorcsv"
	"github.com/aewatch/aewatch/synth"
)

func runInject(args []string) error {
	fs := flag.NewFlagSet("inject", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: aewatch inject [--rows N] [--per-fault N] [--seed N] [--faults F,F] [--ignore COL,COL] --out DIR FILE

Cuts files from a recording of normal operation (a CSV as eval reads it) and
writes one abnormal regime into each, with a per-row "anomaly" column for
eval --label-column: measure a detector on your own plant's normal data
before trusting it. Faults (sizes in each channel's deviation over the
file's first %d rows, which stay fault-free): %s by default; %s
(two correlated channels rising together by 4-12 deviations as a step, a
linear ramp or an exponential growth: a growing imbalance) and %s (the cut
as recorded, every row normal: the false alarms of your normal operation)
when named. DIR/faults.json lists each file's fault, channels, rows, size
and shape.

`, synth.InjectTrain, strings.Join(synth.InjectFaults, ", "), synth.GrowthFault, synth.NoFault)
		fs.PrintDefaults()
	}
	out := fs.String("out", "", "output `directory` (required)")
	rows := fs.Int("rows", 1150, "rows per file")
	perFault := fs.Int("per-fault", 3, "files per fault")
	seed := fs.Uint64("seed", 1, "random seed")
	ignore := fs.String("ignore", "", "comma-separated `columns` not to read (labels, identifiers)")
	faults := fs.String("faults", "", "comma-separated `faults` to write (default: "+strings.Join(synth.InjectFaults, ",")+")")
	paths, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *out == "" || len(paths) != 1 {
		fs.Usage()
		return errors.New("--out DIR and one recording FILE are required")
	}
	kinds := splitList(*faults)
	if *faults != "" && len(kinds) == 0 {
		return fmt.Errorf("--faults: no fault named (got %q)", *faults)
	}
	if err := synth.CheckFaults(kinds); err != nil {
		return fmt.Errorf("--faults: %w", err)
	}
	f, err := sensorcsv.Read(paths[0], splitList(*ignore))
	if err != nil {
		return err
	}
	for _, name := range splitList(*ignore) {
		if !slices.Contains(f.Header, name) {
			return fmt.Errorf("--ignore: %s has no column named %q (its columns: %s)", paths[0], name, strings.Join(f.Header, ", "))
		}
	}
	files, err := synth.Inject(f.Values, *rows, *perFault, *seed, kinds...)
	if err != nil {
		return fmt.Errorf("%s: %w", paths[0], err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	names := f.ChannelNames()
	for _, n := range append([]string{f.Header[0]}, names...) {
		if strings.ContainsAny(n, ",\"") {
			return fmt.Errorf("%s: column %q: a comma or quote in a column name cannot be written", paths[0], n)
		}
	}
	header := append(append([]string{f.Header[0]}, names...), "anomaly")
	type faultEntry struct {
		File     string   `json:"file"`
		Fault    string   `json:"fault"`
		Channels []string `json:"channels"`
		FromRow  int      `json:"from_row"` // the file's first row in the recording
		Start    int      `json:"start"`    // first abnormal row of the file
		End      int      `json:"end"`      // first normal row after the regime
		Size     float64  `json:"size"`     // in channel deviations
		Shape    string   `json:"shape,omitempty"`
	}
	var manifest []faultEntry
	for _, in := range files {
		var b bytes.Buffer
		sensorcsv.Join(&b, header)
		b.WriteByte('\n')
		fields := make([]string, len(header))
		for i, row := range in.Values {
			fields[0] = f.Rows[in.From+i][0]
			for j, v := range row {
				fields[1+j] = sensorcsv.FormatFloat(v)
			}
			fields[len(fields)-1] = "0"
			if i >= in.Start && i < in.End {
				fields[len(fields)-1] = "1"
			}
			sensorcsv.Join(&b, fields)
			b.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join(*out, in.Name), b.Bytes(), 0o644); err != nil {
			return err
		}
		chans := make([]string, len(in.Channels))
		for i, j := range in.Channels {
			chans[i] = names[j]
		}
		manifest = append(manifest, faultEntry{in.Name, in.Fault, chans, in.From, in.Start, in.End, math.Round(in.Size*100) / 100, in.Shape})
	}
	mb, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "faults.json"), append(mb, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %d files and faults.json to %s\n", len(files), *out)
	return nil
}
