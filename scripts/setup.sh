#!/usr/bin/env bash
# One command for a fresh Debian machine: install what is missing, build
# kvscope, and run the main job on the bundled fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DKVS_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)"

mkdir -p out
echo
echo "== kvscope replay over fixtures/otlp (writes out/replayed.jsonl)"
# Exit status 1 means some input was rejected: the fixtures include a file of
# deliberately malformed lines, so the summary shows how that is reported.
build/kvscope replay --config examples/replay.yaml fixtures/otlp/*.jsonl fixtures/otlp/*.json || [ $? -eq 1 ]
echo
echo "output: out/replayed.jsonl ($(wc -l < out/replayed.jsonl) requests)"
