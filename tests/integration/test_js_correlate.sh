#!/usr/bin/env bash
# The OTel JS SDK sends LMCache-shaped requests and vLLM `llm_request` spans
# (half sharing one trace, half separate traces joined by request id) over
# OTLP/gRPC to kvscope: otlp receiver -> lmcache_correlate -> file + otlp
# exporter to a grpc-js OTLP backend. Checks the documented annotations at
# both ends and count in = count out (tests/integration/js/verify_correlate.mjs).
set -u

KVS_SOURCE_DIR=${KVS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
KVSCOPE=${KVSCOPE:-${KVS_BINARY_DIR:-$KVS_SOURCE_DIR/build}/kvscope}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kvs_js_correlate.XXXXXX")
KPID=
BPID=
. "$KVS_SOURCE_DIR/tests/integration/lib.sh"

cleanup() {
    stop_pid "$KPID"
    stop_pid "$BPID"
    rm -rf "$TMP"
}
trap cleanup EXIT

REQUESTS=${REQUESTS:-20}

js_peers

free_port GRPC_PORT BACKEND_PORT || bail "no free port"

node "$JS_DIR/backend.mjs" --proto-root "$KVS_SOURCE_DIR/proto" --port "$BACKEND_PORT" --out "$TMP/backend.json" \
    --record >"$TMP/backend.log" 2>&1 &
BPID=$!
wait_port "$BACKEND_PORT" "$BPID" 150
check "backend stand-in (@grpc/grpc-js + proto-loader on proto/) listens" $?

cat >"$TMP/pipeline.yaml" <<YAML
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$GRPC_PORT
processors:
  lmcache_correlate:
    wait: 300ms
    max_wait: 5s
exporters:
  file:
    path: $TMP/out.jsonl
    flush_interval: 100ms
  otlp/backend:
    endpoint: 127.0.0.1:$BACKEND_PORT
    tls:
      insecure: true
service:
  shutdown_timeout: 10s
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [lmcache_correlate]
      exporters: [file, otlp/backend]
YAML

start_kvscope "$TMP/pipeline.yaml" "$GRPC_PORT"

timeout 120 node "$JS_DIR/send_correlate.mjs" --grpc-port "$GRPC_PORT" --requests "$REQUESTS" \
    --manifest "$TMP/manifest.json" >"$TMP/send.log" 2>&1
rc=$?
sed 's/^/    sdk: /' "$TMP/send.log"
check "the SDK's OTLP/gRPC exporter reports success for every export" $rc

# Drain: SIGTERM releases what the correlator still holds into both exporters.
drain_and_verify verify_correlate.mjs

tails_if_failed "kvscope log" "$TMP/kvscope.log" 40 "backend log" "$TMP/backend.log" 20
summary
