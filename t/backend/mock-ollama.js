#!/usr/bin/env node
// mock-ollama.js - a small, fast, dependency-free mock of an Ollama server
// (native /api/* endpoints and the OpenAI-compatible /v1/* endpoints), used
// by the ngx_llm_router test suites and benchmarks.
//
// Wherever a client can tell, it behaves like the real server: the
// behaviours below were ported from Ollama's Go source (v0.32.15 /
// v0.33.0-rc2, which do not differ in these files) and each one names the
// file and function it comes from.  The code is written afresh; no Ollama
// code or text is copied.  What is mock-only (timing knobs, failure
// injection, the X-Mock-* headers and the /_mock/* endpoints) says so.
//
// Standard library only; Node.js 18 or newer.  See t/backend/README.md.
'use strict';

const http = require('http');
const fs = require('fs');
const os = require('os');
const net = require('net');
const crypto = require('crypto');
const { performance } = require('perf_hooks');

// version/version.go is "0.0.0" in the source tree; releases stamp the tag.
// 0.32.15 is the newest release tag (0.33.0 is still at -rc2, with the same
// code in every file ported here).
const DEFAULT_VERSION = '0.32.15';
const MAX_BODY = 32 * 1024 * 1024; // mock-only: Ollama itself has no body limit
const MAX_TOKENS = 1000000;
const MAX_SLOTS = 100000;
const MAX_MS = 3600 * 1000;
const DEFAULT_THINK_TOKENS = 6;
const DEFAULT_NUM_CTX = 4096;
const EMBED_DIM = 8;
// api/types.go Duration.UnmarshalJSON and envconfig.KeepAlive: a negative
// keep_alive means time.Duration(math.MaxInt64), about 292 years.
const FOREVER_MS = 9223372036854.775; // math.MaxInt64 ns, in ms
const MAX_TIMER_MS = 2147483647;      // longer setTimeout delays fire at once
// llm/llama_server.go (Completion): what a runner that dies mid-answer reports
const MIDSTREAM_ERROR = 'an error was encountered while running the model: unexpected EOF';

// ---------------------------------------------------------------------------
// Go compatibility helpers

// time.ParseDuration (Go standard library), returning milliseconds.  Throws
// an Error carrying Go's message.
const DURATION_UNIT_MS = {
  ns: 1e-6, us: 1e-3, '\u00b5s': 1e-3, '\u03bcs': 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3,
};
function goQuote(s) {
  return JSON.stringify(String(s));
}
function goParseDuration(orig) {
  let s = orig;
  let neg = false;
  const invalid = () => new Error(`time: invalid duration ${goQuote(orig)}`);
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') throw invalid();
  let d = 0;
  while (s !== '') {
    if (!(s[0] === '.' || (s[0] >= '0' && s[0] <= '9'))) throw invalid();
    const ip = /^[0-9]*/.exec(s)[0];
    s = s.slice(ip.length);
    let fp = '';
    if (s[0] === '.') {
      s = s.slice(1);
      fp = /^[0-9]*/.exec(s)[0];
      s = s.slice(fp.length);
    }
    if (ip === '' && fp === '') throw invalid();
    let i = 0;
    while (i < s.length && s[i] !== '.' && !(s[i] >= '0' && s[i] <= '9')) i++;
    if (i === 0) throw new Error(`time: missing unit in duration ${goQuote(orig)}`);
    const u = s.slice(0, i);
    s = s.slice(i);
    const unit = DURATION_UNIT_MS[u];
    if (unit === undefined) throw new Error(`time: unknown unit ${goQuote(u)} in duration ${goQuote(orig)}`);
    d += Number(`${ip || '0'}.${fp || '0'}`) * unit;
  }
  if (d > FOREVER_MS) throw invalid();
  return neg ? -d : d;
}

// api/types.go Duration.UnmarshalJSON: a number is seconds, a string is a
// Go duration, a negative value means forever.  Returns ms (Infinity for
// forever); throws with Go's message.
function keepAliveMs(v) {
  if (typeof v === 'number') return v < 0 ? Infinity : v * 1000;
  if (typeof v === 'string') {
    const d = goParseDuration(v);
    return d < 0 ? Infinity : d;
  }
  throw new Error(`Unsupported type: '${goTypeOf(v)}'`);
}

// envconfig.KeepAlive (OLLAMA_KEEP_ALIVE): a Go duration or whole seconds.
function parseKeepAliveOpt(v) {
  let d;
  try {
    d = goParseDuration(String(v));
  } catch (e) {
    if (!/^[+-]?\d+$/.test(String(v))) throw new Error(`invalid keep-alive "${v}" (a Go duration such as 5m, or seconds)`);
    d = Number(v) * 1000;
  }
  return d < 0 ? Infinity : d;
}

// reflect.TypeOf(v).String() for a value decoded by encoding/json into any.
function goTypeOf(v) {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'float64';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return '[]interface {}';
  return 'map[string]interface {}';
}

// The JSON kind encoding/json names in an UnmarshalTypeError.
function jsonKind(v) {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return 'array';
  return 'object';
}

// encoding/json scanner.go quoteChar: how a bad byte is shown in a
// SyntaxError.  Works on the first UTF-8 byte of the character.
function goQuoteChar(ch) {
  let c = ch.codePointAt(0);
  if (c >= 0x80) c = Buffer.from(String.fromCodePoint(c), 'utf8')[0];
  if (c === 0x27) return "'\\''";
  if (c === 0x22) return "'\"'";
  const esc = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 0x5c: '\\\\' };
  if (esc[c]) return `'${esc[c]}'`;
  if (c < 0x20 || c === 0x7f) return `'\\x${c.toString(16).padStart(2, '0')}'`;
  if (c >= 0x80 && c <= 0xa0) return `'\\u00${c.toString(16)}'`;
  if (c === 0xad) return "'\\u00ad'";
  return `'${String.fromCharCode(c)}'`;
}

// json.Decoder.Decode as gin's ShouldBindJSON uses it: find the first JSON
// value of the body, with encoding/json's SyntaxError wording (scanner.go).
// Returns {eof: true} for an empty body (io.EOF), {err} or {start, end}.
// Data after the first value is ignored, as the Decoder does.
function goScanJson(s) {
  const n = s.length;
  let i = 0;
  const isWs = (ch) => ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r';
  const isDigit = (ch) => ch >= '0' && ch <= '9';
  const skip = () => { while (i < n && isWs(s[i])) i++; };
  const bad = (what) => ({ err: `invalid character ${goQuoteChar(s[i])} ${what}` });
  const UEOF = { err: 'unexpected EOF' };
  skip();
  if (i >= n) return { eof: true };
  const start = i;
  const stack = [];
  let state = 'value';
  for (;;) {
    if (state === 'value') {
      skip();
      if (i >= n) return UEOF;
      const c = s[i];
      if (c === '{' || c === '[') {
        if (stack.length >= 10000) return bad('exceeded max depth');
        stack.push(c);
        i++;
        skip();
        if (i >= n) return UEOF;
        if (s[i] === (c === '{' ? '}' : ']')) {
          stack.pop();
          i++;
          state = 'after';
        } else {
          state = c === '{' ? 'key' : 'value';
        }
        continue;
      }
      if (c === '"') {
        const r = scanString();
        if (r) return r;
      } else if (c === '-' || isDigit(c)) {
        if (c === '-') {
          i++;
          if (i >= n) return UEOF;
          if (!isDigit(s[i])) return bad('in numeric literal');
        }
        if (s[i] === '0') i++;
        else while (i < n && isDigit(s[i])) i++;
        if (i < n && s[i] === '.') {
          i++;
          if (i >= n) return UEOF;
          if (!isDigit(s[i])) return bad('after decimal point in numeric literal');
          while (i < n && isDigit(s[i])) i++;
        }
        if (i < n && (s[i] === 'e' || s[i] === 'E')) {
          i++;
          if (i < n && (s[i] === '+' || s[i] === '-')) i++;
          if (i >= n) return UEOF;
          if (!isDigit(s[i])) return bad('in exponent of numeric literal');
          while (i < n && isDigit(s[i])) i++;
        }
      } else if (c === 't' || c === 'f' || c === 'n') {
        const word = c === 't' ? 'true' : c === 'f' ? 'false' : 'null';
        for (let k = 1; k < word.length; k++) {
          i++;
          if (i >= n) return UEOF;
          if (s[i] !== word[k]) return bad(`in literal ${word} (expecting '${word[k]}')`);
        }
        i++;
      } else {
        return bad('looking for beginning of value');
      }
      state = 'after';
      continue;
    }
    if (state === 'key') {
      skip();
      if (i >= n) return UEOF;
      if (s[i] !== '"') return bad('looking for beginning of object key string');
      const r = scanString();
      if (r) return r;
      skip();
      if (i >= n) return UEOF;
      if (s[i] !== ':') return bad('after object key');
      i++;
      state = 'value';
      continue;
    }
    // state 'after': a value just ended
    if (stack.length === 0) return { start, end: i };
    skip();
    if (i >= n) return UEOF;
    const top = stack[stack.length - 1];
    if (s[i] === ',') {
      i++;
      state = top === '{' ? 'key' : 'value';
    } else if (s[i] === (top === '{' ? '}' : ']')) {
      stack.pop();
      i++;
    } else {
      return bad(top === '{' ? 'after object key:value pair' : 'after array element');
    }
  }

  function scanString() { // s[i] is the opening quote
    i++;
    for (;;) {
      if (i >= n) return UEOF;
      const c = s[i];
      if (c === '"') { i++; return null; }
      if (c === '\\') {
        i++;
        if (i >= n) return UEOF;
        if ('"\\/bfnrt'.includes(s[i])) { i++; continue; }
        if (s[i] !== 'u') return bad('in string escape code');
        i++;
        for (let k = 0; k < 4; k++, i++) {
          if (i >= n) return UEOF;
          if (!/[0-9a-fA-F]/.test(s[i])) return bad('in \\u hexadecimal character escape');
        }
        continue;
      }
      if (c.charCodeAt(0) < 0x20) return bad('in string literal');
      i++;
    }
  }
}

// Request shapes, for encoding/json's type errors (api/types.go,
// openai/openai.go).  k: string|bool|int|float|any|map|slice|struct|think|duration.
const STR = { k: 'string', go: 'string' };
const BOOL = { k: 'bool', go: 'bool' };
const INT = { k: 'int', go: 'int' };
const F64 = { k: 'float', go: 'float64' };
const F32 = { k: 'float', go: 'float32' };
const ANY = { k: 'any' };
const MAP = { k: 'map', go: 'map[string]interface {}' };
const THINK = { k: 'think' };
const DURATION = { k: 'duration' };
function struct(name, go, fields, custom) {
  return { k: 'struct', name, go, fields, custom: !!custom };
}
function slice(go, elem) {
  return { k: 'slice', go, elem };
}
const API_TOOL = struct('Tool', 'api.Tool', {
  type: STR, items: ANY,
  function: struct('ToolFunction', 'api.ToolFunction', { name: STR, description: STR, parameters: ANY }),
});
// api.Message has its own UnmarshalJSON (it lower-cases the role)
const API_MESSAGE = struct('Message', 'api.Message', {
  role: STR, content: STR, thinking: STR, images: ANY, tool_calls: ANY, tool_name: STR, tool_call_id: STR,
}, true);
const REQ = {
  generate: struct('GenerateRequest', 'api.GenerateRequest', {
    model: STR, prompt: STR, suffix: STR, system: STR, template: STR, context: slice('[]int', INT),
    stream: BOOL, raw: BOOL, format: ANY, keep_alive: DURATION, images: ANY, options: MAP, think: THINK,
    truncate: BOOL, shift: BOOL, _debug_render_only: BOOL, logprobs: BOOL, top_logprobs: INT,
  }),
  chat: struct('ChatRequest', 'api.ChatRequest', {
    model: STR, messages: slice('[]api.Message', API_MESSAGE), stream: BOOL, format: ANY,
    keep_alive: DURATION, tools: slice('api.Tools', API_TOOL), options: MAP, think: THINK,
    truncate: BOOL, shift: BOOL, _debug_render_only: BOOL, logprobs: BOOL, top_logprobs: INT,
  }),
  embed: struct('EmbedRequest', 'api.EmbedRequest', {
    model: STR, input: ANY, keep_alive: DURATION, truncate: BOOL, dimensions: INT, options: MAP,
  }),
  embeddings: struct('EmbeddingRequest', 'api.EmbeddingRequest', {
    model: STR, prompt: STR, keep_alive: DURATION, options: MAP,
  }),
  show: struct('ShowRequest', 'api.ShowRequest', {
    model: STR, system: STR, template: STR, verbose: BOOL, options: MAP, name: STR,
  }),
  oa_chat: struct('ChatCompletionRequest', 'openai.ChatCompletionRequest', {
    model: STR,
    messages: slice('[]openai.Message', struct('Message', 'openai.Message', {
      role: STR, content: ANY, reasoning: STR, tool_calls: ANY, name: STR, tool_call_id: STR,
    })),
    stream: BOOL,
    stream_options: struct('StreamOptions', 'openai.StreamOptions', { include_usage: BOOL }),
    max_tokens: INT, seed: INT, stop: ANY, temperature: F64, frequency_penalty: F64,
    presence_penalty: F64, top_p: F64,
    response_format: struct('ResponseFormat', 'openai.ResponseFormat', { type: STR, json_schema: ANY }),
    tools: slice('[]api.Tool', API_TOOL),
    reasoning: struct('Reasoning', 'openai.Reasoning', { effort: STR }),
    reasoning_effort: STR, logprobs: BOOL, top_logprobs: INT, _debug_render_only: BOOL,
  }),
  oa_completion: struct('CompletionRequest', 'openai.CompletionRequest', {
    model: STR, prompt: STR, frequency_penalty: F32, max_tokens: INT, presence_penalty: F32, seed: INT,
    stop: ANY, stream: BOOL,
    stream_options: struct('StreamOptions', 'openai.StreamOptions', { include_usage: BOOL }),
    temperature: F32, top_p: F32, suffix: STR, logprobs: INT, _debug_render_only: BOOL,
  }),
  oa_embed: struct('EmbedRequest', 'openai.EmbedRequest', {
    input: ANY, model: STR, dimensions: INT, encoding_format: STR,
  }),
};

class GoHardError extends Error {}

// api/types.go ThinkValue.UnmarshalJSON
function thinkValue(v) {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    if (v === 'high' || v === 'medium' || v === 'low' || v === 'max') return v;
    throw new GoHardError(`invalid think value: ${goQuote(v)} (must be "high", "medium", "low", "max", true, or false)`);
  }
  throw new GoHardError('think must be a boolean or string ("high", "medium", "low", "max", true, or false)');
}

// encoding/json decoding of an already scanned value into one of the
// request shapes above: unknown keys are ignored, keys match fields
// case-insensitively, null leaves a field unset, the first type error is
// reported once the whole value is read, an UnmarshalJSON error at once.
function goDecodeValue(v, spec, ctx, state) {
  if (v === null) return undefined;
  const typeErr = (value) => {
    if (state.first === null) {
      state.first = `json: cannot unmarshal ${value} into Go struct field ${ctx.struct}.${ctx.path.join('.')} of type ${spec.go}`;
    }
    return undefined;
  };
  switch (spec.k) {
    case 'any': return v;
    case 'string': return typeof v === 'string' ? v : typeErr(jsonKind(v));
    case 'bool': return typeof v === 'boolean' ? v : typeErr(jsonKind(v));
    case 'int':
      if (typeof v !== 'number') return typeErr(jsonKind(v));
      if (!Number.isInteger(v) || Math.abs(v) > 9223372036854775807) return typeErr(`number ${v}`);
      return v;
    case 'float': return typeof v === 'number' ? v : typeErr(jsonKind(v));
    case 'map': return isObj(v) ? v : typeErr(jsonKind(v));
    case 'think': return thinkValue(v);
    case 'duration':
      try {
        return keepAliveMs(v);
      } catch (e) {
        throw new GoHardError(e.message);
      }
    case 'slice': {
      if (!Array.isArray(v)) return typeErr(jsonKind(v));
      const out = [];
      for (const e of v) out.push(goDecodeValue(e, spec.elem, ctx, state));
      return out;
    }
    case 'struct': {
      if (!isObj(v)) {
        // api.Message unmarshals itself through a local "Alias" type, and
        // its error stops the decoding at once
        if (spec.custom) {
          throw new GoHardError(`json: cannot unmarshal ${jsonKind(v)} into Go struct field ${ctx.struct}.${ctx.path.join('.')} of type api.Alias`);
        }
        return typeErr(jsonKind(v));
      }
      const names = Object.keys(spec.fields);
      const out = {};
      const inner = spec.custom ? { first: null } : state;
      for (const key of Object.keys(v)) {
        let f = Object.prototype.hasOwnProperty.call(spec.fields, key) ? key : null;
        if (f === null) {
          const lk = key.toLowerCase();
          f = names.find((x) => x.toLowerCase() === lk) || null;
        }
        if (f === null) continue;
        const sub = { struct: spec.custom ? ctx.struct : spec.name, path: ctx.path.concat(f) };
        const val = goDecodeValue(v[key], spec.fields[f], sub, inner);
        if (val !== undefined) out[f] = val;
        else delete out[f];
      }
      // a type that unmarshals itself fails its parent at once
      if (spec.custom && inner.first !== null) throw new GoHardError(inner.first);
      return out;
    }
    default: return v;
  }
}

// gin's ShouldBindJSON into a request struct.  Returns {value}, {eof} or
// {err} with encoding/json's message.
function goDecode(raw, spec) {
  const text = raw.toString('utf8');
  const sc = goScanJson(text);
  if (sc.eof) return { eof: true, err: 'EOF' };
  if (sc.err) return { err: sc.err };
  let v;
  try {
    v = JSON.parse(text.slice(sc.start, sc.end));
  } catch (e) {
    return { err: e.message };
  }
  if (v === null) return { value: {} };
  if (!isObj(v)) return { err: `json: cannot unmarshal ${jsonKind(v)} into Go value of type ${spec.go}` };
  const state = { first: null };
  try {
    const value = goDecodeValue(v, spec, { struct: spec.name, path: [] }, state);
    if (state.first !== null) return { err: state.first };
    return { value };
  } catch (e) {
    if (e instanceof GoHardError) return { err: e.message };
    throw e;
  }
}

// encoding/json escapes <, >, & and U+2028/U+2029 in strings by default;
// gin's c.JSON and the openai middleware's json.Encoder both do.
const GO_ESCAPES = { '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029' };
function goJson(obj) {
  const s = JSON.stringify(obj);
  return /[<>&\u2028\u2029]/.test(s) ? s.replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c]) : s;
}

// time.Time's JSON form (RFC 3339 with fractional seconds), in UTC.
function isoTime(ms) {
  return new Date(ms).toISOString();
}

// ---------------------------------------------------------------------------
// model names: types/model/name.go and internal/modelref/modelref.go

const NAME_DEFAULTS = { host: 'registry.ollama.ai', namespace: 'library', tag: 'latest' };
const MISSING_PART = '!MISSING!';

// types/model/name.go cutPromised: cut at the last sep; an empty side
// becomes MissingPart so that the name is not valid.
function cutPromised(s, sep) {
  const i = s.lastIndexOf(sep);
  if (i < 0) return { before: s, after: '', ok: false };
  return { before: s.slice(0, i) || MISSING_PART, after: s.slice(i + sep.length) || MISSING_PART, ok: true };
}

// types/model/name.go ParseNameBare + Merge(DefaultName()) = ParseName:
// [host/][namespace/]model[:tag], defaults registry.ollama.ai, library,
// latest.  A ":" counts as the tag separator only after the last "/".
function parseName(str) {
  const n = { host: '', namespace: '', model: '', tag: '' };
  let s = str;
  if (s.lastIndexOf(':') > s.lastIndexOf('/')) {
    const c = cutPromised(s, ':');
    s = c.before;
    n.tag = c.after;
  }
  let c = cutPromised(s, '/');
  if (!c.ok) {
    n.model = s;
  } else {
    s = c.before;
    n.model = c.after;
    c = cutPromised(s, '/');
    if (!c.ok) {
      n.namespace = s;
    } else {
      n.namespace = c.after;
      const k = c.before.indexOf('://');
      n.host = k >= 0 ? c.before.slice(k + 3) : c.before;
    }
  }
  n.host = n.host || NAME_DEFAULTS.host;
  n.namespace = n.namespace || NAME_DEFAULTS.namespace;
  n.tag = n.tag || NAME_DEFAULTS.tag;
  return n;
}

// types/model/name.go isValidPart / IsValid
function isValidPart(kind, s) {
  const max = kind === 'host' ? 350 : 80;
  if (s.length < 1 || s.length > max) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    const alnum = /[A-Za-z0-9_]/.test(c);
    if (i === 0) {
      if (!alnum) return false;
      continue;
    }
    if (c === '-' || alnum) continue;
    if (c === '.' && kind !== 'namespace') continue;
    if (c === ':' && kind === 'host') continue;
    return false;
  }
  return true;
}
function nameIsValid(n) {
  return isValidPart('host', n.host) && isValidPart('namespace', n.namespace)
    && isValidPart('model', n.model) && isValidPart('tag', n.tag);
}

// types/model/name.go Name.String: the fully qualified form
function nameString(n) {
  return `${n.host}/${n.namespace}/${n.model}:${n.tag}`;
}

// types/model/name.go DisplayShortest: host and namespace only when they
// are not the defaults (compared case-insensitively); model and tag always.
function displayShortest(n) {
  let p = '';
  if (n.host.toLowerCase() !== NAME_DEFAULTS.host) p = `${n.host}/${n.namespace}/`;
  else if (n.namespace.toLowerCase() !== NAME_DEFAULTS.namespace) p = `${n.namespace}/`;
  return `${p}${n.model}:${n.tag}`;
}

// Names compare case-insensitively part by part (types/model/name.go
// EqualFold; server/routes.go getExistingName matches each part with
// strings.EqualFold), so the lower-cased full name is the lookup key.
function nameKey(n) {
  return nameString(n).toLowerCase();
}

// internal/modelref/modelref.go parseSourceSuffix: ":local", ":cloud" or a
// tag ending in "-cloud" name the source explicitly.
function parseSourceSuffix(raw) {
  const i = raw.lastIndexOf(':');
  if (i >= 0) {
    const suffixRaw = raw.slice(i + 1).trim();
    const suffix = suffixRaw.toLowerCase();
    if (suffix === 'cloud') return { base: raw.slice(0, i), source: 'cloud', explicit: true };
    if (suffix === 'local') return { base: raw.slice(0, i), source: 'local', explicit: true };
    if (!suffixRaw.includes('/') && suffix.endsWith('-cloud')) {
      return { base: raw.slice(0, i + 1) + suffixRaw.slice(0, -6), source: 'cloud', explicit: true };
    }
  }
  return { base: raw, source: '', explicit: false };
}

// internal/modelref/modelref.go ParseRef + server/model_resolver.go
// parseAndValidateModelRef: trim spaces, take off an explicit source
// suffix, then ParseName.  Cloud models (":cloud", "-cloud", proxied to
// ollama.com by the real server) are not emulated: the mock has none, so
// they are not found.
function parseModelRef(raw) {
  const s = String(raw).trim();
  if (s === '') return { err: 'required' };
  const p = parseSourceSuffix(s);
  if (p.explicit && parseSourceSuffix(p.base).explicit) {
    return { err: 'conflict', msg: `use either :local or :cloud, not both: ${goQuote(s)}` };
  }
  const name = parseName(p.base);
  if (!nameIsValid(name)) return { err: 'invalid' };
  return { name, key: p.source === 'cloud' ? `cloud:${nameKey(name)}` : nameKey(name) };
}

// ---------------------------------------------------------------------------
// command line

const USAGE = `usage: mock-ollama.js [options]
  --host ADDR         listen address (default 127.0.0.1)
  --port N            listen port (default 11434; 0 = any free port)
  --model NAME        the server's main model, loaded at start (default llama3.2:3b)
  --models A,B,...    more models the server has pulled (not loaded)
  --name LABEL        instance label, sent as X-Mock-Name (default = model)
  --ttft MS           time to first token in ms (default 0)
  --tps N             tokens per second, 0 = no delay (default 0)
  --tokens N          answer tokens per answer (default 8)
  --think-tokens N    thinking tokens of thinking models (default 6; others never think)
  --slots N           parallel generation slots, others wait FIFO (default 4)
  --keep-alive DUR    how long a model stays loaded after use, as OLLAMA_KEEP_ALIVE (default 5m)
  --load-ms N         time to load a model that is not loaded, before its first token (default 0)
  --prefill-ms N      per earlier message of a chat whose conversation is not in the
                      server's KV cache (default 0; one conversation per slot is kept)
  --version V         version reported by /api/version (default ${DEFAULT_VERSION})
  --fail MODE         none | STATUS (400-599) | hang | close | reset | midstream (default none)
  --ready-file PATH   write the listening port to PATH once listening
  --verbose           log one line per request to stderr
  --help              this text
Per-request headers: X-Mock-Fail, X-Mock-Ttft, X-Mock-Tps, X-Mock-Tokens,
X-Mock-Think-Tokens, X-Mock-Echo: 1
`;

function die(msg) {
  process.stderr.write(`mock-ollama: ${msg}\n`);
  process.exit(2);
}

// Parse a failure mode: null (none), a status number, or a mode name.
// Throws on anything else.
function parseFail(v) {
  if (v === null || v === undefined) return null;
  const s = String(v).trim().toLowerCase();
  if (s === '' || s === 'none' || s === 'off' || s === 'false') return null;
  if (s === 'hang' || s === 'close' || s === 'reset' || s === 'midstream') return s;
  if (/^\d{3}$/.test(s)) {
    const n = Number(s);
    if (n >= 400 && n <= 599) return n;
  }
  throw new Error(`invalid fail mode "${v}" (expected none, a status 400-599, hang, close, reset or midstream)`);
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

function parseModelName(what, v) {
  if (typeof v !== 'string' || v.trim() === '') throw new Error(`${what} must be a non-empty string`);
  if (!nameIsValid(parseName(v.trim()))) throw new Error(`invalid model name "${v}" in ${what}`);
  return v.trim();
}

function parseModelList(what, v) {
  const list = Array.isArray(v) ? v : String(v).split(',');
  const out = [];
  for (const m of list) {
    if (typeof m === 'string' && m.trim() === '' && !Array.isArray(v)) continue;
    out.push(parseModelName(what, m));
  }
  return out;
}

function parseArgs(argv) {
  const o = {
    host: '127.0.0.1', port: 11434, model: 'llama3.2:3b', models: [], name: null,
    ttft: 0, tps: 0, tokens: 8, thinkTokens: null, slots: 4, fail: null, keepAlive: 5 * 60 * 1000,
    loadMs: 0, prefillMs: 0,
    version: DEFAULT_VERSION, readyFile: null, verbose: false,
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
        case '--model': o.model = parseModelName('--model', val); break;
        case '--models': o.models = o.models.concat(parseModelList('--models', val)); break;
        case '--name': o.name = val; break;
        case '--ttft': o.ttft = parseNum('ttft', val, false, MAX_MS); break;
        case '--load-ms': o.loadMs = parseNum('load-ms', val, false, MAX_MS); break;
        case '--prefill-ms': o.prefillMs = parseNum('prefill-ms', val, false, MAX_MS); break;
        case '--tps': o.tps = parseNum('tps', val, false, 1e9); break;
        case '--tokens': o.tokens = parseNum('tokens', val, true, MAX_TOKENS); break;
        case '--think-tokens': o.thinkTokens = parseNum('think-tokens', val, true, MAX_TOKENS); break;
        case '--slots': o.slots = parseNum('slots', val, true, MAX_SLOTS); break;
        case '--keep-alive': o.keepAlive = parseKeepAliveOpt(val); break;
        case '--version':
          if (val === '') throw new Error('empty --version');
          o.version = val;
          break;
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
  model: opts.model, name: opts.name, models: [], thinkTokens: opts.thinkTokens, version: opts.version,
};

// Header values must be visible ASCII; anything else is percent-encoded.
function hv(s) {
  s = String(s);
  return /^[\x20-\x7e]*$/.test(s) ? s : encodeURIComponent(s);
}
let nameHv = hv(cfg.name);

const startMs = Date.now();

// ---------------------------------------------------------------------------
// model catalogue: what /api/tags, /api/show, /api/ps and /v1/models report
//
// The metadata imitates what Ollama reports for the real models (family,
// parameter size, quantization, context and embedding lengths, size on
// disk).  Capabilities follow server/images.go Model.Capabilities: GGUF
// models have "completion", or "embedding" when they have a pooling type;
// "tools" and "thinking" come from the template (gpt-oss always thinks,
// server/model_list_cache.go buildModelListSummary).  Digests are the
// sha256 of the name, so they are stable but not the registry's.

const LLAMA3_STOPS = ['<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'];
const FAMILIES = [
  {
    match: /^gpt-oss$/, arch: 'gptoss', caps: ['completion', 'tools', 'thinking'], harmony: true,
    quant: 'MXFP4', ctx: 131072, emb: 2880, blocks: 24, heads: 64, tokenizer: 'gpt2',
    sizes: { '20b': [20914757184, 13780173839], '120b': [116829156672, 65290180461] },
    license: 'Apache License\nVersion 2.0, January 2004', params: [['temperature', 1]],
  },
  {
    match: /^llama3\.[123]$|^llama3$/, arch: 'llama', caps: ['completion', 'tools'], quant: 'Q4_K_M',
    ctx: 131072, emb: 3072, blocks: 28, heads: 24, tokenizer: 'gpt2',
    sizes: { '1b': [1235814432, 1321098329], '3b': [3212749888, 2019393189], '8b': [8030261248, 4920753328], '70b': [70553706496, 42520413916] },
    license: 'LLAMA 3.2 COMMUNITY LICENSE AGREEMENT', params: LLAMA3_STOPS.map((s) => ['stop', s]),
    latest: '3b',
  },
  {
    match: /^qwen3$/, arch: 'qwen3', caps: ['completion', 'tools', 'thinking'], quant: 'Q4_K_M',
    ctx: 40960, emb: 4096, blocks: 36, heads: 32, tokenizer: 'gpt2', thinkTags: true,
    sizes: { '0.6b': [751632384, 522653767], '4b': [4022468096, 2497293918], '8b': [8190735360, 5225388164], '14b': [14768307200, 9276198565] },
    license: 'Apache License\nVersion 2.0, January 2004',
    params: [['repeat_penalty', 1], ['stop', '<|im_start|>'], ['stop', '<|im_end|>'], ['temperature', 0.6], ['top_k', 20], ['top_p', 0.95]],
    latest: '8b',
  },
  {
    match: /^deepseek-r1$/, arch: 'qwen3', caps: ['completion', 'tools', 'thinking'], quant: 'Q4_K_M',
    ctx: 131072, emb: 4096, blocks: 36, heads: 32, tokenizer: 'gpt2', thinkTags: true,
    sizes: { '8b': [8190735360, 5225376047] }, license: 'MIT License', params: [['temperature', 0.6], ['top_p', 0.95]],
    latest: '8b',
  },
  {
    match: /^mistral$/, arch: 'llama', caps: ['completion', 'tools'], quant: 'Q4_K_M', ctx: 32768, emb: 4096,
    blocks: 32, heads: 32, tokenizer: 'llama', sizes: { '7b': [7248023552, 4372824384] },
    license: 'Apache License\nVersion 2.0, January 2004', params: [['stop', '[INST]'], ['stop', '[/INST]']],
    latest: '7b',
  },
  {
    match: /^gemma3$/, arch: 'gemma3', caps: ['completion', 'vision'], quant: 'Q4_K_M', ctx: 131072, emb: 2560,
    blocks: 34, heads: 8, tokenizer: 'llama', sizes: { '1b': [999885952, 815319791], '4b': [4300079472, 3338801804], '12b': [12187079280, 8149190253] },
    license: 'Gemma Terms of Use', params: [['stop', '<end_of_turn>'], ['temperature', 1], ['top_k', 64], ['top_p', 0.95]],
    latest: '4b',
  },
  {
    match: /^nomic-embed-text$/, arch: 'nomic-bert', caps: ['embedding'], quant: 'F16', ctx: 2048, emb: 768,
    blocks: 12, heads: 12, tokenizer: 'bert', sizes: { latest: [136727040, 274302450], v1_5: [136727040, 274302450] },
    license: 'Apache License\nVersion 2.0, January 2004', params: [['num_ctx', 8192]],
  },
  {
    match: /^mxbai-embed-large$/, arch: 'bert', caps: ['embedding'], quant: 'F16', ctx: 512, emb: 1024, blocks: 24,
    heads: 16, tokenizer: 'bert', sizes: { latest: [334090240, 669615493], '335m': [334090240, 669615493] },
    license: 'Apache License\nVersion 2.0, January 2004', params: [],
  },
  {
    match: /^all-minilm$|embed|^bge-/, arch: 'bert', caps: ['embedding'], quant: 'F16', ctx: 512, emb: 384, blocks: 6,
    heads: 12, tokenizer: 'bert', sizes: { latest: [22565376, 45960996] },
    license: 'Apache License\nVersion 2.0, January 2004', params: [],
  },
];
const GENERIC_FAMILY = {
  arch: 'llama', caps: ['completion'], quant: 'Q4_K_M', ctx: 131072, emb: 3072, blocks: 28, heads: 24,
  tokenizer: 'gpt2', sizes: {}, license: '', params: [],
};
const BYTES_PER_PARAM = { MXFP4: 0.66, Q4_K_M: 0.63, Q8_0: 1.07, F16: 2.01 };
// format/format.go HumanNumber, as parameter_size shows it
function humanNumber(b) {
  const fmt = (x, unit) => (x === Math.floor(x) ? `${x}${unit}` : `${x.toFixed(1)}${unit}`);
  if (b >= 1e9) return fmt(Math.round(b / 1e8) / 10, 'B');
  if (b >= 1e6) return `${Math.round(b / 1e6)}M`;
  if (b >= 1e3) return `${Math.round(b / 1e3)}K`;
  return String(b);
}

// The modification times give /api/tags its order (newest first); every
// model keeps the time it was first seen.
const modTimes = new Map();
function modTime(key, fallbackMs) {
  if (!modTimes.has(key)) modTimes.set(key, fallbackMs);
  return modTimes.get(key);
}

function makeModel(display, modifiedAt) {
  const name = parseName(display);
  const key = nameKey(name);
  const base = name.model.toLowerCase();
  const tag = name.tag.toLowerCase();
  const fam = FAMILIES.find((f) => f.match.test(base)) || GENERIC_FAMILY;
  let sz = fam.sizes[tag] || (tag === 'latest' && fam.latest ? fam.sizes[fam.latest] : null);
  if (!sz) {
    const m = /(\d+(?:\.\d+)?)([bm])/i.exec(name.tag);
    const params = m ? Math.round(Number(m[1]) * (m[2].toLowerCase() === 'b' ? 1e9 : 1e6)) : 3212749888;
    sz = [params, Math.round(params * (BYTES_PER_PARAM[fam.quant] || 0.63))];
  }
  const digest = crypto.createHash('sha256').update(`mock-ollama:${key}`).digest('hex');
  return {
    name, key, display: displayShortest(name), fam,
    caps: fam.caps.slice(),
    thinking: fam.caps.includes('thinking'),
    harmony: !!fam.harmony,
    params: sz[0],
    paramSize: humanNumber(sz[0]),
    size: sz[1],
    digest,
    modifiedAt: modTime(key, modifiedAt),
  };
}

// All models of the server, by key: the main one first, then --models.
let catalog = new Map();
function rebuildCatalog(now) {
  const next = new Map();
  const add = (display, when) => {
    const m = makeModel(display, when);
    if (!next.has(m.key)) next.set(m.key, m);
  };
  add(cfg.model, now);
  cfg.models.forEach((d, i) => add(d, now - (i + 1) * 86400e3));
  catalog = next;
  cfg.models = [...catalog.values()].slice(1).map((m) => m.display);
}

function findModel(key) {
  return catalog.get(key) || null;
}

function mainModel() {
  return catalog.values().next().value;
}

// ---------------------------------------------------------------------------
// loaded models: server/sched.go
//
// A model is loaded by the first request that needs it (the scheduler's
// getRunner) and stays loaded for its keep-alive (the request's keep_alive,
// else OLLAMA_KEEP_ALIVE, here --keep-alive) after its last request ends
// (Scheduler.processCompleted: the timer starts when the reference count
// drops to zero; expires_at is then now + duration).  A request without
// keep_alive leaves a loaded model's duration as it is (useLoadedRunner).
// keep_alive 0 unloads as soon as the model is idle (expireRunner).

const loaded = new Map(); // key -> {m, refs, session, expiresAt, timer, ctx}

function loadModel(m, session, ctx) {
  // a cold start: the runner loads the weights first (server/sched.go load)
  const lm = { m, refs: 0, session, expiresAt: null, timer: null, ctx: Math.min(ctx || DEFAULT_NUM_CTX, m.fam.ctx),
               readyAt: Date.now() + opts.loadMs };
  loaded.set(m.key, lm);
  return lm;
}

// Get a model's runner for one request (Scheduler.getRunner).
function acquireModel(m, keepAlive, numCtx) {
  let lm = loaded.get(m.key);
  if (!lm) {
    lm = loadModel(m, keepAlive !== undefined ? keepAlive : opts.keepAlive, numCtx);
    st.loads++;
  } else {
    if (lm.timer) { clearTimeout(lm.timer); lm.timer = null; }
    if (keepAlive !== undefined) lm.session = keepAlive;
    if (numCtx) lm.ctx = Math.min(numCtx, m.fam.ctx);
  }
  lm.refs++;
  return lm;
}

function unloadModel(lm) {
  if (loaded.get(lm.m.key) !== lm) return;
  if (lm.timer) { clearTimeout(lm.timer); lm.timer = null; }
  loaded.delete(lm.m.key);
  st.unloads++;
}

// A request is done with its runner (Scheduler.processCompleted).
function releaseModel(lm) {
  if (!lm) return;
  lm.refs--;
  if (lm.refs > 0 || loaded.get(lm.m.key) !== lm) return;
  if (!(lm.session > 0)) {
    unloadModel(lm);
    return;
  }
  lm.expiresAt = Date.now() + Math.min(lm.session, FOREVER_MS);
  if (lm.session <= MAX_TIMER_MS) {
    lm.timer = setTimeout(() => {
      lm.timer = null;
      if (lm.refs <= 0) unloadModel(lm);
    }, lm.session);
    lm.timer.unref();
  }
}

// server/sched.go expireRunner: keep_alive 0 with nothing to generate.
function expireModel(m) {
  const lm = loaded.get(m.key);
  if (!lm) return;
  lm.expiresAt = Date.now();
  lm.session = 0;
  if (lm.timer) { clearTimeout(lm.timer); lm.timer = null; }
  if (lm.refs <= 0) unloadModel(lm);
}

// The main model is loaded at start as if preloaded with keep_alive -1:
// it stays until a request gives it another keep_alive.
function resetLoaded() {
  for (const lm of loaded.values()) if (lm.timer) clearTimeout(lm.timer);
  loaded.clear();
  const lm = loadModel(mainModel(), Infinity, 0);
  lm.expiresAt = Date.now() + FOREVER_MS;
  lm.readyAt = 0;                     // loaded before the first request
}

// ---------------------------------------------------------------------------
// counters and the slot queue

function freshStats() {
  return {
    requests: 0, completed: 0, aborted: 0, failed: 0, forbidden: 0, loads: 0, unloads: 0,
    max_inflight_seen: 0, last_model: null, last_path: null, by_path: {},
  };
}
let st = freshStats();
let inflight = 0;   // holding a slot
let queued = 0;     // waiting for a slot
let hanging = 0;    // held by fail=hang
const queue = [];   // FIFO of jobs waiting for a slot
let dispatching = false;

cfg.models = opts.models;
rebuildCatalog(startMs);
resetLoaded();

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
  if (job.lm) {
    const lm = job.lm;
    job.lm = null;
    releaseModel(lm);
  }
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
      release(job);
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

function tok(i) {
  return `tok${i} `;
}

function thinkTok(i) {
  return `think${i} `;
}

function seqText(n, f) {
  let s = '';
  for (let i = 0; i < n; i++) s += f(i);
  return s;
}

// middleware/openai.go ChatMiddleware / CompletionsMiddleware: the ids are
// "chatcmpl-" or "cmpl-" and rand.Intn(999).
function oaId(prefix) {
  return `${prefix}${Math.floor(Math.random() * 999)}`;
}

// server/routes.go toolCallId: "call_" and 8 random [a-z0-9]
function toolCallId() {
  const abc = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let s = 'call_';
  for (let i = 0; i < 8; i++) s += abc[Math.floor(Math.random() * abc.length)];
  return s;
}

// openai/openai.go NewError: 400 invalid_request_error, 404
// not_found_error, anything else api_error; param and code are null.
function oaErrType(status) {
  if (status === 400) return 'invalid_request_error';
  if (status === 404) return 'not_found_error';
  return 'api_error';
}

function oaErrBody(status, msg) {
  return { error: { message: msg, type: oaErrType(status), param: null, code: null } };
}

// Send a JSON answer.  mode 'gin' is gin's c.JSON (charset, no newline);
// mode 'encoder' is the openai middleware's json.NewEncoder (plain
// application/json, trailing newline).
function sendJson(res, status, obj, extra, mode) {
  if (res.headersSent || res.destroyed) return;
  const body = mode === 'encoder' ? `${goJson(obj)}\n` : goJson(obj);
  const h = {
    'Content-Type': mode === 'encoder' ? 'application/json' : 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-Mock-Name': nameHv,
  };
  if (extra) Object.assign(h, extra);
  res.writeHead(status, h);
  res.end(body);
}

function sendText(res, status, ctype, body, extra) {
  if (res.headersSent || res.destroyed) return;
  const h = { 'X-Mock-Name': nameHv };
  if (ctype) h['Content-Type'] = ctype;
  h['Content-Length'] = Buffer.byteLength(body);
  if (extra) Object.assign(h, extra);
  res.writeHead(status, h);
  res.end(body);
}

// Mock-only errors (bad X-Mock-* headers, injected failures, /_mock/*):
// Ollama style on /api/*, OpenAI style on /v1/*.
function sendMockErr(res, style, status, msg, extra) {
  if (style === 'openai') sendJson(res, status, oaErrBody(status, msg), extra, 'encoder');
  else sendJson(res, status, { error: msg }, extra);
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
// metadata answers

// api/types.go ModelDetails.  /api/tags adds context_length and
// embedding_length (server/model_list_cache.go buildModelListSummary);
// /api/show and /api/ps do not.
function detailsOf(m, withLengths) {
  const d = {
    parent_model: '', format: 'gguf', family: m.fam.arch, families: [m.fam.arch],
    parameter_size: m.paramSize, quantization_level: m.fam.quant,
  };
  if (withLengths) {
    d.context_length = m.fam.ctx;
    d.embedding_length = m.fam.emb;
  }
  return d;
}

// server/routes.go ListHandler -> model_list_cache.go: api.ListModelResponse
// entries, newest modified_at first (sortListModelResponses, stable, by
// whole seconds).
function listModels() {
  const all = [...catalog.values()];
  all.sort((a, b) => Math.floor(b.modifiedAt / 1000) - Math.floor(a.modifiedAt / 1000));
  return all;
}

function tagsEntry(m) {
  return {
    name: m.display,
    model: m.display,
    modified_at: isoTime(m.modifiedAt),
    size: m.size,
    digest: m.digest,
    details: detailsOf(m, true),
    capabilities: m.caps,
  };
}

// server/routes.go PsHandler: api.ProcessModelResponse, longest time left
// first.  The size in memory is the file plus a KV cache for the context;
// everything is "on the GPU" (size_vram = size).
//
// A model still loading is not listed.  PsHandler lists
// Scheduler.loadedModels() (server/sched.go), the runners in s.loaded; and
// Scheduler.load (server/sched.go) puts a runner there only once
// llama.Load has returned, which for llama-server waits in
// WaitUntilRunning until the weights are in (llm/llama_server.go
// llamaServerRunner.Load), and holds its refMu until it runs, which
// loadedModels takes too.  Ollama v0.32.15 to v0.33.0-rc2.  A router that
// reads /api/ps to find warm servers never sees a server warm before it
// can answer.
function psEntries() {
  const now = Date.now();
  const out = [];
  for (const lm of loaded.values()) {
    const m = lm.m;
    if (lm.readyAt > now) continue;    // still loading
    const size = m.size + lm.ctx * 8 * 1024 * Math.max(1, Math.round(m.fam.blocks / 4));
    const exp = lm.expiresAt !== null ? lm.expiresAt : now + Math.min(lm.session, FOREVER_MS);
    out.push({
      exp,
      entry: {
        name: m.display,
        model: m.display,
        size,
        digest: m.digest,
        details: detailsOf(m, false),
        expires_at: isoTime(exp),
        size_vram: size,
        context_length: lm.ctx,
      },
    });
  }
  out.sort((a, b) => Math.floor(b.exp / 1000) - Math.floor(a.exp / 1000));
  return out.map((x) => x.entry);
}

// Go templates of our own, only shaped like the real ones.
function templateOf(m) {
  if (m.caps.includes('embedding')) return '{{ .Prompt }}';
  if (m.harmony) {
    return '<|start|>system<|message|>mock-ollama harmony-style template\nReasoning: '
      + '{{ if $.ThinkLevel }}{{ $.ThinkLevel }}{{ else }}medium{{ end }}<|end|>'
      + '{{- range .Messages }}<|start|>{{ .Role }}<|message|>{{ .Content }}<|end|>{{- end }}<|start|>assistant';
  }
  if (m.fam.thinkTags) {
    return '{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}'
      + '{{- if .Tools }}tools: {{ .Tools }}{{ end }}<|im_start|>assistant\n{{ if $.IsThinkSet }}<think>{{ end }}';
  }
  if (m.caps.includes('tools')) {
    return '{{- if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}'
      + '{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n{{ .Content }}<|eot_id|>{{ end }}'
      + '{{- if .Tools }}tools: {{ .Tools }}{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n';
  }
  return '{{ .System }}\n{{ .Prompt }}';
}

// server/routes.go GetModelInfo: parameters are "%-30s %#v" lines
function parametersOf(m) {
  return m.fam.params.map(([k, v]) => `${k.padEnd(30)} ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`).join('\n');
}

// The GGUF key/values /api/show puts in model_info (general.name and the
// chat template removed, long arrays emptied); encoding/json sorts map keys.
function modelInfoOf(m) {
  const a = m.fam.arch;
  const o = {
    'general.architecture': a,
    'general.basename': m.name.model,
    'general.file_type': { MXFP4: 38, Q4_K_M: 15, Q8_0: 7, F16: 1 }[m.fam.quant] || 15,
    'general.parameter_count': m.params,
    'general.quantization_version': 2,
    [`${a}.attention.head_count`]: m.fam.heads,
    [`${a}.block_count`]: m.fam.blocks,
    [`${a}.context_length`]: m.fam.ctx,
    [`${a}.embedding_length`]: m.fam.emb,
    'tokenizer.ggml.model': m.fam.tokenizer,
    'tokenizer.ggml.token_type': [],
    'tokenizer.ggml.tokens': [],
  };
  if (m.caps.includes('embedding')) o[`${a}.pooling_type`] = 1;
  const sorted = {};
  for (const k of Object.keys(o).sort()) sorted[k] = o[k];
  return sorted;
}

// server/routes.go ShowHandler / GetModelInfo: api.ShowResponse
function showBody(m, userAgent, requested) {
  const blob = `/usr/share/ollama/.ollama/models/blobs/sha256-${crypto.createHash('sha256').update(`blob:${m.key}`).digest('hex')}`;
  const params = parametersOf(m);
  let modelfile = `# Modelfile of ${m.display}, as mock-ollama shows it\n# FROM ${m.display}\n\nFROM ${blob}\nTEMPLATE """${templateOf(m)}"""\n`;
  for (const [k, v] of m.fam.params) modelfile += `PARAMETER ${k} ${typeof v === 'string' ? JSON.stringify(v) : v}\n`;
  if (m.fam.license) modelfile += `LICENSE """${m.fam.license}"""\n`;
  const info = modelInfoOf(m);
  // server/routes.go ShowHandler: GitHub Copilot Chat gets the requested name
  if (userAgent && userAgent.startsWith('GitHubCopilotChat/')) info['general.basename'] = requested;
  const body = {};
  if (m.fam.license) body.license = m.fam.license;
  body.modelfile = modelfile;
  if (params) body.parameters = params;
  body.template = templateOf(m);
  body.details = detailsOf(m, false);
  body.model_info = info;
  body.tensors = [
    { name: 'token_embd.weight', type: m.fam.quant === 'F16' ? 'F16' : 'Q4_K', shape: [m.fam.emb, 32000] },
    { name: 'blk.0.attn_q.weight', type: m.fam.quant === 'F16' ? 'F16' : 'Q4_K', shape: [m.fam.emb, m.fam.emb] },
    { name: 'output_norm.weight', type: 'F32', shape: [m.fam.emb] },
  ];
  body.capabilities = m.caps;
  body.modified_at = isoTime(m.modifiedAt);
  return body;
}

// openai/openai.go ToListCompletion / ToModel: owned_by is the namespace
// of the name (ParseName), created the modification time.
function oaModel(id, m) {
  return { id, object: 'model', created: Math.floor(m.modifiedAt / 1000), owned_by: parseName(id).namespace };
}

// ---------------------------------------------------------------------------
// generation: wire formats
//
// Native answers are api.GenerateResponse / api.ChatResponse (api/types.go;
// field order as Go marshals them, zero metrics left out by omitempty).
// OpenAI answers are made by middleware/openai.go ChatWriter /
// CompleteWriter from those, with openai/openai.go ToChatCompletion,
// ToStreamChunks, FinishChunk, ToCompletion and ToCompleteChunk.

const CONTEXT = [1, 2, 3]; // stands for the token ids of prompt + answer

function sse(obj) {
  return `data: ${goJson(obj)}\n\n`;
}

function timings(job) {
  const now = performance.now();
  const load = Math.max(0, job.t0 - job.arrival);
  const evalMs = job.iv > 0 ? job.total * job.iv : Math.max(0, now - job.t0 - job.ttft);
  const total = Math.max(now - job.arrival, load + job.ttft + evalMs);
  const o = {
    total_duration: Math.round(total * 1e6),
    load_duration: Math.max(1000, Math.round(load * 1e6)),
    prompt_eval_count: job.promptTokens,
    prompt_eval_duration: Math.max(1000, Math.round(job.ttft * 1e6)),
  };
  if (job.total > 0) {
    o.eval_count = job.total;
    o.eval_duration = Math.max(1000, Math.round(evalMs * 1e6));
  }
  return o;
}

// openai/openai.go ToUsage / ToUsageGenerate: thinking tokens are part of
// eval_count, so of completion_tokens.
function usage(job) {
  return {
    prompt_tokens: job.promptTokens,
    completion_tokens: job.total,
    total_tokens: job.promptTokens + job.total,
  };
}

function doneReason(job) {
  return job.truncated ? 'length' : 'stop';
}

// api.ToolCall as server/routes.go ChatHandler sends it: an id from
// toolCallId, the function's index, name and arguments (an object).
function nativeToolCall(tc) {
  return { id: tc.id, function: { index: 0, name: tc.name, arguments: tc.args } };
}

// openai/openai.go ToToolCalls: arguments become a JSON string
function oaToolCall(tc) {
  return { id: tc.id, index: 0, type: 'function', function: { name: tc.name, arguments: goJson(tc.args) } };
}

// ChatWriter pins the first response's time on every chunk of a stream.
function oaChatChunk(job, delta, finish, model) {
  if (!job.created) job.created = Math.floor(Date.now() / 1000);
  job.firstChunkSent = true;
  return {
    id: job.id, object: 'chat.completion.chunk', created: job.created,
    model: model === undefined ? job.model : model, system_fingerprint: 'fp_ollama',
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
}

// openai/openai.go CompletionChunk (choices come before model); with
// stream_options.include_usage every chunk carries a zero usage.
function oaComplChunk(job, text, finish, model) {
  const c = {
    id: job.id, object: 'text_completion', created: Math.floor(Date.now() / 1000),
    choices: [{ text, index: 0, finish_reason: finish }],
    model: model === undefined ? job.model : model, system_fingerprint: 'fp_ollama',
  };
  if (job.includeUsage) c.usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  return c;
}

// One streamed token: thinking tokens first (the thinking field), then the
// answer.  While a tool call is being generated nothing is shown.
function fmtToken(job, i) {
  const thinking = i < job.think && !job.thinkInline;
  if (i >= job.think && job.toolCall) return '';
  const t = i < job.think ? thinkTok(i) : tok(i - job.think);
  switch (job.kind) {
    case 'generate': {
      const o = { model: job.model, created_at: isoTime(Date.now()), response: thinking ? '' : t };
      if (thinking) o.thinking = t;
      o.done = false;
      return `${goJson(o)}\n`;
    }
    case 'chat': {
      const msg = { role: 'assistant', content: thinking ? '' : t };
      if (thinking) msg.thinking = t;
      return `${goJson({ model: job.model, created_at: isoTime(Date.now()), message: msg, done: false })}\n`;
    }
    case 'oa_chat': {
      const delta = {};
      if (!job.firstChunkSent) delta.role = 'assistant';
      delta.content = thinking ? '' : t;
      if (thinking) delta.reasoning = t;
      return sse(oaChatChunk(job, delta, null));
    }
    default: // oa_completion: ToCompleteChunk only shows the response
      return sse(oaComplChunk(job, thinking ? '' : t, null));
  }
}

// The closing line(s) of a stream.
function fmtFinal(job) {
  const reason = doneReason(job);
  const tc = job.toolCall;
  const now = isoTime(Date.now());
  switch (job.kind) {
    case 'generate': {
      const o = { model: job.model, created_at: now, response: '', done: true, done_reason: reason };
      if (!job.raw) o.context = CONTEXT;
      return `${goJson(Object.assign(o, timings(job)))}\n`;
    }
    case 'chat': {
      let out = '';
      // the tools parser (tools/) sends a call as soon as it has parsed
      // it; the harmony parser only with the final response
      if (tc && !job.harmony) {
        out += `${goJson({
          model: job.model, created_at: now,
          message: { role: 'assistant', content: '', tool_calls: [nativeToolCall(tc)] }, done: false,
        })}\n`;
      }
      const msg = { role: 'assistant', content: '' };
      if (tc && job.harmony) msg.tool_calls = [nativeToolCall(tc)];
      return `${out}${goJson(Object.assign({
        model: job.model, created_at: now, message: msg, done: true, done_reason: reason,
      }, timings(job)))}\n`;
    }
    case 'oa_chat': {
      let out = '';
      if (tc) {
        const delta = {};
        if (!job.firstChunkSent) delta.role = 'assistant';
        delta.content = '';
        delta.tool_calls = [oaToolCall(tc)];
        out += sse(oaChatChunk(job, delta, null));
      } else if (!job.firstChunkSent) { // an empty answer still opens with the role
        out += sse(oaChatChunk(job, { role: 'assistant', content: '' }, null));
      }
      const fin = oaChatChunk(job, {}, reason === 'stop' && tc ? 'tool_calls' : reason);
      out += sse(fin);
      if (job.includeUsage) {
        fin.choices = [];
        fin.usage = usage(job);
        out += sse(fin);
      }
      return `${out}data: [DONE]\n\n`;
    }
    default: { // oa_completion
      const c = oaComplChunk(job, '', reason);
      let out = sse(c);
      if (job.includeUsage) {
        c.choices = [];
        c.usage = usage(job);
        out += sse(c);
      }
      return `${out}data: [DONE]\n\n`;
    }
  }
}

// The whole answer of a non-stream request.
function fmtFull(job) {
  let text = job.toolCall ? '' : seqText(job.n, tok);
  let thinking = seqText(job.think, thinkTok);
  if (job.thinkInline) {
    text = thinking + text;
    thinking = '';
  }
  const reason = doneReason(job);
  const tc = job.toolCall;
  switch (job.kind) {
    case 'generate': {
      const o = { model: job.model, created_at: isoTime(Date.now()), response: text };
      if (thinking) o.thinking = thinking;
      o.done = true;
      o.done_reason = reason;
      if (!job.raw) o.context = CONTEXT;
      return goJson(Object.assign(o, timings(job)));
    }
    case 'chat': {
      const msg = { role: 'assistant', content: text };
      if (thinking) msg.thinking = thinking;
      if (tc) msg.tool_calls = [nativeToolCall(tc)];
      return goJson(Object.assign({
        model: job.model, created_at: isoTime(Date.now()), message: msg, done: true, done_reason: reason,
      }, timings(job)));
    }
    case 'oa_chat': {
      const msg = { role: 'assistant', content: text };
      if (thinking) msg.reasoning = thinking;
      if (tc) msg.tool_calls = [oaToolCall(tc)];
      return `${goJson({
        id: job.id, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model: job.model,
        system_fingerprint: 'fp_ollama',
        choices: [{ index: 0, message: msg, finish_reason: reason === 'stop' && tc ? 'tool_calls' : reason }],
        usage: usage(job),
      })}\n`;
    }
    default:
      return `${goJson({
        id: job.id, object: 'text_completion', created: Math.floor(Date.now() / 1000), model: job.model,
        system_fingerprint: 'fp_ollama', choices: [{ text, index: 0, finish_reason: reason }], usage: usage(job),
      })}\n`;
  }
}

// What an error after the stream started looks like (server/routes.go
// streamResponse writes {"error": ...} as one more NDJSON line and ends the
// body cleanly).  Through the openai middleware that line goes into
// ChatWriter/CompleteWriter as an ordinary response: it becomes one empty
// chunk with an empty model, and the stream ends with no finish chunk and
// no [DONE]; the message is lost.
function fmtMidstream(job) {
  switch (job.kind) {
    case 'generate':
    case 'chat':
      return `${goJson({ error: MIDSTREAM_ERROR })}\n`;
    case 'oa_chat': {
      const delta = {};
      if (!job.firstChunkSent) delta.role = 'assistant';
      delta.content = '';
      return sse(oaChatChunk(job, delta, null, ''));
    }
    default:
      return sse(oaComplChunk(job, '', null, ''));
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

function isOpenAI(kind) {
  return kind.startsWith('oa_');
}

function streamWrite(job, data) {
  const res = job.res;
  if (!res.headersSent) {
    res.writeHead(200, genHeaders(job, isOpenAI(job.kind) ? 'text/event-stream' : 'application/x-ndjson'));
  }
  if (data) res.write(data);
}

// Content type and body of a non-stream answer.
function fullType(job) {
  return isOpenAI(job.kind) ? 'application/json' : 'application/json; charset=utf-8';
}

// ---------------------------------------------------------------------------
// generation: scheduling

function startJob(job) {
  job.state = 'running';
  job.holding = true;
  inflight++;
  if (inflight > st.max_inflight_seen) st.max_inflight_seen = inflight;
  job.t0 = performance.now();
  // a cold start: the model's load, once (a request that waited for a slot
  // meanwhile waits only for what is left of it)
  if (job.lm && job.lm.readyAt) job.ttft += Math.max(0, job.lm.readyAt - Date.now());
  if (job.stream) streamStep(job);
  else scheduleAt(job, job.ttft + (job.fail === 'close' || job.fail === 'midstream' ? job.half : job.total) * job.iv, nonStreamFire);
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

// An error before anything was written: the handler answers it with a
// status (server/routes.go GenerateHandler/ChatHandler: 500 unless the
// runner gave one).  In a stream, streamResponse has already set
// Content-Type application/json, so gin's c.JSON leaves out the charset.
function failBeforeOutput(job) {
  job.state = 'failed';
  st.failed++;
  release(job);
  const extra = { 'X-Mock-Model': job.modelHv };
  if (isOpenAI(job.kind)) sendJson(job.res, 500, oaErrBody(500, MIDSTREAM_ERROR), extra, 'encoder');
  else if (job.stream) {
    sendText(job.res, 500, 'application/json', goJson({ error: MIDSTREAM_ERROR }), extra);
  } else sendJson(job.res, 500, { error: MIDSTREAM_ERROR }, extra);
}

function nonStreamFire(job) {
  job.timer = null;
  if (job.state !== 'running') return;
  const res = job.res;
  if (job.fail === 'midstream') return failBeforeOutput(job);
  const body = fmtFull(job);
  const len = Buffer.byteLength(body);
  if (job.fail === 'close') {
    // Announce the full length, send half of it, then drop the connection.
    res.writeHead(200, genHeaders(job, fullType(job), len));
    crash(job, Buffer.from(body).subarray(0, len >> 1));
    return;
  }
  finishOk(job);
  res.writeHead(200, genHeaders(job, fullType(job), len));
  res.end(body);
}

function streamStep(job) {
  job.timer = null;
  if (job.state !== 'running') return;
  const failing = job.fail === 'close' || job.fail === 'midstream';
  const limit = failing ? job.half : job.total;
  const endAt = job.ttft + limit * job.iv; // final line, or the failure
  const el = performance.now() - job.t0 + 0.5; // half a ms of timer slack
  let out = '';
  while (job.i < limit && el >= job.ttft + job.i * job.iv) {
    out += fmtToken(job, job.i);
    job.i++;
  }
  if (job.i >= limit && el >= endAt) {
    if (job.fail === 'close') {
      if (!job.res.headersSent) streamWrite(job, '');
      crash(job, out);
    } else if (job.fail === 'midstream') {
      if (!job.res.headersSent && out === '') return failBeforeOutput(job);
      out += fmtMidstream(job);
      job.state = 'failed';
      st.failed++;
      release(job);
      streamWrite(job, '');
      job.res.end(out);
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
// request handling helpers

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

// An error from a handler.  Native: gin's c.JSON.  /v1: the openai
// middleware's writer turns it into openai.NewError (BaseWriter.writeError).
function herr(ctx, status, msg) {
  if (ctx.style === 'openai') sendJson(ctx.res, status, oaErrBody(status, msg), ctx.gh, 'encoder');
  else sendJson(ctx.res, status, { error: msg }, ctx.gh);
}

// An error from the openai middleware itself (c.AbortWithStatusJSON).
function mwerr(ctx, status, msg) {
  sendJson(ctx.res, status, oaErrBody(status, msg), ctx.gh);
}

// An answer that generates nothing (load, unload, embeddings): the mock's
// close and midstream failures still apply to it.
function finishSimple(ctx, body, ctype) {
  const res = ctx.res;
  if (res.headersSent || res.destroyed) return;
  const len = Buffer.byteLength(body);
  const h = { 'Content-Type': ctype, 'Content-Length': len, 'X-Mock-Name': nameHv, 'X-Mock-Model': ctx.modelHv };
  if (ctx.fail === 'midstream') {
    st.failed++;
    herr(ctx, 500, MIDSTREAM_ERROR);
    return;
  }
  if (ctx.fail === 'close') {
    st.failed++;
    res.writeHead(200, h);
    res.write(Buffer.from(body).subarray(0, len >> 1));
    destroyAfterFlush(res.socket);
    return;
  }
  st.completed++;
  res.writeHead(200, h);
  res.end(body);
}

// api/types.go Options.FromMap, for the options a request may carry: a
// value of the wrong type fails scheduleRunner, and handleScheduleError
// answers 500.
const OPTION_TYPES = {
  num_keep: 'int', seed: 'int', num_predict: 'int', top_k: 'int', top_p: 'float', min_p: 'float',
  typical_p: 'float', repeat_last_n: 'int', temperature: 'float', repeat_penalty: 'float',
  presence_penalty: 'float', frequency_penalty: 'float', stop: 'strings', num_ctx: 'int', num_batch: 'int',
  num_gpu: 'int', main_gpu: 'int', use_mmap: 'bool', num_thread: 'int', draft_num_predict: 'int',
};
function checkOptions(o) {
  if (!isObj(o)) return null;
  for (const k of Object.keys(o)) {
    const t = OPTION_TYPES[k];
    const v = o[k];
    if (!t || v === null) continue;
    if ((t === 'int' || t === 'float') && typeof v !== 'number') {
      return `option ${goQuote(k)} must be of type ${t === 'int' ? 'integer' : 'float32'}`;
    }
    if (t === 'bool' && typeof v !== 'boolean') return `option ${goQuote(k)} must be of type boolean`;
    if (t === 'strings') {
      if (!Array.isArray(v)) return `option ${goQuote(k)} must be of type array`;
      if (v.some((x) => typeof x !== 'string')) return `option ${goQuote(k)} must be of an array of strings`;
    }
  }
  return null;
}

// num_predict: a JSON number becomes an int by truncation; -1 (the
// default) and other values below 1 do not limit the answer.
function intOption(o, k) {
  if (!isObj(o) || typeof o[k] !== 'number') return 0;
  const n = Math.trunc(o[k]);
  return n > 0 ? n : 0;
}

// The tool call the mock answers with: the first tool that has a name,
// with a value for each required parameter, by its JSON schema type.
function pickToolCall(tools) {
  for (const t of tools || []) {
    const f = isObj(t) && isObj(t.function) ? t.function : null;
    if (!f || typeof f.name !== 'string' || f.name === '') continue;
    const args = {};
    const p = isObj(f.parameters) ? f.parameters : {};
    const props = isObj(p.properties) ? p.properties : {};
    for (const k of Array.isArray(p.required) ? p.required : []) {
      if (typeof k !== 'string') continue;
      const s = isObj(props[k]) ? props[k] : {};
      const type = Array.isArray(s.type) ? s.type[0] : s.type;
      if (Array.isArray(s.enum) && s.enum.length > 0) args[k] = s.enum[0];
      else if (type === 'number' || type === 'integer') args[k] = 1;
      else if (type === 'boolean') args[k] = true;
      else if (type === 'array') args[k] = [];
      else if (type === 'object') args[k] = {};
      else args[k] = 'mock';
    }
    return { id: toolCallId(), name: f.name, args };
  }
  return null;
}

// The answer to a request that only loads or unloads its model
// (server/routes.go GenerateHandler/ChatHandler: one JSON object, whatever
// "stream" says; through /v1/completions it becomes a completion whose
// finish_reason is "load").
function loadAnswer(ctx, model, reason) {
  const now = isoTime(Date.now());
  switch (ctx.kind) {
    case 'generate':
      return finishSimple(ctx, goJson({ model, created_at: now, response: '', done: true, done_reason: reason }),
        'application/json; charset=utf-8');
    case 'chat':
      return finishSimple(ctx, goJson({
        model, created_at: now, message: { role: 'assistant', content: '' }, done: true, done_reason: reason,
      }), 'application/json; charset=utf-8');
    default: { // oa_completion
      const job = { id: oaId('cmpl-'), model, includeUsage: ctx.includeUsage, promptTokens: 0, total: 0 };
      if (!ctx.stream) {
        return finishSimple(ctx, `${goJson({
          id: job.id, object: 'text_completion', created: Math.floor(Date.now() / 1000), model,
          system_fingerprint: 'fp_ollama', choices: [{ text: '', index: 0, finish_reason: reason }],
          usage: usage(job),
        })}\n`, 'application/json');
      }
      const c = oaComplChunk(job, '', reason);
      let out = sse(c);
      if (job.includeUsage) {
        c.choices = [];
        c.usage = usage(job);
        out += sse(c);
      }
      return finishSimple(ctx, `${out}data: [DONE]\n\n`, 'text/event-stream');
    }
  }
}

// Think tokens of one request: X-Mock-Think-Tokens, else --think-tokens /
// config think_tokens, else the default for thinking models.
function thinkTokensFor(ctx) {
  if (ctx.thinkTokens !== undefined) return ctx.thinkTokens;
  return cfg.thinkTokens !== null ? cfg.thinkTokens : DEFAULT_THINK_TOKENS;
}

// Start generating: p = {stream, numPredict, thinking, promptTokens, raw,
// tools, includeUsage}.
function startGeneration(ctx, m, lm, p) {
  const T = p.thinking ? thinkTokensFor(ctx) : 0;
  const N = ctx.tokens;
  let toolCall = p.tools && p.tools.length > 0 ? pickToolCall(p.tools) : null;
  let think = T;
  let n = N;
  let truncated = false;
  // num_predict counts every generated token, thinking included: a small
  // limit can leave the answer empty (done_reason "length").
  if (p.numPredict > 0 && p.numPredict < T + N) {
    truncated = true;
    think = Math.min(T, p.numPredict);
    n = p.numPredict - think;
    toolCall = null;
  }
  const total = think + n;
  const job = {
    req: ctx.req, res: ctx.res, kind: ctx.kind, path: ctx.path, model: ctx.modelStr, modelHv: ctx.modelHv,
    arrival: ctx.arrival, state: 'new', holding: false, timer: null,
    ttft: ctx.ttft + (p.prefill || 0),    // + what is left of a load, at start
    tps: ctx.tps, iv: ctx.tps > 0 ? 1000 / ctx.tps : 0, fail: ctx.fail,
    think, n, total, half: total >> 1, i: 0, t0: 0,
    stream: p.stream, truncated, includeUsage: !!p.includeUsage, promptTokens: Math.max(1, p.promptTokens),
    id: ctx.kind === 'oa_chat' ? oaId('chatcmpl-') : ctx.kind === 'oa_completion' ? oaId('cmpl-') : '',
    created: 0, firstChunkSent: false, raw: !!p.raw, harmony: m.harmony, lm, toolCall,
    // raw mode skips the harmony parser: the reasoning comes out as text
    thinkInline: !!p.raw && m.harmony,
  };
  ctx.res.on('close', () => onResClose(job));
  acquire(job);
}

// ---------------------------------------------------------------------------
// server/routes.go GenerateHandler (/api/generate, and /v1/completions
// behind middleware/openai.go CompletionsMiddleware)

function runGenerate(ctx, g) {
  if (g.topLogprobs < 0 || g.topLogprobs > 20) return herr(ctx, 400, 'top_logprobs must be between 0 and 20');
  const ref = parseModelRef(g.model);
  if (ref.err === 'conflict') return herr(ctx, 400, ref.msg);
  if (ref.err === 'invalid') return herr(ctx, 400, 'invalid model name');
  if (ref.err) return herr(ctx, 404, `model '${g.model}' not found`); // empty: writeModelRefParseError fallback
  const m = findModel(ref.key);
  if (!m) return herr(ctx, 404, `model '${g.model}' not found`);
  // unload: empty prompt and keep_alive 0 (before any capability check)
  if (g.prompt === '' && g.keepAlive === 0) {
    expireModel(m);
    return loadAnswer(ctx, g.model, 'unload');
  }
  if (g.raw && (g.template !== '' || g.system !== '' || (g.context && g.context.length > 0))) {
    return herr(ctx, 400, 'raw mode does not support template, system, or context');
  }
  let think = g.think;
  if (m.harmony && think === 'max') think = 'high'; // shouldUseHarmony: harmony knows low/medium/high
  if (m.thinking) {
    if (think === undefined) think = true;
  } else if (think !== undefined && think !== false) {
    return herr(ctx, 400, `${goQuote(g.model)} does not support thinking`);
  }
  // scheduleRunner -> Model.CheckCapabilities (server/images.go)
  if (!m.caps.includes('completion')) return herr(ctx, 400, `${goQuote(g.model)} does not support generate`);
  if (g.suffix !== '' && !m.caps.includes('insert')) {
    return herr(ctx, 400, `${nameString(m.name)} does not support insert`);
  }
  const oerr = checkOptions(g.options);
  if (oerr) return herr(ctx, 500, oerr);
  const lm = acquireModel(m, g.keepAlive, intOption(g.options, 'num_ctx'));
  if (g.prompt === '') { // load the model
    releaseModel(lm);
    return loadAnswer(ctx, g.model, 'load');
  }
  startGeneration(ctx, m, lm, {
    stream: g.stream, numPredict: intOption(g.options, 'num_predict'),
    // gpt-oss (harmony) always reasons: think true/false only picks the level
    thinking: m.thinking && (m.harmony || (think !== false)),
    promptTokens: countWords(g.prompt) + countWords(g.system), raw: g.raw, tools: null,
    includeUsage: g.includeUsage,
  });
}

function nativeGenerate(ctx, raw) {
  const d = goDecode(raw, REQ.generate);
  if (d.eof) return herr(ctx, 400, 'missing request body');
  if (d.err) return herr(ctx, 400, d.err);
  const r = d.value;
  ctx.modelStr = r.model || '';
  runGenerate(ctx, {
    model: r.model || '', prompt: r.prompt || '', suffix: r.suffix || '', system: r.system || '',
    template: r.template || '', context: r.context, raw: !!r.raw, stream: r.stream !== false,
    keepAlive: r.keep_alive, options: r.options, think: r.think, topLogprobs: r.top_logprobs || 0,
  });
}

// middleware/openai.go CompletionsMiddleware + openai/openai.go FromCompleteRequest
function oaCompletion(ctx, raw) {
  const d = goDecode(raw, REQ.oa_completion);
  if (d.err) return mwerr(ctx, 400, d.err);
  const r = d.value;
  if (Array.isArray(r.stop)) {
    const badStop = r.stop.find((s) => typeof s !== 'string');
    if (badStop !== undefined) return mwerr(ctx, 400, `invalid type for 'stop' field: ${goTypeOf(badStop)}`);
  }
  ctx.modelStr = r.model || '';
  ctx.stream = !!r.stream;
  ctx.includeUsage = !!(r.stream_options && r.stream_options.include_usage);
  runGenerate(ctx, {
    model: r.model || '', prompt: r.prompt || '', suffix: r.suffix || '', system: '', template: '',
    context: undefined, raw: false, stream: ctx.stream, keepAlive: undefined,
    options: r.max_tokens !== undefined ? { num_predict: r.max_tokens } : {},
    think: undefined, topLogprobs: r.logprobs > 0 ? r.logprobs : 0, includeUsage: ctx.includeUsage,
  });
}

// ---------------------------------------------------------------------------
// server/routes.go ChatHandler (/api/chat, and /v1/chat/completions behind
// middleware/openai.go ChatMiddleware)

function runChat(ctx, c) {
  if (c.topLogprobs < 0 || c.topLogprobs > 20) return herr(ctx, 400, 'top_logprobs must be between 0 and 20');
  const ref = parseModelRef(c.model);
  if (ref.err === 'conflict') return herr(ctx, 400, ref.msg);
  if (ref.err === 'invalid') return herr(ctx, 400, 'invalid model name');
  if (ref.err) return herr(ctx, 400, 'model is required');
  const m = findModel(ref.key);
  if (!m) return herr(ctx, 404, `model '${c.model}' not found`);
  if (c.messages.length === 0 && c.keepAlive === 0) {
    expireModel(m);
    return loadAnswer(ctx, c.model, 'unload');
  }
  let think = c.think;
  if (m.harmony && think === 'max') think = 'high';
  if (m.thinking) {
    if (think === undefined) think = true;
  } else if (think !== undefined && think !== false) {
    return herr(ctx, 400, `${goQuote(c.model)} does not support thinking`);
  }
  const tools = c.tools || [];
  if (!m.caps.includes('completion')) return herr(ctx, 400, `${goQuote(c.model)} does not support chat`);
  if (tools.length > 0 && !m.caps.includes('tools')) {
    return herr(ctx, 400, `${nameString(m.name)} does not support tools`);
  }
  const oerr = checkOptions(c.options);
  if (oerr) return herr(ctx, 500, oerr);
  const lm = acquireModel(m, c.keepAlive, intOption(c.options, 'num_ctx'));
  if (c.messages.length === 0) {
    releaseModel(lm);
    return loadAnswer(ctx, c.model, 'load');
  }
  let promptTokens = 0;
  for (const msg of c.messages) if (isObj(msg)) promptTokens += contentWords(msg.content);
  startGeneration(ctx, m, lm, {
    stream: c.stream, numPredict: intOption(c.options, 'num_predict'),
    thinking: m.thinking && (m.harmony || think !== false),
    promptTokens, raw: false, tools, includeUsage: c.includeUsage,
    prefill: prefillFor(c.messages),
  });
}

// The runner keeps a conversation's earlier turns in its KV cache, one
// conversation per slot (the prefix reuse of runner/ollamarunner/cache.go):
// a turn of a conversation one of the slots still holds needs only its new
// message; otherwise every earlier message is read again.  Keyed by the
// first two messages.  The first turn fills the cache too: Ollama asks
// llama-server to keep each slot's prompt (cache_prompt: true,
// llm/llama_server.go), so the second turn on the same server reads only
// its new messages.
const kvCache = [];
function prefillFor(messages) {
  if (!(opts.prefillMs > 0) || messages.length < 2) return 0;
  const key = JSON.stringify(messages.slice(0, 2).map((x) => (isObj(x) ? x.content : '')));
  const at = kvCache.indexOf(key);
  if (at >= 0) kvCache.splice(at, 1);
  kvCache.push(key);
  if (kvCache.length > cfg.slots) kvCache.shift();
  return at >= 0 || messages.length < 3 ? 0 : opts.prefillMs * (messages.length - 1);
}

function nativeChat(ctx, raw) {
  const d = goDecode(raw, REQ.chat);
  if (d.eof) return herr(ctx, 400, 'missing request body');
  if (d.err) return herr(ctx, 400, d.err);
  const r = d.value;
  ctx.modelStr = r.model || '';
  runChat(ctx, {
    model: r.model || '', messages: (r.messages || []).map((x) => x || {}), stream: r.stream !== false,
    keepAlive: r.keep_alive, tools: (r.tools || []).filter(Boolean), options: r.options, think: r.think,
    topLogprobs: r.top_logprobs || 0,
  });
}

// openai/openai.go thinkFromReasoningEffort
function thinkFromEffort(effort) {
  switch (effort) {
    case undefined: case '': return { think: undefined };
    case 'none': return { think: false };
    case 'minimal': return { think: 'low' };
    case 'low': case 'medium': case 'high': case 'max': return { think: effort };
    case 'xhigh': case 'ultra': return { think: 'max' };
    default:
      return { err: `invalid reasoning value: ${goQuote(effort)} (must be "minimal", "low", "medium", "high", "xhigh", "ultra", "max", or "none")` };
  }
}

// openai/openai.go decodeImageURL
function checkImageUrl(url) {
  if (url.startsWith('http://') || url.startsWith('https://')) {
    return 'image URLs are not currently supported, please use base64 encoded data instead';
  }
  let b64 = null;
  if (url.startsWith('data:;base64,')) b64 = url.slice(13);
  for (const t of ['jpeg', 'jpg', 'png', 'webp']) {
    const prefix = `data:image/${t};base64,`;
    if (b64 === null && url.startsWith(prefix)) b64 = url.slice(prefix.length);
  }
  if (b64 === null || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return 'invalid image input';
  return null;
}

// middleware/openai.go ChatMiddleware + openai/openai.go FromChatRequest
function oaChat(ctx, raw) {
  const d = goDecode(raw, REQ.oa_chat);
  if (d.err) return mwerr(ctx, 400, d.err);
  const r = d.value;
  const messages = (r.messages || []).map((x) => x || {});
  if (messages.length === 0) return mwerr(ctx, 400, "[] is too short - 'messages'");
  for (const msg of messages) {
    const content = msg.content;
    if (Array.isArray(content)) {
      for (const part of content) {
        if (!isObj(part)) return mwerr(ctx, 400, 'invalid message format');
        if (part.type === 'text') {
          if (typeof part.text !== 'string') return mwerr(ctx, 400, 'invalid message format');
        } else if (part.type === 'image_url') {
          const url = isObj(part.image_url) ? part.image_url.url : part.image_url;
          if (typeof url !== 'string') return mwerr(ctx, 400, 'invalid message format');
          const e = checkImageUrl(url);
          if (e) return mwerr(ctx, 400, e);
        } else if (part.type === 'input_audio') {
          if (!isObj(part.input_audio)) return mwerr(ctx, 400, 'invalid input_audio format');
          if (typeof part.input_audio.data !== 'string') return mwerr(ctx, 400, 'invalid input_audio format: missing data');
        } else {
          return mwerr(ctx, 400, 'invalid message format');
        }
      }
    } else if (typeof content !== 'string' && (msg.tool_calls === undefined || msg.tool_calls === null)) {
      // content is only optional when tool calls are present
      return mwerr(ctx, 400, `invalid message content type: ${goTypeOf(content)}`);
    }
    if (Array.isArray(msg.tool_calls)) { // FromCompletionToolCall
      for (const tc of msg.tool_calls) {
        let ok = false;
        try {
          ok = isObj(JSON.parse(tc.function.arguments));
        } catch (e) { ok = false; }
        if (!ok) return mwerr(ctx, 400, 'invalid tool call arguments');
      }
    }
  }
  const effort = r.reasoning !== undefined ? r.reasoning.effort : r.reasoning_effort;
  const t = thinkFromEffort(effort);
  if (t.err) return mwerr(ctx, 400, t.err);
  ctx.modelStr = r.model || '';
  const stream = !!r.stream;
  runChat(ctx, {
    model: r.model || '', messages, stream, keepAlive: undefined, tools: (r.tools || []).filter(Boolean),
    options: r.max_tokens !== undefined ? { num_predict: r.max_tokens } : {}, think: t.think,
    topLogprobs: r.top_logprobs || 0, includeUsage: stream && !!(r.stream_options && r.stream_options.include_usage),
  });
}

// ---------------------------------------------------------------------------
// embeddings: server/routes.go EmbedHandler (/api/embed, and /v1/embeddings
// behind middleware/openai.go EmbeddingsMiddleware) and EmbeddingsHandler
// (/api/embeddings).  Vectors have EMBED_DIM values derived from a hash of
// model and text.  Any model embeds: a real generation model's runner
// would refuse (llama-server without --embeddings), which is not ported.

function rawVector(m, text) {
  const h = crypto.createHash('sha256').update(`${m.key}\0${text}`).digest();
  const v = [];
  for (let i = 0; i < EMBED_DIM; i++) v.push(Math.round(((h.readUInt16BE(i * 2) / 65535) * 2 - 1) * 1e6) / 1e6);
  return v;
}

// server/routes.go normalize
function normalize(v) {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = 1 / Math.max(Math.sqrt(sum), 1e-12);
  return v.map((x) => Number((x * norm).toPrecision(7)));
}

function runEmbed(ctx, e) {
  const ref = parseModelRef(e.model);
  if (ref.err === 'conflict') return herr(ctx, 400, ref.msg);
  if (ref.err === 'invalid') return herr(ctx, 400, 'invalid model name');
  if (ref.err) return herr(ctx, 404, `model '${e.model}' not found`);
  let input = [];
  if (typeof e.input === 'string') {
    if (e.input.length > 0) input = [e.input];
  } else if (Array.isArray(e.input)) {
    if (e.input.some((x) => typeof x !== 'string')) return herr(ctx, 400, 'invalid input type');
    input = e.input;
  } else if (e.input !== undefined && e.input !== null) {
    return herr(ctx, 400, 'invalid input type');
  }
  const m = findModel(ref.key);
  if (!m) return herr(ctx, 404, `model ${goQuote(e.model)} not found, try pulling it first`);
  const oerr = checkOptions(e.options);
  if (oerr) return herr(ctx, 500, oerr);
  const lm = acquireModel(m, e.keepAlive, intOption(e.options, 'num_ctx'));
  const loadMs = performance.now() - ctx.arrival;
  releaseModel(lm);
  if (input.length === 0) return finishSimple(ctx, goJson({ model: e.model, embeddings: [] }), 'application/json; charset=utf-8');
  let tokens = 0;
  const embeddings = input.map((text) => {
    tokens += Math.max(1, countWords(text));
    let v = normalize(rawVector(m, text));
    if (e.dimensions > 0 && e.dimensions < v.length) v = normalize(v.slice(0, e.dimensions));
    return v;
  });
  if (ctx.kind === 'oa_embed') { // openai/openai.go ToEmbeddingList
    const base64 = typeof e.encodingFormat === 'string' && e.encodingFormat.toLowerCase() === 'base64';
    const data = embeddings.map((v, index) => {
      let embedding = v;
      if (base64) {
        const b = Buffer.alloc(v.length * 4);
        v.forEach((x, i) => b.writeFloatLE(x, i * 4));
        embedding = b.toString('base64');
      }
      return { object: 'embedding', embedding, index };
    });
    return finishSimple(ctx, `${goJson({
      object: 'list', data, model: e.model, usage: { prompt_tokens: tokens, total_tokens: tokens },
    })}\n`, 'application/json');
  }
  const total = performance.now() - ctx.arrival;
  return finishSimple(ctx, goJson({
    model: e.model, embeddings,
    total_duration: Math.max(1000, Math.round(total * 1e6)),
    load_duration: Math.max(1000, Math.round(loadMs * 1e6)),
    prompt_eval_count: tokens,
  }), 'application/json; charset=utf-8');
}

function nativeEmbed(ctx, raw) {
  const d = goDecode(raw, REQ.embed);
  if (d.eof) return herr(ctx, 400, 'missing request body');
  if (d.err) return herr(ctx, 400, d.err);
  const r = d.value;
  runEmbed(ctx, {
    model: r.model || '', input: r.input, keepAlive: r.keep_alive, dimensions: r.dimensions || 0, options: r.options,
  });
}

function oaEmbed(ctx, raw) {
  const d = goDecode(raw, REQ.oa_embed);
  if (d.err) return mwerr(ctx, 400, d.err);
  const r = d.value;
  const fmt = r.encoding_format || '';
  if (fmt !== '' && fmt.toLowerCase() !== 'float' && fmt.toLowerCase() !== 'base64') {
    return mwerr(ctx, 400, `Invalid value for 'encoding_format' = ${fmt}. Supported values: ['float', 'base64'].`);
  }
  let input = r.input;
  if (input === '') input = [''];
  if (input === undefined || input === null) return mwerr(ctx, 400, 'invalid input');
  if (Array.isArray(input) && input.length === 0) return mwerr(ctx, 400, 'invalid input');
  runEmbed(ctx, {
    model: r.model || '', input, keepAlive: undefined, dimensions: r.dimensions || 0, options: undefined,
    encodingFormat: fmt,
  });
}

// server/routes.go EmbeddingsHandler (legacy): the runner's vector as is
function legacyEmbeddings(ctx, raw) {
  const d = goDecode(raw, REQ.embeddings);
  if (d.eof) return herr(ctx, 400, 'missing request body');
  if (d.err) return herr(ctx, 400, d.err);
  const r = d.value;
  const model = r.model || '';
  const ref = parseModelRef(model);
  if (ref.err === 'conflict') return herr(ctx, 400, ref.msg);
  if (ref.err === 'invalid') return herr(ctx, 400, 'invalid model name');
  if (ref.err) return herr(ctx, 400, 'model is required');
  const m = findModel(ref.key);
  if (!m) return herr(ctx, 404, `model ${goQuote(model)} not found, try pulling it first`);
  const oerr = checkOptions(r.options);
  if (oerr) return herr(ctx, 500, oerr);
  const lm = acquireModel(m, r.keep_alive, intOption(r.options, 'num_ctx'));
  releaseModel(lm);
  const prompt = r.prompt || '';
  const embedding = prompt === '' ? [] : rawVector(m, prompt);
  return finishSimple(ctx, goJson({ embedding }), 'application/json; charset=utf-8');
}

// ---------------------------------------------------------------------------
// the inference endpoints: mock-only parts first (counters, echo, the
// X-Mock-* overrides, injected failures), then the ported handler

const INFER = {
  '/api/generate': { kind: 'generate', style: 'ollama', fn: nativeGenerate },
  '/api/chat': { kind: 'chat', style: 'ollama', fn: nativeChat },
  '/api/embed': { kind: 'embed', style: 'ollama', fn: nativeEmbed },
  '/api/embeddings': { kind: 'embeddings', style: 'ollama', fn: legacyEmbeddings },
  '/v1/chat/completions': { kind: 'oa_chat', style: 'openai', fn: oaChat },
  '/v1/completions': { kind: 'oa_completion', style: 'openai', fn: oaCompletion },
  '/v1/embeddings': { kind: 'oa_embed', style: 'openai', fn: oaEmbed },
};

function handleInference(req, res, path, query, raw) {
  const ep = INFER[path];
  const arrival = performance.now();
  const style = ep.style;
  st.requests++;
  st.by_path[path] = (st.by_path[path] || 0) + 1;
  st.last_path = path;

  const bodyRaw = raw.toString('utf8');
  let body = null;
  try {
    body = JSON.parse(bodyRaw);
  } catch (e) {
    body = null;
  }
  const model = isObj(body) && typeof body.model === 'string' ? body.model : null;
  st.last_model = model;
  const modelHv = hv(model === null ? '' : model);
  const gh = { 'X-Mock-Model': modelHv };

  // --- echo mode (mock-only)
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

  // --- per-request overrides (mock-only)
  let ttft = cfg.ttft;
  let tps = cfg.tps;
  let tokens = cfg.tokens;
  let fail = cfg.fail;
  let thinkTokens;
  try {
    const f = headerOverride(req, 'x-mock-fail', parseFail);
    if (req.headers['x-mock-fail'] !== undefined) fail = f;
    ttft = headerOverride(req, 'x-mock-ttft', (v) => parseNum('X-Mock-Ttft', v, false, MAX_MS)) ?? ttft;
    tps = headerOverride(req, 'x-mock-tps', (v) => parseNum('X-Mock-Tps', v, false, 1e9)) ?? tps;
    tokens = headerOverride(req, 'x-mock-tokens', (v) => parseNum('X-Mock-Tokens', v, true, MAX_TOKENS)) ?? tokens;
    thinkTokens = headerOverride(req, 'x-mock-think-tokens', (v) => parseNum('X-Mock-Think-Tokens', v, true, MAX_TOKENS));
  } catch (e) {
    sendMockErr(res, style, 400, e.message, gh);
    return;
  }

  // --- injected failures that do not depend on the body (mock-only)
  if (typeof fail === 'number') {
    st.failed++;
    sendMockErr(res, style, fail, `mock-ollama: injected failure (status ${fail})`, gh);
    return;
  }
  if (fail === 'reset') {
    st.failed++;
    resetSocket(req.socket);
    return;
  }
  if (fail === 'hang') {
    const job = { state: 'hang', path, holding: false, timer: null, lm: null };
    res.on('close', () => onResClose(job));
    st.failed++;
    hanging++;
    return;
  }

  const ctx = {
    req, res, path, style, kind: ep.kind, arrival, gh, modelHv, modelStr: model === null ? '' : model,
    ttft, tps, tokens, thinkTokens, fail, stream: false, includeUsage: false,
  };
  ep.fn(ctx, raw);
}

// ---------------------------------------------------------------------------
// listing and metadata handlers

// server/routes.go ShowHandler: model, or the legacy name
function showLookup(name) {
  const ref = parseModelRef(name);
  if (ref.err === 'conflict') return { status: 400, msg: ref.msg };
  if (ref.err === 'invalid') return { status: 400, msg: 'invalid model name' };
  if (ref.err) return { status: 400, msg: 'model is required' };
  const m = findModel(ref.key);
  if (!m) {
    // getExistingName fixes the case of the parts it knows, then the
    // message shows DisplayShortest of the name
    const n = Object.assign({}, ref.name);
    for (const p of ['host', 'namespace', 'model', 'tag']) {
      for (const c of catalog.values()) if (c.name[p].toLowerCase() === n[p].toLowerCase()) { n[p] = c.name[p]; break; }
    }
    return { status: 404, msg: `model '${displayShortest(n)}' not found` };
  }
  return { m };
}

function handleShow(req, res, raw) {
  const d = goDecode(raw, REQ.show);
  if (d.eof) return sendJson(res, 400, { error: 'missing request body' });
  if (d.err) return sendJson(res, 400, { error: d.err });
  const r = d.value;
  const name = r.model || r.name || '';
  if (name === '') return sendJson(res, 400, { error: 'model is required' });
  const f = showLookup(name);
  if (!f.m) return sendJson(res, f.status, { error: f.msg });
  sendJson(res, 200, showBody(f.m, req.headers['user-agent'], name));
}

// middleware/openai.go RetrieveMiddleware + ShowHandler
function handleOaRetrieve(req, res, id) {
  const f = showLookup(id);
  if (!f.m) return sendJson(res, f.status, oaErrBody(f.status, f.msg), null, 'encoder');
  sendJson(res, 200, oaModel(id, f.m), null, 'encoder');
}

// ---------------------------------------------------------------------------
// control endpoints (mock-only)

function statsObj() {
  return {
    name: cfg.name,
    model: cfg.model,
    models: [...catalog.values()].map((m) => m.display),
    loaded: [...loaded.values()].map((lm) => lm.m.display),
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
    forbidden: st.forbidden,
    loads: st.loads,
    unloads: st.unloads,
    by_path: st.by_path,
    config: configObj(),
    pid: process.pid,
  };
}

function configObj() {
  return {
    ttft: cfg.ttft, tps: cfg.tps, tokens: cfg.tokens, slots: cfg.slots,
    fail: cfg.fail, model: cfg.model, name: cfg.name, models: cfg.models.slice(),
    think_tokens: cfg.thinkTokens, version: cfg.version,
  };
}

function handleConfig(res, raw) {
  let body;
  try {
    body = JSON.parse(raw.toString('utf8'));
  } catch (e) {
    return sendMockErr(res, 'ollama', 400, `invalid JSON: ${e.message}`);
  }
  if (!isObj(body)) return sendMockErr(res, 'ollama', 400, 'config must be a JSON object');
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
        case 'think_tokens': next.thinkTokens = v === null ? null : parseNum('think_tokens', v, true, MAX_TOKENS); break;
        case 'model': next.model = parseModelName('model', v); break;
        case 'models': next.models = v === null ? [] : parseModelList('models', v); break;
        case 'name':
        case 'version':
          if (typeof v !== 'string' || v === '') throw new Error(`${k} must be a non-empty string`);
          next[k] = v;
          break;
        default: throw new Error(`unknown config key "${k}"`);
      }
    }
  } catch (e) {
    return sendMockErr(res, 'ollama', 400, e.message);
  }
  const has = (k) => Object.prototype.hasOwnProperty.call(body, k);
  const oldMain = mainModel();
  Object.assign(cfg, next);
  // A new main model leaves the old one pulled (unless "models" is given
  // too); "model" always resets the loaded models to just the main one.
  if (has('model') && !has('models') && nameKey(parseName(cfg.model)) !== oldMain.key) {
    cfg.models = cfg.models.concat(oldMain.display);
  }
  if (has('model') || has('models')) rebuildCatalog(Date.now());
  if (has('model')) {
    resetLoaded();
  } else if (has('models')) {
    for (const lm of [...loaded.values()]) {
      if (!catalog.has(lm.m.key)) {
        if (lm.timer) clearTimeout(lm.timer);
        loaded.delete(lm.m.key);
      }
    }
  }
  nameHv = hv(cfg.name);
  dispatch(); // more slots may be free now
  sendJson(res, 200, configObj());
}

function resetStats() {
  st = freshStats();
  st.max_inflight_seen = inflight;
}

const MOCK_ROUTES = {
  '/_mock/stats': { GET: (req, res) => sendJson(res, 200, statsObj()) },
  '/_mock/reset': { POST: (req, res) => { resetStats(); sendJson(res, 200, statsObj()); } },
  '/_mock/config': {
    GET: (req, res) => sendJson(res, 200, configObj()),
    POST: (req, res, raw) => handleConfig(res, raw),
  },
};

function mockControl(req, res, path, raw) {
  const r = MOCK_ROUTES[path];
  if (!r) return sendMockErr(res, 'ollama', 404, `404 page not found: ${path}`);
  const h = r[req.method === 'HEAD' ? 'GET' : req.method];
  if (!h) {
    const allow = Object.keys(r).concat(r.GET ? ['HEAD'] : []).join(', ');
    return sendMockErr(res, 'ollama', 405, `method ${req.method} not allowed on ${path}`, { Allow: allow });
  }
  return h(req, res, raw);
}

// ---------------------------------------------------------------------------
// routing: server/routes.go GenerateRoutes on gin (v1.10,
// HandleMethodNotAllowed on, RedirectTrailingSlash on by default)

const root = (req, res) => sendText(res, 200, 'text/plain; charset=utf-8', 'Ollama is running');
const version = (req, res) => sendJson(res, 200, { version: cfg.version });
const tags = (req, res) => sendJson(res, 200, { models: listModels().map(tagsEntry) });
const ps = (req, res) => sendJson(res, 200, { models: psEntries() });
const show = (req, res, path, query, raw) => handleShow(req, res, raw);
const infer = (req, res, path, query, raw) => handleInference(req, res, path, query, raw);
const oaList = (req, res) => sendJson(res, 200, {
  object: 'list', data: listModels().map((m) => oaModel(m.display, m)),
}, null, 'encoder');
const oaRetrieve = (req, res, path, query, raw, params) => handleOaRetrieve(req, res, params.model);

// Every route of the real server; null marks one the mock does not
// emulate (it answers 501).  The order of first registration of each
// method is the order of gin's trees, and so of the Allow header.
const GO_ROUTES = [
  ['HEAD', '/', root], ['GET', '/', root],
  ['HEAD', '/api/version', version], ['GET', '/api/version', version],
  ['GET', '/api/status', null],
  ['POST', '/api/pull', null], ['POST', '/api/push', null],
  ['HEAD', '/api/tags', tags], ['GET', '/api/tags', tags],
  ['POST', '/api/show', show],
  ['DELETE', '/api/delete', null],
  ['POST', '/api/me', null], ['POST', '/api/signout', null], ['DELETE', '/api/user/keys/:encodedKey', null],
  ['POST', '/api/create', null], ['POST', '/api/blobs/:digest', null], ['HEAD', '/api/blobs/:digest', null],
  ['POST', '/api/copy', null],
  ['POST', '/api/experimental/web_search', null], ['POST', '/api/experimental/web_fetch', null],
  ['GET', '/api/experimental/model-recommendations', null],
  ['GET', '/api/ps', ps],
  ['POST', '/api/generate', infer], ['POST', '/api/chat', infer],
  ['POST', '/api/embed', infer], ['POST', '/api/embeddings', infer],
  ['POST', '/v1/chat/completions', infer], ['POST', '/v1/completions', infer], ['POST', '/v1/embeddings', infer],
  ['GET', '/v1/models', oaList], ['GET', '/v1/models/:model', oaRetrieve],
  ['POST', '/v1/responses', null], ['POST', '/v1/audio/transcriptions', null], ['POST', '/v1/messages', null],
];
const METHOD_TREES = [];
for (const [m] of GO_ROUTES) if (!METHOD_TREES.includes(m)) METHOD_TREES.push(m);

function matchRoute(method, path) {
  const segs = path.split('/');
  for (const [m, pattern, handler] of GO_ROUTES) {
    if (m !== method) continue;
    const ps2 = pattern.split('/');
    if (ps2.length !== segs.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < ps2.length && ok; i++) {
      if (ps2[i].startsWith(':')) {
        if (segs[i] === '') ok = false;
        else params[ps2[i].slice(1)] = segs[i];
      } else if (ps2[i] !== segs[i]) ok = false;
    }
    if (ok) return { handler, params };
  }
  return null;
}

// --- server/routes.go allowedHostsMiddleware / allowedHost / isLocalIP

// Go's net.SplitHostPort; returns the host, or null on error.
function splitHostPort(hp) {
  const i = hp.lastIndexOf(':');
  if (i < 0) return null;
  let host;
  let j = 0;
  let k = 0;
  if (hp[0] === '[') {
    const end = hp.indexOf(']');
    if (end < 0) return null;
    if (end + 1 === hp.length) return null;
    if (end + 1 !== i) return null;
    host = hp.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hp.slice(0, i);
    if (host.includes(':')) return null;
  }
  if (hp.slice(j).includes('[')) return null;
  if (hp.slice(k).includes(']')) return null;
  return host;
}

// IPv6 text to 8 groups, or null
function v6Groups(a) {
  let s = a.toLowerCase();
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  const m4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (m4) {
    const p = m4[2].split('.').map(Number);
    s = `${m4[1]}${((p[0] << 8) | p[1]).toString(16)}:${((p[2] << 8) | p[3]).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 1 && fill !== 0) return null;
  const g = head.concat(Array(Math.max(0, fill)).fill('0'), tail).map((x) => parseInt(x, 16));
  return g.length === 8 && g.every((x) => x >= 0 && x <= 0xffff) ? g : null;
}

function v4Parts(a) {
  return a.split('.').map(Number);
}

// netip.Addr IsLoopback / IsPrivate / IsUnspecified, with 4-in-6 unmapped
// for the first two as Go does.
function ipClass(a) {
  const fam = net.isIP(a);
  if (fam === 4) {
    const p = v4Parts(a);
    return {
      loopback: p[0] === 127,
      private: p[0] === 10 || (p[0] === 172 && p[1] >= 16 && p[1] <= 31) || (p[0] === 192 && p[1] === 168),
      unspecified: a === '0.0.0.0',
    };
  }
  const g = v6Groups(a);
  if (!g) return { loopback: false, private: false, unspecified: false };
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    const v4 = `${g[6] >> 8}.${g[6] & 255}.${g[7] >> 8}.${g[7] & 255}`;
    const c = ipClass(v4);
    return { loopback: c.loopback, private: c.private, unspecified: false };
  }
  return {
    loopback: g.slice(0, 7).every((x) => x === 0) && g[7] === 1,
    private: (g[0] & 0xfe00) === 0xfc00,
    unspecified: g.every((x) => x === 0),
  };
}

function isLocalIP(a) {
  const want = net.isIP(a) === 6 ? String(v6Groups(a)) : a;
  const ifs = os.networkInterfaces();
  for (const name of Object.keys(ifs)) {
    for (const x of ifs[name] || []) {
      const have = x.family === 'IPv6' || x.family === 6 ? String(v6Groups(x.address)) : x.address;
      if (have === want) return true;
    }
  }
  return false;
}

function allowedHost(host) {
  const h = host.toLowerCase();
  if (h === '' || h === 'localhost') return true;
  if (h === os.hostname().toLowerCase()) return true;
  return ['localhost', 'local', 'internal'].some((tld) => h.endsWith(`.${tld}`));
}

let hostGuard = false; // on when the listener is on a loopback address

// true: go on; false: answered (403, or 204 for OPTIONS)
function hostAllowed(req, res) {
  if (!hostGuard) return true;
  let hostHeader = req.headers.host || '';
  const url = req.url || '';
  if (!url.startsWith('/')) { // absolute-form: Go's Request.Host is the URL's host
    try { hostHeader = new URL(url).host; } catch (e) { /* keep the header */ }
  }
  const sp = splitHostPort(hostHeader);
  const host = sp === null ? hostHeader : sp;
  if (net.isIP(host)) {
    const c = ipClass(host);
    if (c.loopback || c.private || c.unspecified || isLocalIP(host)) return true;
  }
  if (allowedHost(host)) {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'X-Mock-Name': nameHv });
      res.end();
      return false;
    }
    return true;
  }
  st.forbidden++;
  if (opts.verbose) log(`403: Host "${hostHeader}" refused`);
  res.writeHead(403, { 'Content-Length': 0, 'X-Mock-Name': nameHv });
  res.end();
  return false;
}

function htmlEscape(s) {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&#34;', "'": '&#39;' }[c]));
}

// gin redirectTrailingSlash -> net/http Redirect: 301 for GET, 307 else;
// only GET gets the little HTML body.
function redirect(res, method, url) {
  const code = method === 'GET' ? 301 : 307;
  const h = { Location: url, 'X-Mock-Name': nameHv };
  let body = '';
  if (method === 'GET' || method === 'HEAD') h['Content-Type'] = 'text/html; charset=utf-8';
  if (method === 'GET') body = `<a href="${htmlEscape(url)}">Moved Permanently</a>.\n\n`;
  h['Content-Length'] = Buffer.byteLength(body);
  res.writeHead(code, h);
  res.end(body);
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
  const rawPath = q >= 0 ? url.slice(0, q) : url;
  const query = q >= 0 ? url.slice(q + 1) : '';
  let path = rawPath;
  try {
    path = decodeURIComponent(rawPath); // gin matches the decoded URL.Path
  } catch (e) { /* keep it raw */ }
  const method = req.method;
  if (opts.verbose) log(`${method} ${url}`);

  // The test harness's control endpoints are not subject to the Host
  // guard (it exists to stop DNS rebinding, which cannot reach these).
  if (path.startsWith('/_mock/')) return mockControl(req, res, path, raw);

  const hit = matchRoute(method, path);
  if (!hit && method !== 'CONNECT' && path !== '/' && METHOD_TREES.includes(method)) {
    const alt = path.endsWith('/') ? path.slice(0, -1) : `${path}/`;
    if (matchRoute(method, alt)) return redirect(res, method, alt + (q >= 0 ? `?${query}` : ''));
  }
  // global middleware: it also runs for gin's 404 and 405 answers
  if (!hostAllowed(req, res)) return undefined;
  if (!hit) {
    const allowed = METHOD_TREES.filter((m) => m !== method && matchRoute(m, path));
    if (allowed.length > 0) {
      return sendText(res, 405, 'text/plain', '405 method not allowed', { Allow: allowed.join(', ') });
    }
    return sendText(res, 404, 'text/plain', '404 page not found');
  }
  if (!hit.handler) {
    return sendMockErr(res, path.startsWith('/v1/') ? 'openai' : 'ollama', 501,
      `mock-ollama: ${method} ${path} is not emulated`);
  }
  return hit.handler(req, res, path, query, raw, hit.params);
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
      sendMockErr(res, (req.url || '').startsWith('/v1/') ? 'openai' : 'ollama', 413,
        `request body larger than ${MAX_BODY} bytes`, { Connection: 'close' });
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
      if (!res.headersSent) {
        sendMockErr(res, (req.url || '').startsWith('/v1/') ? 'openai' : 'ollama', 500,
          `mock-ollama internal error: ${e && e.message}`);
      } else res.destroy();
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
  return undefined;
});

server.on('error', (e) => {
  process.stderr.write(`mock-ollama: ${e.message}\n`);
  process.exit(1);
});

server.listen(opts.port, opts.host, () => {
  const addr = server.address();
  const port = addr && typeof addr === 'object' ? addr.port : opts.port;
  // server/routes.go allowedHostsMiddleware: only a loopback listener
  // checks the Host header
  hostGuard = !!(addr && typeof addr === 'object' && net.isIP(addr.address) && ipClass(addr.address).loopback);
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
