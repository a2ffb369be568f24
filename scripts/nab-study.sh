#!/usr/bin/env bash
# Scores every detector kind on the NAB corpus over several seeds and prints
# each run's NAB profiles and alert F1, then the mean per kind.
# usage: scripts/nab-study.sh [NAB_DIR] [SEEDS] [KINDS] [-- extra eval flags]
set -euo pipefail
nab=${1:-../shared/datasets/nab}
seeds=${2:-"1 2 3"}
kinds=${3:-"autoencoder frozen persistence range"}
shift $(( $# < 3 ? $# : 3 )); [ "${1:-}" = "--" ] && shift
[ -d "$nab/data" ] || { echo "no NAB corpus at $nab (pass its directory as the first argument)" >&2; exit 1; }
bin=$(mktemp -d)/aewatch
go build -o "$bin" ./cmd/aewatch
out=$(mktemp -d)
trap 'rm -rf "$out" "$(dirname "$bin")"' EXIT
for k in $kinds; do
  for s in $seeds; do
    "$bin" eval --quiet --detector "$k" --seed "$s" --labels "$nab/labels/combined_windows.json" --out "$out/$k-$s" "$@" "$nab/data" |
      awk -v k="$k" -v s="$s" '
        /^detector/ { secs = $10 }
        /^NAB/ { std = $5; lfp = $9; lfn = $13 }
        /^alert vs/ { f1 = $9 }
        END { printf "%-12s seed %s  standard %6.2f  low_FP %6.2f  low_FN %6.2f  F1 %.3f  %s\n", k, s, std, lfp, lfn, f1, secs }'
  done
done | tee "$out/runs.txt"
echo "means over seeds ($seeds):"
awk '{ n[$1]++; a[$1]+=$5; b[$1]+=$7; c[$1]+=$9; d[$1]+=$11 }
  END { for (k in n) printf "%-12s standard %6.2f  low_FP %6.2f  low_FN %6.2f  F1 %.3f\n", k, a[k]/n[k], b[k]/n[k], c[k]/n[k], d[k]/n[k] }' "$out/runs.txt" | sort
