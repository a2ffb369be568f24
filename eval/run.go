package eval

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/internal/parallel"
	"github.com/aewatch/aewatch/sensorcsv"
)

// Input is one CSV file to score and its path relative to the PATH
// argument that named it (the output goes to OutDir/Rel).
type Input struct {
	Path string
	Rel  string
	// once is the content of an input named on its own that can be read
	// only once (a pipe, as a shell's <(zcat x.csv.gz) or /dev/stdin
	// gives), read by Discover (readOnce): eval's controls (--versus) and
	// produce's check read an input again.
	once     []byte
	readOnce bool
}

// Read parses the input.
func (in Input) Read(ignore []string) (*sensorcsv.File, error) {
	if in.readOnce {
		return sensorcsv.ReadFrom(bytes.NewReader(in.once), in.Path, ignore)
	}
	return sensorcsv.Read(in.Path, ignore)
}

// Discover expands PATH arguments: files as given, directories searched
// recursively for *.csv and *.csv.gz, in lexical order. An input's Rel is
// without ".gz": its output is plain CSV, and labels name it so.
func Discover(paths []string) ([]Input, error) {
	var out []Input
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			in := Input{Path: p, Rel: sensorcsv.TrimGzip(filepath.Base(p))}
			switch {
			case st.Mode()&fs.ModeNamedPipe != 0:
				if in.once, err = os.ReadFile(p); err != nil {
					return nil, err
				}
				in.readOnce = true
			case !st.Mode().IsRegular():
				// /dev/zero would be read until memory ran out.
				return nil, fmt.Errorf("%s: %s, not a file or a pipe", p, fileKind(st.Mode()))
			}
			out = append(out, in)
			continue
		}
		var found []Input
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !strings.EqualFold(filepath.Ext(sensorcsv.TrimGzip(path)), ".csv") {
				return nil
			}
			if !d.Type().IsRegular() {
				// A pipe or a device opened for reading would wait for a
				// writer for ever; a link to a file is read as the file.
				st, err := os.Stat(path)
				if err != nil {
					return err
				}
				if !st.Mode().IsRegular() {
					return fmt.Errorf("%s: %s, not a file; name it on its own to read it once", path, fileKind(st.Mode()))
				}
			}
			rel, err := filepath.Rel(p, path)
			if err != nil {
				return err
			}
			found = append(found, Input{Path: path, Rel: sensorcsv.TrimGzip(rel)})
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no *.csv or *.csv.gz files found", p)
		}
		sort.Slice(found, func(i, j int) bool { return found[i].Rel < found[j].Rel })
		out = append(out, found...)
	}
	seen := map[string]string{}
	for _, in := range out {
		if prev, ok := seen[in.Rel]; ok {
			return nil, fmt.Errorf("%s and %s would both write %s", prev, in.Path, in.Rel)
		}
		seen[in.Rel] = in.Path
	}
	return out, nil
}

// fileKind names what m says a path is, when it is not a file.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "irregular"
}

// Options configure a Run.
type Options struct {
	Detector     detector.Config
	Multivariate bool
	// Latent writes each row's bottleneck code as columns z0, z1, ...
	// (output.latent).
	Latent  bool
	Ignore  []string
	OutDir  string
	Workers int // 0: GOMAXPROCS
	// Progress, if set, is called after each file with its row count.
	Progress func(in Input, rows int)
	// Verdicts are operators' verdicts on alerts, as the service takes
	// them (POST /feedback), for the files whose series they name.
	Verdicts []Verdict
}

// Verdict is an operator's verdict on the anomaly alert of Series (and
// Channel, "" for any) that covered At, applied when the file reaches
// Given (zero: At).
type Verdict struct {
	Series, Channel string
	At, Given       time.Time
	Verdict         detector.Verdict
}

// FileResult is a finished file.
type FileResult struct {
	Input
	*Scored
}

// FileErrors lists the inputs Run could not read or score (a malformed
// row, a file that is not sensor CSV, a configuration the file's channels
// do not fit), each error naming its file. Run scores the other inputs.
type FileErrors struct {
	Errs  []error
	Files int // inputs in the run
}

func (e *FileErrors) Error() string {
	return fmt.Sprintf("%d of %d files could not be scored: %v", len(e.Errs), e.Files, errors.Join(e.Errs...))
}

func (e *FileErrors) Unwrap() []error { return e.Errs }

// Run scores every input and writes each output file. Results keep the
// order of inputs. An input that cannot be read or scored does not stop
// the others: Run returns the results of the rest with a *FileErrors. Any
// other error (writing an output, ctx ending) stops the run.
func Run(ctx context.Context, inputs []Input, o Options) ([]FileResult, error) {
	if err := checkOutputs(inputs, o.OutDir); err != nil {
		return nil, err
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	results := make([]FileResult, len(inputs))
	inputErrs := make([]error, len(inputs))
	// One output buffer per worker, reused: a file's output streams to
	// disk (2 million rows' output held whole took 1.6 GB).
	bufs := make([]*bufio.Writer, workers)
	for w := range bufs {
		bufs[w] = bufio.NewWriterSize(nil, 256<<10)
	}
	err := parallel.Each(ctx, len(inputs), workers, func(_ context.Context, w, i int) error {
		s, err := runOne(inputs[i], o, bufs[w])
		var bad *inputError
		if errors.As(err, &bad) {
			inputErrs[i] = bad.err
			return nil
		}
		if err != nil {
			return err
		}
		results[i] = FileResult{inputs[i], s}
		if o.Progress != nil {
			o.Progress(inputs[i], len(s.Score))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	failed := &FileErrors{Files: len(inputs)}
	scored := results[:0]
	for i, r := range results {
		if inputErrs[i] != nil {
			failed.Errs = append(failed.Errs, inputErrs[i])
		} else {
			scored = append(scored, r)
		}
	}
	if len(failed.Errs) > 0 {
		return scored, failed
	}
	return scored, nil
}

// checkOutputs refuses to run when an output would be written over one of
// the inputs (--out the inputs' own directory): the data being scored
// would be lost. Paths are compared with links resolved.
func checkOutputs(inputs []Input, outDir string) error {
	resolved := func(path string) (string, bool) {
		p, err := filepath.EvalSymlinks(path)
		if err == nil {
			p, err = filepath.Abs(p)
		}
		return p, err == nil
	}
	in := make(map[string]string, len(inputs))
	for _, x := range inputs {
		if p, ok := resolved(x.Path); ok {
			in[p] = x.Path
		}
	}
	for _, x := range inputs {
		out := filepath.Join(outDir, x.Rel)
		p, ok := resolved(out)
		if !ok {
			continue // not there yet: nothing to overwrite
		}
		if src, ok := in[p]; ok {
			return fmt.Errorf("--out %s: the output %s would overwrite the input %s; write the outputs to another directory", outDir, out, src)
		}
	}
	return nil
}

// inputError marks an error of the input itself, as opposed to one of
// writing the output.
type inputError struct{ err error }

func (e *inputError) Error() string { return e.err.Error() }

func runOne(in Input, o Options, buf *bufio.Writer) (*Scored, error) {
	f, err := in.Read(o.Ignore)
	if err != nil {
		return nil, &inputError{err}
	}
	var mine []Verdict
	for _, v := range o.Verdicts {
		if v.Series == f.Series() {
			mine = append(mine, v)
		}
	}
	var leftOut []string
	if o.Multivariate {
		leftOut = f.LeaveOutEmptyChannels()
	}
	s, err := ScoreFile(f, o.Detector, o.Multivariate, o.Latent, mine...)
	if err != nil {
		return nil, &inputError{err} // it names the file
	}
	s.LeftOut = leftOut
	out := filepath.Join(o.OutDir, in.Rel)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	file, err := os.Create(out)
	if err != nil {
		return nil, err
	}
	buf.Reset(file)
	s.WriteCSV(buf)
	err = buf.Flush()
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	buf.Reset(nil) // not to hold the closed file
	if err != nil {
		return nil, err
	}
	return s, nil
}
