#!/usr/bin/env bash
# The `prometheus` receiver in the real binary: kvscope scrapes two local
# HTTP endpoints every second — `python3 -m http.server` serving the LMCache
# MP fixture, and a tiny python server that accepts and never answers —
# into the file exporter. Checks: the healthy target's samples arrive with
# up 1 and the right values, the hanging one reports up 0 with
# "timeout after 0.5s" in the log while the healthy one keeps its pace,
# and SIGTERM ends kvscope (exit 0) within 10 s. Only 127.0.0.1; every
# loop is bounded; every server is stopped on exit.
#
# Env (from ctest): KVSCOPE (binary), KVS_SOURCE_DIR, KVS_BINARY_DIR.
set -u

KVSCOPE=${KVSCOPE:-${KVS_BINARY_DIR:-.}/kvscope}
SRC=${KVS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kvs_prom_scrape.XXXXXX")
# shellcheck source=tests/integration/lib.sh
. "$SRC/tests/integration/lib.sh"

cleanup() {
    stop_all kill
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port GOOD HANG || bail "no free port"

mkdir -p "$TMP/www"
cp "$SRC/fixtures/prom/lmcache_mp.prom" "$TMP/www/metrics"
python3 -m http.server "$GOOD" --bind 127.0.0.1 --directory "$TMP/www" >"$TMP/http.log" 2>&1 &
PIDS+=($!)

# accepts connections and holds them without answering, for at most 60 s
cat >"$TMP/hang.py" <<'EOF'
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
s.settimeout(0.5)
held = []
end = time.time() + 60
while time.time() < end:
    try:
        c, _ = s.accept()
        held.append(c)
    except socket.timeout:
        pass
EOF
python3 "$TMP/hang.py" "$HANG" &
PIDS+=($!)

wait_listen "$GOOD" || bail "http.server did not start"
wait_listen "$HANG" || bail "hanging server did not start"

cat >"$TMP/pipeline.yaml" <<EOF
receivers:
  prometheus:
    config:
      global:
        scrape_interval: 1s
        scrape_timeout: 500ms
      scrape_configs:
        - job_name: lmcache
          static_configs:
            - targets: ["127.0.0.1:$GOOD"]
              labels: {cluster: it}
        - job_name: stuck
          static_configs:
            - targets: ["127.0.0.1:$HANG"]
exporters:
  file:
    path: $TMP/out.jsonl
    flush_interval: 0s
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [prometheus]
      exporters: [file]
EOF

if "$KVSCOPE" validate --config "$TMP/pipeline.yaml" >"$TMP/validate.log" 2>&1; then
    ok "validate accepts the scrape_configs"
else
    ko "validate accepts the scrape_configs: $(cat "$TMP/validate.log")"
fi

"$KVSCOPE" run --config "$TMP/pipeline.yaml" >"$TMP/kvscope.log" 2>&1 &
KV=$!
PIDS+=($KV)

# Summarises out.jsonl: per service.name the number of `up` points, the
# last up, and the last value of the LMCache counter for tenant-a.
scraped() {
    python3 - "$TMP/out.jsonl" <<'EOF'
import json, sys
ups, last_up, chunks, samples = {}, {}, None, None
try:
    lines = open(sys.argv[1]).read().splitlines()
except OSError:
    lines = []
for line in lines:
    try:
        doc = json.loads(line)
    except ValueError:
        continue
    for rm in doc.get("resourceMetrics", []):
        attrs = {a["key"]: a["value"].get("stringValue") for a in rm.get("resource", {}).get("attributes", [])}
        svc = attrs.get("service.name", "?")
        for sm in rm.get("scopeMetrics", []):
            for m in sm.get("metrics", []):
                data = m.get("gauge") or m.get("sum") or {}
                for p in data.get("dataPoints", []):
                    v = p.get("asDouble", p.get("asInt"))
                    pa = {a["key"]: a["value"].get("stringValue") for a in p.get("attributes", [])}
                    if m["name"] == "up":
                        ups[svc] = ups.get(svc, 0) + 1
                        last_up[svc] = float(v)
                    if m["name"] == "lmcache_mp_l1_read_chunks" and pa.get("cache_salt") == "tenant-a":
                        chunks = float(v)
                    if m["name"] == "scrape_samples_scraped" and svc == "lmcache":
                        samples = float(v)
print(ups.get("lmcache", 0), ups.get("stuck", 0), last_up.get("lmcache", -1),
      last_up.get("stuck", -1), chunks, samples)
EOF
}

# at most 8 s: three scrapes of each target
S=""
for i in $(seq 1 80); do
    S=$(scraped)
    set -- $S
    if [ "${1:-0}" -ge 3 ] && [ "${2:-0}" -ge 3 ]; then break; fi
    sleep 0.1
done
set -- $S
echo "summary: good_ups=$1 stuck_ups=$2 good_up=$3 stuck_up=$4 chunks=$5 samples=$6"
[ "${1:-0}" -ge 3 ] && ok "the healthy target is scraped every second ($1 scrapes)" || ko "healthy target scrapes: ${1:-0}"
[ "${2:-0}" -ge 3 ] && ok "the hanging target is reported every second ($2 reports)" || ko "hanging target reports: ${2:-0}"
[ "${3:-}" = "1.0" ] && ok "up is 1 for the healthy target" || ko "up of the healthy target: ${3:-none}"
[ "${4:-}" = "0.0" ] && ok "up is 0 for the hanging target" || ko "up of the hanging target: ${4:-none}"
[ "${5:-}" = "2048.0" ] && ok "the healthy target's samples arrive (l1_read tenant-a = 2048)" || ko "l1_read tenant-a: ${5:-none}"
WANT=$(grep -vc '^#' "$SRC/fixtures/prom/lmcache_mp.prom")
[ "${6:-}" = "$WANT.0" ] && ok "scrape_samples_scraped = $WANT" || ko "scrape_samples_scraped ${6:-none}, want $WANT"
if grep -q "scrape of http://127.0.0.1:$HANG/metrics (job stuck) failed: timeout after 0.5s" "$TMP/kvscope.log"; then
    ok "the log names the timeout"
else
    ko "the log names the timeout"
fi

kill -TERM "$KV"
if wait_exit "$KV" 10 && [ "$exit_status" = 0 ]; then
    ok "SIGTERM: kvscope exits 0 within 10 s"
else
    [ "$exit_status" = 124 ] && exit_status="still running"
    ko "SIGTERM: kvscope exit status '$exit_status'"
    tail -20 "$TMP/kvscope.log"
fi

summary
