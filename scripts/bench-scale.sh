#!/usr/bin/env bash
# A plant on one machine: N univariate series (default 100,000) x M samples
# (default 50) through the embedded broker, aewatch run and a real
# InfluxDB, with a checkpoint round every CHECKPOINT_INTERVAL (default 5s).
# Prints peak resident memory and bytes per detector, samples/s, p50/p99
# latency from fetch to acknowledged write, the checkpoint rounds' times,
# the restart's checkpoint load and first new point, and a rebalance with
# two instances (what the staying one kept and loaded): scripts/bench-pipeline.sh
# with RESTART=1 REBALANCE=1.
# The embedded broker keeps its records on disk (BROKER_ON_DISK=1, in the
# run's temporary directory; the script prints its size), so memory is
# the detectors' (aewatch eval --memory prints one's size; set
# pipeline.max_series in RUN_SET to bound them) and two instances' at once
# during the rebalance (docs/performance.md has the figures per size).
# usage: scripts/bench-scale.sh [SERIES] [SAMPLES]
set -euo pipefail
cd "$(dirname "$0")/.."
export RESTART=1 REBALANCE=1 CHECKPOINT_INTERVAL=${CHECKPOINT_INTERVAL:-5s} BROKER_ON_DISK=${BROKER_ON_DISK:-1}
# A stop's checkpoint round covers every live detector: at 100,000 series it
# outlasts the default 10 s, and a round cut short leaves series to re-read.
export RUN_SET=${RUN_SET:-"pipeline.shutdown_timeout=180s kafka.rebalance_timeout=190s"}
exec scripts/bench-pipeline.sh "${1:-100000}" "${2:-50}"
