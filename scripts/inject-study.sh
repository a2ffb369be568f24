#!/usr/bin/env bash
# Measures alerting on faults written into a recording of normal operation
# (aewatch inject): for every detector kind, the point-wise F1, false-alarm
# rate and recall of `alert` on rows 400 on, means over corpus seeds and
# detector seeds, next to alerting on every row; then, for the
# autoencoder's first run, recall per fault and the false-alarm rate before
# and after the regime.
# usage: scripts/inject-study.sh RECORDING.csv [inject flags, e.g. --ignore COL, --faults growth,none]
#   (CORPUS_SEEDS="1 2 3", SEEDS="1 2 3", KINDS="autoencoder frozen persistence range",
#    CONFIG=FILE for a configuration file)
# SKAB's fault-free recording:
#   scripts/inject-study.sh ../shared/datasets/skab-valve1/data/anomaly-free/anomaly-free.csv
set -euo pipefail
rec=${1:?usage: scripts/inject-study.sh RECORDING.csv [eval flags]}
shift
corpus_seeds=${CORPUS_SEEDS:-"1 2 3"}
seeds=${SEEDS:-"1 2 3"}
kinds=${KINDS:-"autoencoder frozen persistence range"}
cfg=()
[[ -n ${CONFIG:-} ]] && cfg=(--config "$CONFIG")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/aewatch" ./cmd/aewatch
for cs in $corpus_seeds; do
  "$tmp/aewatch" inject --seed "$cs" "$@" --out "$tmp/c$cs" "$rec" > /dev/null
done
field() { awk -v k="$1" '/^point-wise/ { for (i = 1; i <= NF; i++) if ($i == k) print $(i + 1) }' "$2"; }
for k in $kinds; do
  for cs in $corpus_seeds; do
    for s in $seeds; do
      "$tmp/aewatch" eval "${cfg[@]}" --quiet --multivariate --label-column anomaly --skip-rows 400 \
        --detector "$k" --seed "$s" --out "$tmp/o-$k-$cs-$s" "$tmp/c$cs" > "$tmp/r.txt"
      echo "$(field F1 "$tmp/r.txt") $(field FAR "$tmp/r.txt") $(field recall "$tmp/r.txt") $(field ROC-AUC "$tmp/r.txt")"
    done
  done | awk -v k="$k" '{ f += $1; a += $2; r += $3; u += $4; n++ }
    END { printf "%-12s F1 %.3f  FAR %.3f  recall %.3f  alert evidence ROC-AUC %.3f  (%d runs)\n", k, f / n, a / n, r / n, u / n, n }'
done
# Alerting on every row, from the label counts of the last run.
grep '^point-wise' "$tmp/r.txt" | awk '{ for (i = 1; i <= NF; i++) { if ($i == "(TP") tp = $(i + 1); if ($i == "FN") fn = $(i + 1); if ($i == "FP") fp = $(i + 1); if ($i == "TN") tn = $(i + 1) } }
  END { sub(/\)/, "", tn); p = tp + fn; printf "%-12s F1 %.3f  (%d of %d rows abnormal, last corpus)\n", "every row", 2 * p / (2 * p + fp + tn), p, p + fp + tn }'
first=$(echo $kinds | cut -d' ' -f1); cs1=$(echo $corpus_seeds | cut -d' ' -f1); s1=$(echo $seeds | cut -d' ' -f1)
echo "per fault, $first, corpus seed $cs1, seed $s1 (FAR before / after: normal rows before and after the regime):"
for f in "$tmp/o-$first-$cs1-$s1"/*.csv; do
  awk -F, -v n="$(basename "$f")" 'NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
    { r = NR - 2; y = $h["anomaly"] > 0; a = $h["alert"] > 0
      if (y) { seen = 1; p++; tp += a } else if (r >= 400) { if (!seen) { nb++; fb += a } else { na++; fa += a } } }
    END { split(n, q, "-"); print q[1], tp + 0, p + 0, fb + 0, nb + 0, fa + 0, na + 0 }' "$f"
done | awk '{ k = $1; tp[k] += $2; p[k] += $3; fb[k] += $4; nb[k] += $5; fa[k] += $6; na[k] += $7 }
  END { for (k in tp) printf "  %-12s recall %.2f  FAR before %.2f  after %.2f\n", k, p[k] ? tp[k] / p[k] : 0, nb[k] ? fb[k] / nb[k] : 0, na[k] ? fa[k] / na[k] : 0 }' | sort
