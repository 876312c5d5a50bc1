// Steady span load for the outage test: `--batches` export calls of
// `--spans` LMCache-shaped spans each (4 spans per request), made with the
// JS SDK's OTLP/gRPC trace exporter from `--concurrency` loops, one call
// every `--interval-ms` per loop. A call that fails (kvscope answers
// UNAVAILABLE while its queue is full) is retried with the same spans until
// it succeeds or `--deadline-s` passes. Appends the ids of every span kvscope
// acknowledged to --ids-out and writes a summary to --out; exits 1 when some
// batch was never acknowledged.
//
// usage: node send_load.mjs --grpc-port P --batches N --spans S --interval-ms T
//                           --concurrency C --deadline-s D --ids-out FILE --out FILE
import { appendFileSync, writeFileSync } from 'node:fs';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { emitRequest, need, parseArgs, sleep } from './common.mjs';

const args = parseArgs(process.argv.slice(2));
const port = need(args, 'grpc-port');
const batches = Number(args.batches || 200);
const perBatch = Math.max(4, Number(args.spans || 20));
const interval = Number(args['interval-ms'] || 50);
const concurrency = Math.max(1, Number(args.concurrency || 2));
const deadline = Date.now() + 1000 * Number(args['deadline-s'] || 90);
const idsOut = need(args, 'ids-out');
const outPath = need(args, 'out');

// Ended spans are collected here, then exported by hand per batch.
class Collect {
  constructor() { this.spans = []; }
  onStart() {}
  onEnd(span) { this.spans.push(span); }
  forceFlush() { return Promise.resolve(); }
  shutdown() { return Promise.resolve(); }
}
const collect = new Collect();
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'lmcache-mp-server', 'service.instance.id': 'outage-load' }),
  spanProcessors: [collect],
});
const tracer = provider.getTracer('lmcache_mp.server', '0.1.0');
const exporter = new OTLPTraceExporter({ url: `http://127.0.0.1:${port}`, timeoutMillis: 5000 });

const stats = { batches_ok: 0, spans_ok: 0, failed_attempts: 0, gave_up: 0, errors: {} };
let next = 0;

function exportOnce(spans) {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

async function loop() {
  for (;;) {
    const b = next++;
    if (b >= batches) return;
    const requests = Math.floor(perBatch / 4);
    for (let r = 0; r < requests; r++) emitRequest(tracer, 'load', b * requests + r);
    const spans = collect.spans.splice(0, requests * 4);
    for (;;) {
      const res = await exportOnce(spans);
      if (res.code === 0) {
        stats.batches_ok++;
        stats.spans_ok += spans.length;
        appendFileSync(idsOut, `${spans.map((s) => s.spanContext().spanId).join('\n')}\n`);
        break;
      }
      stats.failed_attempts++;
      const why = res.error ? String(res.error.message || res.error).slice(0, 80) : 'unknown';
      stats.errors[why] = (stats.errors[why] || 0) + 1;
      if (Date.now() > deadline) {
        stats.gave_up++;
        break;
      }
      await sleep(200);
    }
    await sleep(interval);
  }
}

await Promise.all(Array.from({ length: concurrency }, loop));
await exporter.shutdown();
writeFileSync(outPath, JSON.stringify(stats));
console.log(`load: ${stats.batches_ok}/${batches} batches (${stats.spans_ok} spans) acknowledged, ` +
  `${stats.failed_attempts} failed attempts retried, ${stats.gave_up} given up; errors ${JSON.stringify(stats.errors)}`);
process.exit(stats.gave_up ? 1 : 0);
