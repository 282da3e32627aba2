#!/usr/bin/python3
"""The translation against a real OpenAI-compatible server: the mock
(t/backend/mock-ollama.js), which answers /v1/chat/completions as Ollama's
compatibility layer does.

For each Ollama request below: build/unit-translate (its filter mode)
translates it to an OpenAI body, the mock answers it on
/v1/chat/completions, the answer (JSON, or SSE read in small pieces) is
translated back, and the result is checked against what the same mock
answers to the Ollama request itself on /api/chat or /api/generate: the
same text, thinking, tool calls, done_reason and counts, every line a JSON
object with Ollama's fields.

    make build/unit-translate && t/unit/translate-mock.py
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
FILTER = os.path.join(ROOT, 'build', 'unit-translate')
MOCK = os.path.join(ROOT, 't', 'backend', 'mock-ollama.js')
RFC3339 = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$')

TOOLS = [{'type': 'function', 'function': {
    'name': 'get_weather', 'description': 'weather of a city',
    'parameters': {'type': 'object', 'required': ['city'],
                   'properties': {'city': {'type': 'string'}}}}}]

CASES = [
    ('chat, streamed (the default)', 'chat', {
        'model': 'llama3.2:3b',
        'messages': [{'role': 'system', 'content': 'be brief'},
                     {'role': 'user', 'content': 'Say hello'}]}),
    ('chat, not streamed, options', 'chat', {
        'model': 'llama3.2:3b', 'stream': False,
        'messages': [{'role': 'user', 'content': 'Say hello'}],
        'options': {'temperature': 0.2, 'top_p': 0.9, 'seed': 1,
                    'stop': ['###'], 'num_predict': 100}}),
    ('chat, cut by num_predict', 'chat', {
        'model': 'llama3.2:3b',
        'messages': [{'role': 'user', 'content': 'Say hello'}],
        'options': {'num_predict': 3}}),
    ('chat, thinking model, streamed', 'chat', {
        'model': 'gpt-oss:20b', 'think': 'low',
        'messages': [{'role': 'user', 'content': 'Say hello'}]}),
    ('chat, thinking model, not streamed', 'chat', {
        'model': 'gpt-oss:20b', 'stream': False,
        'messages': [{'role': 'user', 'content': 'Say hello'}]}),
    ('chat, tools, streamed', 'chat', {
        'model': 'llama3.2:3b', 'tools': TOOLS,
        'messages': [{'role': 'user', 'content': 'Weather in Paris?'}]}),
    ('chat, tools, not streamed', 'chat', {
        'model': 'llama3.2:3b', 'tools': TOOLS, 'stream': False,
        'messages': [{'role': 'user', 'content': 'Weather in Paris?'}]}),
    ('chat, tool results and an image', 'chat', {
        'model': 'llama3.2:3b', 'tools': TOOLS,
        'messages': [
            {'role': 'user', 'content': 'Weather here?',
             'images': ['iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAA'
                        'DUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==']},
            {'role': 'assistant', 'content': '', 'tool_calls': [
                {'function': {'name': 'get_weather',
                              'arguments': {'city': 'Paris'}}}]},
            {'role': 'tool', 'tool_name': 'get_weather',
             'content': 'sunny'}]}),
    ('chat, format json', 'chat', {
        'model': 'llama3.2:3b', 'format': 'json', 'stream': False,
        'messages': [{'role': 'user', 'content': 'Say hello'}]}),
    ('generate, streamed', 'generate', {
        'model': 'llama3.2:3b', 'prompt': 'Say hello', 'system': 'be brief'}),
    ('generate, not streamed, schema', 'generate', {
        'model': 'llama3.2:3b', 'prompt': 'Say hello', 'stream': False,
        'format': {'type': 'object',
                   'properties': {'a': {'type': 'string'}}}}),
]

passes = 0
failures = 0


def check(cond, what):
    global passes, failures
    if cond:
        passes += 1
    else:
        failures += 1
        print('  FAIL', what)
    return cond


def post(port, path, body, headers=None):
    req = urllib.request.Request(
        'http://127.0.0.1:%d%s' % (port, path), data=body,
        headers=dict({'Content-Type': 'application/json'}, **(headers or {})))
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get('Content-Type', ''), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get('Content-Type', ''), e.read()


def filt(args, data):
    p = subprocess.run([FILTER] + args, input=data, capture_output=True)
    return p.returncode, p.stdout, p.stderr


def lines_of(ndjson):
    out = []
    for raw in ndjson.split(b'\n')[:-1]:
        out.append(json.loads(raw))
    check(ndjson.endswith(b'\n'), 'NDJSON ends with a newline')
    return out


def summary(objs, dialect):
    """text, thinking, tool calls, done_reason, counts of an answer"""
    text = thinking = ''
    calls = []
    for o in objs:
        m = o.get('message', {}) if dialect == 'chat' else o
        text += m.get('content' if dialect == 'chat' else 'response', '')
        thinking += m.get('thinking', '')
        for c in m.get('tool_calls', []) or []:
            f = c['function']
            calls.append((f['name'], json.dumps(f['arguments'],
                                                sort_keys=True)))
    last = objs[-1]
    return {'text': text, 'thinking': thinking, 'calls': calls,
            'done_reason': last.get('done_reason'),
            'prompt_eval_count': last.get('prompt_eval_count'),
            'eval_count': last.get('eval_count')}


def check_shape(objs, dialect, stream):
    for i, o in enumerate(objs):
        last = i == len(objs) - 1
        check(isinstance(o.get('model'), str) and o['model'], 'model')
        check(RFC3339.match(o.get('created_at', '')) is not None,
              'created_at is RFC 3339: %r' % o.get('created_at'))
        check(o.get('done') is last, 'done only on the last line')
        if dialect == 'chat':
            m = o.get('message')
            check(isinstance(m, dict) and m.get('role') == 'assistant'
                  and isinstance(m.get('content'), str), 'message')
        else:
            check(isinstance(o.get('response'), str), 'response')
        if last:
            check(o.get('done_reason') in ('stop', 'length'), 'done_reason')
            for k in ('total_duration', 'load_duration', 'prompt_eval_count',
                      'prompt_eval_duration', 'eval_count', 'eval_duration'):
                check(isinstance(o.get(k), int), k + ' is an integer')
    check(stream or len(objs) == 1, 'one object when not streamed')


def run_case(port, name, dialect, body):
    print('-', name)
    stream = body.get('stream', True)

    # what Ollama itself answers
    st, _, native = post(port, '/api/' + dialect, json.dumps(body).encode())
    check(st == 200, 'native answer %d' % st)
    native_objs = [json.loads(x) for x in native.split(b'\n') if x.strip()]

    # through the translation
    rc, oa_body, err = filt(['request', dialect, body['model']],
                            json.dumps(body).encode())
    if not check(rc == 0, 'request translated: %s' % err.decode()):
        return
    oa = json.loads(oa_body)
    check(oa.get('stream') is stream, 'stream flag')
    check(('stream_options' in oa) == stream, 'stream_options')

    st, ctype, answer = post(port, '/v1/chat/completions', oa_body)
    if not check(st == 200, 'OpenAI answer %d: %s' % (st, answer[:200])):
        return
    check(('text/event-stream' in ctype) == stream, 'content type ' + ctype)

    rc, out, err = filt(['stream' if stream else 'answer', dialect], answer)
    check(rc == 0, 'answer translated')
    if not stream:
        check(not out.endswith(b'\n'), 'JSON answer without a newline')
        out += b'\n'
    objs = lines_of(out)
    if not check(len(objs) > 0, 'some output'):
        return
    check_shape(objs, dialect, stream)

    got, want = summary(objs, dialect), summary(native_objs, dialect)
    for k in want:
        check(got[k] == want[k], '%s: %r, Ollama %r' % (k, got[k], want[k]))
    print('  %d line(s), %r' % (len(objs), got['text'][:40]))


def run_errors(port):
    print('- errors')
    body = {'model': 'nope:1b', 'messages': [{'role': 'user',
                                              'content': 'hi'}]}
    rc, oa_body, _ = filt(['request', 'chat', 'nope:1b'],
                          json.dumps(body).encode())
    st, _, answer = post(port, '/v1/chat/completions', oa_body)
    check(st == 404, 'unknown model is 404')
    rc, out, _ = filt(['answer', 'chat'], answer)
    check(rc == 1 and json.loads(out) == {
        'error': "model 'nope:1b' not found"}, 'error translated: %r' % out)

    # an upstream failure in the middle of a stream
    rc, oa_body, _ = filt(['request', 'chat', 'llama3.2:3b'], json.dumps(
        dict(body, model='llama3.2:3b')).encode())
    st, _, answer = post(port, '/v1/chat/completions', oa_body,
                         {'X-Mock-Fail': 'midstream'})
    rc, out, _ = filt(['stream', 'chat'], answer)
    objs = lines_of(out)
    check(rc == 1 and 'error' in objs[-1] and
          all(o.get('done') is False for o in objs[:-1]),
          'cut stream ends with an error line: %r' % out[-120:])


def main():
    if not os.access(FILTER, os.X_OK):
        sys.exit('build it first: make %s' % FILTER)

    with tempfile.TemporaryDirectory() as tmp:
        ready = os.path.join(tmp, 'port')
        mock = subprocess.Popen(
            ['node', MOCK, '--port', '0', '--model', 'llama3.2:3b',
             '--models', 'gpt-oss:20b', '--tokens', '12',
             '--ready-file', ready],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                if os.path.exists(ready) and open(ready).read().strip():
                    break
                time.sleep(0.05)
            port = int(open(ready).read())
            for name, dialect, body in CASES:
                run_case(port, name, dialect, body)
            run_errors(port)
        finally:
            mock.terminate()
            mock.wait()

    print('translate-mock: %d passed, %d failed' % (passes, failures))
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
