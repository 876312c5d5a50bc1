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
fuzz_pass=0 fuzz_fail=0
for f in build-fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  corpus=build-fuzz/corpus/$name
  mkdir -p "$corpus"
  seeds=()
  [ -d "fuzz/seeds/$name" ] && seeds=("fuzz/seeds/$name")
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
