#!/usr/bin/env bash
# kvscope diagnose over every scenario under fixtures/scenarios:
#  - the detected mode, architecture and finding codes match expected.json;
#  - a second run writes byte-identical reports;
#  - `kvscope replay` of promfile + otlpjsonfile + lmcache_diagnose + evidence
#    over the same folder gives the same findings (live == offline);
#  - --fail-on and --json behave.
set -u
KVSCOPE=${KVSCOPE:?path to the kvscope binary}
SRC=${KVS_SOURCE_DIR:?source dir}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/integration/lib.sh
. "$SRC/tests/integration/lib.sh"

check_expected() { # expected.json output-dir
  node -e '
    const fs = require("fs");
    const exp = JSON.parse(fs.readFileSync(process.argv[1])).expect;
    const rep = JSON.parse(fs.readFileSync(process.argv[2] + "/lmcache_compat_report.json"));
    const got = fs.readFileSync(process.argv[2] + "/findings.jsonl", "utf8").split("\n").filter(Boolean)
                  .map(l => JSON.parse(l).code).sort();
    const want = [...exp.findings].sort();
    const errs = [];
    if (rep.detected_mode !== exp.detected_mode) errs.push(`mode ${rep.detected_mode} != ${exp.detected_mode}`);
    const arch = (rep.detected_architecture || {}).label;
    if (exp.architecture && arch !== exp.architecture) errs.push(`architecture ${arch} != ${exp.architecture}`);
    if (JSON.stringify(got) !== JSON.stringify(want)) errs.push(`findings ${got} != ${want}`);
    if (errs.length) { console.log(errs.join("; ")); process.exit(1); }
  ' "$1" "$2"
}

for dir in "$SRC"/fixtures/scenarios/*/; do
  name=$(basename "$dir")
  [ -f "$dir/expected.json" ] || continue
  out1=$tmp/$name.1 out2=$tmp/$name.2
  # Scenarios whose expectations inject evidence no file carries (HTTP facts,
  # lanes) are the pure-model tests' business (tests/unit/test_lmcache_*).
  flags=$(node -e '
    const e = JSON.parse(require("fs").readFileSync(process.argv[1]));
    if (e.http || e.lanes) { console.log("SKIP"); process.exit(0); }
    const c = e.config || {}, f = [];
    if (c.tracing_enabled) f.push("--tracing-enabled");
    if (c.trace_recording_enabled) f.push("--trace-recording-enabled");
    if (c.l2_configured) f.push("--l2-configured");
    if (c.expect_mode) f.push("--expect-mode", c.expect_mode);
    console.log(f.join(" "));' "$dir/expected.json")
  if [ "$flags" = SKIP ]; then echo "skip $name: expectations inject evidence that no file carries"; continue; fi
  # shellcheck disable=SC2086
  if ! "$KVSCOPE" diagnose "$dir" --output "$out1" $flags >"$tmp/$name.txt" 2>"$tmp/$name.err"; then
    ko "$name: diagnose exited $?"; cat "$tmp/$name.err"; continue
  fi
  grep -q "^LMCache mode" "$tmp/$name.txt" && ok || ko "$name: no summary printed"
  if msg=$(check_expected "$dir/expected.json" "$out1"); then ok; else ko "$name: $msg"; fi
  # shellcheck disable=SC2086
  "$KVSCOPE" diagnose "$dir" --output "$out2" $flags >/dev/null 2>&1
  diff -r "$out1" "$out2" >/dev/null && ok || ko "$name: second run differs"
done

# Live == offline: the same folder through `kvscope replay` with a hand-written pipeline.
scen=$SRC/fixtures/scenarios/warmup_collapse
cat >"$tmp/live.yaml" <<YAML
receivers:
  promfile:
    include: ["$scen/*.prom"]
  otlpjsonfile:
    include: ["$scen/*.jsonl"]
processors:
  lmcache_correlate:
connectors:
  lmcache_diagnose:
    evaluation_interval: 1s
exporters:
  evidence:
    directory: "$tmp/live"
service:
  pipelines:
    traces: {receivers: [otlpjsonfile], processors: [lmcache_correlate], exporters: [lmcache_diagnose]}
    metrics: {receivers: [promfile, otlpjsonfile], exporters: [lmcache_diagnose]}
    logs/out: {receivers: [lmcache_diagnose], exporters: [evidence]}
YAML
"$KVSCOPE" replay --config "$tmp/live.yaml" >/dev/null 2>&1
"$KVSCOPE" diagnose "$scen" --output "$tmp/offline" >/dev/null 2>&1
if cmp -s "$tmp/live/findings.jsonl" "$tmp/offline/findings.jsonl" && [ -s "$tmp/live/findings.jsonl" ]; then ok
else ko "live replay findings differ from diagnose"; diff "$tmp/live/findings.jsonl" "$tmp/offline/findings.jsonl" | head; fi

# --fail-on: warning fails on a scenario with warnings, passes on the healthy one.
"$KVSCOPE" diagnose "$SRC/fixtures/scenarios/mp_l2_backlog_failures" --output "$tmp/f1" --fail-on warning >/dev/null 2>&1
[ $? -eq 1 ] && ok || ko "--fail-on warning should exit 1 with findings"
"$KVSCOPE" diagnose "$SRC/fixtures/scenarios/mp_healthy_l1" --output "$tmp/f2" --fail-on warning >/dev/null 2>&1
[ $? -eq 0 ] && ok || ko "--fail-on warning should exit 0 on the healthy scenario"
"$KVSCOPE" diagnose "$SRC/fixtures/scenarios/mp_l2_backlog_failures" --output "$tmp/f3" --fail-on critical >/dev/null 2>&1
[ $? -eq 1 ] && ok || ko "--fail-on critical should exit 1 with a critical finding"
# --json prints the compat report.
"$KVSCOPE" diagnose "$SRC/fixtures/scenarios/mp_healthy_l1" --output "$tmp/j" --json >"$tmp/j.json" 2>/dev/null
node -e 'JSON.parse(require("fs").readFileSync(process.argv[1]))' "$tmp/j.json" && ok || ko "--json output is not JSON"
# An empty folder and a missing one.
mkdir -p "$tmp/empty"
"$KVSCOPE" diagnose "$tmp/empty" >/dev/null 2>&1 && [ -f "$tmp/empty/kvscope/lmcache_compat_report.json" ] && ok \
  || ko "empty folder: reports expected"
"$KVSCOPE" diagnose "$tmp/does-not-exist" >/dev/null 2>&1
[ $? -eq 2 ] && ok || ko "missing folder should exit 2"

summary
