#!/usr/bin/env bash
# Regenerate BENCHMARKS.md's figures on this machine: `bash bench/run.sh`.
#
# Builds the release binary, then runs the benchmark program
# (benches/luota_bench.rs) through `cargo bench`; it measures everything and
# rewrites the section between the figures markers of BENCHMARKS.md. Nothing
# is typed by hand. Extra arguments go to the program, e.g.
#   bash bench/run.sh --only race --trials 50     (prints; leaves the file alone)
#
# Not part of CI: ci/test.sh never calls this, and under `cargo test
# --all-targets` the bench program exits at once. Takes several minutes after
# the build (the Machine table of the figures says how long); run it on an
# otherwise idle machine. All traffic stays on 127.0.0.1; the program strips
# proxy variables, CI and GITHUB_STEP_SUMMARY from the processes it starts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --locked --bin luota
exec cargo bench --locked --bench luota_bench -- --luota target/release/luota --doc BENCHMARKS.md "$@"
