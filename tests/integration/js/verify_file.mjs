// Checks what kvscope wrote against what send_sdk.mjs sent: every span of
// the manifest is in the file exporter's OTLP/JSON lines exactly once, with
// its trace id, parent, name, resource and typed attributes intact; each
// exporter's metrics arrived (the counter with unit `chunks`, monotonic,
// cumulative value 42; the gauge 0.375). With --backend, the same spans
// (count and a few attributes) must have reached the gRPC backend stand-in.
// Prints "ok   <check>" / "FAIL <check>: why" per check and a last line
// "RESULT passed=N failed=M"; exits 1 when a check failed.
//
// usage: node verify_file.mjs --manifest FILE --file OUT.jsonl [--backend DUMP.json]
import { readFileSync } from 'node:fs';
import { anyValue, diffAttrs, hex, need, parseArgs } from './common.mjs';

const args = parseArgs(process.argv.slice(2));
const manifest = JSON.parse(readFileSync(need(args, 'manifest'), 'utf8'));
let passed = 0;
let failed = 0;
function check(name, problems) {
  if (problems.length === 0) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (+${problems.length - 5} more)` : ''}`);
  }
}

function resAttr(resource, key) {
  for (const kv of (resource && resource.attributes) || []) if (kv.key === key) return anyValue(kv.value).v;
  return undefined;
}

// ---- the file exporter's output ----
const lines = readFileSync(need(args, 'file'), 'utf8').split('\n').filter((l) => l.trim());
const spans = new Map();
const dups = [];
const metrics = [];
let badLines = 0;
for (const line of lines) {
  let req;
  try {
    req = JSON.parse(line);
  } catch {
    badLines++;
    continue;
  }
  for (const rs of req.resourceSpans || [])
    for (const ss of rs.scopeSpans || [])
      for (const s of ss.spans || []) {
        const id = hex(s.spanId);
        if (spans.has(id)) dups.push(id);
        spans.set(id, { span: s, exporter: resAttr(rs.resource, 'kvscope.test.exporter'), scope: ss.scope });
      }
  for (const rm of req.resourceMetrics || [])
    for (const sm of rm.scopeMetrics || [])
      for (const m of sm.metrics || []) metrics.push({ m, exporter: resAttr(rm.resource, 'kvscope.test.exporter') });
}
check(`file: ${lines.length} lines of OTLP/JSON parse`, badLines ? [`${badLines} lines do not parse`] : []);

const byExporter = {};
for (const s of manifest.spans) (byExporter[s.exporter] ||= []).push(s);
for (const [label, sent] of Object.entries(byExporter)) {
  const missing = [];
  const wrong = [];
  for (const s of sent) {
    const got = spans.get(s.spanId);
    if (!got) {
      missing.push(`${s.name} ${s.spanId}`);
      continue;
    }
    const g = got.span;
    if (hex(g.traceId) !== s.traceId) wrong.push(`${s.spanId}: trace id ${hex(g.traceId)} != ${s.traceId}`);
    if (hex(g.parentSpanId) !== s.parentSpanId) wrong.push(`${s.spanId}: parent ${hex(g.parentSpanId)} != ${s.parentSpanId}`);
    if (g.name !== s.name) wrong.push(`${s.spanId}: name ${g.name} != ${s.name}`);
    if (got.exporter !== label) wrong.push(`${s.spanId}: resource says exporter ${got.exporter}`);
    for (const d of diffAttrs(s.attributes, g.attributes)) wrong.push(`${s.spanId} ${s.name}: ${d}`);
  }
  check(`traces/${label}: all ${sent.length} spans arrived`, missing.map((m) => `missing ${m}`));
  check(`traces/${label}: ids, parents, names, resource and typed attributes intact`, wrong);
}
check('file: no span written twice', dups.map((d) => `duplicate ${d}`));

for (const want of manifest.metrics) {
  const mine = metrics.filter((x) => x.exporter === want.exporter);
  const problems = [];
  const counter = mine.find((x) => x.m.name === want.counter);
  if (!counter) problems.push(`${want.counter} missing`);
  else {
    const m = counter.m;
    if (m.unit !== want.unit) problems.push(`unit ${m.unit} != ${want.unit}`);
    if (!m.sum) problems.push('not a Sum');
    else {
      if (m.sum.isMonotonic !== true) problems.push('sum not monotonic');
      const t = m.sum.aggregationTemporality;
      if (!(t === 2 || t === 'AGGREGATION_TEMPORALITY_CUMULATIVE')) problems.push(`temporality ${t}`);
      const vals = (m.sum.dataPoints || []).map((p) => Number(p.asInt !== undefined ? p.asInt : p.asDouble));
      if (!vals.includes(want.total)) problems.push(`values ${JSON.stringify(vals)} lack ${want.total}`);
    }
  }
  const gauge = mine.find((x) => x.m.name === want.gauge);
  if (!gauge) problems.push(`${want.gauge} missing`);
  else if (!gauge.m.gauge) problems.push(`${want.gauge} is not a Gauge`);
  else {
    const vals = (gauge.m.gauge.dataPoints || []).map((p) => Number(p.asDouble !== undefined ? p.asDouble : p.asInt));
    if (!vals.includes(want.value)) problems.push(`gauge values ${JSON.stringify(vals)} lack ${want.value}`);
  }
  check(`metrics/${want.exporter}: counter (unit, monotonic, 42) and gauge (0.375) arrived`, problems);
}

// ---- the backend stand-in (kvscope's otlp exporter forwarded to it) ----
if (args.backend) {
  const dump = JSON.parse(readFileSync(args.backend, 'utf8'));
  const got = new Map(dump.spans.map((s) => [s.spanId, s]));
  check(`backend: received ${dump.unique_spans} distinct spans, want ${manifest.spans.length}`,
    dump.unique_spans === manifest.spans.length ? [] : [`got ${dump.unique_spans} (requests ${dump.requests})`]);
  const missing = manifest.spans.filter((s) => !got.has(s.spanId)).map((s) => `${s.name} ${s.spanId}`);
  check('backend: every span sent reached the backend', missing);
  const wrong = [];
  for (const s of manifest.spans.filter((x) => x.name === 'request' || x.name === 'mp.store')) {
    const g = got.get(s.spanId);
    if (!g) continue;
    if (g.name !== s.name) wrong.push(`${s.spanId}: name ${g.name}`);
    if (g.traceId !== s.traceId) wrong.push(`${s.spanId}: trace id`);
    for (const d of diffAttrs(s.attributes, g.attributes)) wrong.push(`${s.spanId} ${s.name}: ${d}`);
  }
  check('backend: request and mp.store attributes intact (typed)', wrong);
}

console.log(`RESULT passed=${passed} failed=${failed}`);
process.exit(failed ? 1 : 0);
