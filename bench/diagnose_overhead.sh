#!/usr/bin/env bash
# bench/diagnose_overhead.sh: the CPU the lmcache_diagnose connector adds to
# a traces pipeline. Replays the same generated LMCache span file twice on
# one core: otlpjsonfile -> batch -> file, then the same pipeline with
# lmcache_diagnose as a second exporter (its findings going to an evidence
# exporter), and compares user+system CPU seconds.
# Environment: MB (default 200), BUILD_DIR (build-bench), SKIP_BUILD=1, CPU (0),
# INSTR=1: count instructions with valgrind --tool=callgrind instead of timing
# (repeatable whatever else the machine does; use a small MB, e.g. 20).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MB=${MB:-200}
BUILD_DIR=${BUILD_DIR:-build-bench}
CPU=${CPU:-0}
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DKVS_TESTS=OFF >/dev/null
  cmake --build "$BUILD_DIR" -j2 >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$BUILD_DIR/gen_lmcache_spans" --mb "$MB" --out "$work/spans.jsonl" >"$work/gen.txt"
spans=$(grep -o 'spans=[0-9]*' "$work/gen.txt" | cut -d= -f2)

cat >"$work/base.yaml" <<YAML
receivers: {otlpjsonfile: {include: ["$work/spans.jsonl"]}}
processors: {batch: {}}
exporters: {file: {path: "$work/out.jsonl"}}
service:
  pipelines:
    traces: {receivers: [otlpjsonfile], processors: [batch], exporters: [file]}
YAML
cat >"$work/diag.yaml" <<YAML
receivers: {otlpjsonfile: {include: ["$work/spans.jsonl"]}}
processors: {batch: {}}
connectors: {lmcache_diagnose: {}}
exporters:
  file: {path: "$work/out.jsonl"}
  evidence: {directory: "$work/evidence"}
service:
  pipelines:
    traces: {receivers: [otlpjsonfile], processors: [batch], exporters: [file, lmcache_diagnose]}
    logs: {receivers: [lmcache_diagnose], exporters: [evidence]}
YAML
cpu() { # config -> "cpu_seconds wall_seconds"
  /usr/bin/time -f "%U %S %e" -o "$work/t" taskset -c "$CPU" "$BUILD_DIR/kvscope" replay --config "$1" >/dev/null 2>&1 || true
  awk '{printf "%.2f %.2f\n", $1 + $2, $3}' "$work/t"
}
instr() { # config -> instructions executed (all threads)
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.%p" "$BUILD_DIR/kvscope" replay --config "$1" \
    >/dev/null 2>"$work/cg.log" || true
  grep -o 'Collected : [0-9]*' "$work/cg.log" | awk '{s += $3} END {print s}'
  rm -f "$work"/cg.*
}
if [ "${INSTR:-0}" = 1 ]; then
  base=$(instr "$work/base.yaml")
  diag=$(instr "$work/diag.yaml")
  echo "lmcache_diagnose overhead ($MB MB, $spans spans, instructions by callgrind)"
  echo "  without connector  $base"
  echo "  with connector     $diag"
  awk -v a="$base" -v b="$diag" 'BEGIN{printf "  added instructions %.1f%%\n", (b-a)/a*100}'
  exit 0
fi
read -r base_cpu base_wall < <(cpu "$work/base.yaml")
read -r diag_cpu diag_wall < <(cpu "$work/diag.yaml")
echo "lmcache_diagnose overhead ($MB MB, $spans spans, CPU $CPU)"
echo "  without connector  ${base_cpu} CPU-s  (${base_wall} s wall, $(awk -v s="$spans" -v w="$base_wall" 'BEGIN{printf "%.0f", s/w}') spans/s)"
echo "  with connector     ${diag_cpu} CPU-s  (${diag_wall} s wall)"
awk -v a="$base_cpu" -v b="$diag_cpu" 'BEGIN{printf "  added CPU          %.1f%%\n", (b-a)/a*100}'
