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
# PROFILE=FILE saves a CPU profile of aewatch run taken mid-run (3 s, or
# PROFILE_SECONDS), INFLUX_PROFILE=FILE one of influxd over the same
# seconds, TRACE=FILE a 2 s runtime trace of aewatch run (go tool trace
# -pprof=sync FILE); all from the first repetition.
# CHECKPOINT_INTERVAL sets checkpoint.interval of the run (default 30s).
# REPEAT=N measures eval and run N times in turn (each run with its own
# group and database) and prints the medians: the machine's speed drifts,
# so one pair is a noisy figure.
# RESTART=1 also writes one more sample per series, restarts run in the
# first group and times the checkpoint load and the first new point;
# REBALANCE=1 has a second instance join that group and leave it, and times
# the first one's loads (what it keeps, what it reads).
# RUN_SET="key=value ..." adds --set key=value to every aewatch run.
# REPLAY=0 skips the replay (at 100,000 series the embedded broker's copy
# of the checkpoints and a second set of detectors may not both fit).
# BROKER_ON_DISK=1 has the embedded broker keep its records in segment
# files (aewatch broker --data-dir) instead of in its memory; COMPACT_EVERY
# sets its --compact-every (default 10m).
# usage: scripts/bench-pipeline.sh [SERIES] [ROWS]   (default 8 series x 100000 rows)
set -euo pipefail
series=${1:-8}; rows=${2:-100000}
cached="$(go env GOCACHE)/aewatch-influxd-1.8.10/influxd"
influxd=${AEWATCH_TEST_INFLUXD:-$(command -v influxd || echo "$cached")}
[ -x "$influxd" ] || { echo "need influxd: set AEWATCH_TEST_INFLUXD (see README)" >&2; exit 1; }
tmp=$(mktemp -d)
run_set=()
for kv in ${RUN_SET:-}; do run_set+=(--set "$kv"); done
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
go build -o "$tmp/aewatch" ./cmd/aewatch
go build -o "$tmp/drain" ./scripts/drain
go build -o "$tmp/pointwait" ./scripts/pointwait
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kport=$(free_port); iport=$(free_port); rport=$(free_port); hport=$(free_port)
broker_args=(--compact-every "${COMPACT_EVERY:-10m}")
[ -z "${BROKER_ON_DISK:-}" ] || broker_args+=(--data-dir "$tmp/kafka")
"$tmp/aewatch" broker --addr 127.0.0.1:$kport --topics sensors --partitions 4 "${broker_args[@]}" > "$tmp/broker.log" & pids+=($!)
broker_pid=$!
broker_memory() {
  local disk=""
  [ -z "${BROKER_ON_DISK:-}" ] || disk="; $(du -sm "$tmp/kafka" | cut -f1) MB on disk"
  awk -v what="$1" -v disk="$disk" '/VmRSS/ { rss = $2 } /VmHWM/ { hwm = $2 } END { printf "embedded broker %s: resident %.0f MB, peak %.0f MB%s\n", what, rss / 1024, hwm / 1024, disk }' "/proc/$broker_pid/status"
}
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

"$tmp/aewatch" generate --rows "$(( rows > 500 ? rows : 500 ))" --variants 1 --out "$tmp/gen" >/dev/null
signals=(seasonal duty oscillating noisy); faults=(none spike level_shift frequency shape noise_burst stuck)
templates=()
for f in "${faults[@]}"; do for s in "${signals[@]}"; do templates+=("$tmp/gen/$s/${s}_$f.csv"); done; done
# series_files DIR FROM TO: DIR/sensor<i>.csv for every series i, the header
# and samples FROM..TO of signal i % 4 with fault i / 4 % 7. One awk for
# every file: a process per file took over an hour for 100,000 here.
series_files() {
  mkdir -p "$1"
  awk -v series="$series" -v from="$2" -v to="$3" -v out="$1" '
    FNR == 1 { t++ }
    FNR <= to + 1 { line[t, FNR] = $0 }
    END {
      for (i = 0; i < series; i++) {
        k = (int(i / 4) % 7) * 4 + i % 4 + 1; p = out "/sensor" i ".csv"
        print line[k, 1] > p
        for (r = from + 1; r <= to + 1; r++) print line[k, r] > p
        close(p)
      }
    }' "${templates[@]}"
}
series_files "$tmp/data" 1 "$rows"
total=$((series * rows))
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $series series x $rows rows = $total samples"
"$tmp/aewatch" produce --brokers 127.0.0.1:$kport --topic sensors "$tmp/data" 2>/dev/null
drain_line=$("$tmp/drain" --brokers 127.0.0.1:$kport --topic sensors --messages "$total"); echo "$drain_line"
drain_rate=$(sed -E 's/.* ([0-9]+) messages\/s$/\1/' <<<"$drain_line")
expected=$((total - series * 31))
since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratios=(); ratios_first=(); rates=()

# One repetition: eval, then aewatch run (its own consumer group and
# database) right after, so that both meet the machine in the same phase.
measure() {
  local rep=$1 db=sensors$1
  eval_line="aewatch eval: $("$tmp/aewatch" eval --quiet --out "$tmp/eval" "$tmp/data" | sed -n 1p)"; echo "$eval_line"
  eval_rate=$(sed -E 's/.*\(([0-9]+) rows\/s\)$/\1/' <<<"$eval_line")
  curl -sf -XPOST "http://127.0.0.1:$iport/query" --data-urlencode "q=CREATE DATABASE $db" >/dev/null
  start=$(date +%s.%N)
  "$tmp/aewatch" run --brokers 127.0.0.1:$kport --topics sensors --group "bench$rep" --influx-url "http://127.0.0.1:$iport" \
    --influx-bucket "$db/autogen" --http-addr 127.0.0.1:$hport --set http.pprof=true --set checkpoint.interval="${CHECKPOINT_INTERVAL:-30s}" \
    --log-format text "${run_set[@]}" 2> "$tmp/run.log" & run_pid=$!; pids+=("$run_pid")
  influx_cpu0=$(cpu "$influxd_pid"); broker_cpu0=$(cpu "$broker_pid")
  local prof_pid="" iprof_pid="" trace_pid=""
  if [ "$rep" = 1 ]; then
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
  fi
  # One in-process poller, not a curl per poll: process start-ups would take
  # CPU from the run being measured.
  read -r first_ns fn end_ns < <("$tmp/pointwait" --metrics "http://127.0.0.1:$hport/metrics" --points "$expected")
  first=$(awk -v t="$first_ns" 'BEGIN { printf "%.9f", t / 1e9 }'); end=$(awk -v t="$end_ns" 'BEGIN { printf "%.9f", t / 1e9 }')
  run_cpu=$(cpu "$run_pid"); influx_cpu=$(since "$influx_cpu0" "$(cpu "$influxd_pid")"); broker_cpu=$(since "$broker_cpu0" "$(cpu "$broker_pid")")
  read -r rate rate_first ratio ratio_first < <(awk -v s="$start" -v f="$first" -v e="$end" -v n="$expected" -v fn="$fn" -v d="$drain_rate" -v v="$eval_rate" 'BEGIN {
    slow = d < v ? d : v; r = n/(e-s); rf = (n-fn)/(e-f)
    printf "%.0f %.0f %.2f %.2f\n", r, rf, r/slow, rf/slow }')
  echo "aewatch run end to end: $expected points in $(since "$start" "$end")s from start ($rate samples/s), $rate_first samples/s after the first write"
  echo "bar (end to end >= half of min(reader, eval), and >= 100000): from start $ratio of min, after the first write $ratio_first"
  echo "CPU seconds during the run: aewatch run $run_cpu, influxd $influx_cpu, broker $broker_cpu"
  ratios+=("$ratio"); ratios_first+=("$ratio_first"); rates+=("$rate")
  # Peak resident memory, and the most a detector holds at any time
  # (aewatch_series_memory_bytes).
  per=$(curl -sf "http://127.0.0.1:$hport/metrics" | awk '/^aewatch_series_memory_bytes / { print $2 }')
  live=$(curl -sf "http://127.0.0.1:$hport/metrics" | awk '/^aewatch_live_series / { print $2 }')
  awk -v hwm="$(awk '/VmHWM/ { print $2 }' "/proc/$run_pid/status")" -v per="$per" -v live="$live" 'BEGIN {
    printf "aewatch run peak resident memory %.0f MB; %d live detectors x %.0f KB each at most = %.0f MB (pages not yet written are not resident)\n",
      hwm / 1024, live, per / 1024, live * per / 1048576 }'
  # Latency from a message's fetch, and from its record's timestamp, to its
  # points' acknowledgement, from the histograms (linear within a bucket).
  for h in "aewatch_sample_latency_seconds:sample latency (fetch to acknowledged write)" \
           "aewatch_record_age_seconds:record age (Kafka timestamp to acknowledged write; aewatch produce stamps records with their event time, so here the data's age)"; do
    curl -sf "http://127.0.0.1:$hport/metrics" | awk -v metric="${h%%:*}_bucket" -v title="${h#*:}" '
      index($0, metric) == 1 { match($0, /le="[^"]*"/); le = substr($0, RSTART+4, RLENGTH-5); n++; b[n] = (le == "+Inf" ? 1e9 : le) + 0; c[n] = $2 + 0 }
      END {
        if (n == 0 || c[n] == 0) { print title ": no histogram"; exit }
        split("0.5 0.99", qs, " ")
        line = title ":"
        for (k = 1; k <= 2; k++) {
          want = qs[k] * c[n]; lo = 0; prev = 0
          for (i = 1; i <= n; i++) { if (c[i] >= want) break; lo = b[i]; prev = c[i] }
          if (i > n || b[i] >= 1e9) { line = line sprintf(" p%g beyond %.0f ms", qs[k] * 100, lo * 1000); continue }
          v = (c[i] > prev) ? lo + (b[i] - lo) * (want - prev) / (c[i] - prev) : b[i]
          line = line sprintf(" p%g %.0f ms", qs[k] * 100, v * 1000)
        }
        print line " (" c[n] " messages)" }'
  done
  # Checkpoint rounds while the run went on (aewatch_checkpoint_round_seconds):
  # waits (up to two minutes) for the first to end when none has.
  for _ in $(seq 240); do
    curl -sf "http://127.0.0.1:$hport/metrics" | awk '/^aewatch_checkpoint_round_seconds_count/ { n = $2 } END { exit !(n > 0) }' && break
    sleep 0.5
  done
  curl -sf "http://127.0.0.1:$hport/metrics" | awk '
    /^aewatch_checkpoint_round_seconds_bucket/ { match($0, /le="[^"]*"/); k++; le[k] = substr($0, RSTART+4, RLENGTH-5); c[k] = $2 + 0 }
    /^aewatch_checkpoint_round_seconds_sum/ { sum = $2 } /^aewatch_checkpoint_round_seconds_count/ { n = $2 + 0 }
    /^aewatch_checkpoint_round_peak_bytes / { peak = $2 }
    END {
      if (n == 0) { print "checkpoint rounds: none ended within two minutes of the last point"; exit }
      for (i = 1; i <= k && c[i] < n; i++) {}  # the first bucket holding every round
      printf "checkpoint rounds by the last point and the first after it: %d, mean %.2fs, the longest <= %ss; at most %.1f MB of snapshots held at once\n", n, sum / n, le[i], peak / 1048576 }'
  # How long each round paused fetching (until every shard passed its barrier).
  curl -sf "http://127.0.0.1:$hport/metrics" | awk '
    /^aewatch_checkpoint_barrier_seconds_bucket/ { match($0, /le="[^"]*"/); k++; le[k] = substr($0, RSTART+4, RLENGTH-5); c[k] = $2 + 0 }
    /^aewatch_checkpoint_barrier_seconds_sum/ { sum = $2 } /^aewatch_checkpoint_barrier_seconds_count/ { n = $2 + 0 }
    END {
      if (n == 0) exit
      for (i = 1; i <= k && c[i] < n; i++) {}
      printf "fetching paused at each round barrier: mean %.3fs, the longest <= %ss\n", sum / n, le[i] }'
  for p in $prof_pid $iprof_pid $trace_pid; do wait "$p"; done
  # The stop runs a checkpoint round over every live detector: the peak
  # through it, read until the process is gone.
  kill "$run_pid" 2>/dev/null || true
  local hwm=0 h
  while h=$(awk '/VmHWM/ { print $2 }' "/proc/$run_pid/status" 2>/dev/null) && [ -n "$h" ]; do hwm=$h; sleep 0.05; done
  wait "$run_pid" 2>/dev/null || true
  echo "aewatch run peak resident memory through the stop's checkpoint round: $((hwm / 1024)) MB"
  broker_memory "after the run's stop"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2) }'; }
range() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'; }
reps=${REPEAT:-1}
for rep in $(seq "$reps"); do
  [ "$reps" = 1 ] || echo "-- repetition $rep of $reps"
  measure "$rep"
done
if [ "$reps" != 1 ]; then
  echo "over $reps repetitions: end to end $(median "${rates[@]}") samples/s from start (median; range $(range "${rates[@]}")); ratio to min(reader, eval) from start median $(median "${ratios[@]}") (range $(range "${ratios[@]}")), after the first write median $(median "${ratios_first[@]}") (range $(range "${ratios_first[@]}"))"
fi
if [ "${REPLAY:-1}" != 0 ]; then
  rstart=$(date +%s.%N)
  if "$tmp/aewatch" replay --brokers 127.0.0.1:$kport --topics sensors --from earliest --run bench \
    --influx-url "http://127.0.0.1:$iport" --influx-bucket sensors1/autogen --log-format text 2> "$tmp/replay.log"; then
    rend=$(date +%s.%N)
    awk -v s="$rstart" -v e="$rend" -v n="$expected" 'BEGIN { printf "aewatch replay --from earliest: %d points in %.2fs (%.0f samples/s, whole command)\n", n, e-s, n/(e-s) }'
  else
    echo "aewatch replay failed (exit $?); the last lines of its log:"; tail -5 "$tmp/replay.log" | sed 's/^/  /'
  fi
fi

# RESTART=1: write one more sample per series, start `aewatch run` again in
# the first repetition's group, which restores every detector's checkpoint,
# and print how long loading took, when the first and the last new point
# were written and the peak memory by then (checkpoint.restore_bytes bounds
# what is held; the rest is read when a series returns).
if [ -n "${RESTART:-}" ]; then
  # One new sample per series, so the restarted run has points to write:
  # each is scored on a detector restored from its checkpoint.
  series_files "$tmp/more" $((rows + 1)) $((rows + 1))
  "$tmp/aewatch" produce --brokers 127.0.0.1:$kport --topic sensors "$tmp/more" 2>/dev/null
  lstart=$(date +%s.%N); broker_cpu0=$(cpu "$broker_pid")
  "$tmp/aewatch" run --brokers 127.0.0.1:$kport --topics sensors --group bench1 --influx-url "http://127.0.0.1:$iport" \
    --influx-bucket sensors1/autogen --http-addr 127.0.0.1:$hport --set http.pprof=true --log-format text "${run_set[@]}" 2> "$tmp/restart.log" & restart_pid=$!; pids+=("$restart_pid")
  rprof_pid=""
  if [ -n "${RESTART_PROFILE:-}" ]; then
    # A CPU profile of the restarted run's first RESTART_PROFILE_SECONDS (default 60).
    (for _ in $(seq 200); do curl -sf "http://127.0.0.1:$hport/metrics" >/dev/null && break; sleep 0.05; done
     curl -s "http://127.0.0.1:$hport/debug/pprof/profile?seconds=${RESTART_PROFILE_SECONDS:-60}" -o "$RESTART_PROFILE") & rprof_pid=$!
  fi
  # Up to ten minutes for the load (the polls are cheap).
  for _ in $(seq 12000); do grep -q 'checkpoints loaded' "$tmp/restart.log" && break; sleep 0.05; done
  lend=$(date +%s.%N)
  read -r rfirst_ns _ rend_ns < <("$tmp/pointwait" --metrics "http://127.0.0.1:$hport/metrics" --points "$series")
  hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$restart_pid/status")
  loaded=$(grep -o 'checkpoints loaded.*detectors=[0-9]*' "$tmp/restart.log" | grep -o '[0-9]*$' | head -1)
  deferred=$(grep -o 'deferred=[0-9]*' "$tmp/restart.log" | grep -o '[0-9]*$' | head -1 || true)
  awk -v s="$lstart" -v e="$lend" -v h="$hwm" -v n="${loaded:-0}" -v d="${deferred:-0}" 'BEGIN {
    printf "restart: %d checkpoints loaded (%d of them left in the topic until their series returns) %.2fs after start; peak resident memory by the last new point %.0f MB\n", n, d, e-s, h/1024 }'
  if [ "${loaded:-0}" -lt "$series" ]; then
    echo "restart: only ${loaded:-0} of $series series had a checkpoint (the stop's round cut short by pipeline.shutdown_timeout?): the others re-read their input from the last round's offsets, so the points below are not all new ones"
  fi
  awk -v s="$lstart" -v f="$rfirst_ns" -v e="$rend_ns" -v n="$series" 'BEGIN {
    printf "restart: the first new point written %.2fs after start, all %d (one per series, checkpoints left in the topic read as their series return) %.2fs after start\n", f/1e9 - s, n, e/1e9 - s }'
  grep -E 'msg="(generation started|checkpoints loaded|checkpoints beyond)' "$tmp/restart.log" | head -4 | sed 's/^/  /'
  broker_memory "by the restart's last new point"
  echo "restart: CPU seconds by the last new point: aewatch run $(cpu "$restart_pid"), broker $(since "$broker_cpu0" "$(cpu "$broker_pid")")"
  [ -z "$rprof_pid" ] || wait "$rprof_pid"
  kill "$restart_pid" 2>/dev/null || true; wait "$restart_pid" 2>/dev/null || true
fi

# REBALANCE=1: two instances in a new group. A starts alone, consumes the
# whole topic (every detector live) and checkpoints; B joins (A keeps the
# detectors of the partitions it still owns, B loads the others'
# checkpoints); B stops (A keeps its own and loads only B's). Prints, per
# generation of A, the partitions kept, the checkpoints loaded and the
# seconds from the generation's start to its load's end, and the detectors
# A kept in memory.
if [ -n "${REBALANCE:-}" ]; then
  bport=$(free_port)
  runq() { exec "$tmp/aewatch" run --brokers 127.0.0.1:$kport --topics sensors --group bench-reb --influx-url "http://127.0.0.1:$iport" \
    --influx-bucket sensors1/autogen --http-addr "127.0.0.1:$1" --log-format text --set kafka.session_timeout=6s --set checkpoint.interval=1s "${run_set[@]}"; }
  loads() { grep -c 'checkpoints loaded' "$1" || true; }
  # Waits of up to ten minutes: at 100,000 series A alone takes minutes.
  waitloads() {
    for _ in $(seq 12000); do [ "$(loads "$1")" -ge "$2" ] && return; sleep 0.05; done
    echo "rebalance: timed out waiting for load $2 in $(basename "$1"); its generations and loads:"
    grep -E 'msg="(generation started|checkpoints loaded)"' "$1" | sed 's/^/  /'
  }
  metric() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%d", s }'; }
  runq "$hport" 2> "$tmp/a.log" & a_pid=$!; pids+=("$a_pid")
  for _ in $(seq 12000); do [ "$(metric "$hport" aewatch_messages_total)" -ge "$((series * rows))" ] && break; sleep 0.05; done
  # A checkpoint round that began after the last message, and ended.
  rounds=$(metric "$hport" aewatch_checkpoint_round_seconds_count)
  for _ in $(seq 12000); do [ "$(metric "$hport" aewatch_checkpoint_round_seconds_count)" -ge "$((rounds + 2))" ] && break; sleep 0.05; done
  runq "$bport" 2> "$tmp/b.log" & b_pid=$!; pids+=("$b_pid")
  waitloads "$tmp/a.log" 2; waitloads "$tmp/b.log" 1
  kill -TERM "$b_pid"; wait "$b_pid" 2>/dev/null || true
  waitloads "$tmp/a.log" 3
  kept=$(metric "$hport" aewatch_detectors_kept_total)
  kill -TERM "$a_pid"; wait "$a_pid" 2>/dev/null || true
  echo "rebalance: instance A alone, then B joins, then B leaves (A's generations):"
  grep -E 'msg="(generation started|checkpoints loaded)"' "$tmp/a.log" | python3 -c '
import re, sys, datetime
start = None
for line in sys.stdin:
    t = datetime.datetime.fromisoformat(re.search(r"time=(\S+)", line).group(1).replace("Z", "+00:00"))
    if "generation started" in line:
        start = t
        continue
    det = re.search(r"detectors=(\d+)", line).group(1)
    kept = re.search(r"partitions_kept=(\d+)", line).group(1)
    print("  partitions kept %s, checkpoints loaded %s, %.2fs after the generation started" % (kept, det, (t - start).total_seconds()))
'
  echo "  detectors A kept in memory across the rebalances: ${kept:-0} (aewatch_detectors_kept_total)"
fi
