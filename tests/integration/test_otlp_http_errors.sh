#!/usr/bin/env bash
# The otlp receiver in the real binary, over HTTP with curl: every error
# path answers its status (400 malformed protobuf / JSON / encoding, 401
# token, 404 path, 405 method with Allow, 413 Content-Length / chunked /
# gzip bomb, 415 content type, 503 + Retry-After when the pipeline refuses)
# and good JSON and protobuf posts reach the file exporter. Then SIGTERM:
# the binary must exit 0 within 10 s. Only 127.0.0.1; every loop is bounded;
# the server is killed on any exit.
#
# Env (from ctest): KVSCOPE (binary), KVS_SOURCE_DIR, KVS_BINARY_DIR.
set -u

KVSCOPE=${KVSCOPE:-${KVS_BINARY_DIR:-.}/kvscope}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/kvs_otlp_http.XXXXXX")
PID=
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

cleanup() {
    stop_pid "$PID"
    rm -rf "$TMP"
}
trap cleanup EXIT

free_port HTTP_PORT GRPC_PORT || bail "no free port"
BASE="http://127.0.0.1:$HTTP_PORT"
TOKEN="it-s3cret"

# A logs pipeline that refuses everything (memory_limiter far below the
# process size) when that processor is available: exercises 503.
LOGS_PROC=""
cat > "$TMP/probe.yaml" <<EOF
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:$HTTP_PORT
processors:
  memory_limiter:
    check_interval: 100ms
    limit_mib: 1
    spike_limit_mib: 0
exporters:
  file:
    path: $TMP/probe.jsonl
service:
  pipelines:
    logs:
      receivers: [otlp]
      processors: [memory_limiter]
      exporters: [file]
EOF
if "$KVSCOPE" validate --config "$TMP/probe.yaml" >/dev/null 2>&1; then
    LOGS_PROC="      processors: [memory_limiter]"
fi

cat > "$TMP/pipeline.yaml" <<EOF
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$GRPC_PORT
      http:
        endpoint: 127.0.0.1:$HTTP_PORT
        max_request_body_size: 1048576
        auth:
          bearer_token: $TOKEN
$( [ -n "$LOGS_PROC" ] && printf 'processors:\n  memory_limiter:\n    check_interval: 100ms\n    limit_mib: 1\n    spike_limit_mib: 0\n' )
exporters:
  file:
    path: $TMP/out.jsonl
    flush_interval: 0s
service:
  shutdown_timeout: 5s
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [file]
    logs:
      receivers: [otlp]
$LOGS_PROC
      exporters: [file]
EOF

"$KVSCOPE" run --config "$TMP/pipeline.yaml" > "$TMP/server.log" 2>&1 &
PID=$!

# Wait for the HTTP port: at most 100 tries, 10 s.
if ! wait_port "$HTTP_PORT" "$PID" 100; then
    echo "server did not come up:"; cat "$TMP/server.log"
    echo "0 passed, 1 failed"
    exit 1
fi

AUTH="Authorization: Bearer $TOKEN"
JSON="Content-Type: application/json"
PB="Content-Type: application/x-protobuf"

# req NAME WANT_STATUS CURL_ARGS...: checks the status; the body and the
# headers are kept in $TMP/body and $TMP/headers.
req() {
    local name=$1 want=$2
    shift 2
    local got
    got=$(curl -s --max-time 30 -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' "$@" 2>/dev/null)
    if [ "$got" = "$want" ]; then ok "$name ($got)"; else ko "$name: want $want, got $got: $(head -c 300 "$TMP/body")"; fi
}
has_header() {
    if grep -qi "^$2" "$TMP/headers"; then ok "$1"; else ko "$1: no '$2' in: $(tr -d '\r' < "$TMP/headers" | tr '\n' '|')"; fi
}
body_has() {
    if grep -q -- "$2" "$TMP/body"; then ok "$1"; else ko "$1: body $(head -c 300 "$TMP/body") lacks '$2'"; fi
}

# --- good requests ---
GOOD_JSON='{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"intg"}}]},"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"intg-json","startTimeUnixNano":"1000","endTimeUnixNano":"2000"}]}]}]}'
req "good JSON" 200 -X POST -H "$AUTH" -H "$JSON" --data-binary "$GOOD_JSON" "$BASE/v1/traces"
body_has "good JSON answers {}" '^{}$'

# ExportTraceServiceRequest{resource_spans{scope_spans{spans{trace_id, span_id, name "intg-pb"}}}}
printf '\x0a\x29\x12\x27\x12\x25\x0a\x10\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x12\x08\x01\x02\x03\x04\x05\x06\x07\x09\x2a\x07intg-pb' > "$TMP/good.pb"
req "good protobuf" 200 -X POST -H "$AUTH" -H "$PB" --data-binary "@$TMP/good.pb" "$BASE/v1/traces"
gzip -c "$TMP/good.pb" > "$TMP/good.pb.gz"
req "good protobuf, gzip" 200 -X POST -H "$AUTH" -H "$PB" -H "Content-Encoding: gzip" --data-binary "@$TMP/good.pb.gz" "$BASE/v1/traces"

# --- errors ---
req "no token" 401 -X POST -H "$JSON" --data-binary "$GOOD_JSON" "$BASE/v1/traces"
body_has "401 is a Status" '"code":16'
req "wrong token" 401 -X POST -H "Authorization: Bearer nope" -H "$JSON" --data-binary "$GOOD_JSON" "$BASE/v1/traces"
req "bad protobuf" 400 -X POST -H "$AUTH" -H "$PB" --data-binary 'this is not protobuf' "$BASE/v1/traces"
req "bad JSON" 400 -X POST -H "$AUTH" -H "$JSON" --data-binary '{"resourceSpans":[' "$BASE/v1/traces"
body_has "400 is a Status" '"code":3'
req "JSON of another signal" 400 -X POST -H "$AUTH" -H "$JSON" --data-binary '{"resourceLogs":[]}' "$BASE/v1/traces"
req "unknown encoding" 400 -X POST -H "$AUTH" -H "$JSON" -H "Content-Encoding: br" --data-binary '{}' "$BASE/v1/traces"
req "corrupt gzip" 400 -X POST -H "$AUTH" -H "$JSON" -H "Content-Encoding: gzip" --data-binary 'not gzip' "$BASE/v1/traces"
req "wrong content type" 415 -X POST -H "$AUTH" -H "Content-Type: text/plain" --data-binary '{}' "$BASE/v1/traces"
req "unknown path" 404 -X POST -H "$AUTH" -H "$JSON" --data-binary '{}' "$BASE/v1/nothing"
req "unwired signal" 404 -X POST -H "$AUTH" -H "$JSON" --data-binary '{}' "$BASE/v1/metrics"
req "wrong method" 405 -X GET "$BASE/v1/traces"
has_header "405 has Allow" "Allow: POST"
head -c 2000000 /dev/zero > "$TMP/big"
req "too large (Content-Length)" 413 -X POST -H "$AUTH" -H "$PB" --data-binary "@$TMP/big" "$BASE/v1/traces"
req "too large (chunked)" 413 -X POST -H "$AUTH" -H "$PB" -H "Transfer-Encoding: chunked" --data-binary "@$TMP/big" "$BASE/v1/traces"
# A gzip bomb: ~1 GB of zeros as gzip members of 1 MiB each, as many as
# fit under the 1 MiB body cap (about a thousand).
head -c 1048576 /dev/zero | gzip -9 > "$TMP/member.gz"
members=$((1048575 / $(stat -c %s "$TMP/member.gz")))
for i in $(seq 1 "$members"); do cat "$TMP/member.gz"; done > "$TMP/bomb.gz"
if [ "$members" -ge 900 ]; then
    req "gzip bomb" 413 -X POST -H "$AUTH" -H "$JSON" -H "Content-Encoding: gzip" --data-binary "@$TMP/bomb.gz" "$BASE/v1/traces"
    body_has "gzip bomb names the cap" 'once decompressed'
else
    ko "gzip bomb: only $members members fit under 1 MiB"
fi
LOG_JSON='{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"hello"}}]}]}]}'
if [ -n "$LOGS_PROC" ]; then
    # The memory limiter checks every 100 ms: give it a moment.
    sleep 0.5
    req "pipeline refuses" 503 -X POST -H "$AUTH" -H "$JSON" --data-binary "$LOG_JSON" "$BASE/v1/logs"
    has_header "503 has Retry-After" "Retry-After:"
    body_has "503 is a Status" '"code":14'
else
    echo "skip pipeline refuses (memory_limiter not available in this build)"
fi

# The server still serves after all that.
req "good JSON after the errors" 200 -X POST -H "$AUTH" -H "$JSON" --data-binary "$GOOD_JSON" "$BASE/v1/traces"

# --- good data reached the file exporter ---
for name in intg-json intg-pb; do
    n=$(grep -o "\"name\":\"$name\"" "$TMP/out.jsonl" 2>/dev/null | wc -l)
    want=1
    [ "$name" = intg-json ] && want=2
    [ "$name" = intg-pb ] && want=2
    if [ "$n" -eq "$want" ]; then ok "$name in the file exporter ($n)"; else ko "$name: $n in out.jsonl, want $want"; fi
done

# --- SIGTERM: exit 0 within 10 s ---
kill -TERM "$PID"
if wait_exit "$PID" 10; then
    PID=
    if [ "$exit_status" = 0 ]; then ok "SIGTERM: exit 0"; else ko "SIGTERM: exit status $exit_status"; fi
else
    ko "SIGTERM: still running after 10 s"
fi

tails_if_failed "server log" "$TMP/server.log" 40
summary
