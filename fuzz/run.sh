#!/usr/bin/env bash
# Fuzz the drill loader (+ renderer + planner) for SECONDS (default 60):
#   bash fuzz/run.sh [SECONDS]
# Installs cargo-fuzz from crates.io if missing. cargo-fuzz needs nightly
# flags (-Zsanitizer); RUSTC_BOOTSTRAP=1 lets this stable toolchain accept
# them. Seeds: the shipped drills (drills/*.yaml) and tests/drills. The
# growing corpus lives in fuzz/corpus/ (not committed); crashes in
# fuzz/artifacts/. The last line of stats goes to fuzz/last-run.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
SECS=${1:-60}
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "[fuzz] installing cargo-fuzz from crates.io" >&2
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1
mkdir -p corpus/drill_loader seeds
cp ../drills/*.yaml seeds/ 2>/dev/null || true
find ../tests/drills -name '*.yaml' -exec cp {} seeds/ \; 2>/dev/null || true
LOG=$(mktemp "${TMPDIR:-/tmp}/luota-fuzz.XXXXXX")
trap 'rm -f "$LOG"' EXIT
set +e
# --dev: the dev profile (debug assertions on, no release build of the world).
cargo fuzz run --dev drill_loader corpus/drill_loader seeds -- \
  -max_total_time="$SECS" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
set -e
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$LOG" | grep -o '[0-9]*$' | tail -1)
cov=$(grep -oE '#[0-9]+.*cov: [0-9]+' "$LOG" | tail -1 | grep -oE 'cov: [0-9]+' | grep -oE '[0-9]+')
corpus=$(find corpus/drill_loader -type f | wc -l)
seeds=$(find seeds -type f | wc -l)
crashes=$(find artifacts/drill_loader -type f 2>/dev/null | wc -l)
printf 'seconds=%s execs=%s coverage=%s corpus=%s seeds=%s crashes=%s exit=%s\n' \
  "$SECS" "${execs:-0}" "${cov:-0}" "$corpus" "$seeds" "$crashes" "$rc" | tee last-run.txt
exit "$rc"
