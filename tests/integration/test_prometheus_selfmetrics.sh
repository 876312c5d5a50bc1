#!/usr/bin/env bash
# kvscope's self-metrics scraped by a real Prometheus (the `prometheus`
# binary, e.g. Debian's package): Prometheus runs on a free 127.0.0.1 port
# with a temp config scraping kvscope's service.telemetry.metrics endpoint
# every 1 s (storage in a temp dir). Spans are posted over OTLP/HTTP with
# curl; then kvscope_receiver_accepted_spans_total queried through
# Prometheus's HTTP API must equal what was sent. Also: the exposition
# passes `promtool check metrics`, Prometheus reports the target up with
# samples scraped, the health_check extension answers 200 while running and
# 503 while kvscope drains (a logs exporter to a dead port keeps the drain
# busy for shutdown_timeout), and the endpoint answers 404 / 405 as it should.
# 127.0.0.1 only; every wait is bounded; every process is killed on exit.
#
# Env (from ctest): KVSCOPE (binary), KVS_SOURCE_DIR, KVS_BINARY_DIR;
# PROMETHEUS (default: prometheus on PATH, else /usr/bin/prometheus).
set -u

KVS_SOURCE_DIR=${KVS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
KVSCOPE=${KVSCOPE:-${KVS_BINARY_DIR:-$KVS_SOURCE_DIR/build}/kvscope}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kvs_prom.XXXXXX")
KPID=
PPID_=
# shellcheck source=tests/integration/lib.sh
. "$KVS_SOURCE_DIR/tests/integration/lib.sh"

cleanup() {
    stop_pid "$KPID"
    stop_pid "$PPID_"
    rm -rf "$TMP"
}
trap cleanup EXIT

PROMETHEUS=${PROMETHEUS:-$(command -v prometheus || echo /usr/bin/prometheus)}
PROMTOOL=${PROMTOOL:-$(command -v promtool || echo /usr/bin/promtool)}
[ -x "$PROMETHEUS" ] || bail "the prometheus binary is required (apt-get install prometheus), not found at $PROMETHEUS"
command -v curl >/dev/null || bail "curl is required"

free_port HTTP_PORT METRICS_PORT HEALTH_PORT PROM_PORT DEAD_PORT || bail "no free port"

cat >"$TMP/pipeline.yaml" <<EOF
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:$HTTP_PORT
processors:
  batch:
    timeout: 100ms
exporters:
  file:
    path: $TMP/out.jsonl
  otlp/dead:
    endpoint: 127.0.0.1:$DEAD_PORT
    tls:
      insecure: true
    timeout: 500ms
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 200ms
      max_elapsed_time: 0
extensions:
  health_check:
    endpoint: 127.0.0.1:$HEALTH_PORT
    path: /health
service:
  extensions: [health_check]
  shutdown_timeout: 4s
  telemetry:
    metrics:
      address: 127.0.0.1:$METRICS_PORT
      level: detailed
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [file]
    logs:
      receivers: [otlp]
      exporters: [otlp/dead]
EOF

start_kvscope "$TMP/pipeline.yaml" "$HTTP_PORT" "$METRICS_PORT"

# ---- the endpoints themselves ----
code=$(curl -s -o "$TMP/health.json" -w '%{http_code}' --max-time 2 "http://127.0.0.1:$HEALTH_PORT/health")
[ "$code" = 200 ] && grep -q '"status":"Server available"' "$TMP/health.json"
check "health_check: 200 {\"status\":\"Server available\",...} while running (got $code $(cat "$TMP/health.json"))" $?
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$HEALTH_PORT/other")
[ "$code" = 404 ]
check "health_check: 404 off its path (got $code)" $?

ctype=$(curl -s -o "$TMP/scrape.txt" -w '%{content_type}' --max-time 2 "http://127.0.0.1:$METRICS_PORT/metrics")
[ "$ctype" = "text/plain; version=0.0.4; charset=utf-8" ]
check "self-metrics: Content-Type text/plain; version=0.0.4 (got $ctype)" $?
if [ -x "$PROMTOOL" ]; then
    "$PROMTOOL" check metrics <"$TMP/scrape.txt" >"$TMP/promtool.log" 2>&1
    check "self-metrics: promtool check metrics accepts the exposition" $?
    sed 's/^/    promtool: /' "$TMP/promtool.log"
fi
for fam in kvscope_process_resident_memory_bytes kvscope_process_cpu_seconds_total kvscope_process_uptime_seconds \
    kvscope_build_info kvscope_exporter_queue_size kvscope_exporter_queue_capacity \
    kvscope_exporter_sent_spans_total kvscope_receiver_refused_spans_total kvscope_receiver_rejected_spans_total; do
    grep -q "^# TYPE $fam " "$TMP/scrape.txt"
    check "self-metrics: family $fam with HELP/TYPE" $?
done
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$METRICS_PORT/nope")
[ "$code" = 404 ]
check "self-metrics: 404 off /metrics (got $code)" $?
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -X POST "http://127.0.0.1:$METRICS_PORT/metrics")
[ "$code" = 405 ]
check "self-metrics: 405 for POST (got $code)" $?

# ---- Prometheus ----
cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: kvscope
    scrape_interval: 1s
    scrape_timeout: 900ms
    static_configs:
      - targets: ['127.0.0.1:$METRICS_PORT']
EOF
"$PROMETHEUS" --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$TMP/prometheus.log" 2>&1 &
PPID_=$!
wait_port "$PROM_PORT" "$PPID_" 200
check "prometheus listens on 127.0.0.1:$PROM_PORT" $?

# promq QUERY: the value of the first result of an instant query (or empty).
promq() {
    curl -s --max-time 3 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
        sed -n 's/.*"value":\[[^,]*,"\([^"]*\)"\].*/\1/p'
}
# promwait QUERY WANT TRIES: polls every 0.5 s until the value is WANT.
promwait() {
    local i v
    for i in $(seq 1 "$3"); do
        v=$(promq "$1")
        [ "$v" = "$2" ] && { echo "$v"; return 0; }
        sleep 0.5
    done
    echo "$v"
    return 1
}

v=$(promwait 'up{job="kvscope"}' 1 60)
check "prometheus: up{job=\"kvscope\"} = 1: the exposition parses (got ${v:-none})" $?
v=$(promq 'scrape_samples_scraped{job="kvscope"}')
[ "${v:-0}" -gt 20 ] 2>/dev/null
check "prometheus: scrape_samples_scraped = ${v:-none} > 20" $?

# ---- send spans over OTLP/HTTP (JSON) ----
REQS=10
PER=37
sent=0
post_ok=0
for r in $(seq 1 $REQS); do
    spans=""
    for s in $(seq 1 $PER); do
        tid=$(printf '%016x%016x' "$r" "$s")
        sid=$(printf '%016x' $((r * 1000 + s)))
        [ -n "$spans" ] && spans="$spans,"
        spans="$spans{\"traceId\":\"$tid\",\"spanId\":\"$sid\",\"name\":\"request\",\"kind\":1,\"startTimeUnixNano\":\"1700000000000000000\",\"endTimeUnixNano\":\"1700000000100000000\",\"attributes\":[{\"key\":\"session_id\",\"value\":{\"stringValue\":\"s$r\"}},{\"key\":\"hit_tokens\",\"value\":{\"intValue\":\"256\"}}]}"
    done
    body="{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{\"stringValue\":\"lmcache-mp-server\"}}]},\"scopeSpans\":[{\"scope\":{\"name\":\"lmcache_mp.server\"},\"spans\":[$spans]}]}]}"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'Content-Type: application/json' \
        --data-binary "$body" "http://127.0.0.1:$HTTP_PORT/v1/traces")
    if [ "$code" = 200 ]; then
        post_ok=$((post_ok + 1))
        sent=$((sent + PER))
    fi
done
[ "$post_ok" = "$REQS" ]
check "$REQS OTLP/HTTP posts of $PER spans answered 200 ($post_ok)" $?

v=$(promwait 'kvscope_receiver_accepted_spans_total{receiver="otlp"}' "$sent" 60)
check "prometheus: kvscope_receiver_accepted_spans_total = $sent spans sent (got ${v:-none})" $?
v=$(promwait 'kvscope_exporter_sent_spans_total{exporter="file"}' "$sent" 60)
check "prometheus: kvscope_exporter_sent_spans_total{exporter=\"file\"} = $sent (got ${v:-none})" $?
v=$(promq 'kvscope_build_info')
[ "$v" = 1 ]
check "prometheus: kvscope_build_info = 1 (got ${v:-none})" $?
v=$(promq 'kvscope_process_resident_memory_bytes > 1000000')
[ -n "$v" ]
check "prometheus: kvscope_process_resident_memory_bytes > 1 MB (got ${v:-none})" $?
v=$(promq 'kvscope_exporter_queue_capacity{exporter="otlp/dead"}')
[ "$v" = 1000 ]
check "prometheus: kvscope_exporter_queue_capacity{exporter=\"otlp/dead\"} = 1000 (got ${v:-none})" $?

# ---- draining: health_check answers 503 ----
log='{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1700000000000000000","body":{"stringValue":"x"}}]}]}]}'
curl -s -o /dev/null --max-time 5 -H 'Content-Type: application/json' --data-binary "$log" \
    "http://127.0.0.1:$HTTP_PORT/v1/logs"
kill -TERM "$KPID"
seen503=0
for i in $(seq 1 40); do
    code=$(curl -s -o "$TMP/health.json" -w '%{http_code}' --max-time 1 "http://127.0.0.1:$HEALTH_PORT/health")
    if [ "$code" = 503 ] && grep -q '"status":"Server not available"' "$TMP/health.json"; then
        seen503=1
        break
    fi
    sleep 0.1
done
[ "$seen503" = 1 ]
check "health_check: 503 {\"status\":\"Server not available\",\"state\":\"draining\"} while draining ($(cat "$TMP/health.json"))" $?
wait_exit "$KPID" 20
check "kvscope exits 0 after the drain (status $exit_status)" "$exit_status"
KPID=

tails_if_failed "kvscope log" "$TMP/kvscope.log" 30 "prometheus log" "$TMP/prometheus.log" 20
summary
