#!/usr/bin/env bash
# The `prometheus` exporter against a real Prometheus (/usr/bin/prometheus):
# kvscope replays fixtures/prom/lmcache_mp.prom (promfile receiver, `run`
# mode so it keeps serving) into the exporter; Prometheus scrapes it every
# second. Checks: Prometheus reports the target up with an empty lastError;
# `up` is 1; for a counter, a gauge, a histogram (every bucket, _sum,
# _count) and target_info, every sample kvscope serves has the same value in
# Prometheus (/api/v1/query; kvscope's job/instance labels arrive as
# exported_job/exported_instance, as with any honor_labels: false scrape).
# Only 127.0.0.1; every loop is bounded; both servers are stopped on exit.
# Skipped (exit 0, "0 passed, 0 failed") when /usr/bin/prometheus is absent.
#
# Env (from ctest): KVSCOPE (binary), KVS_SOURCE_DIR, KVS_BINARY_DIR.
set -u

KVSCOPE=${KVSCOPE:-${KVS_BINARY_DIR:-.}/kvscope}
SRC=${KVS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kvs_prom_real.XXXXXX")
# shellcheck source=tests/integration/lib.sh
. "$SRC/tests/integration/lib.sh"

cleanup() {
    stop_all term
    rm -rf "$TMP"
}
trap cleanup EXIT

if [ ! -x "$PROMETHEUS" ]; then
    echo "skip: $PROMETHEUS not installed"
    summary
    exit 0
fi

free_port EXP PROM || bail "no free port"

cat >"$TMP/pipeline.yaml" <<EOF
receivers:
  promfile:
    include: ["$SRC/fixtures/prom/lmcache_mp.prom"]
    poll_interval: 100ms
exporters:
  prometheus:
    endpoint: 127.0.0.1:$EXP
    const_labels:
      source: fixture
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [promfile]
      exporters: [prometheus]
EOF
"$KVSCOPE" run --config "$TMP/pipeline.yaml" >"$TMP/kvscope.log" 2>&1 &
KV=$!
PIDS+=($KV)

cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: kvscope
    static_configs:
      - targets: ["127.0.0.1:$EXP"]
EOF
"$PROMETHEUS" --config.file "$TMP/prometheus.yml" --storage.tsdb.path "$TMP/data" \
    --web.listen-address "127.0.0.1:$PROM" >"$TMP/prometheus.log" 2>&1 &
PIDS+=($!)

# kvscope serves the fixture (at most 10 s)
page=""
for i in $(seq 1 100); do
    page=$(curl -s --max-time 2 "http://127.0.0.1:$EXP/metrics" || true)
    case "$page" in *lmcache_mp_l1_read_chunks_total*) break ;; esac
    sleep 0.1
done
case "$page" in
    *lmcache_mp_l1_read_chunks_total*) ok "kvscope serves the replayed scrape" ;;
    *) ko "kvscope serves the replayed scrape"; tail -20 "$TMP/kvscope.log" ;;
esac
printf '%s\n' "$page" >"$TMP/kvscope.prom"

# Prometheus is ready and has scraped kvscope at least twice (at most 40 s)
API="http://127.0.0.1:$PROM/api/v1"
ready=0
for i in $(seq 1 400); do
    n=$(curl -s --max-time 2 --get "$API/query" --data-urlencode \
        'query=count_over_time(up{job="kvscope"}[1m])' 2>/dev/null |
        python3 -c 'import json,sys
try:
    r = json.load(sys.stdin)["data"]["result"]
    print(int(float(r[0]["value"][1])) if r else 0)
except Exception:
    print(0)' 2>/dev/null)
    if [ "${n:-0}" -ge 2 ]; then ready=1; break; fi
    sleep 0.1
done
[ "$ready" = 1 ] && ok "Prometheus scraped kvscope" || { ko "Prometheus scraped kvscope"; tail -20 "$TMP/prometheus.log"; }

# the target: health up, no scrape error
T=$(curl -s --max-time 5 "$API/targets" | python3 -c 'import json,sys
try:
    ts = json.load(sys.stdin)["data"]["activeTargets"]
    t = [t for t in ts if t["labels"].get("job") == "kvscope"][0]
    print(t["health"], "lastError=[%s]" % t["lastError"])
except Exception as e:
    print("error", e)')
[ "$T" = "up lastError=[]" ] && ok "target health up, lastError empty" || ko "target: $T"

Q=$(curl -s --max-time 5 --get "$API/query" --data-urlencode 'query=up{job="kvscope"}' |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")')
[ "$Q" = "1" ] && ok "up{job=\"kvscope\"} = 1" || ko "up{job=\"kvscope\"} = $Q"

# Every sample of these families as kvscope serves it equals Prometheus's value.
cat >"$TMP/compare.py" <<'EOF'
import json, math, re, sys, urllib.parse, urllib.request
api, page = sys.argv[1], open(sys.argv[2]).read()
families = sys.argv[3:]
line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
checked = bad = 0
for line in page.splitlines():
    if line.startswith("#") or not line:
        continue
    m = line_re.match(line)
    if not m:
        print("unparsed line:", line); bad += 1; continue
    name, labels, value = m.group(1), m.group(2) or "", m.group(3)
    if not any(name == f or name.startswith(f + "_") for f in families):
        continue
    matchers = []
    for k, v in label_re.findall(labels):
        if k in ("job", "instance"):
            k = "exported_" + k
        matchers.append('%s="%s"' % (k, v))
    matchers.append('job="kvscope"')
    q = "%s{%s}" % (name, ",".join(matchers))
    url = api + "/query?" + urllib.parse.urlencode({"query": q})
    res = json.load(urllib.request.urlopen(url, timeout=5))["data"]["result"]
    if len(res) != 1:
        print("%s: %d results" % (q, len(res))); bad += 1; continue
    got, want = float(res[0]["value"][1]), float(value)
    if not (got == want or (math.isnan(got) and math.isnan(want))):
        print("%s: Prometheus %r, kvscope %r" % (q, got, want)); bad += 1
    checked += 1
print(checked, bad)
EOF
R=$(python3 "$TMP/compare.py" "$API" "$TMP/kvscope.prom" \
    lmcache_mp_l1_read_chunks_total lmcache_mp_l1_usage_ratio lmcache_mp_l1_memory_usage_bytes \
    lmcache_mp_l1_chunk_lifetime_seconds target_info 2>&1)
LAST=$(printf '%s\n' "$R" | tail -1)
set -- $LAST
if [ "${1:-0}" -ge 20 ] && [ "${2:-1}" = 0 ]; then
    ok "$1 samples (counter, gauges, histogram buckets/sum/count, target_info) equal in Prometheus"
else
    ko "value comparison: $R"
fi

# the counter as a number, by name, without the exporter's labels
V=$(curl -s --max-time 5 --get "$API/query" --data-urlencode \
    'query=lmcache_mp_l1_read_chunks_total{cache_salt="tenant-a",source="fixture"}' |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")')
[ "$V" = "2048" ] && ok "lmcache_mp_l1_read_chunks_total{cache_salt=\"tenant-a\"} = 2048 in Prometheus" || ko "counter = $V"

summary
