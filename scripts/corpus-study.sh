#!/usr/bin/env bash
# A generated corpus with per-row labels, scored as docs/quality.md gives
# its figures: `generate FLAG` (--valve: a control valve's positions held,
# stuck between two, hunting; --counter: counters that wrap and reset,
# stuck, racing, slowed; each with fault-free files), every detector kind,
# seeds 1-3, pooled point-wise over every row: F1, recall and false-alarm
# rate of `alert`, labelled spans covered for 70% of their rows, and
# alerts opened per 10k normal rows.
# usage: scripts/corpus-study.sh FLAG   (KINDS="autoencoder frozen persistence range",
#   CORPUS_SEED=1, CONFIG=FILE for a configuration file, AEWATCH=BINARY to
#   score with a binary built elsewhere); scripts/valve-study.sh and
#   scripts/counter-study.sh name the flag
set -euo pipefail
flag=${1:?usage: scripts/corpus-study.sh --valve|--counter}
kinds=${KINDS:-"autoencoder frozen persistence range"}
cfg=()
[[ -n ${CONFIG:-} ]] && cfg=(--config "$CONFIG")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
bin=${AEWATCH:-$tmp/aewatch}
[[ -n ${AEWATCH:-} ]] || go build -o "$bin" ./cmd/aewatch
"$bin" generate "$flag" --seed "${CORPUS_SEED:-1}" --out "$tmp/corpus" > /dev/null
printf '%-12s %-5s %-6s %-7s %-6s %-6s %s\n' kind seed F1 recall FAR spans "opens/10k"
for k in $kinds; do
  for s in 1 2 3; do
    "$bin" eval "${cfg[@]}" --quiet --label-column anomaly --detector "$k" --seed "$s" --out "$tmp/out" "$tmp/corpus" |
      awk -v k="$k" -v s="$s" '
        /^point-wise/ { for (i = 1; i <= NF; i++) { if ($i == "F1") f1 = $(i + 1); if ($i == "FAR") far = $(i + 1); if ($i == "recall") rec = $(i + 1) } }
        /^alert vs labelled spans/ { spans = $5 "/" $7; opens = $(NF - 6) }
        END { printf "%-12s %-5s %-6s %-7s %-6s %-6s %s\n", k, s, f1, rec, far, spans, opens }'
    rm -rf "$tmp/out"
  done
done | tee "$tmp/runs.txt"
echo "means over seeds 1-3:"
awk '{ n[$1]++; f[$1] += $3; r[$1] += $4; a[$1] += $5; o[$1] += $7 }
  END { for (k in n) printf "%-12s F1 %.3f  recall %.3f  FAR %.4f  opens/10k %.2f\n", k, f[k]/n[k], r[k]/n[k], a[k]/n[k], o[k]/n[k] }' "$tmp/runs.txt" | sort
