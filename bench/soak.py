#!/usr/bin/env python3
"""ngx_llm_router soak (make soak; SOAK_SECONDS, default 1800).

Sustained load through the router (2 workers, cache, fallback, breaker,
health checks) on mock tiers, with a mix of cache hits, misses, streams and
injected faults:

  per request  X-Mock-Fail 503 / reset / close (stream cut), a client that
               leaves after 50 ms
  periodic     the big tier killed for 20 s every 5 minutes, Redis killed
               for 5 s every 7 minutes

Every request must end in exactly one of: a whole answer (one final event,
one JSON document), a clean JSON error (for an injected failure, or for
example a 503 while a run of injected failures holds both breakers open),
a stream cut by an injected close or by the big tier's kill, or the
client's own abort.  Anything else, a worker crash, a non-zero in-flight count at the
end or worker RSS growing by more than SOAK_RSS_KIB (default 2048) per
worker after warm-up fails the run.  Figures go to bench/results/SOAK.md.
"""

import json
import os
import random
import re
import shutil
import socket
import statistics
import sys
import threading
import time
import http.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B    # noqa: E402  (processes, nginx, mocks, redis, charts)

SECONDS = int(os.environ.get('SOAK_SECONDS', '1800'))
RSS_BOUND = int(os.environ.get('SOAK_RSS_KIB', '2048'))
CONC = int(os.environ.get('SOAK_CONCURRENCY', '16'))
SAMPLE = 10 if SECONDS >= 300 else 2
WARMUP = min(300, SECONDS // 6)

BIG_ARGS = ['--ttft', '40', '--tps', '400', '--tokens', '12', '--slots', '4']
SMALL_ARGS = ['--ttft', '10', '--tps', '800', '--tokens', '12', '--slots', '8']


def router_conf(bport, sport, rport, port):
    return B.tiers(bport, sport) + '''
    llm_router_breaker failures=3 cooldown=2s;
    llm_router_health_check interval=1s timeout=500ms;
    llm_redis 127.0.0.1:%d timeout=200ms;
    server {
        listen 127.0.0.1:%d;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $llm_upstream_host;
        proxy_buffering off;
        proxy_connect_timeout 1s;
        proxy_read_timeout 10s;
        llm_cache on;
        llm_cache_ttl 120s;
        add_header X-LLM-Fallback $llm_fallback always;
        location = /status { llm_router_status; }
%s
    }''' % (rport, port, B.FALLBACK)


# --- one request ----------------------------------------------------------

def read_chunked(resp):
    """the body of a response, and whether it ended as announced"""
    try:
        data = resp.read()
        return data, True
    except http.client.IncompleteRead as e:
        return e.partial, False
    except (OSError, http.client.HTTPException):
        return b'', False


def whole(body, stream, openai):
    """(complete, duplicated) for a 200 answer"""
    text = body.decode('utf-8', 'replace')
    if stream and openai:
        done = text.count('data: [DONE]')
        return done >= 1 and text.rstrip().endswith('data: [DONE]'), done > 1
    if stream:
        lines = [ln for ln in text.split('\n') if ln.strip()]
        finals = sum(1 for ln in lines if '"done":true' in ln)
        return bool(lines) and '"done":true' in lines[-1], finals > 1
    try:
        json.loads(text)
        return True, False
    except ValueError:
        # two documents glued together would land here too
        return False, text.count('"model"') > 1


class Client:
    """one kept-alive connection, as JARVIS's HTTP session and the SDKs
    keep theirs: reopened only after the server closed it or an answer
    was cut"""

    def __init__(self, port):
        self.port = port
        self.conn = None
        self.used = 0        # requests sent on the current connection
        self.opened = 0
        self.reused = 0      # requests that rode on an earlier one's

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None

    def get(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection('127.0.0.1', self.port,
                                                   timeout=60)
            self.opened += 1
            self.used = 0
        if self.used:
            self.reused += 1
        self.used += 1
        return self.conn


def one(client, item, fault):
    label, path, body = item
    req = json.loads(body)
    openai = path.startswith('/v1/')
    stream = req.get('stream', not openai)
    headers = {'Content-Type': 'application/json'}
    if fault:
        headers['Cache-Control'] = 'no-cache'
        headers['X-Mock-Fail'] = fault
    if fault == 'abort':
        del headers['X-Mock-Fail']
        s = socket.create_connection(('127.0.0.1', client.port))
        data = body.encode()
        s.sendall(('POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: '
                   'application/json\r\nContent-Length: %d\r\n\r\n'
                   % (path, len(data))).encode() + data)
        time.sleep(0.05)
        s.close()
        return 'aborted', 0, 0.05, ''
    c = client.get()
    t0 = time.time()
    try:
        c.request('POST', path, body=body, headers=headers)
        r = c.getresponse()
        data, ended = read_chunked(r)
        status = r.status
        cache = r.getheader('X-LLM-Cache') or ''
        if r.will_close or not ended:
            client.close()
    except (OSError, http.client.HTTPException) as e:
        client.close()
        return 'no-response', 0, time.time() - t0, str(e)
    dt = time.time() - t0
    if status == 200:
        ok, dup = whole(data, stream, openai)
        if dup:
            return 'duplicated', status, dt, cache
        if ok and ended:
            return 'whole:' + (cache or '-'), status, dt, cache
        return 'cut', status, dt, cache
    try:
        err = json.loads(data.decode('utf-8', 'replace'))
        clean = 'error' in err
    except ValueError:
        clean = False
    return ('error' if clean else 'dirty-error'), status, dt, \
        data[:200].decode('utf-8', 'replace')


# --- the run -----------------------------------------------------------------

def worker_pids(master):
    return [p for p in B.tree(master)[1:]]


def main():
    os.makedirs(B.RUN, exist_ok=True)
    try:
        items = B.load_prompts()
    except OSError:
        items = [('simple', '/api/generate',
                  '{"model":"auto","prompt":"Hi there","stream":false}'),
                 ('complex', '/v1/chat/completions',
                  '{"model":"auto","messages":[{"role":"user","content":'
                  '"Prove that heapsort is O(n log n) step by step."}]}'),
                 ('medium', '/api/chat', '{"model":"auto","stream":false,'
                  '"messages":[{"role":"user","content":"Explain what a '
                  'hash table is."}]}')]
    rd, rport = B.redis()
    big, bport = B.mock('big', 'gpt-oss:20b', *BIG_ARGS)
    small, sport = B.mock('small', 'llama3.2:3b', *SMALL_ARGS)
    # this run's logs only
    for name in ('error.log', 'stderr.log'):
        try:
            os.unlink(os.path.join(B.RUN, 'soak', 'logs', name))
        except OSError:
            pass
    # a copy of the module: rebuilding build/ during the run cannot touch it
    B.MODULE = os.path.join(B.RUN, 'soak-module.so')
    shutil.copyfile(os.path.join(B.TOP, 'build',
                                 'ngx_http_llm_router_module.so'), B.MODULE)
    port = B.free_port()
    ngx = B.nginx('soak', router_conf(bport, sport, rport, port), workers=2)
    B.say('soak: %d s at concurrency %d on 127.0.0.1:%d' % (SECONDS, CONC,
                                                          port))

    recs = []
    lock = threading.Lock()
    stop = [False]
    events = []          # (t, what)
    kills = []           # (t_down, t_up) of the big tier
    t0 = time.time()

    clients = [Client(port) for _ in range(CONC)]

    def client(k):
        rnd = random.Random(k)
        cl = clients[k]
        while not stop[0]:
            item = items[rnd.randrange(len(items))]
            x = rnd.random()
            fault = ('503' if x < 0.02 else 'reset' if x < 0.03
                     else 'close' if x < 0.04 else 'abort' if x < 0.05
                     else None)
            label, path, body = item
            req = json.loads(body)
            if path != '/generate' and rnd.random() < 0.3:
                req['stream'] = True
            if fault is None and rnd.random() < 0.5:
                # a fresh variant: a miss (the others repeat: hits)
                req['options'] = {'seed': rnd.randrange(1 << 30)}
            item = (label, path, json.dumps(req))
            start = time.time() - t0
            out, status, dt, info = one(cl, item, fault)
            with lock:
                recs.append((start, start + dt, out, status, dt, fault,
                             info if out != 'error' or not fault else ''))

    rss = []             # (t, [kib per worker])

    def sampler():
        while not stop[0]:
            t = time.time() - t0
            per = []
            for p in worker_pids(ngx.pid):
                try:
                    with open('/proc/%d/status' % p) as f:
                        m = re.search(r'VmRSS:\s+(\d+)', f.read())
                        per.append(int(m.group(1)))
                except OSError:
                    pass
            rss.append((t, sorted(per)))
            time.sleep(SAMPLE)

    def chaos():
        nonlocal big, rd
        next_big, next_redis = 300, 420
        if SECONDS < 600:
            next_big, next_redis = SECONDS / 3, SECONDS / 2
        while not stop[0]:
            t = time.time() - t0
            if t >= next_big and t < SECONDS - 30:
                B.stop(big)
                down = time.time() - t0
                events.append((down, 'big tier killed'))
                time.sleep(20)
                big = B.start(['node', B.MOCK, '--port', str(bport),
                               '--model', 'gpt-oss:20b', '--name', 'big']
                              + BIG_ARGS, bport,
                              os.path.join(B.RUN, 'soak-big.log'))
                up = time.time() - t0
                events.append((up, 'big tier back'))
                kills.append((down, up))
                next_big += 300
            elif t >= next_redis and t < SECONDS - 30:
                B.stop(rd)
                events.append((time.time() - t0, 'redis killed'))
                time.sleep(5)
                rd = B.start(['redis-server', '--port', str(rport), '--bind',
                              '127.0.0.1', '--save', '', '--appendonly',
                              'no'], rport, os.path.join(B.RUN, 'redis.log'))
                events.append((time.time() - t0, 'redis back'))
                next_redis += 420
            time.sleep(0.5)

    pids0 = worker_pids(ngx.pid)
    # daemon threads: an interrupt (Ctrl-C, TERM) ends the run at once
    ts = [threading.Thread(target=client, args=(k,), daemon=True)
          for k in range(CONC)]
    ts += [threading.Thread(target=sampler, daemon=True),
           threading.Thread(target=chaos, daemon=True)]
    for t in ts:
        t.start()
    while time.time() - t0 < SECONDS:
        time.sleep(1)
    stop[0] = True
    for t in ts:
        t.join()
    elapsed = time.time() - t0
    opened = sum(c.opened for c in clients)
    reused = sum(c.reused for c in clients)
    for c in clients:
        c.close()

    # in-flight back to 0 (readiness poll, bounded)
    st = None
    deadline = time.time() + 30
    while time.time() < deadline:
        c = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
        c.request('GET', '/status?format=json')
        st = json.loads(c.getresponse().read())
        c.close()
        if all(t['inflight'] == 0 for t in st['tiers'].values()):
            break
        time.sleep(0.1)
    inflight = {k: v['inflight'] for k, v in st['tiers'].items()}
    pids1 = worker_pids(ngx.pid)
    B.stop(ngx)
    log = open(os.path.join(B.RUN, 'soak', 'logs', 'error.log')).read()
    crashes = len(re.findall(r'exited on signal', log))
    criticals = len(re.findall(r'\[(alert|crit|emerg)\]', log))

    # outcomes
    def in_kill(r):
        return any(r[0] <= d + 1 and r[1] >= d - 1 for d, _ in kills)

    counts = {}
    unexpected = []
    for r in recs:
        out, fault = r[2], r[5]
        if out.startswith('whole:'):
            kind = 'whole answer (%s)' % out[6:]
        elif out == 'aborted' and fault == 'abort':
            kind = 'client abort (injected)'
        elif out == 'error' and fault in ('503', 'reset'):
            kind = 'clean JSON error (injected %s on both tiers)' % fault
        elif out == 'cut' and fault == 'close':
            kind = 'stream cut (injected close)'
        elif out == 'error' and fault == 'close':
            kind = 'clean JSON error (injected close before headers)'
        elif out == 'cut' and in_kill(r):
            kind = 'stream cut (big tier killed)'
        elif out == 'error':
            # e.g. both breakers opened by a run of injected failures
            try:
                msg = json.loads(r[6])['error']
                msg = msg['message'] if isinstance(msg, dict) else msg
            except (ValueError, KeyError, TypeError):
                msg = r[6][:60]
            kind = 'clean JSON error %d, not injected: "%s"' % (r[3], msg)
        else:
            kind = 'UNEXPECTED %s %s (fault %s)' % (out, r[3], fault)
            unexpected.append(r)
        counts[kind] = counts.get(kind, 0) + 1
    lat = sorted(r[4] for r in recs if r[2].startswith('whole:'))

    def q(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else 0

    warm = [s for s in rss if s[0] >= WARMUP and len(s[1]) == 2]
    growth = [0, 0]
    if warm:
        growth = [warm[-1][1][i] - warm[0][1][i] for i in range(2)]
    dup = sum(1 for r in recs if r[2] == 'duplicated')
    lost = sum(1 for r in recs if r[2] == 'no-response')
    failed = (unexpected or crashes or criticals
              or any(inflight.values()) or max(growth) > RSS_BOUND
              or set(pids0) != set(pids1))

    # report
    R = ['# Soak', '',
         'Run on %s (UTC), %d cores, %s.' % (
             time.strftime('%Y-%m-%d %H:%M', time.gmtime()), os.cpu_count(),
             re.search(r'model name\s*:\s*(.*)',
                       open('/proc/cpuinfo').read()).group(1)),
         'Command: `make soak` (= `SOAK_SECONDS=%d python3 bench/soak.py`).'
         % SECONDS, '',
         'Router: 2 workers, cache on, fallback, breaker (3 failures, 2 s), '
         'health checks (1 s); mock tiers big (4 slots) and small (8 slots). '
         '%d client threads send the labelled dev-set prompts (every '
         'dialect, streamed and not), half of them repeats (cache hits), '
         'each on one kept-alive connection, reopened only when the server '
         'closed it or an answer was cut, '
         'with 2 %% `X-Mock-Fail: 503`, 1 %% `reset`, 1 %% `close` (the '
         'tier cuts its answer), 1 %% clients leaving after 50 ms; the big '
         'tier is killed for 20 s every 5 minutes and Redis for 5 s every '
         '7 minutes.' % CONC, '',
         B.table(['duration', 'requests', 'req/s', 'whole answers p50',
                  'p95', 'p99'],
                 [['%.0f s' % elapsed, len(recs),
                   '%.0f' % (len(recs) / elapsed),
                   '%.1f ms' % q(0.5), '%.1f ms' % q(0.95),
                   '%.1f ms' % q(0.99)]]), '',
         '## Outcomes', '',
         B.table(['outcome', 'requests'],
                 sorted(counts.items(), key=lambda kv: -kv[1])), '',
         B.table(['check', 'result'], [
             ['requests without exactly one response (lost)', lost],
             ['answers with two final events or documents (duplicated)', dup],
             ['unexpected outcomes', len(unexpected)],
             ['client connections opened (kept alive between requests)',
              opened],
             ['requests sent on a kept-alive connection', reused],
             ['worker crashes (error log "exited on signal")', crashes],
             ['alert/crit/emerg lines', criticals],
             ['same worker PIDs at the start and the end',
              'yes' if set(pids0) == set(pids1) else 'NO'],
             ['in-flight at the end', json.dumps(inflight)],
             ['worker RSS growth after %d s warm-up (KiB, per worker)'
              % WARMUP, '%s (bound %d)' % (growth, RSS_BOUND)]]), '',
         '## Events', '',
         B.table(['t (s)', 'event'], [['%.0f' % t, w] for t, w in events]),
         '', '## Worker RSS (KiB)', '',
         B.table(['t (s)', 'worker 1', 'worker 2'],
                 [['%.0f' % t, *v] for t, v in rss[::max(1, len(rss) // 12)]
                  if len(v) == 2]), '',
         'Result: **%s**.' % ('FAILED' if failed else 'passed'), '']
    data = os.path.join(B.RUN, 'soak-rss.dat')
    with open(data, 'w') as f:
        for t, v in rss:
            if len(v) == 2:
                f.write('%.1f %d %d\n' % (t, v[0], v[1]))
    R.append(B.chart('soak-rss', 'set xlabel "seconds"\nset ylabel "KiB"\n'
                     'set title "nginx worker RSS during the soak"\n'
                     'plot "%s" using 1:2 with lines title "worker 1", '
                     '"%s" using 1:3 with lines title "worker 2"\n'
                     % (data, data)))
    with open(os.path.join(B.RESULTS, 'SOAK.md'), 'w') as f:
        f.write('\n'.join(R) + '\n')
    for r in unexpected[:20]:
        print('unexpected:', r)
    print('\n'.join(R))
    for p in (big, small, rd):
        B.stop(p)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
