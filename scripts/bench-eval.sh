#!/usr/bin/env bash
# Prints eval's throughput on a corpus (default: NAB) for each detector kind,
# and the model-step and detector benchmarks. Figures depend on the machine:
# compare them as ratios, on the same machine.
# usage: scripts/bench-eval.sh [DATA_DIR]
set -euo pipefail
data=${1:-../shared/datasets/nab/data}
[ -d "$data" ] || { echo "no data at $data (pass a directory of CSV files)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/aewatch" ./cmd/aewatch
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
for k in autoencoder frozen persistence range; do
  for run in 1 2 3; do
    "$tmp/aewatch" eval --quiet --detector "$k" --out "$tmp/out" "$data" | sed -n 1p # reads all: head would SIGPIPE eval
  done
done
go test ./model ./detector -run '^$' -bench . -benchmem -count 3
