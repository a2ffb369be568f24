#!/usr/bin/env bash
# Scores a labelled corpus with every detector kind over several seeds and
# prints each run's NAB profiles and alert F1, then the means per kind.
# usage: scripts/study.sh [DATA_DIR LABELS_JSON] [-- extra eval flags]
#   default corpus: NAB at ../shared/datasets/nab
#   the project's own corpus: go run ./cmd/aewatch generate --out /tmp/syn
#                             scripts/study.sh /tmp/syn /tmp/syn/labels.json
# SEEDS and KINDS in the environment override "1 2 3" and all four kinds.
set -euo pipefail
data=${1:-../shared/datasets/nab/data}
labels=${2:-../shared/datasets/nab/labels/combined_windows.json}
shift $(( $# < 2 ? $# : 2 )); [ "${1:-}" = "--" ] && shift
seeds=${SEEDS:-"1 2 3"}
kinds=${KINDS:-"autoencoder frozen persistence range"}
[ -d "$data" ] && [ -f "$labels" ] || { echo "no corpus at $data with labels $labels" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/aewatch" ./cmd/aewatch
for k in $kinds; do
  for s in $seeds; do
    "$tmp/aewatch" eval --quiet --detector "$k" --seed "$s" --labels "$labels" --out "$tmp/$k-$s" "$@" "$data" |
      awk -v k="$k" -v s="$s" '
        /^NAB/ { std = $5; lfp = $9; lfn = $13 }
        /^alert vs/ { f1 = $9 }
        END { printf "%-12s seed %s  standard %6.2f  low_FP %6.2f  low_FN %6.2f  F1 %.3f\n", k, s, std, lfp, lfn, f1 }'
  done
done | tee "$tmp/runs.txt"
echo "means over seeds $seeds:"
awk '{ n[$1]++; a[$1]+=$5; b[$1]+=$7; c[$1]+=$9; d[$1]+=$11 }
  END { for (k in n) printf "%-12s standard %6.2f  low_FP %6.2f  low_FN %6.2f  F1 %.3f\n", k, a[k]/n[k], b[k]/n[k], c[k]/n[k], d[k]/n[k] }' "$tmp/runs.txt" | sort
