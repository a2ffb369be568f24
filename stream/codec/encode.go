package codec

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// The encoders, the decoders' inverse: what `aewatch produce` and the
// tests send.

var (
	lineSeriesEscaper  = strings.NewReplacer(",", `\,`, " ", `\ `)
	lineChannelEscaper = strings.NewReplacer(",", `\,`, " ", `\ `, "=", `\=`)
)

// EncodeSample renders one sample of series in format ("json" or "line"),
// leaving out values that are not finite (missing); false when none is
// left to send.
func EncodeSample(format, series string, names []string, t int64, vals []float64) ([]byte, bool) {
	if format == "line" {
		b := []byte(lineSeriesEscaper.Replace(series))
		first := true
		for j, v := range vals {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			if first {
				b = append(b, ' ')
			} else {
				b = append(b, ',')
			}
			first = false
			b = append(b, lineChannelEscaper.Replace(names[j])...)
			b = append(b, '=')
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		}
		if first {
			return nil, false
		}
		b = append(b, ' ')
		return strconv.AppendInt(b, t, 10), true
	}
	values := map[string]float64{}
	for j, v := range vals {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			values[names[j]] = v
		}
	}
	if len(values) == 0 {
		return nil, false
	}
	b, err := json.Marshal(struct {
		Series string             `json:"series"`
		Time   int64              `json:"time"`
		Values map[string]float64 `json:"values"`
	}{series, t, values})
	return b, err == nil
}
