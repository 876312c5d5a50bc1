#!/usr/bin/env bash
# Backend outage: the JS SDK's OTLP/gRPC exporter sends a steady span load
# to kvscope (otlp receiver -> otlp exporter with a small sending queue ->
# a @grpc/grpc-js backend stand-in). Mid-run the backend is killed (SIGKILL)
# for OUTAGE_S seconds and started again on the same port. Checks: the
# queue filled (queue_size gauge), kvscope refused while it was full
# (UNAVAILABLE to the client, counted in kvscope_receiver_refused_spans_total
# and kvscope_exporter_enqueue_failed_spans_total), the client's retries
# all ended acknowledged, and nothing kvscope acknowledged was lost: every
# acknowledged span id reached a backend (count in = count out), nothing
# failed or was dropped; then kvscope exits 0 on SIGTERM.
# 127.0.0.1 only; every wait is bounded; every process is killed on exit.
#
# Env (from ctest): KVSCOPE (binary), KVS_SOURCE_DIR, KVS_BINARY_DIR.
# Knobs: BATCHES (240), SPANS (20 per batch), OUTAGE_S (5).
set -u

KVS_SOURCE_DIR=${KVS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
KVSCOPE=${KVSCOPE:-${KVS_BINARY_DIR:-$KVS_SOURCE_DIR/build}/kvscope}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kvs_outage.XXXXXX")
KPID=
BPID=
LPID=
# shellcheck source=tests/integration/lib.sh
. "$KVS_SOURCE_DIR/tests/integration/lib.sh"

cleanup() {
    stop_pid "$LPID"
    stop_pid "$KPID"
    stop_pid "$BPID"
    rm -rf "$TMP"
}
trap cleanup EXIT

BATCHES=${BATCHES:-240}
SPANS=${SPANS:-20}
OUTAGE_S=${OUTAGE_S:-5}

js_peers

free_port GRPC_PORT BACKEND_PORT METRICS_PORT || bail "no free port"

start_backend() {   # $1: run number
    node "$JS_DIR/backend.mjs" --proto-root "$KVS_SOURCE_DIR/proto" --port "$BACKEND_PORT" \
        --out "$TMP/backend$1.json" --ids "$TMP/backend_ids.txt" >>"$TMP/backend.log" 2>&1 &
    BPID=$!
    wait_port "$BACKEND_PORT" "$BPID" 150
}

start_backend 1
check "backend stand-in listens" $?

# No batch processor: each client request is one queued batch, so a full
# queue refuses the request itself (UNAVAILABLE) and nothing is dropped.
cat >"$TMP/pipeline.yaml" <<EOF
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$GRPC_PORT
exporters:
  otlp/backend:
    endpoint: 127.0.0.1:$BACKEND_PORT
    tls:
      insecure: true
    timeout: 2s
    sending_queue:
      num_consumers: 2
      queue_size: 10
    retry_on_failure:
      initial_interval: 200ms
      max_interval: 1s
      max_elapsed_time: 0
service:
  shutdown_timeout: 15s
  telemetry:
    metrics:
      address: 127.0.0.1:$METRICS_PORT
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp/backend]
EOF

start_kvscope "$TMP/pipeline.yaml" "$GRPC_PORT" "$METRICS_PORT"

timeout 150 node "$JS_DIR/send_load.mjs" --grpc-port "$GRPC_PORT" --batches "$BATCHES" --spans "$SPANS" \
    --interval-ms 50 --concurrency 2 --deadline-s 120 --ids-out "$TMP/acked_ids.txt" --out "$TMP/load.json" \
    >"$TMP/load.log" 2>&1 &
LPID=$!

# Let the load run, then take the backend away.
sleep 3
kill -KILL "$BPID" 2>/dev/null
wait "$BPID" 2>/dev/null
BPID=
echo "backend killed for ${OUTAGE_S}s"
max_queue=0
for i in $(seq 1 $((OUTAGE_S * 5))); do
    q=$(selfmetric "$METRICS_PORT" 'kvscope_exporter_queue_size{exporter="otlp/backend"}')
    [ -n "$q" ] && [ "$q" -gt "$max_queue" ] && max_queue=$q
    sleep 0.2
done
start_backend 2
check "backend stand-in restarted on the same port" $?

wait_exit "$LPID" 150
load_status=$exit_status
LPID=
sed 's/^/    /' "$TMP/load.log"
check "the client's retries all ended acknowledged (status $load_status)" "$load_status"

[ "$max_queue" -ge 10 ]
check "the sending queue filled during the outage (max queue_size $max_queue, capacity 10)" $?

# Wait (at most 60 s) for the queue to drain to the restarted backend.
m() { selfmetric "$METRICS_PORT" "$1"; }
for i in $(seq 1 120); do
    acc=$(m 'kvscope_receiver_accepted_spans_total{receiver="otlp"}')
    sent=$(m 'kvscope_exporter_sent_spans_total{exporter="otlp/backend"}')
    [ -n "$acc" ] && [ "$acc" = "$sent" ] && break
    sleep 0.5
done
acc=$(m 'kvscope_receiver_accepted_spans_total{receiver="otlp"}')
sent=$(m 'kvscope_exporter_sent_spans_total{exporter="otlp/backend"}')
refused=$(m 'kvscope_receiver_refused_spans_total{receiver="otlp"}')
enq=$(m 'kvscope_exporter_enqueue_failed_spans_total{exporter="otlp/backend"}')
sfail=$(m 'kvscope_exporter_send_failed_spans_total{exporter="otlp/backend"}')
drops=$(curl -s --max-time 2 "http://127.0.0.1:$METRICS_PORT/metrics" | grep -c '^kvscope_[a-z]*_dropped_')
echo "    self-metrics: accepted=$acc sent=$sent refused=$refused enqueue_failed=$enq send_failed=$sfail"

[ "${refused:-0}" -gt 0 ] 2>/dev/null
check "refusals are visible: kvscope_receiver_refused_spans_total = ${refused:-none} > 0" $?
[ "${enq:-x}" = "${refused:-y}" ]
check "kvscope_exporter_enqueue_failed_spans_total = refused (${enq:-none})" $?
[ "${sfail:-x}" = 0 ] && [ "$drops" -eq 0 ]
check "nothing failed or dropped (send_failed ${sfail:-none}, dropped series $drops)" $?

acked=$(sort -u "$TMP/acked_ids.txt" 2>/dev/null | wc -l)
[ "$acked" = "$acc" ]
check "count in: spans the client got OK for ($acked) = kvscope accepted (${acc:-none})" $?
[ "${sent:-x}" = "${acc:-y}" ]
check "count out: kvscope sent (${sent:-none}) = accepted (${acc:-none})" $?

sort -u "$TMP/backend_ids.txt" >"$TMP/backend_u.txt" 2>/dev/null
sort -u "$TMP/acked_ids.txt" >"$TMP/acked_u.txt" 2>/dev/null
lost=$(comm -23 "$TMP/acked_u.txt" "$TMP/backend_u.txt" | wc -l)
got=$(wc -l <"$TMP/backend_u.txt")
dups=$(($(wc -l <"$TMP/backend_ids.txt") - got))
[ "$lost" -eq 0 ] && [ "$got" -eq "$acked" ]
check "every acknowledged span reached a backend: $got distinct of $acked, $lost lost ($dups delivered twice across the crash)" $?

kill -TERM "$KPID"
wait_exit "$KPID" 30
check "kvscope drains and exits 0 on SIGTERM (status $exit_status)" "$exit_status"
KPID=

tails_if_failed "kvscope log" "$TMP/kvscope.log" 40 "backend log" "$TMP/backend.log" 20
summary
