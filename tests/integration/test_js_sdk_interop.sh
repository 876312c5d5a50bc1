#!/usr/bin/env bash
# Interop with the OpenTelemetry JS SDK (from npm, installed by `npm ci`
# from tests/integration/js/package-lock.json): the SDK's six OTLP exporters
# (traces and metrics over gRPC, HTTP/protobuf, HTTP/JSON) send LMCache-shaped
# spans and metrics to kvscope (otlp receiver -> batch -> file exporter, and
# for traces also the otlp exporter to a @grpc/grpc-js backend stand-in).
# Checks: every export call succeeded; every span is in the file exporter's
# OTLP/JSON with ids, parents, names and typed attributes intact; the metrics
# arrived with unit, monotonicity and values; the backend got every span;
# the self-metrics count what was sent; kvscope exits 0 on SIGTERM.
# 127.0.0.1 only; every wait is bounded; every process is killed on exit.
#
# Env (from ctest): KVSCOPE (binary), KVS_SOURCE_DIR, KVS_BINARY_DIR.
set -u

KVS_SOURCE_DIR=${KVS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
KVSCOPE=${KVSCOPE:-${KVS_BINARY_DIR:-$KVS_SOURCE_DIR/build}/kvscope}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kvs_js_interop.XXXXXX")
KPID=
BPID=
# shellcheck source=tests/integration/lib.sh
. "$KVS_SOURCE_DIR/tests/integration/lib.sh"

cleanup() {
    stop_pid "$KPID"
    stop_pid "$BPID"
    rm -rf "$TMP"
}
trap cleanup EXIT

REQUESTS=${REQUESTS:-25}   # LMCache requests per trace exporter (4 spans each)

js_peers

free_port GRPC_PORT HTTP_PORT BACKEND_PORT METRICS_PORT || bail "no free port"

node "$JS_DIR/backend.mjs" --proto-root "$KVS_SOURCE_DIR/proto" --port "$BACKEND_PORT" --out "$TMP/backend.json" \
    --record >"$TMP/backend.log" 2>&1 &
BPID=$!
wait_port "$BACKEND_PORT" "$BPID" 150
check "backend stand-in (@grpc/grpc-js + proto-loader on proto/) listens" $?

cat >"$TMP/pipeline.yaml" <<EOF
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$GRPC_PORT
      http:
        endpoint: 127.0.0.1:$HTTP_PORT
processors:
  batch:
    send_batch_size: 200
    timeout: 100ms
exporters:
  file:
    path: $TMP/out.jsonl
    flush_interval: 100ms
  otlp/backend:
    endpoint: 127.0.0.1:$BACKEND_PORT
    tls:
      insecure: true
    retry_on_failure:
      initial_interval: 200ms
      max_interval: 1s
service:
  shutdown_timeout: 10s
  telemetry:
    metrics:
      address: 127.0.0.1:$METRICS_PORT
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [file, otlp/backend]
    metrics:
      receivers: [otlp]
      processors: [batch]
      exporters: [file]
EOF

start_kvscope "$TMP/pipeline.yaml" "$HTTP_PORT" "$GRPC_PORT"

timeout 120 node "$JS_DIR/send_sdk.mjs" --grpc-port "$GRPC_PORT" --http-port "$HTTP_PORT" --requests "$REQUESTS" \
    --manifest "$TMP/manifest.json" >"$TMP/send.log" 2>&1
rc=$?
sed 's/^/    sdk: /' "$TMP/send.log"
check "the SDK's six OTLP exporters report success for every export" $rc

want=$((REQUESTS * 4 * 3))
accepted=$(selfmetric "$METRICS_PORT" 'kvscope_receiver_accepted_spans_total{receiver="otlp"}')
[ "${accepted:-x}" = "$want" ]
check "self-metrics: kvscope_receiver_accepted_spans_total = $want spans sent (got ${accepted:-none})" $?
points=$(selfmetric "$METRICS_PORT" 'kvscope_receiver_accepted_metric_points_total{receiver="otlp"}')
[ "${points:-0}" -ge 6 ] 2>/dev/null
check "self-metrics: kvscope_receiver_accepted_metric_points_total >= 6 (got ${points:-none})" $?

# Drain: SIGTERM flushes the batch processor into the file and the backend.
drain_and_verify verify_file.mjs

tails_if_failed "kvscope log" "$TMP/kvscope.log" 40 "backend log" "$TMP/backend.log" 20
summary
