// Shared helpers of kvscope's JS integration peers: argument parsing, the
// LMCache-shaped spans (a `request` root with typed attributes and the
// children mp.lookup_prefetch, mp.retrieve, mp.store with string
// attributes), and hex/attribute conversions for checking what arrived.
import { context, trace } from '@opentelemetry/api';

export function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out[a.slice(2)] = argv[++i];
    else out[a.slice(2)] = 'true';
  }
  return out;
}

export function need(args, key) {
  if (args[key] === undefined) throw new Error(`--${key} is required`);
  return args[key];
}

const MODELS = ['meta-llama/Llama-3.1-8B-Instruct', 'Qwen/Qwen2.5-7B-Instruct'];

// The attributes of request number n (deterministic). hit_rate is never a
// whole number so the SDK encodes it as a double.
export function requestAttrs(tag, n) {
  const requested = 256 * (4 + (n % 13));
  const hit = 256 * (n % 5);
  return {
    session_id: `${tag}-session-${n}`,
    hit_tokens: hit,
    requested_tokens: requested,
    hit_rate: (hit + 0.5) / (requested + 1),
  };
}

export function childAttrs(tag, n, name) {
  const model = MODELS[n % MODELS.length];
  if (name === 'mp.lookup_prefetch')
    return { model_name: model, cache_salt: `${tag}-salt-${n % 4}`, chunk_size: '256' };
  if (name === 'mp.retrieve')
    return { model_name: model, location: n % 2 ? 'LocalCPUBackend' : 'LocalDiskBackend', num_chunks: String(n % 5) };
  return { model_name: model, location: 'LocalCPUBackend', kv_bytes: String(131072 * (1 + (n % 7))) };
}

export const CHILDREN = ['mp.lookup_prefetch', 'mp.retrieve', 'mp.store'];

// Creates one LMCache request (4 spans) with `tracer` and returns what was
// sent: ids, names, parent and attributes, for the checkers.
export function emitRequest(tracer, tag, n) {
  const sent = [];
  const root = tracer.startSpan('request', { attributes: requestAttrs(tag, n) });
  const rc = root.spanContext();
  const ctx = trace.setSpan(context.active(), root);
  for (const name of CHILDREN) {
    const attrs = childAttrs(tag, n, name);
    const child = tracer.startSpan(name, { attributes: attrs }, ctx);
    const cc = child.spanContext();
    child.end();
    sent.push({ traceId: cc.traceId, spanId: cc.spanId, parentSpanId: rc.spanId, name, attributes: attrs });
  }
  root.end();
  sent.push({ traceId: rc.traceId, spanId: rc.spanId, parentSpanId: '', name: 'request', attributes: requestAttrs(tag, n) });
  return sent;
}

export function hex(v) {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v.toLowerCase();
  return Buffer.from(v).toString('hex');
}

// An OTLP/JSON AnyValue or a proto-loader AnyValue (keepCase) as a JS value
// with its type: { t: 'string'|'int'|'double'|'bool', v }.
export function anyValue(v) {
  if (!v) return { t: 'none', v: null };
  if (v.stringValue !== undefined) return { t: 'string', v: v.stringValue };
  if (v.string_value !== undefined) return { t: 'string', v: v.string_value };
  if (v.intValue !== undefined) return { t: 'int', v: String(v.intValue) };
  if (v.int_value !== undefined) return { t: 'int', v: String(v.int_value) };
  if (v.doubleValue !== undefined) return { t: 'double', v: Number(v.doubleValue) };
  if (v.double_value !== undefined) return { t: 'double', v: Number(v.double_value) };
  if (v.boolValue !== undefined) return { t: 'bool', v: v.boolValue };
  if (v.bool_value !== undefined) return { t: 'bool', v: v.bool_value };
  return { t: 'other', v: JSON.stringify(v) };
}

// Compares sent attributes with received KeyValue[]; returns a list of
// differences (empty when intact, types included).
export function diffAttrs(sent, received) {
  const got = new Map();
  for (const kv of received || []) got.set(kv.key, anyValue(kv.value));
  const out = [];
  for (const [k, v] of Object.entries(sent)) {
    const g = got.get(k);
    if (!g) { out.push(`${k} missing`); continue; }
    if (typeof v === 'string') {
      if (g.t !== 'string' || g.v !== v) out.push(`${k}: want string ${v}, got ${g.t} ${g.v}`);
    } else if (Number.isInteger(v)) {
      if (g.t !== 'int' || g.v !== String(v)) out.push(`${k}: want int ${v}, got ${g.t} ${g.v}`);
    } else if (typeof v === 'number') {
      if (g.t !== 'double' || Math.abs(g.v - v) > 1e-12) out.push(`${k}: want double ${v}, got ${g.t} ${g.v}`);
    }
  }
  return out;
}

export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
