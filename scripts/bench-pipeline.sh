#!/usr/bin/env bash
# End-to-end throughput: samples/s from Kafka (the embedded broker) through
# aewatch run into a real InfluxDB, next to (a) a bare kafka-go reader
# draining the same topic and (b) aewatch eval on the same data.
# Needs influxd: $AEWATCH_TEST_INFLUXD, influxd on PATH, or the one the tests
# build into the Go build cache (run go test ./cmd/aewatch once).
# Then the same topic through aewatch replay (from earliest, run tag), for
# the replay-versus-run ratio.
# Also prints the CPU seconds aewatch run, influxd and the broker used
# during the run;
# PROFILE=FILE saves a 3 s CPU profile of aewatch run taken mid-run,
# INFLUX_PROFILE=FILE one of influxd over the same seconds, TRACE=FILE a
# 2 s runtime trace of aewatch run (go tool trace -pprof=sync FILE).
# usage: scripts/bench-pipeline.sh [SERIES] [ROWS]   (default 8 series x 25000 rows)
set -euo pipefail
series=${1:-8}; rows=${2:-25000}
cached="$(go env GOCACHE)/aewatch-influxd-1.8.10/influxd"
influxd=${AEWATCH_TEST_INFLUXD:-$(command -v influxd || echo "$cached")}
[ -x "$influxd" ] || { echo "need influxd: set AEWATCH_TEST_INFLUXD (see README)" >&2; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
go build -o "$tmp/aewatch" ./cmd/aewatch
go build -o "$tmp/drain" ./scripts/drain
go build -o "$tmp/pointwait" ./scripts/pointwait
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kport=$(free_port); iport=$(free_port); rport=$(free_port); hport=$(free_port)
"$tmp/aewatch" broker --addr 127.0.0.1:$kport --topics sensors --partitions 4 > "$tmp/broker.log" & pids+=($!)
broker_pid=$!
cat > "$tmp/influxd.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$rport"
[meta]
  dir = "$tmp/influx/meta"
[data]
  dir = "$tmp/influx/data"
  wal-dir = "$tmp/influx/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$iport"
  log-enabled = false
[monitor]
  store-enabled = false
CONF
"$influxd" -config "$tmp/influxd.conf" > "$tmp/influxd.log" 2>&1 & pids+=($!)
influxd_pid=$!
cpu() { awk '{ printf "%.2f", ($14 + $15) / '"$(getconf CLK_TCK)"' }' "/proc/$1/stat"; }
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$iport/ping" >/dev/null && break; sleep 0.2; done
curl -sf -XPOST "http://127.0.0.1:$iport/query" --data-urlencode "q=CREATE DATABASE sensors" >/dev/null

"$tmp/aewatch" generate --rows "$rows" --variants 1 --out "$tmp/gen" >/dev/null
mkdir -p "$tmp/data"
signals=(seasonal duty oscillating noisy); faults=(none spike level_shift frequency shape noise_burst stuck)
for i in $(seq 0 $((series - 1))); do
  s=${signals[$((i % 4))]}; f=${faults[$((i / 4 % 7))]}
  cp "$tmp/gen/$s/${s}_$f.csv" "$tmp/data/sensor$i.csv"
done
total=$((series * rows))
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $series series x $rows rows = $total samples"
"$tmp/aewatch" produce --brokers 127.0.0.1:$kport --topic sensors "$tmp/data" 2>/dev/null
drain_line=$("$tmp/drain" --brokers 127.0.0.1:$kport --topic sensors --messages "$total"); echo "$drain_line"
eval_line="aewatch eval: $("$tmp/aewatch" eval --quiet --out "$tmp/eval" "$tmp/data" | sed -n 1p)"; echo "$eval_line"
drain_rate=$(sed -E 's/.* ([0-9]+) messages\/s$/\1/' <<<"$drain_line")
eval_rate=$(sed -E 's/.*\(([0-9]+) rows\/s\)$/\1/' <<<"$eval_line")

expected=$((total - series * 31))
start=$(date +%s.%N)
"$tmp/aewatch" run --brokers 127.0.0.1:$kport --topics sensors --group bench --influx-url "http://127.0.0.1:$iport" \
  --influx-bucket sensors/autogen --http-addr 127.0.0.1:$hport --log-format text 2> "$tmp/run.log" & pids+=($!)
run_pid=$!; influx_cpu0=$(cpu "$influxd_pid"); broker_cpu0=$(cpu "$broker_pid")
# Profiles start half a second in, once points are flowing.
if [ -n "${PROFILE:-}" ]; then
  (sleep 0.5; curl -s "http://127.0.0.1:$hport/debug/pprof/profile?seconds=${PROFILE_SECONDS:-3}" -o "$PROFILE") & prof_pid=$!
fi
if [ -n "${TRACE:-}" ]; then
  (sleep 0.5; curl -s "http://127.0.0.1:$hport/debug/pprof/trace?seconds=2" -o "$TRACE") & trace_pid=$!
fi
if [ -n "${INFLUX_PROFILE:-}" ]; then
  (sleep 0.5; curl -s "http://127.0.0.1:$iport/debug/pprof/profile?seconds=${PROFILE_SECONDS:-3}" -o "$INFLUX_PROFILE") & iprof_pid=$!
fi
# One in-process poller, not a curl per poll: process start-ups would take
# CPU from the run being measured.
read -r first_ns fn end_ns < <("$tmp/pointwait" --metrics "http://127.0.0.1:$hport/metrics" --points "$expected")
first=$(awk -v t="$first_ns" 'BEGIN { printf "%.9f", t / 1e9 }'); end=$(awk -v t="$end_ns" 'BEGIN { printf "%.9f", t / 1e9 }')
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
run_cpu=$(cpu "$run_pid"); influx_cpu=$(since "$influx_cpu0" "$(cpu "$influxd_pid")"); broker_cpu=$(since "$broker_cpu0" "$(cpu "$broker_pid")")
awk -v s="$start" -v f="$first" -v e="$end" -v n="$expected" -v fn="$fn" 'BEGIN {
  printf "aewatch run end to end: %d points in %.2fs from start (%.0f samples/s), %.0f samples/s after the first write\n", n, e-s, n/(e-s), (n-fn)/(e-f) }'
awk -v s="$start" -v f="$first" -v e="$end" -v n="$expected" -v fn="$fn" -v d="$drain_rate" -v v="$eval_rate" 'BEGIN {
  slow = d < v ? d : v
  printf "bar (end to end >= half of min(reader, eval) = %.0f, and >= 100000): from start %.2f of min, after the first write %.2f\n", slow / 2, n/(e-s)/slow, (n-fn)/(e-f)/slow }'
echo "CPU seconds during the run: aewatch run $run_cpu, influxd $influx_cpu, broker $broker_cpu"
if [ -n "${prof_pid:-}" ]; then wait "$prof_pid"; fi
if [ -n "${iprof_pid:-}" ]; then wait "$iprof_pid"; fi
if [ -n "${trace_pid:-}" ]; then wait "$trace_pid"; fi
kill "${pids[-1]}" 2>/dev/null || true; wait "${pids[-1]}" 2>/dev/null || true
rstart=$(date +%s.%N)
"$tmp/aewatch" replay --brokers 127.0.0.1:$kport --topics sensors --from earliest --run bench \
  --influx-url "http://127.0.0.1:$iport" --influx-bucket sensors/autogen --log-format text 2> "$tmp/replay.log"
rend=$(date +%s.%N)
awk -v s="$rstart" -v e="$rend" -v n="$expected" 'BEGIN { printf "aewatch replay --from earliest: %d points in %.2fs (%.0f samples/s, whole command)\n", n, e-s, n/(e-s) }'
