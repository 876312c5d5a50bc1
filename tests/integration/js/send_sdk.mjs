// Sends LMCache-shaped spans and metrics to kvscope through the six
// OpenTelemetry JS SDK OTLP exporters (traces and metrics over gRPC,
// HTTP/protobuf and HTTP/JSON), the way an application instrumented with
// the SDK would: spans through a BatchSpanProcessor, metrics through a
// PeriodicExportingMetricReader. Writes a manifest of everything sent (ids,
// names, parents, typed attributes, metric values) for verify_file.mjs and
// exits 1 when any export did not succeed.
//
// usage: node send_sdk.mjs --grpc-port P --http-port Q --requests N --manifest FILE
import { writeFileSync } from 'node:fs';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as HttpTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPMetricExporter as HttpMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { emitRequest, need, parseArgs } from './common.mjs';

const args = parseArgs(process.argv.slice(2));
const grpcUrl = `http://127.0.0.1:${need(args, 'grpc-port')}`;
const httpBase = `http://127.0.0.1:${need(args, 'http-port')}`;
const requests = Number(args.requests || 25);
const manifestPath = need(args, 'manifest');
const TIMEOUT = 10000;

// Counts the outcome of every export call of an exporter.
function watch(exporter, label, log) {
  const orig = exporter.export.bind(exporter);
  exporter.export = (items, cb) =>
    orig(items, (res) => {
      log.push({ exporter: label, code: res.code, error: res.error ? String(res.error.message || res.error) : '' });
      cb(res);
    });
  return exporter;
}

function resource(label) {
  return resourceFromAttributes({
    'service.name': 'lmcache-mp-server',
    'service.instance.id': `interop-${label}`,
    'kvscope.test.exporter': label,
  });
}

async function sendTraces(label, exporter, log) {
  const provider = new BasicTracerProvider({
    resource: resource(label),
    spanProcessors: [
      new BatchSpanProcessor(watch(exporter, `traces/${label}`, log), {
        maxExportBatchSize: 40,
        scheduledDelayMillis: 50,
        exportTimeoutMillis: TIMEOUT,
      }),
    ],
  });
  const tracer = provider.getTracer('lmcache_mp.server', '0.1.0');
  const sent = [];
  for (let n = 0; n < requests; n++)
    for (const s of emitRequest(tracer, label, n)) sent.push({ ...s, exporter: label });
  await provider.forceFlush();
  await provider.shutdown();
  return sent;
}

async function sendMetrics(label, exporter, log) {
  const reader = new PeriodicExportingMetricReader({
    exporter: watch(exporter, `metrics/${label}`, log),
    exportIntervalMillis: 60000,
    exportTimeoutMillis: TIMEOUT,
  });
  const provider = new MeterProvider({ resource: resource(label), readers: [reader] });
  const meter = provider.getMeter('lmcache_mp.server', '0.1.0');
  const reads = meter.createCounter('lmcache_mp.l1_read', { unit: 'chunks', description: 'Chunks read from L1' });
  reads.add(10, { model_name: 'meta-llama/Llama-3.1-8B-Instruct' });
  reads.add(32, { model_name: 'meta-llama/Llama-3.1-8B-Instruct' });
  const usage = meter.createObservableGauge('lmcache_mp.l1_usage_ratio', { unit: '1', description: 'L1 usage' });
  usage.addCallback((r) => r.observe(0.375, { model_name: 'meta-llama/Llama-3.1-8B-Instruct' }));
  await provider.forceFlush();
  await provider.shutdown();
  return { exporter: label, counter: 'lmcache_mp.l1_read', unit: 'chunks', total: 42, gauge: 'lmcache_mp.l1_usage_ratio', value: 0.375 };
}

const log = [];
const spans = [];
const metrics = [];
const opts = { timeoutMillis: TIMEOUT };
spans.push(...(await sendTraces('grpc', new GrpcTraceExporter({ ...opts, url: grpcUrl, compression: 'gzip' }), log)));
spans.push(...(await sendTraces('proto', new ProtoTraceExporter({ ...opts, url: `${httpBase}/v1/traces`, compression: 'gzip' }), log)));
spans.push(...(await sendTraces('http', new HttpTraceExporter({ ...opts, url: `${httpBase}/v1/traces` }), log)));
metrics.push(await sendMetrics('grpc', new GrpcMetricExporter({ ...opts, url: grpcUrl }), log));
metrics.push(await sendMetrics('proto', new ProtoMetricExporter({ ...opts, url: `${httpBase}/v1/metrics` }), log));
metrics.push(await sendMetrics('http', new HttpMetricExporter({ ...opts, url: `${httpBase}/v1/metrics` }), log));

writeFileSync(manifestPath, JSON.stringify({ spans, metrics, exports: log }, null, 1));
const failed = log.filter((e) => e.code !== 0);
for (const e of failed) console.error(`export failed: ${e.exporter}: ${e.error}`);
const perExporter = {};
for (const e of log) perExporter[e.exporter] = (perExporter[e.exporter] || 0) + 1;
console.log(`sent ${spans.length} spans and ${metrics.length} metric sets; export calls: ${JSON.stringify(perExporter)}; failed: ${failed.length}`);
process.exit(failed.length || Object.keys(perExporter).length !== 6 ? 1 : 0);
