#!/usr/bin/env bash
# The SKAB figures docs/quality.md gives for every detection change, for
# every detector kind, seeds 1-3 (each draw scored with the seed of its
# number), pooled point-wise over rows 400 on:
#   valve1      SKAB valve1 as published, `--multivariate`: F1 of `alert`
#   growth      `inject --faults growth --per-fault 30`, draws 1-3: F1
#   injected    `inject --seed 1..12` (the seven default faults, 252 files): F1
#   fault-free  `inject --faults none --per-fault 19`, draws 1-3: the share
#               of normal rows alerted (lower is better)
# with alerting on every row's F1 beside each labelled corpus.
# usage: scripts/skab-study.sh [SKAB_DIR]   (default ../shared/datasets/skab-valve1;
#   KINDS="autoencoder frozen persistence range", CONFIG=FILE for a configuration file)
set -euo pipefail
skab=${1:-../shared/datasets/skab-valve1}
kinds=${KINDS:-"autoencoder frozen persistence range"}
rec=$skab/data/anomaly-free/anomaly-free.csv
[ -f "$rec" ] && [ -d "$skab/data/valve1" ] || { echo "no SKAB valve1 data at $skab" >&2; exit 1; }
cfg=()
[[ -n ${CONFIG:-} ]] && cfg=(--config "$CONFIG")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/aewatch" ./cmd/aewatch
for s in 1 2 3; do
  "$tmp/aewatch" inject --faults growth --per-fault 30 --seed "$s" --out "$tmp/growth-$s" "$rec" > /dev/null
  "$tmp/aewatch" inject --faults none --per-fault 19 --seed "$s" --out "$tmp/fault-free-$s" "$rec" > /dev/null
done
mkdir "$tmp/injected"
for s in $(seq 1 12); do
  "$tmp/aewatch" inject --seed "$s" --out "$tmp/inj-$s" "$rec" > /dev/null
  for f in "$tmp/inj-$s"/*.csv; do mv "$f" "$tmp/injected/$s-$(basename "$f")"; done
done
declare -A last_every
# score KIND SEED DIR [eval flags]: prints the point-wise line's F1, FAR and
# every row's F1.
score() {
  "$tmp/aewatch" eval "${cfg[@]}" --quiet --multivariate --label-column anomaly --skip-rows 400 \
    --detector "$1" --seed "$2" --out "$tmp/out" "${@:4}" "$3" |
    awk '/^point-wise/ { for (i = 1; i <= NF; i++) { if ($i == "F1") f1 = $(i + 1); if ($i == "FAR") far = $(i + 1) } }
      /^alerting on every row/ { every = $7 } END { print f1, far, every }'
}
printf '%-12s %-30s %-30s %-30s %s\n' kind "valve1 F1 (seeds 1-3)" "growth F1 (draws 1-3)" "injected F1 (seeds 1-3)" "fault-free rows alerted"
for k in $kinds; do
  row=$(printf '%-12s' "$k")
  for corpus in valve1 growth injected fault-free; do
    vals=()
    for s in 1 2 3; do
      flags=()
      case $corpus in
        valve1) dir=$skab/data/valve1 flags=(--ignore changepoint) ;;
        injected) dir=$tmp/injected ;;
        *) dir=$tmp/$corpus-$s ;;
      esac
      read -r f1 far every < <(score "$k" "$s" "$dir" "${flags[@]}")
      if [ "$corpus" = fault-free ]; then vals+=("$far"); else vals+=("$f1"); last_every[$corpus]=$every; fi
    done
    row+=" $(printf '%s / %s / %s' "${vals[@]}") ($(echo "${vals[@]}" | awk '{ printf "%.3f", ($1 + $2 + $3) / 3 }'))"
  done
  echo "$row"
done
echo "alerting on every row: valve1 ${last_every[valve1]}, growth (draw 3) ${last_every[growth]}, injected ${last_every[injected]}"
