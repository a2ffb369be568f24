#!/usr/bin/env bash
# The same bits on arm64 as on amd64, under Debian's qemu-user-static:
# the golden, determinism and unit tests (short mode) of the scoring packages run as
# arm64 binaries, and `aewatch eval` built for arm64 writes byte-identical
# output to the amd64 build on generated files (the long duty cycle, the
# related sensors, whose relations invert a covariance, the pump on a
# stroke cycle, whose relations take lags, a plant of 48 sensors, whose
# relations choose their partners by correlation, the denoised output, whose
# code comes from a subspace iteration, and Adam with factored moments,
# among them) and on NAB and SKAB files
# when ../shared/datasets is beside the checkout. Installs
# qemu-user-static with apt-get when it is missing. Run by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v qemu-aarch64-static >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y qemu-user-static >/dev/null 2>&1 ||
    { $sudo apt-get update >/dev/null && $sudo apt-get install -y qemu-user-static >/dev/null; }
fi
qemu=$(command -v qemu-aarch64-static)
# Under qemu the detector's tests took 10-30 min, longer on a busy machine;
# its three slowest (28 of 70 s on amd64: seeds of a 20,000-row driven plant
# whose relations learn on, and of a plant of 96 sensors) run on amd64
# only: on arm64 the relations' fits are covered bit for bit by the
# related-sensor and stroke-cycle evals below.
slow_on_qemu='^(TestRelationLearnOnR2RelatesAPartlyExplainedChannel|TestRelationLearnsOnADrivenPlant|TestRelationOfManySensors)$'
GOARCH=arm64 go test -short -timeout 60m -exec "$qemu" -skip "$slow_on_qemu" ./model ./window ./internal/detmath ./detector
GOARCH=arm64 go test -timeout 30m -exec "$qemu" ./eval -run 'TestGolden|TestContract|TestDeterministicBytes|TestPointStatsByHand'

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/amd64" ./cmd/aewatch
GOARCH=arm64 go build -o "$tmp/arm64" ./cmd/aewatch
"$tmp/amd64" generate --rows 4000 --variants 1 --out "$tmp/in/gen" >/dev/null
"$tmp/amd64" generate --sustained --variants 1 --out "$tmp/in/sus" >/dev/null
"$tmp/amd64" generate --long-cycle --variants 1 --rows 12000 --out "$tmp/in/long" >/dev/null
"$tmp/amd64" generate --relations --variants 1 --out "$tmp/in/rel" >/dev/null
"$tmp/amd64" generate --relations --cycle 24 --variants 1 --out "$tmp/in/stroke" >/dev/null
"$tmp/amd64" generate --relations --sensors 48 --variants 1 --rows 1500 --out "$tmp/in/plant" >/dev/null
printf 'detector:\n  denoise:\n    enabled: true\n' > "$tmp/denoise.yaml"
printf 'detector:\n  model:\n    optimizer: adam_factored\n' > "$tmp/factored.yaml"
runs=("--out OUT $tmp/in/gen" "--config $tmp/denoise.yaml --out OUT $tmp/in/gen" "--config $tmp/factored.yaml --out OUT $tmp/in/gen" "--ignore anomaly --out OUT $tmp/in/sus" "--ignore anomaly --out OUT $tmp/in/long"
  "--multivariate --ignore anomaly --out OUT $tmp/in/rel" "--multivariate --ignore anomaly --out OUT $tmp/in/stroke"
  "--multivariate --ignore anomaly --out OUT $tmp/in/plant")
shared=../shared/datasets
if [ -d "$shared/nab/data" ]; then
  runs+=("--out OUT $shared/nab/data/realKnownCause $shared/nab/data/realTraffic")
fi
if [ -d "$shared/skab-valve1/data/valve1" ]; then
  runs+=("--multivariate --ignore anomaly,changepoint --out OUT $shared/skab-valve1/data/valve1")
fi
files=0
for i in "${!runs[@]}"; do
  for arch in amd64 arm64; do
    run=()
    [ "$arch" = arm64 ] && run=("$qemu")
    # shellcheck disable=SC2086
    "${run[@]}" "$tmp/$arch" eval --quiet ${runs[$i]//OUT/$tmp/out-$arch-$i} >/dev/null
  done
  if ! diff -r -q "$tmp/out-amd64-$i" "$tmp/out-arm64-$i"; then
    echo "arm64 eval output differs from amd64 for: ${runs[$i]}" >&2
    exit 1
  fi
  files=$((files + $(find "$tmp/out-amd64-$i" -name '*.csv' | wc -l)))
done
echo "arm64: $files eval output files byte-identical to amd64"
