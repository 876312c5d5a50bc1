// Backend stand-in: an OTLP/gRPC server (trace, metrics and logs services)
// built with @grpc/grpc-js from this repository's .proto files (loaded at
// run time with @grpc/proto-loader from the proto/ root), so kvscope's
// `otlp` exporter is tested against an independent gRPC implementation.
// Answers every Export with an empty response and keeps a summary of what
// it received in --out (JSON, replaced atomically at most every 100 ms and
// at exit): requests, spans, distinct span ids, duplicates, and with
// --record every span (ids, name, attributes). With --ids FILE the span ids
// of each request are appended to FILE before the request is answered, so
// what was acknowledged is on disk even if the process is killed.
// Listens on 127.0.0.1 only.
//
// usage: node backend.mjs --proto-root DIR --port P --out FILE [--record] [--ids FILE]
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import { hex, need, parseArgs } from './common.mjs';

const args = parseArgs(process.argv.slice(2));
const root = need(args, 'proto-root');
const port = Number(need(args, 'port'));
const outPath = need(args, 'out');
const record = args.record === 'true';
const idsPath = args.ids;

const def = protoLoader.loadSync(
  [
    'opentelemetry/proto/collector/trace/v1/trace_service.proto',
    'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
    'opentelemetry/proto/collector/logs/v1/logs_service.proto',
  ],
  { includeDirs: [root], keepCase: true, longs: String, enums: String, defaults: false, oneofs: true },
);
const pkg = grpc.loadPackageDefinition(def);
const collector = pkg.opentelemetry.proto.collector;

const state = { requests: 0, spans_total: 0, unique_spans: 0, duplicates: 0, metric_requests: 0, log_requests: 0, spans: [] };
const seen = new Set();
let dirty = true;

function exportTraces(call, cb) {
  state.requests++;
  const ids = [];
  for (const rs of call.request.resource_spans || [])
    for (const ss of rs.scope_spans || [])
      for (const s of ss.spans || []) {
        state.spans_total++;
        const id = hex(s.span_id);
        ids.push(id);
        if (seen.has(id)) state.duplicates++;
        else {
          seen.add(id);
          state.unique_spans++;
          if (record) state.spans.push({ traceId: hex(s.trace_id), spanId: id, name: s.name, attributes: s.attributes || [] });
        }
      }
  dirty = true;
  if (idsPath && ids.length) appendFileSync(idsPath, `${ids.join('\n')}\n`);
  cb(null, {});
}

function flush() {
  if (!dirty) return;
  dirty = false;
  const tmp = `${outPath}.tmp`;
  writeFileSync(tmp, JSON.stringify(state));
  renameSync(tmp, outPath);
}

const server = new grpc.Server();
server.addService(collector.trace.v1.TraceService.service, { Export: exportTraces });
server.addService(collector.metrics.v1.MetricsService.service, {
  Export: (call, cb) => { state.metric_requests++; dirty = true; cb(null, {}); },
});
server.addService(collector.logs.v1.LogsService.service, {
  Export: (call, cb) => { state.log_requests++; dirty = true; cb(null, {}); },
});
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) {
    console.error(`backend: cannot listen on 127.0.0.1:${port}: ${err.message}`);
    process.exit(1);
  }
  flush();
  console.log(`backend: listening on 127.0.0.1:${port}`);
});
const timer = setInterval(flush, 100);
function stop() {
  clearInterval(timer);
  dirty = true;
  flush();
  server.forceShutdown();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
