# Shared by the integration scripts that run kvscope against real peers
# (test_js_sdk_interop.sh, test_backend_outage.sh,
# test_prometheus_selfmetrics.sh); sourced, never run. Provides the pass/fail
# counters, free ports on 127.0.0.1, bounded waits, a self-metrics reader
# and the npm install of tests/integration/js from its lockfile.
#
# The caller sets: KVSCOPE, KVS_SOURCE_DIR, TMP (a private temp dir).

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; }
# check NAME CONDITION-STATUS: records a check from the last command's status.
check() { if [ "$2" -eq 0 ]; then ok "$1"; else ko "$1"; fi; }
summary() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}

# A port nothing listens on, tried at most 50 times; never one handed out
# before by this script.
_kvs_ports=" "
free_port() {
    local p i
    for i in $(seq 1 50); do
        p=$((20000 + RANDOM % 40000))
        case "$_kvs_ports" in *" $p "*) continue ;; esac
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            _kvs_ports="$_kvs_ports$p "
            echo "$p"
            return 0
        fi
    done
    return 1
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

# stop_pid PID: SIGKILL and reap (cleanup path).
stop_pid() {
    if [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; then
        kill -KILL "$1" 2>/dev/null
        wait "$1" 2>/dev/null
    fi
    return 0
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
JS_DIR="$KVS_SOURCE_DIR/tests/integration/js"
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
