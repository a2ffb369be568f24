package eval

import (
	"bytes"
	"fmt"

	"github.com/aewatch/aewatch/detector"
	"github.com/aewatch/aewatch/sensorcsv"
)

// Scored is one file's outcome.
type Scored struct {
	File       *sensorcsv.File
	Score      []float64   // anomaly_score per row
	Alert      []bool      // alert per row
	Error      []float64   // error per row
	Channel    [][]float64 // per channel score (univariate) per row
	ChannelErr [][]float64 // per channel error per row
	NonFinite  uint64
	OutOfOrder uint64
	Gaps       uint64
	Alerts     int // alerts opened
	Threshold  float64
}

// ScoreFile runs fresh detectors over f: one per channel, or one for all
// channels when multivariate.
func ScoreFile(f *sensorcsv.File, cfg detector.Config, multivariate bool) (*Scored, error) {
	n, c := len(f.Rows), len(f.Channels)
	s := &Scored{
		File: f, Score: make([]float64, n), Alert: make([]bool, n), Error: make([]float64, n),
		Channel: make([][]float64, c), ChannelErr: make([][]float64, c),
		Threshold: cfg.Alert.Open,
	}
	for j := range s.Channel {
		s.Channel[j] = make([]float64, n)
		s.ChannelErr[j] = make([]float64, n)
	}
	if multivariate {
		d, err := detector.New(cfg, c)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		for i, t := range f.Times {
			for _, r := range d.Push(t, f.Values[i]) {
				k := r.Seq
				s.Score[k], s.Alert[k], s.Error[k] = r.Score, r.Alert, r.Error
				for j, e := range r.ChannelError {
					s.Channel[j][k] = r.Score
					s.ChannelErr[j][k] = e
				}
				s.count(r)
			}
		}
		s.addStats(d)
		return s, nil
	}
	x := make([]float64, 1)
	for j := 0; j < c; j++ {
		d, err := detector.New(cfg, 1)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		for i, t := range f.Times {
			x[0] = f.Values[i][j]
			for _, r := range d.Push(t, x) {
				k := r.Seq
				s.Channel[j][k], s.ChannelErr[j][k] = r.Score, r.Error
				if j == 0 || r.Score > s.Score[k] {
					s.Score[k], s.Error[k] = r.Score, r.Error
				}
				s.Alert[k] = s.Alert[k] || r.Alert
				s.count(r)
			}
		}
		s.addStats(d)
	}
	return s, nil
}

func (s *Scored) count(r detector.Result) {
	if r.Event == detector.Opened {
		s.Alerts++
	}
}

func (s *Scored) addStats(d *detector.Detector) {
	st := d.WindowStats()
	s.NonFinite += st.NonFinite
	s.OutOfOrder += st.OutOfOrder
	s.Gaps += st.Gaps
}

// WriteCSV writes the output: the input columns, anomaly_score, alert,
// error, threshold, then per channel score_<col> and error_<col> when the
// file has more than one channel.
func (s *Scored) WriteCSV(buf *bytes.Buffer) {
	f := s.File
	names := f.ChannelNames()
	header := append([]string(nil), f.Header...)
	header = append(header, "anomaly_score", "alert", "error", "threshold")
	if len(names) > 1 {
		for _, n := range names {
			header = append(header, "score_"+n)
		}
		for _, n := range names {
			header = append(header, "error_"+n)
		}
	}
	sensorcsv.Join(buf, header)
	buf.WriteByte('\n')
	thr := sensorcsv.FormatFloat(s.Threshold)
	for i, row := range f.Rows {
		sensorcsv.Join(buf, row)
		alert := "0"
		if s.Alert[i] {
			alert = "1"
		}
		fmt.Fprintf(buf, ",%s,%s,%s,%s", sensorcsv.FormatFloat(s.Score[i]), alert, sensorcsv.FormatFloat(s.Error[i]), thr)
		if len(names) > 1 {
			for j := range names {
				buf.WriteByte(',')
				buf.WriteString(sensorcsv.FormatFloat(s.Channel[j][i]))
			}
			for j := range names {
				buf.WriteByte(',')
				buf.WriteString(sensorcsv.FormatFloat(s.ChannelErr[j][i]))
			}
		}
		buf.WriteByte('\n')
	}
}
