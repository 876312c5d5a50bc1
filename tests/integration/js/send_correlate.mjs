// Sends LMCache-shaped requests and vLLM-shaped engine spans to kvscope with
// the OpenTelemetry JS SDK (OTLP/gRPC): the even requests share the engine's
// trace (the LMCache `request` is a child of `llm_request`, as with
// LMCACHE_MP_TRACE_CONTEXT=1), the odd ones are separate traces joined only
// by request id (`gen_ai.request.id` = `session_id`). Writes a manifest of
// what was sent for verify_correlate.mjs; exits 1 when an export failed.
//
// usage: node send_correlate.mjs --grpc-port P --requests N --manifest FILE
import { writeFileSync } from 'node:fs';
import { context, trace, SpanKind } from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { CHILDREN, childAttrs, need, parseArgs, requestAttrs } from './common.mjs';

const args = parseArgs(process.argv.slice(2));
const url = `http://127.0.0.1:${need(args, 'grpc-port')}`;
const requests = Number(args.requests || 20);
const results = [];

function provider(service) {
  const exporter = new OTLPTraceExporter({ url, timeoutMillis: 10000 });
  const orig = exporter.export.bind(exporter);
  exporter.export = (items, cb) => orig(items, (res) => { results.push(res.code); cb(res); });
  return new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new BatchSpanProcessor(exporter, { maxExportBatchSize: 50, scheduledDelayMillis: 50 })],
  });
}

const lmcache = provider('lmcache-mp-server');
const vllm = provider('vllm');
const lt = lmcache.getTracer('lmcache_mp.server', '0.1.0');
const vt = vllm.getTracer('vllm.llm_engine', '0.1.0');
const sent = [];
let spans = 0;
for (let n = 0; n < requests; n++) {
  const shared = n % 2 === 0;
  const ra = requestAttrs('corr', n);
  const engine = vt.startSpan('llm_request', {
    kind: SpanKind.SERVER,
    attributes: {
      'gen_ai.request.id': ra.session_id,
      'gen_ai.request.model': 'meta-llama/Llama-3.1-8B-Instruct',
      'gen_ai.usage.prompt_tokens': ra.requested_tokens + 7,
      'gen_ai.latency.time_to_first_token': 0.05 + n / 1000,
    },
  });
  const parent = shared ? trace.setSpan(context.active(), engine) : context.active();
  const root = lt.startSpan('request', { attributes: ra }, parent);
  const ctx = trace.setSpan(context.active(), root);
  for (const name of CHILDREN) lt.startSpan(name, { attributes: childAttrs('corr', n, name) }, ctx).end();
  root.end();
  engine.end();
  spans += 2 + CHILDREN.length;
  const rc = root.spanContext(), ec = engine.spanContext();
  sent.push({ shared, session: ra.session_id, hit_tokens: ra.hit_tokens, requested_tokens: ra.requested_tokens,
              root: { traceId: rc.traceId, spanId: rc.spanId }, engine: { traceId: ec.traceId, spanId: ec.spanId } });
}
await lmcache.forceFlush();
await vllm.forceFlush();
await lmcache.shutdown();
await vllm.shutdown();
writeFileSync(need(args, 'manifest'), JSON.stringify({ spans, requests: sent }));
const failed = results.filter((c) => c !== 0).length;
console.log(`sent ${spans} spans in ${results.length} exports, ${failed} failed`);
process.exit(failed || results.length === 0 ? 1 : 0);
