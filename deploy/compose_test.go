package deploy

import (
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/aewatch/aewatch/config"
)

type compose struct {
	Services map[string]struct {
		Image       string
		Build       any
		Command     []string
		Entrypoint  []string
		Ports       []string
		Environment map[string]string
		Volumes     []string
		DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
		Healthcheck any
		PullPolicy  string `yaml:"pull_policy"`
	}
	Volumes map[string]any
}

func load(t *testing.T) compose {
	t.Helper()
	b, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return c
}

// published returns the container ports a service publishes.
func published(ports []string) []string {
	var out []string
	for _, p := range ports {
		parts := strings.Split(p, ":")
		out = append(out, parts[len(parts)-1])
	}
	return out
}

func TestComposeServices(t *testing.T) {
	c := load(t)
	for _, s := range []string{"kafka", "topics", "influxdb", "grafana", "aewatch", "producer"} {
		if _, ok := c.Services[s]; !ok {
			t.Errorf("service %s missing", s)
		}
	}
	ae, prod := c.Services["aewatch"], c.Services["producer"]
	if ae.Build == nil || ae.Image == "" || prod.Build != nil || prod.Image != ae.Image || prod.PullPolicy != "never" {
		t.Errorf("the aewatch image must be built once (service aewatch builds %q; the producer uses it, pull_policy never): aewatch build %v image %q, producer build %v image %q pull %q",
			ae.Image, ae.Build, ae.Image, prod.Build, prod.Image, prod.PullPolicy)
	}
	pinned := regexp.MustCompile(`:\d+\.\d+\.\d+(@sha256:[0-9a-f]{64})?$`)
	for name, svc := range c.Services {
		if svc.Image != "" && svc.Image != ae.Image && !pinned.MatchString(svc.Image) {
			t.Errorf("service %s: image %q is not pinned to a full version", name, svc.Image)
		}
		for dep, d := range svc.DependsOn {
			if d.Condition == "service_healthy" && c.Services[dep].Healthcheck == nil {
				t.Errorf("service %s waits for %s to be healthy, which has no healthcheck", name, dep)
			}
		}
	}
	// The sample data's event times are in 2024: its topic must keep them.
	topics := strings.Join(c.Services["topics"].Command, " ")
	if !strings.Contains(topics, "--topic sensors") || !strings.Contains(topics, "retention.ms=-1") ||
		ae.DependsOn["topics"].Condition != "service_completed_successfully" || prod.DependsOn["topics"].Condition != "service_completed_successfully" {
		t.Errorf("the sample topic must be created with retention.ms=-1 before aewatch and the producer start: topics %q", topics)
	}
}

// TestDockerfileGoVersion: the image builds with the Go release go.mod
// names, and every base image is pinned.
func TestDockerfileGoVersion(t *testing.T) {
	df, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	from := regexp.MustCompile(`(?m)^FROM golang:(\S+)`).FindSubmatch(df)
	switch {
	case goLine == nil || from == nil:
		t.Fatalf("no go line in go.mod (%v) or no golang base image in the Dockerfile (%v)", goLine != nil, from != nil)
	case string(goLine[1]) != string(from[1]):
		t.Errorf("Dockerfile builds with golang:%s, go.mod says go %s", from[1], goLine[1])
	}
	for _, m := range regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllSubmatch(df, -1) {
		if !regexp.MustCompile(`:\d+\.\d+\.\d+`).Match(m[1]) {
			t.Errorf("Dockerfile: base image %s is not pinned to a full version", m[1])
		}
	}
}

// TestComposeMatchesConfig: every AEWATCH_* variable names a real key and
// yields a valid configuration together with the mounted file; the hosts,
// ports and credentials it names are those of the other services.
func TestComposeMatchesConfig(t *testing.T) {
	c := load(t)
	ae := c.Services["aewatch"]
	var env []string
	for k, v := range ae.Environment {
		env = append(env, k+"="+v)
	}
	var cfgFile string
	for _, v := range ae.Volumes {
		parts := strings.Split(v, ":")
		host := filepath.Join("..", parts[0])
		if _, err := os.Stat(host); err != nil {
			t.Errorf("aewatch mounts %s: %v", parts[0], err)
		}
		if slices.Contains(ae.Command, parts[1]) {
			cfgFile = host
		}
	}
	if cfgFile == "" {
		t.Fatalf("aewatch's command %v names no mounted config file", ae.Command)
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.FromEnv(env); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Kafka.ValidateForRun(); err != nil {
		t.Fatal(err)
	}

	// Kafka: the broker address is the kafka service's internal listener.
	kafka := c.Services["kafka"]
	host, port, _ := net.SplitHostPort(cfg.Kafka.Brokers[0])
	if host != "kafka" || !strings.Contains(kafka.Environment["KAFKA_ADVERTISED_LISTENERS"], "//kafka:"+port) {
		t.Errorf("kafka.brokers %v is not an advertised listener of service kafka (%s)", cfg.Kafka.Brokers, kafka.Environment["KAFKA_ADVERTISED_LISTENERS"])
	}
	prod := strings.Join(c.Services["producer"].Command, " ")
	if !strings.Contains(prod, "--brokers "+cfg.Kafka.Brokers[0]) || !strings.Contains(prod, "--topic "+cfg.Kafka.Topics[0]) {
		t.Errorf("producer %q does not write to %v topic %v", prod, cfg.Kafka.Brokers, cfg.Kafka.Topics)
	}

	// InfluxDB: URL, org, bucket and token are those the server is set up with.
	influx := c.Services["influxdb"]
	u, err := url.Parse(cfg.Influx.URL)
	if err != nil || u.Hostname() != "influxdb" || !slices.Contains(published(influx.Ports), u.Port()) {
		t.Errorf("influx.url %s does not reach service influxdb (ports %v)", cfg.Influx.URL, influx.Ports)
	}
	for key, want := range map[string]string{"DOCKER_INFLUXDB_INIT_ORG": cfg.Influx.Org,
		"DOCKER_INFLUXDB_INIT_BUCKET": cfg.Influx.Bucket, "DOCKER_INFLUXDB_INIT_ADMIN_TOKEN": cfg.Influx.Token} {
		if influx.Environment[key] != want {
			t.Errorf("influxdb %s=%q, aewatch uses %q", key, influx.Environment[key], want)
		}
	}

	// The metrics endpoint listens on all interfaces, on a published port.
	_, hport, _ := net.SplitHostPort(cfg.HTTP.Addr)
	if !slices.Contains(published(ae.Ports), hport) {
		t.Errorf("http.addr %s: port not published (%v)", cfg.HTTP.Addr, ae.Ports)
	}

	// Grafana reads the same bucket with the same credentials.
	var ds struct {
		Datasources []struct {
			URL            string
			JSONData       map[string]string `yaml:"jsonData"`
			SecureJSONData map[string]string `yaml:"secureJsonData"`
			UID            string
		}
	}
	b, err := os.ReadFile("grafana/provisioning/datasources/influxdb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &ds); err != nil || len(ds.Datasources) != 1 {
		t.Fatalf("grafana data source: %v", err)
	}
	d := ds.Datasources[0]
	if d.URL != cfg.Influx.URL || d.JSONData["organization"] != cfg.Influx.Org ||
		d.JSONData["defaultBucket"] != cfg.Influx.Bucket || d.SecureJSONData["token"] != cfg.Influx.Token {
		t.Errorf("grafana data source %+v does not match aewatch's influx settings", d)
	}
	graf := c.Services["grafana"]
	for _, v := range graf.Volumes {
		if _, err := os.Stat(filepath.Join("..", strings.Split(v, ":")[0])); err != nil {
			t.Errorf("grafana mounts %s: %v", v, err)
		}
	}

	// The dashboard plots what the sink writes, from the provisioned source.
	b, err = os.ReadFile("grafana/dashboards/aewatch.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	text := string(b)
	for _, want := range []string{`r._measurement == \"ae_score\"`, `r._measurement == \"ae_alert\"`, d.UID, `bucket: \"` + cfg.Influx.Bucket + `\"`} {
		if !strings.Contains(text, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
	for _, field := range []string{"value", "score", "threshold", "error", "yhat", "yhat_lower", "yhat_upper"} {
		if !strings.Contains(text, `r._field == \"`+field+`\"`) {
			t.Errorf("dashboard plots no %s", field)
		}
	}
	if !drawsBand(dash) {
		t.Error("no dashboard panel fills from yhat_upper down to yhat_lower: the band is not drawn")
	}
}

// drawsBand reports whether a panel of the dashboard plots yhat_lower and
// yhat_upper and fills the space between them (Grafana's fillBelowTo).
func drawsBand(dash map[string]any) bool {
	var d struct {
		Panels []struct {
			Targets []struct {
				Query string `json:"query"`
			} `json:"targets"`
			FieldConfig struct {
				Overrides []struct {
					Matcher struct {
						ID, Options string
					} `json:"matcher"`
					Properties []struct {
						ID    string `json:"id"`
						Value any    `json:"value"`
					} `json:"properties"`
				} `json:"overrides"`
			} `json:"fieldConfig"`
		} `json:"panels"`
	}
	b, _ := json.Marshal(dash)
	if json.Unmarshal(b, &d) != nil {
		return false
	}
	for _, p := range d.Panels {
		var queries strings.Builder
		for _, t := range p.Targets {
			queries.WriteString(t.Query)
		}
		q := queries.String()
		if !strings.Contains(q, `r._field == "yhat_lower"`) || !strings.Contains(q, `r._field == "yhat_upper"`) {
			continue
		}
		for _, o := range p.FieldConfig.Overrides {
			for _, prop := range o.Properties {
				if o.Matcher.ID == "byName" && o.Matcher.Options == "yhat_upper" && prop.ID == "custom.fillBelowTo" && prop.Value == "yhat_lower" {
					return true
				}
			}
		}
	}
	return false
}
