#!/usr/bin/env bash
# What was tried to make luota hurt production, leak a secret, hang, lose a
# report or panic — and the figures, produced here and never typed by hand:
#
#   bash ci/safety-report.sh
#
# Runs the safety test binaries (tests/production.rs, hostile.rs,
# interrupt.rs, secrets.rs, loader_props.rs, template_sandbox.rs) and the
# drill-loader fuzzer (fuzz/run.sh), then writes SAFETY.md and the table
# between the safety-report markers in README.md.
#
# Knobs:
#   LUOTA_SAFETY_FUZZ_SECS=N  fuzz for N s (default 60; 0 = do not fuzz,
#                             the table then says so)
#   LUOTA_PROP_CASES=N        cases per property (default here: 2000)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

FUZZ_SECS=${LUOTA_SAFETY_FUZZ_SECS:-60}
export LUOTA_PROP_CASES=${LUOTA_PROP_CASES:-2000}
LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/luota-safety.XXXXXX")
trap 'rm -rf "$LOGDIR"' EXIT
failed=0

log() { printf '[safety] %s\n' "$*" >&2; }

# run_tests NAME: cargo test --test NAME, output kept in $LOGDIR/NAME.log
run_tests() {
  local name=$1
  log "cargo test --test $name"
  if ! cargo test --test "$name" -- --nocapture >"$LOGDIR/$name.log" 2>&1; then
    failed=1
    log "FAILED: $name (see below)"
    tail -n 40 "$LOGDIR/$name.log" >&2
  fi
}

# passed NAME -> "P passed, F failed"
passed() {
  local line
  line=$(grep -E '^test result:' "$LOGDIR/$1.log" | tail -1 || true)
  if [ -z "$line" ]; then
    echo "did not run"
  else
    echo "$line" | sed -E 's/^test result: [A-Za-z]+\. ([0-9]+ passed; [0-9]+ failed).*/\1/' | tr ';' ','
  fi
}

# figure NAME KEY -> the value of KEY= on the SAFETY-FIGURES line(s) of NAME
figure() {
  grep -h "SAFETY-FIGURES $1" "$LOGDIR"/*.log | head -1 | grep -oE "(^| )$2=[^ ]*" | cut -d= -f2
}

for t in production hostile interrupt secrets loader_props template_sandbox; do
  run_tests "$t"
done

fuzz_row="| drill-loader fuzzer (libFuzzer) | not run (LUOTA_SAFETY_FUZZ_SECS=0) | – |"
if [ "$FUZZ_SECS" != 0 ]; then
  log "fuzz/run.sh $FUZZ_SECS"
  if bash fuzz/run.sh "$FUZZ_SECS" >"$LOGDIR/fuzz.log" 2>&1; then fuzz_ok=1; else fuzz_ok=0; failed=1; fi
  f=$(cat fuzz/last-run.txt 2>/dev/null || echo "")
  val() { echo "$f" | grep -oE "(^| )$1=[^ ]*" | cut -d= -f2; }
  fuzz_row="| drill-loader fuzzer (libFuzzer, seeded with $(val seeds) shipped drills; loader → renderer → planner) | $(val seconds) s, $(val execs) inputs executed, coverage $(val coverage), corpus $(val corpus) | $( [ "$fuzz_ok" = 1 ] && [ "$(val crashes)" = 0 ] && echo "**$(val crashes) crashes**" || echo "**FAILED: $(val crashes) crashes, see fuzz/artifacts**") |"
fi

ok() { grep -qE '^test result: ok' "$LOGDIR/$1.log" 2>/dev/null && echo "**no failure**" || echo "**FAILED**"; }

rules=$(grep -cE '^test rule_[a-z_]+ \.\.\. ok' "$LOGDIR/production.log" || true)
hostile_rows=$(grep -h "SAFETY-FIGURES hostile" "$LOGDIR/hostile.log" | sort -u | awk '
  { for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } ;
    key = v["mode"] " " v["plan"];
    if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    if (v["latency_ms"] + 0 > max[key] + 0) max[key] = v["latency_ms"];
    line[key] = sprintf("| hostile handler: %s (%s) | %s, status %s, %s ms of a %s ms bound%s | next drill %s |",
      v["mode"], v["plan"], v["outcome"], v["status"], "MAX", v["bound_ms"],
      (v["truncated"] == "true" ? ", body cut at the cap and reported" : ""), v["next_drill"]) }
  END { for (i = 1; i <= n; i++) { k = order[i]; s = line[k]; sub("MAX", max[k], s); print s } }')

table=$(cat <<EOF
| what was tried | figures | result |
|---|---|---|
| production rails (\`tests/production.rs\`): host not allowed (webhook, setup call, check URL), \`environment: production\`, \`livemode: true\` via \`set:\` and \`payload:\`, live key in the secret / a header / a header via \`env.\`, plain http (webhook, check URL) | $rules rules, each refused with exit 3 and how to proceed; 0 requests reached the loopback handler; dry run sent 0 requests — tests: $(passed production) | $(ok production) |
$hostile_rows
| interrupts and reports (\`tests/interrupt.rs\`): SIGINT and SIGTERM mid-run, a report read while it is replaced, SIGKILL at 5 moments of a run | exit 130, finished drill kept, running one \`interrupted\`, 0 partial reports seen, 0 \`.tmp\` left — tests: $(passed interrupt) | $(ok interrupt) |
| secret scan (\`tests/secrets.rs\`): $(figure secrets secrets) known secrets (signing, second, DB password, header token) in raw, hex and base64 forms ($(figure secrets needles) needles) plus any \`whsec_\` value | $(figure secrets commands) commands (whole shipped suite against \`luota demo\` and the in-process demo, every signature mode against an echoing handler, every subcommand), $(figure secrets outputs) outputs, $(figure secrets files) files, $(figure secrets bytes) bytes scanned | **$(figure secrets hits) secrets found** $( [ "$(ok secrets)" = "**no failure**" ] || echo "(FAILED)") |
| arbitrary text → loader | $(grep -h 'name=arbitrary_text' "$LOGDIR/loader_props.log" | grep -oE 'cases=[0-9]+' | cut -d= -f2) cases | $(ok loader_props): no panic, every rejection located |
| YAML-shaped text → loader → planner | $(grep -h 'name=yaml_shaped' "$LOGDIR/loader_props.log" | grep -oE 'cases=[0-9]+' | cut -d= -f2) cases | $(ok loader_props) |
| mutated shipped drills (byte flips, truncation, line deletion/duplication, key renames, indentation, odd values) → loader → renderer → planner | $(grep -h 'name=mutated_shipped' "$LOGDIR/loader_props.log" | grep -oE 'cases=[0-9]+' | cut -d= -f2) cases, $(grep -h 'name=mutated_drills_that' "$LOGDIR/loader_props.log" | grep -oE 'cases=[0-9]+' | cut -d= -f2) of them still loaded and were planned | $(ok loader_props) |
| arbitrary templates → renderer; \`include\`/\`import\`/\`extends\`/unknown functions (\`tests/template_sandbox.rs\`) | $(grep -h 'name=arbitrary_templates' "$LOGDIR/loader_props.log" | grep -oE 'cases=[0-9]+' | cut -d= -f2) cases; sandbox tests: $(passed template_sandbox) | $(ok template_sandbox) |
$fuzz_row
EOF
)

when=$(date -u +%Y-%m-%d)
rev=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
{
  echo "# What was tried (safety report)"
  echo
  echo "Generated by \`bash ci/safety-report.sh\` on $when at commit $rev; do not edit by hand."
  echo
  echo "$table"
} >SAFETY.md

# The same table into README.md, between the markers.
python3 - "$table" "$when" "$rev" <<'PY'
import sys, re
table, when, rev = sys.argv[1:4]
p = "README.md"
s = open(p).read()
begin, end = "<!-- safety-report:begin -->", "<!-- safety-report:end -->"
block = f"{begin}\n_Generated by `bash ci/safety-report.sh` ({when}, {rev}); do not edit by hand._\n\n{table}\n{end}"
if begin in s and end in s:
    s = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda m: block, s, flags=re.S)
else:
    sys.exit("README.md has no safety-report markers")
open(p, "w").write(s)
PY
log "wrote SAFETY.md and the README table"
cat SAFETY.md
exit "$failed"
