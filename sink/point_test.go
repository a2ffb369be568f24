package sink

import (
	"math"
	"testing"
)

func TestAppendLine(t *testing.T) {
	f := func(p Point, extra []Tag, want string) {
		t.Helper()
		if got := string(AppendLine(nil, &p, extra)); got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
	f(Point{Series: "pump7", Channel: "temp", Time: 1709251200000000000, Value: 61.2, Error: 0.5, Score: 0.25, Threshold: 0.5},
		nil, "ae_score,channel=temp,series=pump7 value=61.2,error=0.5,score=0.25,threshold=0.5,reference_score=0,alert_score=0,drift_score=0,yhat=0,yhat_lower=0,yhat_upper=0,drift_alert=0i,quality_alert=0i,alert=0i 1709251200000000000")
	f(Point{Series: "pump,asset=p 7", Channel: "a=b", Tags: []Tag{{Key: "site", Value: "x,y"}, {Key: "series", Value: "clash"}}, Time: 5,
		Value: 1, Error: math.NaN(), Score: 1, Threshold: 0.5, Alert: true}, []Tag{{Key: "run", Value: "r1"}},
		`ae_score,channel=a\=b,site=x\,y,input_series=clash,run=r1,series=pump\,asset\=p\ 7 value=1,score=1,threshold=0.5,reference_score=0,alert_score=0,drift_score=0,yhat=0,yhat_lower=0,yhat_upper=0,drift_alert=0i,quality_alert=0i,alert=1i 5`)
	f(Point{Series: "s", Channel: "c", Time: 9, Score: 0.9, Measurement: AlertMeasurement, Event: "closed", Kind: "anomaly", Peak: 0.97, Duration: 300},
		nil, "ae_alert,channel=c,event=closed,kind=anomaly,series=s score=0.9,peak=0.97,duration_s=300,share=0,departure=0,alert=0i 9")
	f(Point{Series: "s", Channel: "c", Time: 9, Score: 0.6, Alert: true, Measurement: AlertMeasurement, Event: "opened", Kind: "drift", Peak: 0.6,
		Share: 1, Departure: -2.5, Statistic: "level", Spread: 1.01, Onset: 3, Rate: -0.5},
		nil, `ae_alert,channel=c,event=opened,kind=drift,series=s score=0.6,peak=0.6,duration_s=0,share=1,departure=-2.5,direction="down",statistic="level",spread_ratio=1.01,rate_per_h=-0.5,onset_ns=3i,alert=1i 9`)
	f(Point{Series: "s", Channel: "flow", Time: 9, Score: 1, Alert: true, Measurement: AlertMeasurement, Event: "opened", Kind: "quality", Peak: 1,
		Share: 1, Statistic: "stuck", Onset: 4},
		nil, `ae_alert,channel=flow,event=opened,kind=quality,series=s score=1,peak=1,duration_s=0,share=1,departure=0,statistic="stuck",onset_ns=4i,alert=1i 9`)
	f(Point{Series: "s", Channel: "c", Time: 9, Measurement: RebaselineMeasurement, Reason: `http "op" \ 1`},
		nil, `ae_rebaseline,channel=c,series=s source="http \"op\" \\ 1",accepted=1i 9`)
	f(Point{Series: "s", Channel: "c", Time: 9, Score: 1, Alert: true, Measurement: AlertMeasurement, Event: "opened", Kind: "anomaly", Peak: 1,
		Share: 1, Departure: 12, Statistic: "reference", Tolerated: 10.5, Verdicts: 2},
		nil, `ae_alert,channel=c,event=opened,kind=anomaly,series=s score=1,peak=1,duration_s=0,share=1,departure=12,direction="up",statistic="reference",tolerated=10.5,verdicts=2i,alert=1i 9`)
	f(Point{Series: "s", Channel: "c", Time: 9, Measurement: FeedbackMeasurement, Event: "false_positive", Alert: true, Reason: "op via http",
		Onset: 5, Peak: 8.5, Departure: -10.6},
		nil, `ae_feedback,channel=c,series=s verdict="false_positive",applied=1i,reason="op via http",alert_start_ns=5i,peak=8.5,tolerance=-10.6 9`)
	f(Point{Series: "s", Time: 9, Measurement: FeedbackMeasurement, Event: "true_positive", Reason: "no recent anomaly alert of this detector covers that time"},
		nil, `ae_feedback,series=s verdict="true_positive",applied=0i,reason="no recent anomaly alert of this detector covers that time",peak=0,tolerance=0 9`)
	// The band's sides that no value reaches are left out.
	f(Point{Series: "s", Channel: "c", Time: 2, Value: 7, Threshold: 0.5, Yhat: 6.5, YhatLower: 4.25, YhatUpper: math.Inf(1)},
		nil, "ae_score,channel=c,series=s value=7,error=0,score=0,threshold=0.5,reference_score=0,alert_score=0,drift_score=0,yhat=6.5,yhat_lower=4.25,drift_alert=0i,quality_alert=0i,alert=0i 2")
	// The bottleneck code, with output.latent.
	f(Point{Series: "s", Channel: "c", Time: 3, Value: 7, Threshold: 0.5, Yhat: 7, YhatLower: 6, YhatUpper: 8, Code: [MaxCode]float64{0.25, -0.5}, CodeLen: 2},
		nil, "ae_score,channel=c,series=s value=7,error=0,score=0,threshold=0.5,reference_score=0,alert_score=0,drift_score=0,yhat=7,yhat_lower=6,yhat_upper=8,z0=0.25,z1=-0.5,drift_alert=0i,quality_alert=0i,alert=0i 3")
	// A denoised value goes into its sample's ae_score point: the same
	// tags and time, only its own field.
	f(Point{Series: "s", Channel: "c", Tags: []Tag{{Key: "site", Value: "x"}}, Time: 3, Measurement: DenoisedMeasurement, Denoised: 6.75}, []Tag{{Key: "run", Value: "r1"}},
		"ae_score,channel=c,site=x,run=r1,series=s denoised=6.75 3")
	f(Point{Series: "s", Channel: "c", Time: 3, Measurement: DenoisedMeasurement, Denoised: math.NaN()}, nil, "")
	// A value that needs all 17 digits survives exactly.
	tenth := 0.1
	f(Point{Series: "s", Channel: "c", Time: 1, Value: tenth + 0.2, Error: 0, Score: 0, Threshold: 0.5},
		nil, "ae_score,channel=c,series=s value=0.30000000000000004,error=0,score=0,threshold=0.5,reference_score=0,alert_score=0,drift_score=0,yhat=0,yhat_lower=0,yhat_upper=0,drift_alert=0i,quality_alert=0i,alert=0i 1")
}

func TestConfigValidate(t *testing.T) {
	f := func(mut func(*Config), want string) {
		t.Helper()
		c := DefaultConfig()
		c.URL, c.Bucket = "http://localhost:8086", "b"
		mut(&c)
		if err := c.Validate(); err == nil || err.Error() != want {
			t.Errorf("got %v, want %q", err, want)
		}
	}
	f(func(c *Config) { c.URL = "localhost:8086" }, `influx.url: want http(s)://host:port (got "localhost:8086")`)
	f(func(c *Config) { c.URL = "not a url" }, `influx.url: want http(s)://host:port (got "not a url")`)
	f(func(c *Config) { c.Bucket = "" }, `influx.bucket: required with influx.url (got "")`)
	f(func(c *Config) { c.Token, c.TokenFile = "a", "b" }, "influx.token and influx.token_file: set one, not both")
	f(func(c *Config) { c.BatchSize = 0 }, "influx.batch_size: must be in [1, 1000000] (got 0)")
	f(func(c *Config) { c.URL = "ftp://admin:s3cret@db:8086" }, `influx.url: want http(s)://host:port (got "ftp://admin:xxxxx@db:8086")`)
}

func TestRedactedURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://db:8086":                 "http://db:8086",
		"https://admin:s3cret@db:8086/x": "https://admin:xxxxx@db:8086/x",
		"http://admin:s3%cret@db:8086":   "http://xxxxx@db:8086", // does not parse
	} {
		if got := (Config{URL: in}).RedactedURL(); got != want {
			t.Errorf("RedactedURL(%q) = %q, want %q", in, got, want)
		}
	}
}
