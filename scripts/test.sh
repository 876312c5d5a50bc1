#!/usr/bin/env bash
# Builds and runs every test: the plain build, the same tests under
# AddressSanitizer + UndefinedBehaviorSanitizer, and each fuzz target for a
# bounded time. This is what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
jobs=$(nproc)
fuzz_seconds=${KVS_FUZZ_SECONDS:-30}

echo "== plain build + tests"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-test -j"$jobs"
# A failing test is run once more (integration tests start real servers on a
# loaded 2-core machine); one that fails twice fails the run.
ctest --test-dir build-test --output-on-failure -j"$jobs" --repeat until-pass:2

echo "== ASan + UBSan build + tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKVS_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs" --repeat until-pass:2

echo "== fuzz targets (${fuzz_seconds}s each)"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKVS_FUZZ=ON -DKVS_SANITIZE=ON \
  -DKVS_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$jobs"
# Seeds for the OTLP body target (first byte: its selector, see
# fuzz/fuzz_otlp_http_body.c): LMCache-shaped protobuf bodies from the load
# generator, as they are and gzip-compressed by the target, and an OTLP/JSON
# fixture line, so the fuzzer starts from valid requests deep in the schema.
seeds_body=build-fuzz/seeds/fuzz_otlp_http_body
rm -rf "$seeds_body" && mkdir -p "$seeds_body"
build-test/otlp_load --dump "$seeds_body/raw" --requests-per-body 2
for f in "$seeds_body"/raw/*.pb; do
  { printf '\000'; cat "$f"; } >"$seeds_body/pb-$(basename "$f")"
  { printf '\042'; cat "$f"; } >"$seeds_body/pbgz-$(basename "$f")"
done
rm -rf "$seeds_body/raw"
{ printf '\001'; head -n 1 fixtures/otlp/lmcache_mp_traces.jsonl; } >"$seeds_body/json-traces"
fuzz_pass=0 fuzz_fail=0
for f in build-fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  corpus=build-fuzz/corpus/$name
  mkdir -p "$corpus"
  seeds=()
  [ -d "build-fuzz/seeds/$name" ] && seeds=("build-fuzz/seeds/$name")
  if "$f" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$corpus" "${seeds[@]}" \
       >"build-fuzz/$name.log" 2>&1; then
    echo "  $name: ok ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "build-fuzz/$name.log" | grep -o '[0-9]*$' || echo '?') runs)"
    fuzz_pass=$((fuzz_pass + 1))
  else
    echo "  $name: FAILED"; tail -40 "build-fuzz/$name.log"
    fuzz_fail=$((fuzz_fail + 1))
  fi
done
echo "fuzz: $fuzz_pass passed, $fuzz_fail failed"
[ "$fuzz_fail" -eq 0 ]
