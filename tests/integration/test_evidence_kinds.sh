#!/usr/bin/env bash
# `kvscope diagnose` over a folder holding one kind of evidence only, each
# compared with the empty-folder baseline: every kind must change the
# diagnosis, and in the way its records mean (lmcache/evidence_records.c):
#  - logs only (vLLM with embedded LMCache): mode embedded inferred from the
#    log connector, the lmcache_logs surface, a metrics-missing finding;
#  - LMCache HTTP payloads only (an MP server, unhealthy): the lmcache_http
#    surface populated from the payloads (not counted as logs), mode mp from
#    /status engine_type, the unhealthy-endpoint findings; healthy payloads:
#    healthy, no such finding;
#  - lookup-hash JSONL only: the lookup_hash lane (rows, malformed rows);
#  - one `.lct` recording (written here with printf: a header frame and one
#    record, each a 4-byte big-endian length and msgpack, see formats/lct.h):
#    the trace_recording lane; a file that is not a trace: the lane given
#    but unreadable;
# and a second run of each writes byte-identical reports.
set -u
KVSCOPE=${KVSCOPE:?path to the kvscope binary}
SRC=${KVS_SOURCE_DIR:?source dir}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

# frame FILE: FILE's bytes as one .lct frame
frame() {
  local n
  n=$(wc -c <"$1")
  # shellcheck disable=SC2059
  printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((n >> 24 & 255)) $((n >> 16 & 255)) $((n >> 8 & 255)) $((n & 255)))"
  cat "$1"
}

# write_lct PATH: a minimal valid recording
write_lct() {
  # {"type": "header", "magic": b"LMCT", "format_version": 1, "trace_schema_version": 1, "level": "storage"}
  printf '\205\244type\246header\245magic\304\004LMCT\256format_version\001\264trace_schema_version\001\245level\247storage' \
    >"$tmp/h.bin"
  # {"type": "record", "t_mono": 1.0, "t_wall": 1767225601.0,
  #  "qualname": "lmcache.v1.distributed.storage_manager.StorageManager.reserve_write", "args": {}}
  printf '\205\244type\246record\246t_mono\313\077\360\000\000\000\000\000\000\246t_wall\313\101\332\125\156\100\100\000\000' \
    >"$tmp/r.bin"
  printf '\250qualname\331\103lmcache.v1.distributed.storage_manager.StorageManager.reserve_write\244args\200' >>"$tmp/r.bin"
  { frame "$tmp/h.bin"; frame "$tmp/r.bin"; } >"$1"
}

# diagnose NAME: runs kvscope diagnose on $tmp/in/NAME into $tmp/out/NAME
diagnose() {
  mkdir -p "$tmp/in/$1" "$tmp/out"
  if ! "$KVSCOPE" diagnose "$tmp/in/$1" --output "$tmp/out/$1" >"$tmp/$1.txt" 2>"$tmp/$1.err"; then
    bad "$1: diagnose exited non-zero"; cat "$tmp/$1.err"; return 1
  fi
  "$KVSCOPE" diagnose "$tmp/in/$1" --output "$tmp/out/$1.again" >/dev/null 2>&1
  diff -r "$tmp/out/$1" "$tmp/out/$1.again" >/dev/null && ok || bad "$1: a second run writes different reports"
}

# check NAME 'JS': evaluates the JS with `r` (NAME's compat report), `b` (the
# baseline's) and `codes` (NAME's finding codes); it returns a list of
# problems, each counted as one failure.
check() {
  local out
  out=$(node -e '
    const fs = require("fs");
    const read = d => JSON.parse(fs.readFileSync(d + "/lmcache_compat_report.json"));
    const r = read(process.argv[1]), b = read(process.argv[2]);
    const codes = r.diagnostic_findings.map(f => f.code);
    const surf = (x, s) => x.surfaces[s].status;
    const errs = [];
    const expect = (cond, what) => { if (!cond) errs.push(what); };
    // every kind must change the diagnosis
    expect(JSON.stringify(r) !== JSON.stringify(b), "same report as the empty folder");
    eval(process.argv[3]);
    console.log(errs.join("\n"));
  ' "$tmp/out/$1" "$tmp/out/empty" "$2") || { bad "$1: node failed"; return; }
  if [ -z "$out" ]; then ok; else while IFS= read -r l; do bad "$1: $l"; done <<<"$out"; fi
}

# ---- the empty baseline ----
diagnose empty
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1] + "/lmcache_compat_report.json"));
  const ok = r.detected_mode === "unknown" && r.diagnostic_findings.length === 0 &&
    Object.values(r.surfaces).every(s => s.status === "not_applicable") && r.lmcache_http_evidence === null &&
    r.lmcache_log_evidence === null && r.lmcache_trace_evidence === null && r.lmcache_lookup_hash_evidence === null;
  process.exit(ok ? 0 : 1);' "$tmp/out/empty" && ok || bad "empty: the baseline is not empty"

# ---- logs only ----
mkdir -p "$tmp/in/logs"
cp "$SRC/fixtures/evidence/logs/vllm_embedded.log" "$tmp/in/logs/"
diagnose logs && check logs '
  expect(r.detected_mode === "embedded", `mode ${r.detected_mode}, want embedded`);
  expect(r.detected_mode_source === "signals" && r.detected_mode_claim_status === "inferred",
         `mode source ${r.detected_mode_source}/${r.detected_mode_claim_status}, want signals/inferred`);
  expect(r.detected_architecture.signals.log_embedded_connector === true, "log_embedded_connector signal unset");
  expect(surf(r, "lmcache_logs") === "complete", `lmcache_logs ${surf(r, "lmcache_logs")}, want complete`);
  const le = r.lmcache_log_evidence || {};
  expect(le.line_count > 0 && le.record_count === le.line_count, `log lines ${le.line_count}`);
  expect((le.config || {}).connectors.includes("LMCacheConnectorV1"), "connector LMCacheConnectorV1 not seen");
  expect(codes.includes("lmcache_production_metrics_missing"), `findings ${codes}: no metrics-missing finding`);
  expect(surf(r, "lmcache_embedded") === "missing", `lmcache_embedded ${surf(r, "lmcache_embedded")}`);
  expect(r.lmcache_http_evidence === null && surf(r, "lmcache_http") === "not_applicable", "HTTP evidence from logs");
'

# ---- LMCache HTTP payloads only ----
mkdir -p "$tmp/in/http/http"
cp "$SRC"/fixtures/evidence/http/unhealthy/* "$tmp/in/http/http/"
diagnose http && check http '
  const h = r.lmcache_http_evidence || {};
  expect(surf(r, "lmcache_http") === "complete", `lmcache_http ${surf(r, "lmcache_http")}, want complete`);
  expect(h.present === true && h.claim_status === "measured", `http evidence ${JSON.stringify(h)}`);
  expect(h.record_count === 3, `http records ${h.record_count}, want 3 (health, periodic threads, status)`);
  expect(h.engine_type === "MPCacheEngine", `engine_type ${h.engine_type}`);
  expect(h.l1_memory_used_bytes === 8455716864 && h.l1_total_object_count === 40, "L1 facts of /status");
  expect(h.booleans && h.booleans.is_healthy === false, "is_healthy should be false");
  const fr = (h.failure_reasons || []).map(f => f.code);
  expect(fr.includes("lmcache_http_health_unhealthy") && fr.includes("lmcache_http_status_unhealthy") &&
         fr.includes("lmcache_http_periodic_threads_health_unhealthy"), `http failure reasons ${fr}`);
  expect(r.detected_mode === "mp" && r.detected_mode_source === "signals", `mode ${r.detected_mode}/${r.detected_mode_source}, want mp/signals`);
  expect(r.detected_architecture.signals.http_mp_engine_type === true, "http_mp_engine_type signal unset");
  expect(r.detected_architecture.label === "lmcache_mp_server", `architecture ${r.detected_architecture.label}`);
  const f = r.diagnostic_findings.find(x => x.code === "lmcache_http_health_unhealthy");
  expect(f && f.severity === "warning" && f.message === "engine not initialized", `unhealthy finding ${JSON.stringify(f)}`);
  expect(codes.includes("lmcache_mp_l1_memory_prometheus_missing_with_http_memory_evidence"), `findings ${codes}`);
  // the payloads are HTTP evidence, never log lines
  expect(r.lmcache_log_evidence === null && surf(r, "lmcache_logs") === "not_applicable", "HTTP JSON counted as logs");
'
mkdir -p "$tmp/in/http_healthy/http"
cp "$SRC"/fixtures/evidence/http/healthy/* "$tmp/in/http_healthy/http/"
diagnose http_healthy && check http_healthy '
  const h = r.lmcache_http_evidence || {};
  expect(surf(r, "lmcache_http") === "complete", `lmcache_http ${surf(r, "lmcache_http")}`);
  expect(h.booleans && h.booleans.is_healthy === true, `is_healthy ${JSON.stringify(h.booleans)}`);
  expect((h.failure_reasons || []).length === 0, `failure reasons ${JSON.stringify(h.failure_reasons)}`);
  expect(!codes.some(c => /^lmcache_http_.*_unhealthy$/.test(c)), `unhealthy findings ${codes}`);
  expect(r.detected_mode === "mp", `mode ${r.detected_mode}`);
  expect(r.lmcache_log_evidence === null, "HTTP payloads counted as logs");
'

# ---- lookup hashes only ----
mkdir -p "$tmp/in/lookup"
cp "$SRC"/fixtures/evidence/lookup_hash/*.jsonl "$tmp/in/lookup/"
diagnose lookup && check lookup '
  const l = r.lmcache_lookup_hash_evidence || {};
  expect(surf(r, "lmcache_lookup_hash") === "complete", `lmcache_lookup_hash ${surf(r, "lmcache_lookup_hash")}`);
  expect(l.present === true && l.claim_status === "measured", `lookup evidence ${JSON.stringify(l)}`);
  expect(l.record_count === 4 && l.parse_error_count === 2, `rows ${l.record_count}/${l.parse_error_count}, want 4/2`);
  expect(r.lmcache_log_evidence === null && surf(r, "lmcache_logs") === "not_applicable", "lookup rows counted as logs");
  expect(r.detected_mode === "unknown", `mode ${r.detected_mode}`);
'

# ---- one .lct recording only ----
mkdir -p "$tmp/in/lct"
write_lct "$tmp/in/lct/storage.lct"
diagnose lct && check lct '
  const t = r.lmcache_trace_evidence || {};
  expect(surf(r, "lmcache_trace_recording") === "complete", `lmcache_trace_recording ${surf(r, "lmcache_trace_recording")}`);
  expect(t.present === true && t.claim_status === "measured", `trace evidence ${JSON.stringify(t)}`);
  expect(t.record_count === 1 && t.parse_error_count === 0, `records ${t.record_count}/${t.parse_error_count}, want 1/0`);
  expect(r.lmcache_log_evidence === null && surf(r, "lmcache_logs") === "not_applicable", "the trace counted as logs");
'

# ---- a .lct that is not a trace ----
mkdir -p "$tmp/in/lct_bad"
printf 'not a trace at all\n' >"$tmp/in/lct_bad/broken.lct"
diagnose lct_bad && check lct_bad '
  const t = r.lmcache_trace_evidence || {};
  expect(t.present === false && t.claim_status === "not_proven", `trace evidence ${JSON.stringify(t)}`);
  expect(t.parse_error_count === 1 && t.record_count === 0, `records ${t.record_count}/${t.parse_error_count}`);
  const row = r.families.find(x => x.surface === "lmcache_trace_recording");
  expect(row.status === "missing" && row.applicable === true, `storage_lct ${row.status}`);
'

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
