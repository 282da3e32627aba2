#!/usr/bin/env node
// mock-ollama.js - a small, fast, dependency-free mock of an Ollama server
// (native /api/* endpoints and the OpenAI-compatible /v1/* endpoints), used
// by the ngx_llm_router test suites and benchmarks.
//
// Standard library only; Node.js 18 or newer.  See t/backend/README.md.
'use strict';

const http = require('http');
const fs = require('fs');
const crypto = require('crypto');
const { performance } = require('perf_hooks');

const OLLAMA_VERSION = '0.6.0';
const MAX_BODY = 32 * 1024 * 1024; // larger request bodies get 413
const MAX_TOKENS = 1000000;
const MAX_SLOTS = 100000;
const MAX_MS = 3600 * 1000;

// ---------------------------------------------------------------------------
// command line

const USAGE = `usage: mock-ollama.js [options]
  --host ADDR        listen address (default 127.0.0.1)
  --port N           listen port (default 11434; 0 = any free port)
  --model NAME       model this server "has loaded" (default llama3.2:3b)
  --name LABEL       instance label, sent as X-Mock-Name (default = model)
  --ttft MS          time to first token in ms (default 0)
  --tps N            tokens per second, 0 = no delay (default 0)
  --tokens N         tokens per answer (default 8)
  --slots N          parallel generation slots, others wait FIFO (default 4)
  --fail MODE        none | STATUS (400-599) | hang | close | reset (default none)
  --ready-file PATH  write the listening port to PATH once listening
  --verbose          log one line per request to stderr
  --help             this text
Per-request headers: X-Mock-Fail, X-Mock-Ttft, X-Mock-Tps, X-Mock-Tokens, X-Mock-Echo: 1
`;

function die(msg) {
  process.stderr.write(`mock-ollama: ${msg}\n`);
  process.exit(2);
}

// Parse a failure mode: null (none), a status number, or 'hang'|'close'|'reset'.
// Throws on anything else.
function parseFail(v) {
  if (v === null || v === undefined) return null;
  const s = String(v).trim().toLowerCase();
  if (s === '' || s === 'none' || s === 'off' || s === 'false') return null;
  if (s === 'hang' || s === 'close' || s === 'reset') return s;
  if (/^\d{3}$/.test(s)) {
    const n = Number(s);
    if (n >= 400 && n <= 599) return n;
  }
  throw new Error(`invalid fail mode "${v}" (expected none, a status 400-599, hang, close or reset)`);
}

// Parse a non-negative number; integers only when int is true.  Throws.
function parseNum(what, v, int, max) {
  const s = typeof v === 'number' ? v : String(v).trim();
  const n = typeof s === 'number' ? s : (s === '' ? NaN : Number(s));
  if (!Number.isFinite(n) || n < 0 || n > max || (int && !Number.isInteger(n))) {
    throw new Error(`invalid ${what} "${v}" (expected ${int ? 'an integer' : 'a number'} between 0 and ${max})`);
  }
  return n;
}

function parseArgs(argv) {
  const o = {
    host: '127.0.0.1', port: 11434, model: 'llama3.2:3b', name: null,
    ttft: 0, tps: 0, tokens: 8, slots: 4, fail: null, readyFile: null, verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let val;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) { val = a.slice(eq + 1); a = a.slice(0, eq); }
    if (a === '--help' || a === '-h') { process.stdout.write(USAGE); process.exit(0); }
    if (a === '--verbose') { o.verbose = true; continue; }
    if (val === undefined) {
      if (i + 1 >= argv.length) die(`option ${a} needs a value\n${USAGE}`);
      val = argv[++i];
    }
    try {
      switch (a) {
        case '--host': o.host = val; break;
        case '--port': o.port = parseNum('port', val, true, 65535); break;
        case '--model': if (!val) throw new Error('empty --model'); o.model = val; break;
        case '--name': o.name = val; break;
        case '--ttft': o.ttft = parseNum('ttft', val, false, MAX_MS); break;
        case '--tps': o.tps = parseNum('tps', val, false, 1e9); break;
        case '--tokens': o.tokens = parseNum('tokens', val, true, MAX_TOKENS); break;
        case '--slots': o.slots = parseNum('slots', val, true, MAX_SLOTS); break;
        case '--fail': o.fail = parseFail(val); break;
        case '--ready-file': o.readyFile = val; break;
        default: die(`unknown option ${a}\n${USAGE}`);
      }
    } catch (e) {
      die(e.message);
    }
  }
  if (o.name === null || o.name === '') o.name = o.model;
  return o;
}

const opts = parseArgs(process.argv.slice(2));

// Runtime configuration (changeable with POST /_mock/config).
const cfg = {
  ttft: opts.ttft, tps: opts.tps, tokens: opts.tokens, slots: opts.slots, fail: opts.fail,
  model: opts.model, name: opts.name,
};

// Header values must be visible ASCII; anything else is percent-encoded.
function hv(s) {
  s = String(s);
  return /^[\x20-\x7e]*$/.test(s) ? s : encodeURIComponent(s);
}
let nameHv = hv(cfg.name);

const startedIso = new Date().toISOString();

// ---------------------------------------------------------------------------
// counters and the slot queue

function freshStats() {
  return {
    requests: 0, completed: 0, aborted: 0, failed: 0,
    max_inflight_seen: 0, last_model: null, last_path: null, by_path: {},
  };
}
let st = freshStats();
let inflight = 0;   // holding a slot
let queued = 0;     // waiting for a slot
let hanging = 0;    // held by fail=hang
const queue = [];   // FIFO of jobs waiting for a slot
let dispatching = false;

function dispatch() {
  if (dispatching) return; // jobs that finish synchronously call back in here
  dispatching = true;
  try {
    while (inflight < cfg.slots && queue.length > 0) {
      const job = queue.shift();
      queued--;
      startJob(job);
    }
  } finally {
    dispatching = false;
  }
}

function acquire(job) {
  if (queue.length === 0 && inflight < cfg.slots) {
    startJob(job);
  } else {
    job.state = 'queued';
    queue.push(job);
    queued++;
  }
}

function release(job) {
  if (!job.holding) return;
  job.holding = false;
  inflight--;
  dispatch();
}

// Client went away before we finished answering.
function onResClose(job) {
  switch (job.state) {
    case 'queued': {
      const i = queue.indexOf(job);
      if (i >= 0) { queue.splice(i, 1); queued--; }
      break;
    }
    case 'running':
      if (job.timer) { clearTimeout(job.timer); job.timer = null; }
      release(job);
      break;
    case 'hang':
      hanging--;
      break;
    default:
      return; // done / failed: nothing to undo
  }
  job.state = 'aborted';
  st.aborted++;
  if (opts.verbose) log(`${job.path} aborted by client`);
}

// ---------------------------------------------------------------------------
// small helpers

function log(msg) {
  process.stderr.write(`${new Date().toISOString()} mock-ollama[${cfg.name}] ${msg}\n`);
}

function countWords(s) {
  if (typeof s !== 'string' || s.length === 0) return 0;
  let n = 0;
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const space = c === 32 || (c >= 9 && c <= 13);
    if (!space && !inWord) n++;
    inWord = !space;
  }
  return n;
}

function contentWords(c) {
  if (typeof c === 'string') return countWords(c);
  let n = 0;
  if (Array.isArray(c)) {
    for (const p of c) {
      if (typeof p === 'string') n += countWords(p);
      else if (p && typeof p === 'object' && typeof p.text === 'string') n += countWords(p.text);
    }
  }
  return n;
}

function isObj(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function posInt(v) {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : 0;
}

function tok(i) {
  return `tok${i} `;
}

function fullText(n) {
  let s = '';
  for (let i = 0; i < n; i++) s += tok(i);
  return s;
}

let idSeq = 0;
function newId(prefix) {
  idSeq = (idSeq + 1) % 1e9;
  return `${prefix}${process.pid.toString(36)}${Date.now().toString(36)}${idSeq.toString(36)}`;
}

function oaErrType(status) {
  if (status === 401) return 'authentication_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

function errBody(style, status, msg) {
  if (style === 'openai') {
    return { error: { message: msg, type: oaErrType(status), param: null, code: null } };
  }
  return { error: msg };
}

function sendJson(res, status, obj, extra) {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify(obj);
  const h = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-Mock-Name': nameHv,
  };
  if (extra) Object.assign(h, extra);
  res.writeHead(status, h);
  res.end(body);
}

function sendErr(res, style, status, msg, extra) {
  sendJson(res, status, errBody(style, status, msg), extra);
}

// Destroy the connection once what was written has reached the kernel.
function destroyAfterFlush(sock) {
  if (!sock) return;
  let done = false;
  const kill = () => { if (!done) { done = true; sock.destroy(); } };
  setImmediate(() => {
    if (sock.destroyed || sock.writableLength === 0) kill();
    else { sock.once('drain', kill); setTimeout(kill, 2000).unref(); }
  });
}

function resetSocket(sock) {
  if (!sock || sock.destroyed) return;
  if (typeof sock.resetAndDestroy === 'function') {
    try { sock.resetAndDestroy(); return; } catch (e) { /* fall through */ }
  }
  sock.destroy();
}

// ---------------------------------------------------------------------------
// model metadata (for /api/tags, /api/ps, /api/show, /v1/models)

function normModel(m) {
  return m.includes(':') ? m : `${m}:latest`;
}

function modelDetails() {
  const m = /(\d+(?:\.\d+)?)b\b/i.exec(cfg.model);
  return {
    parent_model: '', format: 'gguf', family: 'llama', families: ['llama'],
    parameter_size: m ? `${m[1]}B` : '3.2B', quantization_level: 'Q4_K_M',
  };
}

function modelEntry() {
  return {
    name: cfg.model,
    model: cfg.model,
    modified_at: startedIso,
    size: 2019393189,
    digest: crypto.createHash('sha256').update(cfg.model).digest('hex'),
    details: modelDetails(),
  };
}

// ---------------------------------------------------------------------------
// generation: wire formats

// kind -> error style
const GEN_PATHS = {
  '/api/generate': 'generate',
  '/api/chat': 'chat',
  '/v1/chat/completions': 'oa_chat',
  '/v1/completions': 'oa_completion',
};

function styleOfPath(p) {
  return p.startsWith('/v1/') ? 'openai' : 'ollama';
}

function timings(job) {
  const now = performance.now();
  const load = Math.max(0, job.t0 - job.arrival);
  const promptMs = job.ttft;
  const evalMs = job.iv > 0 ? job.n * job.iv : Math.max(0, now - job.t0 - job.ttft);
  const total = Math.max(now - job.arrival, load + promptMs + evalMs);
  return {
    total_duration: Math.round(total * 1e6),
    load_duration: Math.max(1000, Math.round(load * 1e6)),
    prompt_eval_count: job.promptTokens,
    prompt_eval_duration: Math.max(1000, Math.round(promptMs * 1e6)),
    eval_count: job.n,
    eval_duration: Math.max(1000, Math.round(evalMs * 1e6)),
  };
}

function usage(job) {
  return {
    prompt_tokens: job.promptTokens,
    completion_tokens: job.n,
    total_tokens: job.promptTokens + job.n,
  };
}

function doneReason(job) {
  return job.truncated ? 'length' : 'stop';
}

function oaChunkBase(job, object) {
  return {
    id: job.id, object, created: job.created, model: job.model, system_fingerprint: 'fp_ollama',
  };
}

function sse(obj) {
  return `data: ${JSON.stringify(obj)}\n\n`;
}

// One streamed token.
function fmtToken(job, i) {
  const t = tok(i);
  switch (job.kind) {
    case 'generate':
      return `${JSON.stringify({ model: job.model, created_at: new Date().toISOString(), response: t, done: false })}\n`;
    case 'chat':
      return `${JSON.stringify({
        model: job.model, created_at: new Date().toISOString(),
        message: { role: 'assistant', content: t }, done: false,
      })}\n`;
    case 'oa_chat': {
      const c = oaChunkBase(job, 'chat.completion.chunk');
      c.choices = [{
        index: 0, delta: i === 0 ? { role: 'assistant', content: t } : { content: t },
        logprobs: null, finish_reason: null,
      }];
      if (job.includeUsage) c.usage = null;
      return sse(c);
    }
    default: { // oa_completion
      const c = oaChunkBase(job, 'text_completion');
      c.choices = [{ text: t, index: 0, logprobs: null, finish_reason: null }];
      if (job.includeUsage) c.usage = null;
      return sse(c);
    }
  }
}

// The closing line(s) of a stream.
function fmtFinal(job) {
  switch (job.kind) {
    case 'generate':
      return `${JSON.stringify(Object.assign({
        model: job.model, created_at: new Date().toISOString(), response: '', done: true,
        done_reason: doneReason(job), context: [1, 2, 3],
      }, timings(job)))}\n`;
    case 'chat':
      return `${JSON.stringify(Object.assign({
        model: job.model, created_at: new Date().toISOString(),
        message: { role: 'assistant', content: '' }, done_reason: doneReason(job), done: true,
      }, timings(job)))}\n`;
    case 'oa_chat': {
      let out = '';
      if (job.n === 0) { // the role still has to be announced
        const r = oaChunkBase(job, 'chat.completion.chunk');
        r.choices = [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }];
        if (job.includeUsage) r.usage = null;
        out += sse(r);
      }
      const c = oaChunkBase(job, 'chat.completion.chunk');
      c.choices = [{ index: 0, delta: {}, logprobs: null, finish_reason: doneReason(job) }];
      if (job.includeUsage) c.usage = null;
      out += sse(c);
      if (job.includeUsage) {
        const u = oaChunkBase(job, 'chat.completion.chunk');
        u.choices = [];
        u.usage = usage(job);
        out += sse(u);
      }
      return `${out}data: [DONE]\n\n`;
    }
    default: { // oa_completion
      const c = oaChunkBase(job, 'text_completion');
      c.choices = [{ text: '', index: 0, logprobs: null, finish_reason: doneReason(job) }];
      if (job.includeUsage) c.usage = null;
      let out = sse(c);
      if (job.includeUsage) {
        const u = oaChunkBase(job, 'text_completion');
        u.choices = [];
        u.usage = usage(job);
        out += sse(u);
      }
      return `${out}data: [DONE]\n\n`;
    }
  }
}

// The whole answer of a non-stream request.
function fmtFull(job) {
  const text = fullText(job.n);
  switch (job.kind) {
    case 'generate':
      return JSON.stringify(Object.assign({
        model: job.model, created_at: new Date().toISOString(), response: text, done: true,
        done_reason: doneReason(job), context: [1, 2, 3],
      }, timings(job)));
    case 'chat':
      return JSON.stringify(Object.assign({
        model: job.model, created_at: new Date().toISOString(),
        message: { role: 'assistant', content: text }, done_reason: doneReason(job), done: true,
      }, timings(job)));
    case 'oa_chat': {
      const c = oaChunkBase(job, 'chat.completion');
      c.choices = [{
        index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: doneReason(job),
      }];
      c.usage = usage(job);
      return JSON.stringify(c);
    }
    default: {
      const c = oaChunkBase(job, 'text_completion');
      c.choices = [{ text, index: 0, logprobs: null, finish_reason: doneReason(job) }];
      c.usage = usage(job);
      return JSON.stringify(c);
    }
  }
}

function genHeaders(job, contentType, length) {
  const h = {
    'Content-Type': contentType,
    'X-Mock-Name': nameHv,
    'X-Mock-Model': job.modelHv,
  };
  if (length !== undefined) h['Content-Length'] = length;
  return h;
}

function streamType(job) {
  return job.kind === 'generate' || job.kind === 'chat' ? 'application/x-ndjson' : 'text/event-stream';
}

function streamWrite(job, data) {
  const res = job.res;
  if (!res.headersSent) {
    const h = genHeaders(job, streamType(job));
    if (job.kind.startsWith('oa_')) h['Cache-Control'] = 'no-cache';
    res.writeHead(200, h);
  }
  if (data) res.write(data);
}

// ---------------------------------------------------------------------------
// generation: scheduling

function startJob(job) {
  job.state = 'running';
  job.holding = true;
  inflight++;
  if (inflight > st.max_inflight_seen) st.max_inflight_seen = inflight;
  job.t0 = performance.now();
  if (job.stream) streamStep(job);
  else scheduleAt(job, job.ttft + (job.fail === 'close' ? job.half : job.n) * job.iv, nonStreamFire);
}

// Run fn(job) when `at` ms (relative to the slot start) is reached.
function scheduleAt(job, at, fn) {
  const delay = job.t0 + at - performance.now();
  if (delay <= 0.5) fn(job);
  else job.timer = setTimeout(fn, Math.ceil(delay), job);
}

function finishOk(job) {
  job.state = 'done';
  st.completed++;
  release(job);
}

function crash(job, data) {
  job.state = 'failed';
  st.failed++;
  release(job);
  const res = job.res;
  const sock = res.socket;
  if (data && data.length) res.write(data);
  else res.flushHeaders(); // headers only (written but not yet sent)
  destroyAfterFlush(sock);
}

function nonStreamFire(job) {
  job.timer = null;
  if (job.state !== 'running') return;
  const res = job.res;
  const body = fmtFull(job);
  const len = Buffer.byteLength(body);
  if (job.fail === 'close') {
    // Announce the full length, send half of it, then drop the connection.
    res.writeHead(200, genHeaders(job, 'application/json; charset=utf-8', len));
    crash(job, Buffer.from(body).subarray(0, len >> 1));
    return;
  }
  finishOk(job);
  res.writeHead(200, genHeaders(job, 'application/json; charset=utf-8', len));
  res.end(body);
}

function streamStep(job) {
  job.timer = null;
  if (job.state !== 'running') return;
  const closing = job.fail === 'close';
  const limit = closing ? job.half : job.n;
  const endAt = job.ttft + limit * job.iv; // final line, or the crash
  const el = performance.now() - job.t0 + 0.5; // half a ms of timer slack
  let out = '';
  while (job.i < limit && el >= job.ttft + job.i * job.iv) {
    out += fmtToken(job, job.i);
    job.i++;
  }
  if (job.i >= limit && el >= endAt) {
    if (closing) {
      if (!job.res.headersSent) streamWrite(job, '');
      crash(job, out);
    } else {
      out += fmtFinal(job);
      finishOk(job);
      streamWrite(job, '');
      job.res.end(out);
    }
    return;
  }
  if (out) streamWrite(job, out);
  const next = job.i < limit ? job.ttft + job.i * job.iv : endAt;
  const delay = job.t0 + next - performance.now();
  job.timer = setTimeout(streamStep, Math.max(1, Math.ceil(delay)), job);
}

// ---------------------------------------------------------------------------
// generation: request handling

function echoHeaders(req) {
  const h = {};
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i].toLowerCase();
    h[k] = Object.prototype.hasOwnProperty.call(h, k) ? `${h[k]}, ${raw[i + 1]}` : raw[i + 1];
  }
  return h;
}

function headerOverride(req, name, parse) {
  const v = req.headers[name];
  return v === undefined ? undefined : parse(v);
}

function handleGeneration(req, res, kind, path, query, raw) {
  const arrival = performance.now();
  const style = styleOfPath(path);
  st.requests++;
  st.by_path[path] = (st.by_path[path] || 0) + 1;
  st.last_path = path;

  const bodyRaw = raw.toString('utf8');
  let body = null;
  let jsonErr = null;
  try {
    body = JSON.parse(bodyRaw);
  } catch (e) {
    jsonErr = e.message;
  }
  const model = isObj(body) && typeof body.model === 'string' ? body.model : null;
  st.last_model = model;
  const modelHv = hv(model === null ? '' : model);
  const gh = { 'X-Mock-Model': modelHv };

  // --- echo mode
  const echo = req.headers['x-mock-echo'];
  if (echo !== undefined && /^(1|true|yes|on)$/i.test(echo.trim())) {
    st.completed++;
    sendJson(res, 200, {
      echo: {
        method: req.method, path, query, headers: echoHeaders(req), body_raw: bodyRaw, body,
      },
      model,
      served_by: cfg.name,
    }, gh);
    return;
  }

  // --- per-request overrides
  let ttft = cfg.ttft;
  let tps = cfg.tps;
  let tokens = cfg.tokens;
  let fail = cfg.fail;
  try {
    const f = headerOverride(req, 'x-mock-fail', parseFail);
    if (req.headers['x-mock-fail'] !== undefined) fail = f;
    ttft = headerOverride(req, 'x-mock-ttft', (v) => parseNum('X-Mock-Ttft', v, false, MAX_MS)) ?? ttft;
    tps = headerOverride(req, 'x-mock-tps', (v) => parseNum('X-Mock-Tps', v, false, 1e9)) ?? tps;
    tokens = headerOverride(req, 'x-mock-tokens', (v) => parseNum('X-Mock-Tokens', v, true, MAX_TOKENS)) ?? tokens;
  } catch (e) {
    sendErr(res, style, 400, e.message, gh);
    return;
  }

  // --- injected failures that do not depend on the body
  if (typeof fail === 'number') {
    st.failed++;
    sendErr(res, style, fail, `mock-ollama: injected failure (status ${fail})`, gh);
    return;
  }
  if (fail === 'reset') {
    st.failed++;
    resetSocket(req.socket);
    return;
  }
  const job = {
    req, res, kind, path, model, modelHv, arrival, state: 'new', holding: false, timer: null,
    ttft, tps, iv: tps > 0 ? 1000 / tps : 0, fail, n: tokens, half: 0, i: 0, t0: 0,
    stream: false, truncated: false, includeUsage: false, promptTokens: 0, id: '', created: 0,
  };
  res.on('close', () => onResClose(job));
  if (fail === 'hang') {
    st.failed++;
    job.state = 'hang';
    hanging++;
    return;
  }

  // --- validate the body
  const bad = (msg) => sendErr(res, style, 400, msg, gh);
  if (jsonErr !== null) return bad(`invalid JSON: ${jsonErr}`);
  if (!isObj(body)) return bad('request body must be a JSON object');
  if (model === null || model === '') return bad('model is required');
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
    return bad('stream must be a boolean');
  }
  let promptTokens = 0;
  let cap = 0;
  if (kind === 'generate' || kind === 'chat') {
    job.stream = body.stream !== false; // absent or null = stream
    if (body.options !== undefined && body.options !== null) {
      if (!isObj(body.options)) return bad('options must be an object');
      cap = posInt(body.options.num_predict);
    }
    if (kind === 'generate') {
      if (body.prompt !== undefined && body.prompt !== null && typeof body.prompt !== 'string') {
        return bad('prompt must be a string');
      }
      if (body.system !== undefined && body.system !== null && typeof body.system !== 'string') {
        return bad('system must be a string');
      }
      promptTokens = countWords(body.prompt) + countWords(body.system);
    } else {
      const msgs = body.messages;
      if (msgs !== undefined && msgs !== null && !Array.isArray(msgs)) return bad('messages must be an array');
      for (const m of msgs || []) {
        if (!isObj(m)) return bad('each message must be an object');
        promptTokens += contentWords(m.content);
      }
    }
  } else {
    job.stream = body.stream === true; // OpenAI default: no stream
    if (body.max_tokens !== undefined && body.max_tokens !== null && typeof body.max_tokens !== 'number') {
      return bad('max_tokens must be an integer');
    }
    cap = posInt(body.max_tokens) || posInt(body.max_completion_tokens);
    if (body.stream_options !== undefined && body.stream_options !== null) {
      if (!isObj(body.stream_options)) return bad('stream_options must be an object');
      job.includeUsage = job.stream && body.stream_options.include_usage === true;
    }
    if (kind === 'oa_chat') {
      if (!Array.isArray(body.messages)) return bad("'messages' is required and must be an array");
      for (const m of body.messages) {
        if (!isObj(m)) return bad('each message must be an object');
        promptTokens += contentWords(m.content);
      }
      job.id = newId('chatcmpl-');
    } else {
      const p = body.prompt;
      if (typeof p === 'string') promptTokens = countWords(p);
      else if (Array.isArray(p)) {
        for (const x of p) {
          if (typeof x === 'string') promptTokens += countWords(x);
          else if (typeof x === 'number') promptTokens++;
          else if (Array.isArray(x)) promptTokens += x.length;
          else return bad('prompt must be a string or an array');
        }
      } else if (p !== undefined && p !== null) return bad('prompt must be a string or an array');
      job.id = newId('cmpl-');
    }
    job.created = Math.floor(Date.now() / 1000);
  }
  if (cap > 0 && cap < job.n) { job.n = cap; job.truncated = true; }
  job.half = job.n >> 1;
  job.promptTokens = Math.max(1, promptTokens);

  acquire(job);
}

// ---------------------------------------------------------------------------
// control and metadata endpoints

function statsObj() {
  return {
    name: cfg.name,
    model: cfg.model,
    requests: st.requests,
    inflight,
    queued,
    max_inflight_seen: st.max_inflight_seen,
    last_model: st.last_model,
    last_path: st.last_path,
    completed: st.completed,
    aborted: st.aborted,
    failed: st.failed,
    hanging,
    by_path: st.by_path,
    config: configObj(),
    pid: process.pid,
  };
}

function configObj() {
  return {
    ttft: cfg.ttft, tps: cfg.tps, tokens: cfg.tokens, slots: cfg.slots,
    fail: cfg.fail, model: cfg.model, name: cfg.name,
  };
}

function handleConfig(res, raw) {
  let body;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    return sendErr(res, 'ollama', 400, `invalid JSON: ${e.message}`);
  }
  if (!isObj(body)) return sendErr(res, 'ollama', 400, 'config must be a JSON object');
  const next = Object.assign({}, cfg);
  try {
    for (const k of Object.keys(body)) {
      const v = body[k];
      switch (k) {
        case 'ttft': next.ttft = parseNum('ttft', v, false, MAX_MS); break;
        case 'tps': next.tps = parseNum('tps', v, false, 1e9); break;
        case 'tokens': next.tokens = parseNum('tokens', v, true, MAX_TOKENS); break;
        case 'slots': next.slots = parseNum('slots', v, true, MAX_SLOTS); break;
        case 'fail': next.fail = parseFail(v); break;
        case 'model':
        case 'name':
          if (typeof v !== 'string' || v === '') throw new Error(`${k} must be a non-empty string`);
          next[k] = v;
          break;
        default: throw new Error(`unknown config key "${k}"`);
      }
    }
  } catch (e) {
    return sendErr(res, 'ollama', 400, e.message);
  }
  Object.assign(cfg, next);
  nameHv = hv(cfg.name);
  dispatch(); // more slots may be free now
  sendJson(res, 200, configObj());
}

function resetStats() {
  st = freshStats();
  st.max_inflight_seen = inflight;
}

function handleShow(res, raw) {
  let body;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    return sendErr(res, 'ollama', 400, `invalid JSON: ${e.message}`);
  }
  const m = isObj(body) ? (typeof body.model === 'string' && body.model) || (typeof body.name === 'string' && body.name) : null;
  if (!m) return sendErr(res, 'ollama', 400, 'model is required');
  if (normModel(m) !== normModel(cfg.model)) return sendErr(res, 'ollama', 404, `model '${m}' not found`);
  sendJson(res, 200, {
    license: '',
    modelfile: `# Modelfile generated by mock-ollama\nFROM ${cfg.model}\n`,
    parameters: 'stop                           "<|eot_id|>"',
    template: '{{ .Prompt }}',
    details: modelDetails(),
    model_info: {
      'general.architecture': 'llama',
      'general.parameter_count': 3212749888,
      'llama.context_length': 131072,
    },
    capabilities: ['completion', 'tools'],
    modified_at: startedIso,
  });
}

// ---------------------------------------------------------------------------
// routing

// path -> { METHOD: handler(req, res, path, query, rawBody) }
const ROUTES = {
  '/': {
    GET: (req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 17, 'X-Mock-Name': nameHv });
      res.end('Ollama is running');
    },
  },
  '/api/version': { GET: (req, res) => sendJson(res, 200, { version: OLLAMA_VERSION }) },
  '/api/tags': { GET: (req, res) => sendJson(res, 200, { models: [modelEntry()] }) },
  '/api/ps': {
    GET: (req, res) => {
      const e = modelEntry();
      delete e.modified_at;
      e.expires_at = new Date(Date.now() + 5 * 60 * 1000).toISOString();
      e.size_vram = e.size;
      e.context_length = 4096;
      sendJson(res, 200, { models: [e] });
    },
  },
  '/api/show': { POST: (req, res, p, q, raw) => handleShow(res, raw) },
  '/v1/models': {
    GET: (req, res) => sendJson(res, 200, {
      object: 'list',
      data: [{ id: cfg.model, object: 'model', created: Math.floor(Date.parse(startedIso) / 1000), owned_by: 'library' }],
    }),
  },
  '/_mock/stats': { GET: (req, res) => sendJson(res, 200, statsObj()) },
  '/_mock/reset': { POST: (req, res) => { resetStats(); sendJson(res, 200, statsObj()); } },
  '/_mock/config': {
    GET: (req, res) => sendJson(res, 200, configObj()),
    POST: (req, res, p, q, raw) => handleConfig(res, raw),
  },
};
for (const p of Object.keys(GEN_PATHS)) {
  const kind = GEN_PATHS[p];
  ROUTES[p] = { POST: (req, res, path, query, raw) => handleGeneration(req, res, kind, path, query, raw) };
}

function route(req, res, raw) {
  let url = req.url || '/';
  if (!url.startsWith('/')) { // absolute-form request target
    try {
      const u = new URL(url);
      url = u.pathname + u.search;
    } catch (e) {
      url = '/';
    }
  }
  const q = url.indexOf('?');
  const path = q >= 0 ? url.slice(0, q) : url;
  const query = q >= 0 ? url.slice(q + 1) : '';
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  if (opts.verbose) log(`${req.method} ${url}`);

  let r = ROUTES[path];
  if (!r && path.startsWith('/v1/models/') && path.length > 11) {
    const id = decodeURIComponent(path.slice(11));
    r = {
      GET: (rq, rs) => (normModel(id) === normModel(cfg.model)
        ? sendJson(rs, 200, { id: cfg.model, object: 'model', created: Math.floor(Date.parse(startedIso) / 1000), owned_by: 'library' })
        : sendErr(rs, 'openai', 404, `model "${id}" not found`)),
    };
  }
  const style = styleOfPath(path);
  if (!r) return sendErr(res, style, 404, `404 page not found: ${path}`);
  const h = r[method];
  if (!h) {
    const allow = Object.keys(r).concat(r.GET ? ['HEAD'] : []).join(', ');
    const extra = { Allow: allow };
    if (GEN_PATHS[path]) extra['X-Mock-Model'] = '';
    return sendErr(res, style, 405, `method ${req.method} not allowed on ${path}`, extra);
  }
  return h(req, res, path, query, raw);
}

function onRequest(req, res) {
  const chunks = [];
  let size = 0;
  let tooBig = false;
  req.on('error', () => {});
  req.on('data', (c) => {
    if (tooBig) return;
    size += c.length;
    if (size > MAX_BODY) {
      tooBig = true;
      chunks.length = 0;
      sendErr(res, styleOfPath(req.url || ''), 413, `request body larger than ${MAX_BODY} bytes`, { Connection: 'close' });
      destroyAfterFlush(req.socket);
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (tooBig) return;
    const raw = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
    try {
      route(req, res, raw);
    } catch (e) {
      process.stderr.write(`mock-ollama: internal error: ${e && e.stack}\n`);
      if (!res.headersSent) sendErr(res, styleOfPath(req.url || ''), 500, `mock-ollama internal error: ${e && e.message}`);
      else res.destroy();
    }
  });
}

// ---------------------------------------------------------------------------
// server

const server = http.createServer({ noDelay: true, requestTimeout: 0, headersTimeout: 70000 }, onRequest);
server.keepAliveTimeout = 65000; // longer than nginx's upstream keepalive_timeout (60 s)
server.headersTimeout = 70000;   // only limits receiving request headers
server.requestTimeout = 0;       // never cut a slow request/stream
server.timeout = 0;
server.maxRequestsPerSocket = 0;

const sockets = new Set();
server.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});

server.on('clientError', (err, sock) => {
  if (err && err.code === 'ECONNRESET') return sock.destroy();
  if (!sock.writable || sock.destroyed) return sock.destroy();
  const body = JSON.stringify({ error: `bad request: ${err && err.code ? err.code : 'parse error'}` });
  sock.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
});

server.on('error', (e) => {
  process.stderr.write(`mock-ollama: ${e.message}\n`);
  process.exit(1);
});

server.listen(opts.port, opts.host, () => {
  const addr = server.address();
  const port = addr && typeof addr === 'object' ? addr.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  if (opts.readyFile) {
    const tmp = `${opts.readyFile}.${process.pid}.tmp`;
    try {
      fs.writeFileSync(tmp, String(port));
      fs.renameSync(tmp, opts.readyFile);
    } catch (e) {
      process.stderr.write(`mock-ollama: cannot write ready file: ${e.message}\n`);
      process.exit(1);
    }
  }
  process.stdout.write(`mock-ollama listening on ${host}:${port} model=${cfg.model}\n`);
});

if (opts.readyFile) {
  try { fs.unlinkSync(opts.readyFile); } catch (e) { /* not there */ }
}

let stopping = false;
function shutdown(sig) {
  if (stopping) return;
  stopping = true;
  if (opts.verbose) log(`${sig}, exiting`);
  try { server.close(); } catch (e) { /* ignore */ }
  for (const s of sockets) s.destroy();
  if (opts.readyFile) {
    try { fs.unlinkSync(opts.readyFile); } catch (e) { /* ignore */ }
  }
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

// A mock must not die on a bug in one request: log and carry on.
process.on('uncaughtException', (e) => {
  try { process.stderr.write(`mock-ollama: uncaught exception: ${e && e.stack}\n`); } catch (e2) { /* ignore */ }
});
