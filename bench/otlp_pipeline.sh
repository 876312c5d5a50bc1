#!/usr/bin/env bash
# bench/otlp_pipeline.sh: the drop-in path under load.
#
#   otlp_load (N requests in flight, OTLP/HTTP protobuf or OTLP/gRPC: PROTOCOL)
#     -> kvscope under test: otlp receiver -> [memory_limiter] -> batch -> otlp exporter (gRPC)
#     -> sink: a second kvscope, otlp receiver (gRPC) -> debug exporter (basic)
#
# Runs, each with a fresh pair of processes on 127.0.0.1:
#   max       unpaced load for DURATION s: spans/s taken in (answered 200)
#             and end to end (reached the sink, drain included), CPU seconds per million
#             spans (utime+stime of the kvscope under test, /proc/PID/stat),
#             p50/p99 request latency (measured by otlp_load), peak RSS (VmHWM)
#   steady    paced at STEADY_RATE spans/s for DURATION s: the same, and the
#             largest RSS sampled every 100 ms
#   overload  memory_limiter (LIMIT_MIB) in front, a slow backend: the sink
#             is frozen (SIGSTOP) SLOW_STOP_MS (80) of every 100 ms, so it
#             is slow without eating the CPU the load generator needs to
#             offer 3x. First an unpaced
#             CAPACITY_S s run measures what this pipeline delivers end to
#             end; then 3x (OVERLOAD_X) that is offered for OVERLOAD_S s
#             (default 60): RSS sampled against the limit, 503 answers
#             counted, and count in (spans answered 200) = count out (spans
#             the sink accepted, after the drain)
#   outage    paced at STEADY_RATE for OUTAGE_TOTAL s (60); the sink is
#             killed (SIGKILL) after OUTAGE_AT s (15) and started again on
#             the same port OUTAGE_S s (30) later; the exporter's queue holds
#             OUTAGE_QUEUE batches (300). Reports the 503 answers, kvscope's
#             refused count from its self-metrics, and whether every span
#             answered 200 reached the sink (counted from the sink's debug
#             lines of both lives; a request the sink took just before it
#             was killed can arrive twice: at-least-once, as any collector)
# Every run is bounded in time; every process is killed on exit.
#
# Environment: BUILD_DIR (build-otlpbench), SKIP_BUILD=1, RUNS ("max steady
# overload outage"), DURATION (15), CONNECTIONS (8; steady: STEADY_CONNECTIONS, 2x;
# overload: 4x), RPB (LMCache requests per body: 128 = 512 spans, what an
# OTel SDK's batch span processor sends by default), STEADY_RATE (200000),
# CAPACITY_S (10), CAPACITY (spans/s; default: measured by the capacity
# run), OVERLOAD_S (60), OVERLOAD_X (3), LIMIT_MIB (96), OUTAGE_TOTAL (60),
# OUTAGE_AT (15), OUTAGE_S (30), OUTAGE_QUEUE (300), PROTOCOL (http: load
# generator -> kvscope over OTLP/HTTP; or grpc), COMPRESSION (none:
# exporter -> sink; or gzip), KEEP=1 (keep logs).
set -u

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
BUILD_DIR=${BUILD_DIR:-build-otlpbench}
RUNS=${RUNS:-"max steady overload outage"}
DURATION=${DURATION:-15}
CONNECTIONS=${CONNECTIONS:-8}
RPB=${RPB:-128}
STEADY_RATE=${STEADY_RATE:-200000}
OVERLOAD_S=${OVERLOAD_S:-60}
CAPACITY_S=${CAPACITY_S:-10}
OUTAGE_TOTAL=${OUTAGE_TOTAL:-60}
OUTAGE_AT=${OUTAGE_AT:-15}
OUTAGE_S=${OUTAGE_S:-30}
OUTAGE_QUEUE=${OUTAGE_QUEUE:-300}
QUEUE_SIZE=100000
OVERLOAD_X=${OVERLOAD_X:-3}
LIMIT_MIB=${LIMIT_MIB:-96}
COMPRESSION=${COMPRESSION:-none}
PROTOCOL=${PROTOCOL:-http}
case "$PROTOCOL" in http|grpc) ;; *) echo "otlp_pipeline.sh: PROTOCOL is http or grpc" >&2; exit 2 ;; esac
[ "$OVERLOAD_S" -le 60 ] || { echo "otlp_pipeline.sh: OVERLOAD_S is at most 60" >&2; exit 2; }
[ "$OUTAGE_TOTAL" -le 120 ] && [ $((OUTAGE_AT + OUTAGE_S)) -lt "$OUTAGE_TOTAL" ] ||
    { echo "otlp_pipeline.sh: OUTAGE_TOTAL is at most 120 and longer than OUTAGE_AT + OUTAGE_S" >&2; exit 2; }
[ "$DURATION" -le 120 ] || { echo "otlp_pipeline.sh: DURATION is at most 120" >&2; exit 2; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "== building kvscope and otlp_load (Release) in $BUILD_DIR"
    cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DKVS_TESTS=OFF >/dev/null || exit 1
    cmake --build "$BUILD_DIR" -j2 --target kvscope otlp_load >/dev/null || exit 1
fi
case "$BUILD_DIR" in /*) BDIR=$BUILD_DIR ;; *) BDIR=$ROOT/$BUILD_DIR ;; esac
KVSCOPE=$BDIR/kvscope
LOAD=$BDIR/otlp_load
[ -x "$KVSCOPE" ] && [ -x "$LOAD" ] || { echo "otlp_pipeline.sh: $KVSCOPE or $LOAD missing" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kvs_otlpbench.XXXXXX")
TPID=
SPID=
MPID=
THPID=
SLOW_STOP_MS=${SLOW_STOP_MS:-80}
cleanup() {
    [ -n "$THPID" ] && kill "$THPID" 2>/dev/null
    [ -n "$SPID" ] && kill -CONT "$SPID" 2>/dev/null
    for p in $MPID $TPID $SPID; do
        kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# free_port, wait_listen, selfmetric
# shellcheck source=tests/integration/lib.sh
. "$ROOT/tests/integration/lib.sh"
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
field() { echo "$2" | sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p"; }
TCK=$(getconf CLK_TCK)

# start_pair NAME VERBOSITY MEMLIMIT(0|MiB)
start_pair() {
    free_port HTTP_PORT GRPC_PORT SINK_PORT TM_PORT SM_PORT || return 1
    cat >"$TMP/$1-sink.yaml" <<EOF
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:$SINK_PORT
        max_recv_msg_size_mib: 64
exporters:
  debug:
    verbosity: $2
service:
  telemetry:
    metrics:
      address: 127.0.0.1:$SM_PORT
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
EOF
    local procs="[batch]" memlim=""
    if [ "$3" != 0 ]; then
        procs="[memory_limiter, batch]"
        memlim="  memory_limiter:
    check_interval: 100ms
    limit_mib: $3
    spike_limit_mib: $(($3 / 4))"
    fi
    cat >"$TMP/$1-test.yaml" <<EOF
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:$HTTP_PORT
      grpc:
        endpoint: 127.0.0.1:$GRPC_PORT
processors:
$memlim
  batch:
    send_batch_size: 8192
    send_batch_max_size: 16384
    timeout: 200ms
exporters:
  otlp:
    endpoint: 127.0.0.1:$SINK_PORT
    tls:
      insecure: true
    compression: $COMPRESSION
    sending_queue:
      num_consumers: 4
      queue_size: $QUEUE_SIZE
    retry_on_failure:
      initial_interval: 100ms
      max_interval: 1s
      max_elapsed_time: 0
service:
  shutdown_timeout: 30s
  telemetry:
    metrics:
      address: 127.0.0.1:$TM_PORT
  pipelines:
    traces:
      receivers: [otlp]
      processors: $procs
      exporters: [otlp]
EOF
    "$KVSCOPE" run --config "$TMP/$1-sink.yaml" 2>"${SINK_LOG:-/dev/null}" >/dev/null &
    SPID=$!
    "$KVSCOPE" run --config "$TMP/$1-test.yaml" >"$TMP/$1-test.log" 2>&1 &
    TPID=$!
    wait_listen "$SINK_PORT" && wait_listen "$HTTP_PORT" && wait_listen "$TM_PORT"
}

stop_pair() {
    kill -TERM "$TPID" 2>/dev/null
    for i in $(seq 1 400); do kill -0 "$TPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$TPID" "$SPID" 2>/dev/null
    wait "$TPID" "$SPID" 2>/dev/null
    TPID=
    SPID=
}

# Samples VmRSS (kB) of $1 every 100 ms into $2 (max kept), until killed.
rss_sampler() {
    local max=0 v
    while kill -0 "$1" 2>/dev/null; do
        v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
        # rename: a kill between truncating and writing must not leave it empty
        [ -n "$v" ] && [ "$v" -gt "$max" ] && { max=$v; echo "$max" >"$2.new" && mv -f "$2.new" "$2"; }
        sleep 0.1
    done
}

# Waits (<= 60 s) until the sink accepted $1 spans; prints what it has.
drain_to() {
    local i v
    for i in $(seq 1 120); do
        v=$(selfmetric "$SM_PORT" 'kvscope_receiver_accepted_spans_total{receiver="otlp"}')
        [ "$v" = "$1" ] && break
        sleep 0.5
    done
    echo "${v:-0}"
}

# The load generator's target: OTLP/HTTP or OTLP/gRPC (PROTOCOL).
target() {
    if [ "$PROTOCOL" = grpc ]; then echo "--grpc 127.0.0.1:$GRPC_PORT"
    else echo "--url http://127.0.0.1:$HTTP_PORT/v1/traces"; fi
}

# Freezes process $1 SLOW_STOP_MS of every 100 ms until killed.
throttle() {
    local stop run
    stop=$(awk -v m="$SLOW_STOP_MS" 'BEGIN { printf "%.3f", m / 1000 }')
    run=$(awk -v m="$SLOW_STOP_MS" 'BEGIN { printf "%.3f", (100 - m) / 1000 }')
    while kill -STOP "$1" 2>/dev/null; do
        sleep "$stop"
        kill -CONT "$1" 2>/dev/null
        sleep "$run"
    done
}

# run NAME VERBOSITY MEMLIMIT SECONDS RATE(0 = unpaced) CONNECTIONS [slow]
run() {
    if ! start_pair "$1" "$2" "$3"; then
        echo "== $1: kvscope did not start"; cat "$TMP/$1-test.log"; return 1
    fi
    echo 0 >"$TMP/$1-rss"
    rss_sampler "$TPID" "$TMP/$1-rss" &
    MPID=$!
    if [ "${7:-}" = slow ]; then
        throttle "$SPID" &
        THPID=$!
    fi
    local c0 c1 out
    c0=$(cpu_ticks "$TPID")
    out=$("$LOAD" $(target) --connections "$6" --duration "$4" \
        --rate "$5" --requests-per-body "$RPB")
    c1=$(cpu_ticks "$TPID")
    if [ -n "$THPID" ]; then   # the backend is fast again for the drain
        kill "$THPID" 2>/dev/null; wait "$THPID" 2>/dev/null; THPID=
        kill -CONT "$SPID" 2>/dev/null
    fi
    local hwm ok got accepted refused cpu drops secs t_end e2e
    hwm=$(hwm_kb "$TPID")
    ok=$(field spans_ok "$out")
    secs=$(field seconds "$out")
    t_end=$(date +%s.%N)
    got=$(drain_to "$ok")
    # End to end: spans that reached the sink over the load time plus the drain.
    e2e=$(awk -v n="$got" -v s="$secs" -v a="$t_end" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", n / (s + b - a) }')
    accepted=$(selfmetric "$TM_PORT" 'kvscope_receiver_accepted_spans_total{receiver="otlp"}')
    refused=$(selfmetric "$TM_PORT" 'kvscope_receiver_refused_spans_total{receiver="otlp"}')
    drops=$(curl -s --max-time 2 "http://127.0.0.1:$TM_PORT/metrics" | grep '^kvscope_[a-z]*_dropped_' | awk '{ s += $2 } END { print s + 0 }')
    kill "$MPID" 2>/dev/null; wait "$MPID" 2>/dev/null; MPID=
    local maxrss
    maxrss=$(cat "$TMP/$1-rss")
    cpu=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v n="$ok" 'BEGIN { if (n > 0) printf "%.3f", (b - a) / t / (n / 1e6); else print "n/a" }')
    echo "== $1: $out"
    printf '   %-9s end_to_end_spans/s=%s (load %ss + drain to the sink)\n' "$1" "$e2e" "$secs"
    printf '   %-9s spans/s=%s cpu_s_per_M=%s p50_ms=%s p99_ms=%s peak_rss_mb=%.1f max_sampled_rss_mb=%.1f\n' \
        "$1" "$(field spans_per_s "$out")" "$cpu" "$(field p50_ms "$out")" "$(field p99_ms "$out")" \
        "$(awk -v v="${hwm:-0}" 'BEGIN { print v / 1024 }')" "$(awk -v v="${maxrss:-0}" 'BEGIN { print v / 1024 }')"
    printf '   %-9s count_in=%s (answered 200) kvscope_accepted=%s sink_accepted=%s refused(503)=%s dropped=%s %s\n' \
        "" "$ok" "$accepted" "$got" "${refused:-0}" "$drops" \
        "$([ "$ok" = "$got" ] && [ "$ok" = "$accepted" ] && echo "in=out: yes" || echo "in=out: NO")"
    LAST_RATE=$e2e
    LAST_OUT=$out
    LAST_MAXRSS_KB=$maxrss
    LAST_OK=$ok
    LAST_GOT=$got
    stop_pair
}

# Sums the spans of the debug exporter's "... request with N spans" lines.
sink_spans() { cat "$@" 2>/dev/null | awk '/ request with [0-9]+ spans/ { for (i = 1; i < NF; i++) if ($i == "with") s += $(i + 1) } END { print s + 0 }'; }

outage() {
    local qs=$QUEUE_SIZE
    QUEUE_SIZE=$OUTAGE_QUEUE
    SINK_LOG=$TMP/outage-sink1.log start_pair outage basic 0 || { QUEUE_SIZE=$qs; echo "== outage: kvscope did not start"; return 1; }
    QUEUE_SIZE=$qs
    echo "== outage: $STEADY_RATE spans/s for ${OUTAGE_TOTAL}s; sink killed at ${OUTAGE_AT}s for ${OUTAGE_S}s; queue_size $OUTAGE_QUEUE batches"
    "$LOAD" $(target) --connections "$((CONNECTIONS * 2))" --duration "$OUTAGE_TOTAL" \
        --rate "$STEADY_RATE" --requests-per-body "$RPB" >"$TMP/outage-load.txt" &
    MPID=$!
    sleep "$OUTAGE_AT"
    kill -KILL "$SPID"; wait "$SPID" 2>/dev/null
    local qpeak=0 q i
    for i in $(seq 1 $((OUTAGE_S * 2))); do
        q=$(selfmetric "$TM_PORT" 'kvscope_exporter_queue_size{exporter="otlp"}')
        [ "${q:-0}" -gt "$qpeak" ] && qpeak=$q
        sleep 0.5
    done
    "$KVSCOPE" run --config "$TMP/outage-sink.yaml" 2>"$TMP/outage-sink2.log" >/dev/null &
    SPID=$!
    wait "$MPID"; MPID=
    local out ok accepted refused sent got
    out=$(cat "$TMP/outage-load.txt")
    ok=$(field spans_ok "$out")
    for i in $(seq 1 240); do   # drain: <= 120 s
        sent=$(selfmetric "$TM_PORT" 'kvscope_exporter_sent_spans_total{exporter="otlp"}')
        [ "${sent:-0}" -ge "$ok" ] && break
        sleep 0.5
    done
    accepted=$(selfmetric "$TM_PORT" 'kvscope_receiver_accepted_spans_total{receiver="otlp"}')
    refused=$(selfmetric "$TM_PORT" 'kvscope_receiver_refused_spans_total{receiver="otlp"}')
    local drops
    drops=$(curl -s --max-time 2 "http://127.0.0.1:$TM_PORT/metrics" | grep '^kvscope_[a-z]*_dropped_' | awk '{ s += $2 } END { print s + 0 }')
    stop_pair
    got=$(sink_spans "$TMP/outage-sink1.log" "$TMP/outage-sink2.log")
    echo "== outage: $out"
    printf '   outage    count_in=%s (answered 200) kvscope_accepted=%s exporter_sent=%s refused(503, self-metrics)=%s dropped=%s queue_peak=%s/%s batches\n' \
        "$ok" "$accepted" "${sent:-0}" "${refused:-0}" "$drops" "$qpeak" "$OUTAGE_QUEUE"
    printf '   outage    sink received %s spans over its two lives (%s more than accepted: resent after the kill) %s\n' \
        "$got" "$((got - ok))" "$([ "$got" -ge "$ok" ] && [ "$ok" = "$accepted" ] && [ "${sent:-0}" = "$ok" ] && echo "no loss: yes" || echo "no loss: NO")"
    [ "$got" -ge "$ok" ] && [ "${sent:-0}" = "$ok" ]
}

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every number)"
echo "== body: $RPB LMCache requests = $((RPB * 4)) spans per request, $CONNECTIONS connections over OTLP/$PROTOCOL, exporter compression $COMPRESSION"
status=0
for r in $RUNS; do
    case "$r" in
    max)
        run max basic 0 "$DURATION" 0 "$CONNECTIONS" || status=1
        ;;
    steady)
        run steady basic 0 "$DURATION" "$STEADY_RATE" "${STEADY_CONNECTIONS:-$((CONNECTIONS * 2))}" || status=1
        ;;
    overload)
        # Capacity of this pipeline (slow sink, memory_limiter), unpaced.
        LAST_RATE=
        run capacity basic "$LIMIT_MIB" "$CAPACITY_S" 0 "$CONNECTIONS" slow || status=1
        CAP=${CAPACITY:-${LAST_RATE%.*}}
        [ -n "$CAP" ] || { echo "== overload: skipped (no capacity measured)"; continue; }
        rate=$((CAP * OVERLOAD_X))
        echo "== overload: offered $rate spans/s (${OVERLOAD_X}x $CAP, the capacity run's end-to-end rate) for ${OVERLOAD_S}s, limit_mib $LIMIT_MIB, sink frozen ${SLOW_STOP_MS} ms of every 100"
        run overload basic "$LIMIT_MIB" "$OVERLOAD_S" "$rate" $((CONNECTIONS * 4)) slow || status=1
        awk -v o="$(field spans_offered "$LAST_OUT")" -v s="$(field seconds "$LAST_OUT")" -v c="$CAP" \
            'BEGIN { printf "   overload: the load generator offered %.0f spans/s = %.2fx capacity\n", o / s, o / s / c }'
        lim_kb=$((LIMIT_MIB * 1024))
        if [ "$LAST_MAXRSS_KB" -le "$lim_kb" ]; then echo "   overload: RSS stayed under limit_mib: yes"
        else echo "   overload: RSS stayed under limit_mib: NO ($LAST_MAXRSS_KB kB > $lim_kb kB)"; status=1; fi
        [ "$LAST_OK" = "$LAST_GOT" ] || status=1
        ;;
    outage)
        outage || status=1
        ;;
    *) echo "unknown run $r"; status=2 ;;
    esac
done
exit $status
