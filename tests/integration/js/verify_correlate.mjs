// Checks what reached the file exporter (OTLP/JSON lines) and the grpc-js
// backend after lmcache_correlate: count in = count out, every LMCache root
// carries its outcome (kvscope.lmcache.hit_tokens = what was sent) and the
// engine's TTFT (the join), every engine span carries the LMCache outcome,
// and requests in separate traces are linked both ways
// (kvscope.link=lmcache_engine). Prints ok/FAIL lines and a RESULT line.
//
// usage: node verify_correlate.mjs --manifest F --file OUT.jsonl --backend B.json
import { readFileSync } from 'node:fs';
import { need, parseArgs } from './common.mjs';

const args = parseArgs(process.argv.slice(2));
const manifest = JSON.parse(readFileSync(need(args, 'manifest'), 'utf8'));
let passed = 0, failed = 0;
const check = (label, cond) => { cond ? passed++ : failed++; console.log(`${cond ? 'ok' : 'FAIL'} ${label}`); };

const spans = new Map();
for (const line of readFileSync(need(args, 'file'), 'utf8').split('\n').filter(Boolean)) {
  for (const rs of JSON.parse(line).resourceSpans || [])
    for (const ss of rs.scopeSpans || [])
      for (const s of ss.spans || []) spans.set(s.spanId, s);
}
const attr = (s, key) => {
  const kv = (s && s.attributes || []).find((a) => a.key === key);
  if (!kv) return undefined;
  const v = kv.value;
  return v.intValue !== undefined ? Number(v.intValue) : v.doubleValue ?? v.stringValue ?? v.boolValue;
};
const linked = (s, to) => (s && s.links || []).some((l) => l.spanId === to &&
  (l.attributes || []).some((a) => a.key === 'kvscope.link' && a.value.stringValue === 'lmcache_engine'));

check(`file exporter: ${manifest.spans} spans sent = ${spans.size} spans written`, spans.size === manifest.spans);
let outcome = 0, ttft = 0, engineOutcome = 0, links = 0, cross = 0;
for (const r of manifest.requests) {
  const root = spans.get(r.root.spanId), eng = spans.get(r.engine.spanId);
  if (attr(root, 'kvscope.lmcache.hit_tokens') === r.hit_tokens &&
      attr(root, 'kvscope.lmcache.requested_tokens') === r.requested_tokens) outcome++;
  if (typeof attr(root, 'kvscope.lmcache.engine.ttft_ms') === 'number') ttft++;
  if (attr(eng, 'kvscope.lmcache.hit_tokens') === r.hit_tokens) engineOutcome++;
  if (!r.shared) {
    cross++;
    if (linked(root, r.engine.spanId) && linked(eng, r.root.spanId)) links++;
  }
}
const n = manifest.requests.length;
check(`every LMCache root carries its outcome (${outcome}/${n})`, outcome === n);
check(`every LMCache root carries the engine's TTFT (${ttft}/${n}: same-trace and cross-trace joins)`, ttft === n);
check(`every engine span carries the LMCache outcome (${engineOutcome}/${n})`, engineOutcome === n);
check(`separate traces are linked both ways (${links}/${cross})`, cross > 0 && links === cross);

const backend = JSON.parse(readFileSync(need(args, 'backend'), 'utf8'));
check(`grpc-js backend: ${backend.unique_spans} distinct spans received = ${manifest.spans} sent`,
      backend.unique_spans === manifest.spans);
const annotated = (backend.spans || []).filter((s) => s.name === 'request' &&
  (s.attributes || []).some((a) => a.key === 'kvscope.lmcache.hit_tokens')).length;
check(`grpc-js backend: every request root arrives annotated (${annotated}/${n})`, annotated === n);
console.log(`RESULT passed=${passed} failed=${failed}`);
