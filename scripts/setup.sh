#!/usr/bin/env bash
# One command for a fresh Debian machine: install what is missing, build
# kvscope, and run the main job on the bundled fixtures: a diagnosis of an
# LMCache evidence folder, then an OTLP replay.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DKVS_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)"

mkdir -p out
echo
echo "== kvscope diagnose fixtures/scenarios/warmup_collapse (reports in out/diagnose/)"
# An LMCache MP + vLLM deployment: 20 scrapes and the request spans. The hit
# rate warms up, then collapses; kvscope says which mode runs, what evidence
# is there, and what is wrong, with example traces.
build/kvscope diagnose fixtures/scenarios/warmup_collapse --output out/diagnose

echo
echo "== kvscope replay over fixtures/otlp (writes out/replayed.jsonl)"
# Exit status 1 means some input was rejected: the fixtures include a file of
# deliberately malformed lines, so the summary shows how that is reported.
build/kvscope replay --config examples/replay.yaml fixtures/otlp/*.jsonl fixtures/otlp/*.json || [ $? -eq 1 ]
echo
echo "output: out/diagnose/ (reports), out/replayed.jsonl ($(wc -l < out/replayed.jsonl) requests)"
