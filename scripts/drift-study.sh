#!/usr/bin/env bash
# Measures drift alerting on generated drift corpora (every signal type with
# a slow ramp and without a fault), for the default detector and two simple
# controls run through the same code: "short" (horizon 8: a Shewhart-like
# chart of 8-sample averages against the same reference) and "no-cusum"
# (threshold 0.01: the first excursion of the slow average beyond the slack
# alerts, no accumulation). Prints, per corpus seed and configuration, the
# drift line of eval (windows found before the ramp ended, median delay,
# alerts outside any window per 10k tested samples), the anomaly alerts'
# rates inside the ramps and elsewhere (does the adapting model see the
# drift?), and drift alerts on the fault-free files.
# usage: scripts/drift-study.sh   (CORPUS_SEEDS="1 101 201", VARIANTS=10)
set -euo pipefail
seeds=${CORPUS_SEEDS:-"1 101 201"}
variants=${VARIANTS:-10}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/aewatch" ./cmd/aewatch
printf 'detector:\n  drift:\n    horizon: 8\n    reference: 4000\n' > "$tmp/short.yaml"
printf 'detector:\n  drift:\n    threshold: 0.01\n' > "$tmp/no-cusum.yaml"
: > "$tmp/default.yaml"
for s in $seeds; do
  "$tmp/aewatch" generate --drift --variants "$variants" --seed "$s" --out "$tmp/c$s" > /dev/null
  for c in default short no-cusum; do
    "$tmp/aewatch" eval --quiet --config "$tmp/$c.yaml" --labels "$tmp/c$s/labels.json" --out "$tmp/o-$s-$c" "$tmp/c$s" > "$tmp/r.txt"
    controls=$(awk -F, 'FNR == 1 { for (i = 1; i <= NF; i++) if ($i == "explanation") e = i; next }
      $e ~ /drift opened/ { n++ } END { print n + 0 }' "$tmp"/o-$s-$c/*/*_none_*.csv)
    echo "corpus seed $s, $c: $(grep '^drift alerts' "$tmp/r.txt" | sed 's/^drift alerts vs windows: //')"
    echo "    $(grep '^anomaly alerts opened' "$tmp/r.txt"); drift alerts on fault-free files: $controls"
  done
done
