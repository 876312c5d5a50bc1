# shellcheck shell=bash
# Shared by the integration scripts (tests/integration/test_*.sh); sourced,
# never run (ctest runs test_*.sh only). Provides:
#  - the pass/fail counters: ok, ko, check, summary (the final
#    "N passed, M failed" line), bail, tails_if_failed;
#  - free ports on 127.0.0.1 and bounded waits: free_port, wait_port,
#    wait_listen, wait_exit;
#  - background processes: PIDS (what stop_all stops), stop_pid, term_pid;
#    kvscope itself: start_kvscope (KPID);
#  - kvscope's self-metrics: selfmetric;
#  - the npm install of tests/integration/js from its lockfile: js_deps, js_peers
#    (JS_DIR), which writes its log under the caller's TMP.
# Every loop is bounded. The caller sets `set -u` as it likes; nothing here
# needs more than bash.

pass=0
fail=0
# ok [NAME]: one check passed (NAME printed when given).
ok() {
    pass=$((pass + 1))
    if [ $# -gt 0 ]; then echo "ok   $1"; fi
}
# ko NAME: one check failed.
ko() { fail=$((fail + 1)); echo "FAIL $1"; }
# check NAME STATUS: records a check from a command's status (0 = passed).
check() { if [ "$2" -eq 0 ]; then ok "$1"; else ko "$1"; fi; }
# summary: the final line; its status says whether every check passed.
summary() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
# tails_if_failed TITLE FILE LINES [TITLE FILE LINES]...: when a check
# failed, prints "--- TITLE" and the last LINES lines of FILE, for each.
tails_if_failed() {
    [ "$fail" -ne 0 ] || return 0
    while [ $# -ge 3 ]; do
        echo "--- $1"
        tail -n "$3" "$2"
        shift 3
    done
}
# bail NAME: a failure that ends the script (with the final line).
bail() {
    ko "$1"
    summary
    exit 1
}

# free_port VAR...: sets each VAR to a port nothing listens on (127.0.0.1),
# all different and never one handed out before by this script; each tried
# at most 50 times. 1 when no port was found. Ports come from below the
# kernel's ephemeral range (ip_local_port_range), so no outgoing connection
# of a test or of the load it drives can hold one when a server binds it.
# (It runs in the caller's shell, not in $(...), so that it remembers what
# it handed out.)
_kvs_ports=" "
_kvs_port_top=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
[ "${_kvs_port_top:-0}" -gt 22000 ] 2>/dev/null || _kvs_port_top=32768
free_port() {
    local var p i found
    for var in "$@"; do
        found=
        for i in $(seq 1 50); do
            p=$((20000 + RANDOM % (_kvs_port_top - 20000)))
            case "$_kvs_ports" in *" $p "*) continue ;; esac
            if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
                found=$p
                break
            fi
        done
        [ -n "$found" ] || return 1
        _kvs_ports="$_kvs_ports$found "
        printf -v "$var" '%s' "$found"
    done
}

# wait_port PORT PID TRIES: until 127.0.0.1:PORT accepts (TRIES x 0.1 s) or
# PID died. 0 when up.
wait_port() {
    local i
    for i in $(seq 1 "$3"); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# wait_listen PORT [TRIES]: until 127.0.0.1:PORT accepts (TRIES x 0.1 s,
# 100 by default), whoever listens. 0 when up.
wait_listen() {
    local i
    for i in $(seq 1 "${2:-100}"); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

# wait_exit PID SECONDS: waits for PID to exit; its status in $exit_status
# (124 when it did not exit in time; it is then killed).
wait_exit() {
    local i
    for i in $(seq 1 $(($2 * 10))); do
        if ! kill -0 "$1" 2>/dev/null; then
            wait "$1" 2>/dev/null
            exit_status=$?
            return 0
        fi
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    exit_status=124
    return 1
}

# stop_pid PID: SIGKILL and reap (cleanup path). An empty PID is fine.
stop_pid() {
    if [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; then
        kill -KILL "$1" 2>/dev/null
        wait "$1" 2>/dev/null
    fi
    return 0
}

# term_pid PID: SIGTERM, up to 5 s to exit, then SIGKILL; reaped.
term_pid() {
    if [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; then
        kill -TERM "$1" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$1" 2>/dev/null
        wait "$1" 2>/dev/null
    fi
    return 0
}

# Background processes to stop on exit: PIDS+=($!) after starting one, and
# `stop_all kill` (stop_pid) or `stop_all term` (term_pid) in the EXIT trap.
PIDS=()
stop_all() {
    local p
    for p in "${PIDS[@]}"; do
        if [ "$1" = term ]; then term_pid "$p"; else stop_pid "$p"; fi
    done
}

# start_kvscope CONFIG PORT...: `$KVSCOPE run --config CONFIG` in the
# background (KPID; its output in $TMP/kvscope.log), then waits until it
# listens on every PORT (10 s for the first, 5 s for each other). Records
# the check "kvscope starts"; when it does not, prints its log and ends the
# script.
start_kvscope() {
    local cfg=$1 tries=100 p
    shift
    "$KVSCOPE" run --config "$cfg" >"$TMP/kvscope.log" 2>&1 &
    KPID=$!
    for p in "$@"; do
        if ! wait_port "$p" "$KPID" "$tries"; then
            ko "kvscope starts"
            sed 's/^/    kvscope: /' "$TMP/kvscope.log"
            summary
            exit 1
        fi
        tries=50
    done
    ok "kvscope starts"
}

# selfmetric PORT SERIES: the value of one series (exact name and labels as
# kvscope writes them, e.g. 'kvscope_receiver_accepted_spans_total{receiver="otlp"}')
# from kvscope's /metrics; empty when absent.
selfmetric() {
    curl -s --max-time 2 "http://127.0.0.1:$1/metrics" 2>/dev/null |
        awk -v s="$2" 'index($0, s " ") == 1 { print $2; exit }'
}

# js_deps: installs tests/integration/js/node_modules with `npm ci` from the
# committed package-lock.json, once per lockfile (a stamp in node_modules
# holds the lockfile's hash), under a lock so parallel tests do not race.
# Fails loudly when node, npm or the registry is not there.
JS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/js"
js_deps() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo "FAIL node and npm are required (apt-get install nodejs npm, or node >= 18 from nodejs.org)"
        return 1
    fi
    local want stamp lock rc
    want=$(sha256sum "$JS_DIR/package-lock.json" | cut -d' ' -f1)
    stamp="$JS_DIR/node_modules/.kvscope-lock-sha256"
    lock="${TMPDIR:-/tmp}/kvscope-npm-$(printf '%s' "$JS_DIR" | sha256sum | cut -c1-16).lock"
    (
        flock -w 600 9 || { echo "FAIL could not take $lock within 600 s"; exit 1; }
        if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
        echo "installing the JS peers: npm ci --prefix $JS_DIR"
        timeout 300 npm ci --prefix "$JS_DIR" --no-audit --no-fund --loglevel=error >"$TMP/npm.log" 2>&1
        rc=$?
        if [ "$rc" -ne 0 ]; then
            echo "FAIL npm ci failed (status $rc): is the npm registry reachable?"
            tail -n 20 "$TMP/npm.log" | sed 's/^/    npm: /'
            exit 1
        fi
        echo "$want" >"$stamp"
    ) 9>"$lock"
}

# js_peers: js_deps as a test step: "ok" when the JS peers are installed,
# otherwise the test ends here as failed.
js_peers() {
    if ! js_deps; then
        echo "0 passed, 1 failed"
        exit 1
    fi
    ok "npm ci of the JS peers"
}

# drain_and_verify SCRIPT.mjs: stops kvscope ($KPID, must exit 0) and the
# backend ($BPID), then runs the node verifier over $TMP/manifest.json,
# $TMP/out.jsonl and $TMP/backend.json and adds its RESULT counts.
drain_and_verify() {
    local script=$1 res vp vf
    kill -TERM "$KPID"
    wait_exit "$KPID" 20
    check "kvscope drains and exits 0 on SIGTERM (status $exit_status)" "$exit_status"
    KPID=
    kill -TERM "$BPID" 2>/dev/null
    wait_exit "$BPID" 10
    BPID=
    if [ ! -f "$TMP/manifest.json" ] || [ ! -f "$TMP/out.jsonl" ] || [ ! -f "$TMP/backend.json" ]; then
        ko "manifest, file exporter output and backend summary exist"
        return
    fi
    timeout 60 node "$JS_DIR/$script" --manifest "$TMP/manifest.json" --file "$TMP/out.jsonl" \
        --backend "$TMP/backend.json" >"$TMP/verify.log" 2>&1
    grep -v '^RESULT' "$TMP/verify.log"
    res=$(grep '^RESULT' "$TMP/verify.log")
    vp=$(echo "$res" | sed -n 's/.*passed=\([0-9]*\).*/\1/p')
    vf=$(echo "$res" | sed -n 's/.*failed=\([0-9]*\).*/\1/p')
    if [ -z "$vp" ] || [ -z "$vf" ]; then
        ko "$script ran"
        sed 's/^/    verify: /' "$TMP/verify.log"
    else
        pass=$((pass + vp))
        fail=$((fail + vf))
    fi
}
