#!/usr/bin/env python3
"""ngx_llm_router benchmarks (make bench).

Starts its own processes (by PID, on 127.0.0.1 only), runs each load for a
bounded time, stops everything on exit or interrupt, and writes
bench/results/REPORT.md plus PNG charts (gnuplot).

Scenarios:
  overhead   router vs plain nginx proxy_pass vs Portkey, same fast backend
  classify   classifier cost per prompt size
  workload   the assistant's mix on realistic mock tiers, four policies
  routing    public prompts the classifier was not trained on, through the
             router before the learned classifier, with it, and with the
             score-aware medium rule: complex prompts answered by big
  failover   big tier stopped for 20 s during a 60 s run
  cache      hit latency, hit rate and GPU time saved on repeats
  memory     worker RSS before/after 100 000 routed requests
  balance    two big-tier servers with cold starts and multi-turn chats:
             least_conn, warm first, warm first + affinity (TTFT, cold
             requests)
  overflow   the assistant's workload at 8, 16, 32 clients on the two local
             tiers alone and with an api=openai overflow tier (a mock with
             network-like latency): P95 and the share sent to the paid tier
  retyped    assistant traffic with retyped repeats through the cache: hit
             rate and wrong hits with L1 (exact) alone and with L1 + L2
             (similar prompts), against the study's 85 % target
  instructions  instructions per request (callgrind), plain proxy_pass
             and the router, for five request kinds, with the top functions
  compare    this tree's module against one built at --base=COMMIT, in the
             same run: instructions per request (callgrind) and req/s
  latency    concurrency 1: direct, plain proxy_pass (twice) and the router
             (cache off, cache hit), p50/p99 of a non-streamed answer and
             of the first event of NDJSON and SSE streams, 20 interleaved
             rounds, every process on one CPU at SCHED_FIFO (LATENCY_CPU=
             P, P,C or none); throughput at 16 and 64 connections, 15
             interleaved rounds of 2 s (THROUGHPUT_ROUNDS=R,S for R
             rounds of S seconds); writes results/LATENCY.md (about 4
             minutes)

Usage: bench/bench.py [--quick] [--base=COMMIT] [scenario ...]
"""

import atexit
import http.client
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(TOP, 'bench', 'results')
RUN = os.path.join(RESULTS, 'run')
MODULE = os.path.join(TOP, 'build', 'ngx_http_llm_router_module.so')
NGINX = os.environ.get('NGINX', '/usr/sbin/nginx')
MOCK = os.environ.get('BENCH_MOCK') or os.path.join(TOP, 't', 'backend',
                                                 'mock-ollama.js')
PORTKEY = os.path.join(TOP, 'bench', 'peers', 'node_modules', '@portkey-ai',
                       'gateway', 'build', 'start-server.js')
DEV = os.path.join(os.path.dirname(TOP), 'shared', 'prompts', 'dev.jsonl')
CORPUS = os.environ.get('CORPUS') or os.path.join(
    os.path.dirname(TOP), 'shared', 'training', 'train.jsonl')

QUICK = '--quick' in sys.argv
BASE = next((a.split('=', 1)[1] for a in sys.argv if a.startswith('--base=')),
            None)
PROCS = []
REPORT = []
CLK = os.sysconf('SC_CLK_TCK')


# --- processes ---------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError('nothing listening on %d' % port)


def start(argv, port, log, env=None):
    out = open(log, 'w')
    p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, env=env,
                         start_new_session=True)
    PROCS.append(p)
    wait_port(port)
    return p


def stop(p):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    if p in PROCS:
        PROCS.remove(p)


def cleanup():
    for p in list(PROCS):
        stop(p)


atexit.register(cleanup)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
signal.signal(signal.SIGINT, lambda *a: sys.exit(1))


def nginx(name, http, workers=1, main=''):
    d = os.path.join(RUN, name)
    os.makedirs(os.path.join(d, 'logs'), exist_ok=True)
    temps = ''.join('    %s_temp_path %s/%s;\n' % (t, d, t)
                    for t in ('client_body', 'proxy', 'fastcgi', 'uwsgi',
                              'scgi'))
    conf = ('load_module %s;\n%sworker_processes %d;\nerror_log %s/logs/'
            'error.log warn;\npid %s/nginx.pid;\n%s\nevents { '
            'worker_connections 4096; }\nhttp {\n    access_log off;\n%s%s\n}\n'
            % (MODULE, 'user root;\n' if os.geteuid() == 0 else '', workers,
               d, d, main, temps, http))
    with open(os.path.join(d, 'nginx.conf'), 'w') as f:
        f.write(conf)
    port = int(re.search(r'listen 127\.0\.0\.1:(\d+)', http).group(1))
    return start([NGINX, '-p', d, '-c', os.path.join(d, 'nginx.conf'),
                  '-g', 'daemon off;'], port, os.path.join(d, 'stderr.log'))


def tree(pid):
    """pid and its children (nginx master + workers)"""
    pids = [pid]
    for p in os.listdir('/proc'):
        if p.isdigit():
            try:
                with open('/proc/%s/stat' % p) as f:
                    if int(f.read().rsplit(')', 1)[1].split()[1]) == pid:
                        pids.append(int(p))
            except (OSError, IndexError, ValueError):
                pass
    return pids


def cpu_ticks(pid):
    total = 0
    for p in tree(pid):
        try:
            with open('/proc/%d/stat' % p) as f:
                fields = f.read().rsplit(')', 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total


def rss_kb(pid):
    total = 0
    for p in tree(pid)[1:] or [pid]:
        with open('/proc/%d/status' % p) as f:
            m = re.search(r'VmRSS:\s+(\d+)', f.read())
            total += int(m.group(1)) if m else 0
    return total


def mock(name, model, *args):
    port = free_port()
    return start(['node', MOCK, '--port', str(port), '--model', model,
                  '--name', name] + list(args), port,
                 os.path.join(RUN, 'mock-%s.log' % name)), port


def redis():
    port = free_port()
    return start(['redis-server', '--port', str(port), '--bind', '127.0.0.1',
                  '--save', '', '--appendonly', 'no'], port,
                 os.path.join(RUN, 'redis.log')), port


# --- load ----------------------------------------------------------------------

def wrk(url, body, conns, secs, headers=None):
    lua = os.path.join(RUN, 'wrk.lua')
    with open(lua, 'w') as f:
        f.write('wrk.method = "POST"\nwrk.body = %s\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
                % json.dumps(body))
        for k, v in (headers or {}).items():
            f.write('wrk.headers[%s] = %s\n' % (json.dumps(k), json.dumps(v)))
    out = subprocess.run(['wrk', '-t1', '-c%d' % conns, '-d%ds' % secs,
                          '--latency', '-s', lua, url],
                         capture_output=True, text=True, timeout=secs + 30)
    text = out.stdout

    def lat(label):
        m = re.search(r'\s%s\s+([\d.]+)(us|ms|s)\b' % label, text)
        if not m:
            return float('nan')
        v = float(m.group(1))
        return v * {'us': 1, 'ms': 1000, 's': 1e6}[m.group(2)]

    reqs = re.search(r'(\d+) requests in', text)
    rps = re.search(r'Requests/sec:\s+([\d.]+)', text)
    errors = re.search(r'Non-2xx or 3xx responses: (\d+)', text)
    return {'rps': float(rps.group(1)) if rps else 0.0,
            'requests': int(reqs.group(1)) if reqs else 0,
            'p50_us': lat('50%'), 'p99_us': lat('99%'),
            'non2xx': int(errors.group(1)) if errors else 0}


_conns = threading.local()


def post(port, path, body, headers=None, timeout=120):
    """one POST on this thread's kept-alive connection to port (reopened
    when the server closed it), as JARVIS's HTTP session sends them"""
    pool = _conns.__dict__.setdefault('pool', {})
    h = {'Content-Type': 'application/json'}
    h.update(headers or {})
    t0 = time.time()
    c = pool.get(port)
    if c is None:
        c = pool[port] = http.client.HTTPConnection('127.0.0.1', port,
                                                    timeout=timeout)
    try:
        c.request('POST', path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        if r.will_close:
            c.close()
            del pool[port]
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), \
            data, time.time() - t0
    except (OSError, http.client.HTTPException):
        c.close()
        pool.pop(port, None)
        return 0, {}, b'', time.time() - t0


def table(head, rows):
    out = ['| ' + ' | '.join(head) + ' |',
           '|' + '|'.join('---' for _ in head) + '|']
    for r in rows:
        out.append('| ' + ' | '.join(str(x) for x in r) + ' |')
    return '\n'.join(out)


def chart(name, script):
    png = os.path.join(RESULTS, name + '.png')
    try:
        subprocess.run(['gnuplot'], input="set terminal png size 900,500\n"
                       "set output '%s'\n%s" % (png, script), text=True,
                       capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return ''
    return '\n![%s](%s.png)\n' % (name, name) if os.path.exists(png) else ''


def say(*a):
    print('==>', *a, flush=True)


# --- configuration shared by the scenarios --------------------------------------

def tiers(bport, sport, big='4 queue=4', small='8 queue=8'):
    """the two mock tiers' upstreams, the zone and the tiers (max_inflight=)"""
    return '''
    upstream ollama_big { server 127.0.0.1:%d; keepalive 32; }
    upstream ollama_small { server 127.0.0.1:%d; keepalive 32; }
    llm_router_zone llm 1m;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b max_inflight=%s;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b max_inflight=%s;
''' % (bport, sport, big, small)


# the README's fallback: the other tier on 401/403/502/503/504, then one
# JSON error
FALLBACK = '''
        proxy_intercept_errors on;
        recursive_error_pages on;
        location / {
            llm_router on;
            proxy_pass http://$llm_upstream;
            error_page 401 403 502 503 504 = @fb;
        }
        location @fb {
            llm_router on;
            proxy_pass http://$llm_upstream;
            error_page 401 403 502 503 504 = @fb;
        }
'''


# --- scenario 1: overhead ---------------------------------------------------------

ANSWER = json.dumps({
    'id': 'chatcmpl-bench', 'object': 'chat.completion', 'created': 1,
    'model': 'llama3.2:3b', 'system_fingerprint': 'fp_ollama',
    'choices': [{'index': 0, 'message': {'role': 'assistant', 'content':
                 'Paris is the capital of France. It is also its largest '
                 'city, on the Seine.'}, 'finish_reason': 'stop'}],
    'usage': {'prompt_tokens': 14, 'completion_tokens': 18,
              'total_tokens': 32}})

CHAT = json.dumps({'model': 'auto', 'messages': [
    {'role': 'user', 'content': 'What is the capital of France?'}]})


def scenario_overhead():
    say('overhead: fast backend, plain proxy, router, router cache hits, '
        'Portkey')
    bport, pport, rport, hport = (free_port() for _ in range(4))
    backend = nginx('backend', '''
    server {
        listen 127.0.0.1:%d;
        default_type application/json;
        location / { return 200 '%s'; }
    }''' % (bport, ANSWER.replace("'", "\\'")))
    up = '''
    upstream backend { server 127.0.0.1:%d; keepalive 64; }
    upstream backend2 { server 127.0.0.1:%d; keepalive 64; }
''' % (bport, bport)
    proxy = nginx('baseline', up + '''
    server {
        listen 127.0.0.1:%d;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host localhost;
        }
    }''' % pport)
    rd, redis_port = redis()
    router_conf = up + '''
    llm_router_zone llm 1m;
    llm_router_tier big upstream=backend model=gpt-oss:20b max_inflight=100000;
    llm_router_tier small upstream=backend2 model=llama3.2:3b max_inflight=100000;
    llm_redis 127.0.0.1:%d;
    server {
        listen 127.0.0.1:%%d;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $llm_upstream_host;
        %%s
        location / {
            llm_router on;
            proxy_pass http://$llm_upstream;
        }
    }''' % redis_port
    router = nginx('router', router_conf % (rport, ''))
    hits = nginx('router-cache', router_conf % (hport, 'llm_cache on;'))
    post(hport, '/v1/chat/completions', CHAT)
    time.sleep(0.3)
    st, h, _, _ = post(hport, '/v1/chat/completions', CHAT)
    assert h.get('x-llm-cache') == 'HIT', h

    kport = free_port()
    portkey = None
    if os.path.exists(PORTKEY):
        env = dict(os.environ, NODE_ENV='production')
        portkey = start(['node', PORTKEY, '--port=%d' % kport, '--headless'],
                        kport, os.path.join(RUN, 'portkey.log'), env=env)

    targets = [('direct', bport, None, backend),
               ('nginx proxy_pass', pport, None, proxy),
               ('router', rport, None, router),
               ('router, cache hits', hport, None, hits)]
    if portkey:
        targets.append(('Portkey', kport, {
            'x-portkey-provider': 'openai',
            'x-portkey-custom-host': 'http://127.0.0.1:%d/v1' % bport,
            'Authorization': 'Bearer bench'}, portkey))

    secs = 2 if QUICK else 4
    rounds = 1 if QUICK else 3
    conc = [16, 64]
    res = {}
    for rnd in range(rounds):
        for c in conc:
            for name, port, hdr, proc in targets:
                t0 = cpu_ticks(proc.pid)
                r = wrk('http://127.0.0.1:%d/v1/chat/completions' % port,
                        CHAT, c, secs, hdr)
                r['cpu_us'] = ((cpu_ticks(proc.pid) - t0) * 1e6 / CLK
                               / max(r['requests'], 1))
                res.setdefault((name, c), []).append(r)
                say('  round %d c=%d %-20s %8.0f req/s p50 %6.0f us p99 '
                    '%6.0f us cpu %.1f us/req' % (rnd + 1, c, name, r['rps'],
                                                  r['p50_us'], r['p99_us'],
                                                  r['cpu_us']))

    med = {}
    for k, rs in res.items():
        med[k] = {m: statistics.median(r[m] for r in rs)
                  for m in ('rps', 'p50_us', 'p99_us', 'cpu_us', 'non2xx')}

    rows = []
    for c in conc:
        base = med[('nginx proxy_pass', c)]
        for name, _, _, _ in targets:
            m = med[(name, c)]
            rows.append([c, name, '%.0f' % m['rps'], '%.0f' % m['p50_us'],
                         '%.0f' % m['p99_us'], '%.1f' % m['cpu_us'],
                         '%.2f' % (m['rps'] / base['rps'])])
    REPORT.append('## 1. Overhead against plain nginx and a peer gateway\n')
    REPORT.append('Same backend for all: an nginx `return 200` with a '
                  'realistic OpenAI chat answer (%d bytes). Body: a one-line '
                  'OpenAI chat request. Proxies run 1 worker; wrk 1 thread, '
                  '%d s per run, %d interleaved rounds; medians. CPU is the '
                  'proxy processes\' user+system time from /proc divided by '
                  'the requests served.\n' % (len(ANSWER), secs, rounds))
    REPORT.append(table(['conns', 'target', 'req/s', 'p50 µs', 'p99 µs',
                         'proxy CPU µs/req', '× baseline'], rows))
    verdict = []
    for c in conc:
        r, b = med[('router', c)], med[('nginx proxy_pass', c)]
        h = med[('router, cache hits', c)]
        line = ('c=%d: router keeps %.0f %% of baseline throughput (target '
                '≥ 90 %%) and adds %.1f µs CPU/request (target ≤ 10 µs); '
                'cache hits run at %.2f × baseline (target ≥ 1.0) with p99 '
                '%.2f ms (target ≤ 2 ms)'
                % (c, 100 * r['rps'] / b['rps'], r['cpu_us'] - b['cpu_us'],
                   h['rps'] / b['rps'], h['p99_us'] / 1000))
        if ('Portkey', c) in med:
            k = med[('Portkey', c)]
            line += ('; router/Portkey throughput %.1f × (target ≥ 20 ×), '
                     'p50 %.0f vs %.0f µs, p99 %.0f vs %.0f µs'
                     % (r['rps'] / max(k['rps'], 1), r['p50_us'],
                        k['p50_us'], r['p99_us'], k['p99_us']))
        verdict.append('- ' + line + '.')
    REPORT.append('\n' + '\n'.join(verdict) + '\n')
    data = os.path.join(RESULTS, 'overhead.dat')
    with open(data, 'w') as f:
        for i, (name, _, _, _) in enumerate(targets):
            f.write('"%s" %s\n' % (name, ' '.join(
                '%.0f' % med[(name, c)]['rps'] for c in conc)))
    REPORT.append(chart('overhead', '''
set title 'Throughput, same backend (median req/s)'
set style data histograms
set style histogram clustered
set style fill solid 0.8
set ylabel 'req/s'
set xtics rotate by -20
plot '%s' using 2:xtic(1) title 'c=16', '' using 3 title 'c=64'
''' % data))
    for p in (portkey, hits, router, proxy, backend, rd):
        if p:
            stop(p)


# --- scenario 2: classifier -------------------------------------------------------

def scenario_classify():
    say('classifier cost')
    out = subprocess.run([os.path.join(TOP, 'bench', 'classify-bench.sh')],
                         capture_output=True, text=True, timeout=600).stdout
    rows, pts = [], []
    for line in out.splitlines():
        m = re.match(r'\s*(\S+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)$', line)
        if m:
            rows.append(list(m.groups()))
            if m.group(1).isdigit():
                pts.append((int(m.group(2)), float(m.group(3))))
    REPORT.append('## 2. Classifier cost\n')
    REPORT.append('`bench/classify-bench.sh`: the classifier alone (-O2), '
                  'median of 7 runs, each many iterations.\n')
    REPORT.append(table(['prompt', 'bytes', 'ns/prompt', 'ns/KB'], rows))
    if pts:
        per_kb = [p[1] * 1024 / p[0] for p in pts if p[0] >= 1024]
        REPORT.append('\nFrom 1 KB to 1 MB the cost per KB stays within '
                      '%.0f–%.0f ns (linear). Target ≤ 1 µs per KB: %s.\n'
                      % (min(per_kb), max(per_kb),
                         'met' if max(per_kb) <= 1000 else 'missed'))
        data = os.path.join(RESULTS, 'classify.dat')
        with open(data, 'w') as f:
            for b, ns in pts:
                f.write('%d %f\n' % (b, ns))
        REPORT.append(chart('classify', '''
set title 'Classifier cost per prompt'
set logscale xy
set xlabel 'prompt bytes'
set ylabel 'ns per prompt'
plot '%s' using 1:2 with linespoints title 'measured', x * 1 title '1 ns/byte'
''' % data))


# --- scenario 3: the assistant's workload ------------------------------------------

def load_prompts():
    prompts = []
    with open(DEV) as f:
        for line in f:
            o = json.loads(line)
            body = dict(o['body'])
            body['stream'] = False
            prompts.append((o['label'], o['endpoint'], json.dumps(body)))
    return prompts


def run_load(port, items, conc, n):
    """n requests from items (cycled), conc at a time; returns records"""
    records = []
    lock = threading.Lock()
    idx = [0]

    def worker():
        while True:
            with lock:
                i = idx[0]
                idx[0] += 1
            if i >= n:
                return
            label, path, body = items[i % len(items)]
            st, h, data, dt = post(port, path, body)
            tokens = 0
            try:
                j = json.loads(data)
                tokens = j.get('eval_count') or \
                    (j.get('usage') or {}).get('completion_tokens') or 0
            except ValueError:
                pass
            with lock:
                records.append({'label': label, 'status': st, 'latency': dt,
                                'tier': h.get('x-mock-name', ''),
                                'reason': h.get('x-llm-reason', ''),
                                'cls': h.get('x-llm-class', ''),
                                'tokens': tokens, 'end': time.time()})

    t0 = time.time()
    ts = [threading.Thread(target=worker) for _ in range(conc)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return records, time.time() - t0


def pct(values, p):
    v = sorted(values)
    if not v:
        return float('nan')
    k = (len(v) - 1) * p
    f = int(k)
    c = min(f + 1, len(v) - 1)
    return v[f] + (v[c] - v[f]) * (k - f)


def realistic_tiers():
    """mock tiers timed like the real ones: big 1.2 s to first token,
    22 tokens/s, 4 slots; small 0.3 s, 52 tokens/s, 8 slots"""
    big, bport = mock('big', 'gpt-oss:20b', '--ttft', '1200', '--tps', '22',
                      '--tokens', '24', '--slots', '4')
    small, sport = mock('small', 'llama3.2:3b', '--ttft', '300', '--tps',
                        '52', '--tokens', '24', '--slots', '8')
    return big, bport, small, sport


def workload_stack(policy):
    """the router (or a plain proxy) for one policy, on realistic tiers"""
    big, bport, small, sport = realistic_tiers()
    port = free_port()
    ups = '''
    upstream ollama_big { server 127.0.0.1:%d; keepalive 32; }
    upstream ollama_small { server 127.0.0.1:%d; keepalive 32; }
''' % (bport, sport)
    if policy in ('all-big', 'all-small'):
        conf = ups + '''
    server {
        listen 127.0.0.1:%d;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host localhost;
        proxy_read_timeout 600s;
        location / { proxy_pass http://%s; }
    }''' % (port, 'ollama_big' if policy == 'all-big' else 'ollama_small')
    else:
        cap = ('4 queue=4', '8 queue=8') if policy == 'ours' \
            else ('100000', '100000')
        conf = tiers(bport, sport, *cap) + '''
    server {
        listen 127.0.0.1:%d;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $llm_upstream_host;
        proxy_read_timeout 600s;
        location / {
            llm_router on;
            proxy_pass http://$llm_upstream;
        }
    }''' % port
    ngx = nginx('workload-' + policy, conf)
    return [ngx, big, small], port


def scenario_workload():
    say('workload: four policies on realistic mock tiers')
    prompts = load_prompts()
    rnd = random.Random(7)
    simple = [p for p in prompts if p[0] == 'simple']
    complex_ = [p for p in prompts if p[0] == 'complex']
    mix95 = [rnd.choice(complex_) if rnd.random() < 0.05 else
             rnd.choice(simple) for _ in range(200)]
    dev = prompts[:]
    rnd.shuffle(dev)
    policies = ['all-big', 'all-small', 'complexity-only', 'ours']
    levels = [1, 2, 4, 8, 16] if not QUICK else [1, 8]
    results = {}
    for mixname, items, lv in (('dev set', dev, levels),
                               ('95 % simple', mix95, [8, 16])):
        for policy in policies:
            procs, port = workload_stack(policy)
            for c in lv:
                n = max(12, 3 * c) if not QUICK else max(8, c)
                recs, wall = run_load(port, items, c, n)
                lat = [r['latency'] for r in recs if r['status'] == 200]
                cx = [r for r in recs if r['label'] == 'complex']
                results[(mixname, policy, c)] = {
                    'p50': pct(lat, .5), 'p95': pct(lat, .95),
                    'tps': sum(r['tokens'] for r in recs) / wall,
                    'big': sum(r['tier'] == 'big' for r in recs) / len(recs),
                    'ok': sum(r['status'] == 200 for r in recs) / len(recs),
                    'cx_big': (sum(r['tier'] == 'big' for r in cx) / len(cx))
                    if cx else float('nan'), 'n': len(recs)}
                say('  %-12s %-16s c=%-2d p50 %.2f s p95 %.2f s big %.0f %%'
                    % (mixname, policy, c, results[(mixname, policy, c)]
                       ['p50'], results[(mixname, policy, c)]['p95'],
                       100 * results[(mixname, policy, c)]['big']))
            for p in procs:
                stop(p)

    REPORT.append('## 3. The assistant\'s workload\n')
    REPORT.append('Mock tiers that behave like the real ones: big '
                  '(gpt-oss:20b) 1.2 s to first token, 22 tok/s, 4 slots; '
                  'small (llama3.2:3b) 0.3 s, 52 tok/s, 8 slots; 24-token '
                  'answers, non-streamed. Mixes: the 45 labelled prompts of '
                  '`dev.jsonl` (shuffled, cycled), and 95 % simple / 5 % '
                  'complex drawn from them. Policies: all-big and all-small '
                  '(plain proxy_pass), complexity-only (the router with '
                  'unlimited `max_inflight`, so only the class decides), ours '
                  '(complexity + queue depth: `max_inflight` 4 and 8, `queue` 4 '
                  'and 8; VRAM unknown here). Each level sends max(12, 3 × concurrency) '
                  'requests.\n')
    for mixname, lv in (('dev set', levels), ('95 % simple', [8, 16])):
        rows = []
        for c in lv:
            for policy in policies:
                r = results[(mixname, policy, c)]
                rows.append([c, policy, '%.2f' % r['p50'], '%.2f' % r['p95'],
                             '%.0f' % r['tps'], '%.0f %%' % (100 * r['big']),
                             '%.0f %%' % (100 * r['cx_big'])
                             if r['cx_big'] == r['cx_big'] else '–',
                             '%.0f %%' % (100 * r['ok'])])
        REPORT.append('\n**%s**\n\n' % mixname + table(
            ['conc.', 'policy', 'P50 s', 'P95 s', 'tokens/s', 'to big',
             'complex → big', 'ok'], rows))
    lines = []
    for mixname, lv in (('dev set', [8, 16]), ('95 % simple', [8, 16])):
        for c in lv:
            o = results.get((mixname, 'ours', c))
            k = results.get((mixname, 'complexity-only', c))
            if o and k:
                lines.append('- %s, concurrency %d: our P95 = %.2f × '
                             'complexity-only\'s (target ≤ 0.7), %.0f %% of '
                             'complex prompts on big (target ≥ 90 %%).'
                             % (mixname, c, o['p95'] / k['p95'],
                                100 * o['cx_big'] if o['cx_big'] ==
                                o['cx_big'] else float('nan')))
    REPORT.append('\n' + '\n'.join(lines) + '\n')
    data = os.path.join(RESULTS, 'workload.dat')
    with open(data, 'w') as f:
        for c in levels:
            f.write('%d %s\n' % (c, ' '.join(
                '%.3f' % results[('dev set', p, c)]['p95'] for p in policies)))
    REPORT.append(chart('workload', '''
set title 'P95 latency by concurrency (dev set mix)'
set xlabel 'concurrent requests'
set ylabel 'P95 seconds'
set logscale x 2
set key top left
plot '%s' using 1:2 with linespoints title 'all-big', '' using 1:3 with linespoints title 'all-small', '' using 1:4 with linespoints title 'complexity-only', '' using 1:5 with linespoints title 'ours'
''' % data))


# --- scenario 3b: routing real prompts, before and after ----------------------------

ROUTING_BUILDS = [
    ('before', 'e6679f9', 'hand-tuned classifier, medium by queue only'),
    ('learned', 'b7a81c4', 'learned classifier (corpus and written French '
     'prompts), score-aware medium rule'),
    ('after', None, 'learned classifier with IFEval and the Alpaca seed '
     'tasks, the programming languages and tools as concepts, short '
     'instructions and Arena-Hard weighted up, word stems, Arena-Hard '
     'v2.0\'s and Arena-Bench v1\'s hard prompts, score-aware medium '
     'rule'),
]


def module_at(commit):
    """the module built from the tree at commit (git archive, make module)"""
    if commit is None:
        return MODULE
    d = os.path.join(TOP, 'build', 'bench-' + commit)
    so = os.path.join(d, 'build', 'ngx_http_llm_router_module.so')
    if not os.path.exists(so):
        os.makedirs(d, exist_ok=True)
        say('building the module at', commit)
        subprocess.run('git -C %s archive %s | tar -x -C %s'
                       % (TOP, commit, d), shell=True, check=True)
        subprocess.run(['make', '-s', '-C', d, 'module'], check=True,
                       stdout=subprocess.DEVNULL)
    return so


# --- compare: this tree against another commit, same run --------------------

GENERATE = json.dumps({'model': 'auto', 'stream': False,
                       'prompt': 'What is the capital of France?'})


def chat_body(size):
    """an OpenAI chat request of about size bytes: a system and a user turn"""
    filler = ('The assistant answers briefly and in the language of the '
              'question, with no markdown unless asked. ')
    system = (filler * (size // len(filler) + 1))[:max(size - 140, 20)]
    return json.dumps({'model': 'auto', 'messages': [
        {'role': 'system', 'content': system},
        {'role': 'user', 'content': 'Summarise the plot of Hamlet.'}]})


def callgrind_instructions(module, http, port, path, body, n):
    """instructions one nginx process (master_process off) runs to start,
    answer n kept-alive requests (ab -k -c 1) and stop"""
    d = os.path.join(RUN, 'callgrind-%d' % port)
    os.makedirs(os.path.join(d, 'logs'), exist_ok=True)
    temps = ''.join('    %s_temp_path %s/%s;\n' % (t, d, t)
                    for t in ('client_body', 'proxy', 'fastcgi', 'uwsgi',
                              'scgi'))
    with open(os.path.join(d, 'nginx.conf'), 'w') as f:
        f.write('%s%sdaemon off;\nmaster_process off;\nerror_log %s/logs/'
                'error.log warn;\npid %s/nginx.pid;\nevents { '
                'worker_connections 256; }\nhttp {\n    access_log off;\n'
                '%s%s\n}\n'
                % ('load_module %s;\n' % module if module else '',
                   'user root;\n' if os.geteuid() == 0 else '', d, d, temps,
                   http))
    with open(os.path.join(d, 'body.json'), 'w') as f:
        f.write(body)
    log = os.path.join(d, 'callgrind.log')
    p = start(['valgrind', '--tool=callgrind', '--log-file=' + log,
               '--callgrind-out-file=' + os.path.join(d, 'callgrind.out'),
               NGINX, '-p', d, '-c', os.path.join(d, 'nginx.conf')],
              port, os.path.join(d, 'stderr.log'))
    out = subprocess.run(['ab', '-q', '-k', '-c', '1', '-n', str(n), '-p',
                          os.path.join(d, 'body.json'), '-T',
                          'application/json',
                          'http://127.0.0.1:%d%s' % (port, path)],
                         capture_output=True, text=True, timeout=600)
    failed = re.search(r'Non-2xx responses:\s+(\d+)', out.stdout)
    assert not failed, out.stdout
    os.kill(p.pid, signal.SIGQUIT)
    p.wait(120)
    PROCS.remove(p)
    with open(log) as f:
        m = re.search(r'Collected : (\d+)', f.read())
    return int(m.group(1))


def scenario_compare():
    base = BASE or subprocess.run(['git', '-C', TOP, 'rev-parse', '--short',
                                   'HEAD~1'], capture_output=True,
                                  text=True).stdout.strip()
    say('compare: this tree against', base)
    modules = [('base ' + base, module_at(base)), ('this tree', MODULE)]
    bport = free_port()
    backend = nginx('backend', '''
    server {
        listen 127.0.0.1:%d;
        default_type application/json;
        location / { return 200 '%s'; }
    }''' % (bport, ANSWER.replace("'", "\\'")))
    up = '''
    upstream backend { server 127.0.0.1:%d; keepalive 64; }
    upstream backend2 { server 127.0.0.1:%d; keepalive 64; }
''' % (bport, bport)
    plain = up + '''
    server {
        listen 127.0.0.1:%d;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host localhost;
        }
    }'''
    routed = up + '''
    llm_router_zone llm 1m;
    llm_router_tier big upstream=backend model=gpt-oss:20b max_inflight=100000;
    llm_router_tier small upstream=backend2 model=llama3.2:3b max_inflight=100000;
    server {
        listen 127.0.0.1:%d;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $llm_upstream_host;
        location / {
            llm_router on;
            proxy_pass http://$llm_upstream;
        }
    }'''
    requests = [('Ollama generate, %d B' % len(GENERATE), '/api/generate',
                 GENERATE),
                ('OpenAI chat, %d B' % len(chat_body(1024)),
                 '/v1/chat/completions', chat_body(1024))]
    small, big = (20, 220) if QUICK else (200, 2200)
    rows = []
    for label, path, body in requests:
        per = []
        for name, module in [('proxy_pass', None)] + modules:
            conf = plain if module is None else routed
            counts = []
            for n in (small, big):
                port = free_port()
                counts.append(callgrind_instructions(module, conf % port,
                                                     port, path, body, n))
            per.append((counts[1] - counts[0]) / (big - small))
            say('  %-28s %-16s %8.0f instructions/request'
                % (label, name, per[-1]))
        rows.append([label, '%.0f' % per[0], '%.0f' % per[1],
                     '%.0f' % per[2], '%.0f' % (per[1] - per[0]),
                     '%.0f' % (per[2] - per[0]),
                     '%.3f' % ((per[2] - per[0]) / (per[1] - per[0]))])

    secs = 2 if QUICK else 4
    rounds = 1 if QUICK else 5
    rps = {}
    procs = []
    for name, module in modules:
        port = free_port()
        d = os.path.join(RUN, 'compare-%d' % port)
        os.makedirs(os.path.join(d, 'logs'), exist_ok=True)
        temps = ''.join('    %s_temp_path %s/%s;\n' % (t, d, t)
                        for t in ('client_body', 'proxy', 'fastcgi',
                                  'uwsgi', 'scgi'))
        with open(os.path.join(d, 'nginx.conf'), 'w') as f:
            f.write('load_module %s;\n%sworker_processes 1;\nerror_log '
                    '%s/logs/error.log warn;\npid %s/nginx.pid;\nevents { '
                    'worker_connections 4096; }\nhttp {\n    access_log '
                    'off;\n%s%s\n}\n'
                    % (module, 'user root;\n' if os.geteuid() == 0 else '',
                       d, d, temps, routed % port))
        procs.append((name, port, start([NGINX, '-p', d, '-c',
                                         os.path.join(d, 'nginx.conf'),
                                         '-g', 'daemon off;'], port,
                                        os.path.join(d, 'stderr.log'))))
    for rnd in range(rounds):
        for name, port, _ in procs:
            r = wrk('http://127.0.0.1:%d/v1/chat/completions' % port,
                    CHAT, 16, secs)
            rps.setdefault(name, []).append(r['rps'])
            say('  round %d %-16s %8.0f req/s' % (rnd + 1, name, r['rps']))
    med = [statistics.median(rps[name]) for name, _, _ in procs]

    REPORT.append('## Compare: this tree against %s\n' % base)
    REPORT.append('Instructions per request: callgrind on one nginx '
                  '(`master_process off`), `ab -k -c 1`, the difference '
                  'between %d and %d requests divided by %d (start-up '
                  'cancels out); the backend is an nginx `return 200`. '
                  'Cache off.\n' % (big, small, big - small))
    REPORT.append(table(['request', 'proxy_pass', 'router ' + base,
                         'router, this tree', 'router\'s own ' + base,
                         'router\'s own, this tree', 'own × base'], rows))
    REPORT.append('\nThroughput, 1 worker, wrk -c 16, %d × %d s '
                  'interleaved, medians: %s %.0f req/s, this tree %.0f '
                  'req/s: **%.3f ×**.\n'
                  % (rounds, secs, base, med[0], med[1], med[1] / med[0]))
    for _, _, p in procs:
        stop(p)
    stop(backend)


# --- instructions: the router's own work per request kind ---------------------

def turns_body(turns):
    """an OpenAI chat request holding turns user/assistant exchanges"""
    msgs = [{'role': 'system', 'content': 'You are JARVIS, a concise home '
             'assistant.'}]
    for i in range(turns - 1):
        msgs.append({'role': 'user', 'content': 'Turn %d: what should I '
                     'cook tonight with leeks and potatoes?' % i})
        msgs.append({'role': 'assistant', 'content': 'A leek and potato '
                     'soup: sweat the leeks, add the potatoes and stock, '
                     'simmer 20 minutes, blend.'})
    msgs.append({'role': 'user', 'content': 'And for dessert?'})
    return json.dumps({'model': 'auto', 'messages': msgs})


def callgrind_functions(d):
    """self instructions per function of the last callgrind run in d"""
    out = subprocess.run(['callgrind_annotate', '--inclusive=no',
                          '--threshold=100',
                          os.path.join(d, 'callgrind.out')],
                         capture_output=True, text=True).stdout
    fns = {}
    for m in re.finditer(r'^\s*([\d,]+)\s+\([^)]*\)\s+\S*:(\S+)', out, re.M):
        fns[m.group(2)] = fns.get(m.group(2), 0) + int(m.group(1)
                                                       .replace(',', ''))
    return fns


def scenario_instructions():
    say('instructions: plain proxy_pass and the router, per request kind')
    bport = free_port()
    backend = nginx('backend', """
    server {
        listen 127.0.0.1:%d;
        default_type application/json;
        location / { return 200 '%s'; }
    }""" % (bport, ANSWER.replace("'", "\\'")))
    rd, rport = redis()
    up = """
    upstream backend { server 127.0.0.1:%d; keepalive 64; }
    upstream backend2 { server 127.0.0.1:%d; keepalive 64; }
""" % (bport, bport)
    plain = up + """
    server {
        listen 127.0.0.1:%d;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host localhost;
        }
    }"""
    routed = up + """
    llm_router_zone llm 1m;
    llm_router_tier big upstream=backend model=gpt-oss:20b max_inflight=100000;
    llm_router_tier small upstream=backend2 model=llama3.2:3b max_inflight=100000;
    llm_redis 127.0.0.1:""" + str(rport) + """;
    upstream llm_tiers { llm_router_dispatch; }
    server {
        listen 127.0.0.1:%d;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $llm_upstream_host;
        location / {
            llm_router on;
            CACHE
            proxy_pass http://llm_tiers;
        }
    }"""
    kinds = [('Ollama generate', '/api/generate', GENERATE, False),
             ('OpenAI chat, 1 KB', '/v1/chat/completions', chat_body(1024),
              False),
             ('OpenAI chat, 10 KB', '/v1/chat/completions',
              chat_body(10240), False),
             ('OpenAI chat, 10 turns', '/v1/chat/completions',
              turns_body(10), False),
             ('cache hit, 1 KB chat', '/v1/chat/completions',
              chat_body(1024), True),
             ('Ollama generate, proxy_pass http://$llm_upstream',
              '/api/generate', GENERATE, 'variable')]
    small, big = (20, 220) if QUICK else (200, 2200)
    rows, tops = [], []
    for label, path, body, cached in kinds:
        per, fns = [], []
        conf_r = routed.replace('CACHE', 'llm_cache on;'
                                if cached is True else '')
        if cached == 'variable':
            conf_r = conf_r.replace('http://llm_tiers', 'http://$llm_upstream')
        for conf in (plain, conf_r):
            module = None if conf is plain else MODULE
            counts, f = [], []
            for n in (small, big):
                port = free_port()
                counts.append(callgrind_instructions(module, conf % port,
                                                     port, path, body, n))
                f.append(callgrind_functions(os.path.join(
                    RUN, 'callgrind-%d' % port)))
            per.append((counts[1] - counts[0]) / (big - small))
            fns.append({k: (f[1].get(k, 0) - f[0].get(k, 0)) / (big - small)
                        for k in set(f[0]) | set(f[1])})
        own = per[1] - per[0]
        say('  %-24s proxy_pass %7.0f  router %7.0f  own %7.0f'
            % (label, per[0], per[1], own))
        rows.append([label, '%d B' % len(body), '%.0f' % per[0],
                     '%.0f' % per[1], '**%.0f**' % own,
                     '%.1f' % (own / len(body)),
                     '%.2f' % (own / per[0])])
        delta = sorted(((v - fns[0].get(k, 0), k) for k, v in fns[1].items()),
                       reverse=True)[:8]
        tops.append('- %s: %s' % (label, ', '.join(
            '`%s` %.0f' % (k, v) for v, k in delta if v >= 50)))
    REPORT.append('## Instructions per request\n')
    REPORT.append('Callgrind on one nginx (`master_process off`), `ab -k -c '
                  '1`, the difference between %d and %d requests divided by '
                  '%d (start-up cancels out); the backend is an nginx '
                  '`return 200`. "Own" is the router minus plain '
                  '`proxy_pass` on the same request. The router proxies '
                  'through `llm_router_dispatch` (`proxy_pass '
                  'http://llm_tiers`); the last row is the same generate '
                  'through `proxy_pass http://$llm_upstream`. The cache '
                  'hit never reaches the backend.\n'
                  % (big, small, big - small))
    REPORT.append(table(['request', 'body', 'proxy_pass', 'router',
                         'router\'s own', 'own per body byte',
                         'own / proxy_pass'], rows))
    REPORT.append('\nWhere the router\'s own instructions go (per request, '
                  'self cost of each function, router minus proxy_pass):\n')
    REPORT.append('\n'.join(tops) + '\n')
    stop(rd)
    stop(backend)


def routing_prompts(n, complex_share, seed=11):
    """n requests drawn from the corpus items the shipped weights were not
    trained on (permissive: false), complex_share of them complex, sent as
    Ollama generate, Ollama chat or OpenAI chat like the assistant does"""
    pools = {'simple': [], 'complex': []}
    with open(CORPUS) as f:
        for line in f:
            o = json.loads(line)
            # the Alpaca seed tasks are trained on (published under
            # Apache-2.0 by their authors, see "The classifier")
            if not o['permissive'] and o['source'] != 'alpaca-seed':
                pools[o['label']].append(o['prompt'])
    rnd = random.Random(seed)
    items = []
    for i in range(n):
        label = 'complex' if rnd.random() < complex_share else 'simple'
        text = rnd.choice(pools[label])
        kind = rnd.randrange(3)
        if kind == 0:
            path, body = '/api/generate', {'model': 'auto', 'prompt': text}
        elif kind == 1:
            path, body = '/api/chat', {'model': 'auto', 'messages': [
                {'role': 'user', 'content': text}]}
        else:
            path, body = '/v1/chat/completions', {'model': 'auto', 'messages':
                                                   [{'role': 'user',
                                                     'content': text}]}
        body['stream'] = False
        items.append((label, path, json.dumps(body)))
    return items


def scenario_routing():
    global MODULE
    if not os.path.exists(CORPUS):
        say('routing: skipped, no corpus at', CORPUS)
        return
    say('routing: public prompts and the dev set, before and after')
    held = routing_prompts(160 if not QUICK else 48, 0.3)
    dev = load_prompts()
    random.Random(7).shuffle(dev)
    mixes = [('held-out public prompts', held),
             ('dev.jsonl', dev * (3 if not QUICK else 1))]
    levels = [4, 8, 16]
    results = {}
    current = MODULE
    for name, commit, _ in ROUTING_BUILDS:
        MODULE = module_at(commit)
        try:
            big, bport, small, sport = realistic_tiers()
            port = free_port()
            ngx = nginx('routing-' + name, tiers(bport, sport) + '''
    server {
        listen 127.0.0.1:%d;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $llm_upstream_host;
        proxy_read_timeout 600s;
        location / {
            llm_router on;
            proxy_pass http://$llm_upstream;
            add_header X-LLM-Class $llm_class always;
        }
    }''' % port)
        finally:
            MODULE = current
        for mix, items in mixes:
            for c in levels:
                recs, wall = run_load(port, items, c, len(items))
                r = {'ok': sum(x['status'] == 200 for x in recs) / len(recs)}
                for label in ('complex', 'medium', 'simple'):
                    sub = [x for x in recs if x['label'] == label]
                    r[label] = {
                        'n': len(sub),
                        'big': sum(x['tier'] == 'big' for x in sub)
                        / len(sub) if sub else float('nan'),
                        'p95': pct([x['latency'] for x in sub
                                    if x['status'] == 200], .95)}
                # the requests classed medium: does big take the ones
                # that need it?
                for label in ('complex', 'simple'):
                    sub = [x for x in recs if x['cls'] == 'medium'
                           and x['label'] == label]
                    r['medium ' + label] = (
                        sum(x['tier'] == 'big' for x in sub), len(sub))
                results[(mix, name, c)] = r
                say('  %-24s %-8s c=%-2d complex on big %3.0f %%, simple on '
                    'big %3.0f %%, complex P95 %.2f s, ok %.0f %%'
                    % (mix, name, c, 100 * r['complex']['big'],
                       100 * r['simple']['big'], r['complex']['p95'],
                       100 * r['ok']))
        for p in (ngx, big, small):
            stop(p)

    ncx = sum(1 for i in held if i[0] == 'complex')
    text = ['## 3b. Routing public prompts, before and after\n',
            'The share of complex prompts the big tier answers, on the mock '
            'tiers of section 3 (`max_inflight` 4 + `queue` 4 and 8 + 8), '
            'for three builds of the router:\n']
    for name, commit, what in ROUTING_BUILDS:
        text.append('- **%s** (%s): %s' % (name, commit or 'this tree', what))
    text.append('\nThe same requests in the same order for each build. '
                '**held-out public prompts**: %d requests (%d complex, %d '
                'simple) drawn from the labelled corpus items the shipped '
                'weights were not trained on (`permissive: false`: code tasks '
                'from CodeAlpaca and MBPP and hard WizardLM prompts as '
                'complex; voice-assistant commands, short instructions, quiz '
                'and chat questions in English and French as simple), sent as '
                'Ollama generate, Ollama chat and OpenAI chat requests. '
                '**dev.jsonl**: the 45 labelled development requests (15 '
                'complex, 10 medium, 20 simple), shuffled, three times. '
                'The columns "classed medium" count, among the requests the '
                'build classed medium, those labelled complex (then simple) '
                'that big answered.\n'
                % (len(held), ncx, len(held) - ncx))
    for mix, _ in mixes:
        rows = []
        for c in levels:
            for name, _, _ in ROUTING_BUILDS:
                r = results[(mix, name, c)]
                rows.append([c, name] + [
                    '%.0f %%' % (100 * r[k]['big']) if r[k]['n'] else '–'
                    for k in ('complex', 'medium', 'simple')] + [
                    '%d / %d' % r['medium complex'],
                    '%d / %d' % r['medium simple'],
                    '%.2f' % r['complex']['p95'], '%.2f' % r['simple']['p95'],
                    '%.0f %%' % (100 * r['ok'])])
        text.append('\n**%s**\n\n' % mix + table(
            ['conc.', 'build', 'complex → big', 'medium → big',
             'simple → big', 'classed medium, complex: → big',
             'classed medium, simple: → big', 'complex P95 s',
             'simple P95 s', 'ok'], rows) + '\n')
    REPORT.extend(text)
    with open(os.path.join(RESULTS, 'ROUTING.md'), 'w') as f:
        f.write('# Routing public prompts, before and after\n\nCommand: '
                '`python3 bench/bench.py routing` (%s UTC).\n\n'
                % time.strftime('%Y-%m-%d %H:%M', time.gmtime()))
        f.write('\n'.join(text[1:]) + '\n')


# --- latency: concurrency 1, plain nginx against the router -------------------

# GetBusbar/benchmarking (July 2026), one box, a fast mock, concurrency 1:
# the gateway's p99 minus the p99 of the same requests sent to the mock
# directly (microseconds)
PUBLISHED_P99 = [('LiteLLM (Rust gateway)', 107), ('Busbar', 116),
                 ('agentgateway', 186), ('APISIX', 436), ('Bifrost', 939),
                 ('Kong', 1300), ('Portkey', 3300), ('LiteLLM (Python)', 8000)]
PUBLISHED_TTFT_P99 = [('best of the field', 273), ('APISIX', 11200)]

STREAM_CHAT = json.dumps({'model': 'auto', 'stream': True, 'messages': [
    {'role': 'user', 'content': 'What is the capital of France?'}]})

# kind, what is timed, path, body, backend group
LATENCY_KINDS = [
    ('json', 'non-streamed OpenAI chat, whole answer', '/v1/chat/completions',
     CHAT, 'json'),
    ('ndjson', 'Ollama chat stream (NDJSON), first event', '/api/chat',
     STREAM_CHAT, 'stream'),
    ('sse', 'OpenAI chat stream (SSE), first event', '/v1/chat/completions',
     STREAM_CHAT, 'stream'),
]
LATENCY_TARGETS = ['direct', 'nginx', 'nginx again', 'router',
                   'router, cache hit']
STREAM_DELAY_US = 300
# where the latency rounds run: "P" puts every process on CPU P, "P,C" the
# proxies and Redis on CPU P, the client and the backends on CPU C, every
# thread real-time (SCHED_FIFO, else nice -20); "none" leaves them to the
# scheduler
ALL_CPUS = os.sched_getaffinity(0)
LATENCY_CPU = os.environ.get('LATENCY_CPU', str(max(ALL_CPUS)))


def latency_policy(tid, cpu):
    """tid onto cpu with priority, or (cpu None) back to every CPU and the
    default policy; the priority it got: 'SCHED_FIFO', 'nice -20' or ''"""
    try:
        os.sched_setaffinity(tid, {cpu} if cpu is not None else ALL_CPUS)
    except OSError:
        pass
    if cpu is None:
        try:
            os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
            os.setpriority(os.PRIO_PROCESS, tid, 0)
        except OSError:
            pass
        return ''
    try:
        os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(1))
        return 'SCHED_FIFO'
    except OSError:
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, tid, -20)
        return 'nice -20'
    except OSError:
        return ''


def latency_hold(pids, cpu):
    """latency_policy for every thread of pids and of their children; the
    weakest priority one of them got"""
    got = set()
    for pid in pids:
        for p in tree(pid):
            try:
                tids = os.listdir('/proc/%d/task' % p)
            except OSError:
                continue
            for tid in tids:
                got.add(latency_policy(int(tid), cpu))
    return next((g for g in ('', 'nice -20', 'SCHED_FIFO') if g in got), '')


def latency_tools():
    """bench/latency_client.c and latency_backend.c, built with cc -O2"""
    exes = []
    for name in ('latency_client', 'latency_backend'):
        exe = os.path.join(RUN, name)
        subprocess.run(['cc', '-O2', '-pthread', '-o', exe,
                        os.path.join(TOP, 'bench', name + '.c')], check=True)
        exes.append(exe)
    return exes


def latency_proxies(group, bport, redis_port, stream):
    """[(target, port, process)]: plain proxy_pass twice (the second one
    shows the noise of the measurement), the router with the cache off and
    with it on, all in front of the backend on bport"""
    extra = '            proxy_buffering off;\n' if stream else ''
    up = '''
    upstream backend { server 127.0.0.1:%d; keepalive 64;
                       keepalive_requests 1000000; }
    upstream backend2 { server 127.0.0.1:%d; keepalive 64;
                        keepalive_requests 1000000; }
''' % (bport, bport)
    plain = up + '''
    server {
        listen 127.0.0.1:%d;
        keepalive_requests 1000000;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host localhost;
''' + extra + '''        }
    }'''
    routed = up + '''
    llm_router_zone llm 1m;
    llm_router_tier big upstream=backend model=gpt-oss:20b max_inflight=100000;
    llm_router_tier small upstream=backend2 model=llama3.2:3b max_inflight=100000;
    llm_redis 127.0.0.1:''' + str(redis_port) + ''';
    upstream llm_tiers { llm_router_dispatch; }
    server {
        listen 127.0.0.1:%d;
        keepalive_requests 1000000;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $llm_upstream_host;
        location / {
            llm_router on;
            CACHE
            proxy_pass http://llm_tiers;
''' + extra + '''        }
    }'''
    out = []
    for target, conf in (
            ('nginx', plain), ('nginx again', plain),
            ('router', routed.replace('CACHE', '')),
            ('router, cache hit', routed.replace(
                'CACHE', 'llm_cache on; llm_cache_ttl 3600s;'))):
        port = free_port()
        out.append((target, port, nginx('latency-%s-%s' % (
            group, target.replace(',', '').replace(' ', '-')),
            conf % port)))
    return out


def latency_run(client, path, body, n, mode, targets, burst=10, skip=2,
                cpu=None):
    """{target: n (head, first event, whole answer) times in ns}: targets
    [(name, port, header the answers must carry or None)] taking turns in
    bursts of burst + skip requests, one connection each; the client on
    cpu (latency_policy) when it is given"""
    out = subprocess.run([client, path, body, str(n), str(burst), str(skip),
                          mode] + ['%d,%s' % (port, h) if h else str(port)
                                   for _, port, h in targets],
                         capture_output=True, text=True, timeout=300,
                         preexec_fn=(lambda: latency_policy(0, cpu))
                         if cpu is not None else None)
    if out.returncode:
        raise RuntimeError('latency_client %s: %s' % (path, out.stderr))
    res = {}
    for line in out.stdout.splitlines():
        k, head, event, full = (int(x) for x in line.split())
        res.setdefault(targets[k][0], []).append((head, event, full))
    return res


def scenario_latency():
    say('latency: concurrency 1, direct, plain nginx and the router; then '
        'throughput at 16 and 64 connections')
    client, backend_exe = latency_tools()
    jport, sport = free_port(), free_port()
    json_backend = nginx('latency-backend', '''
    server {
        listen 127.0.0.1:%d;
        keepalive_requests 1000000;
        default_type application/json;
        location / { return 200 '%s'; }
    }''' % (jport, ANSWER.replace("'", "\\'")))
    stream_backend = start([backend_exe, str(sport), str(STREAM_DELAY_US)],
                           sport, os.path.join(RUN, 'latency-backend.log'))
    rd, redis_port = redis()
    groups, proc_of = {}, {}
    procs = [json_backend, stream_backend, rd]
    for group, bport, stream in (('json', jport, False),
                                 ('stream', sport, True)):
        proxies = latency_proxies(group, bport, redis_port, stream)
        procs += [p for _, _, p in proxies]
        proc_of.update(((group, t), p) for t, _, p in proxies)
        groups[group] = [('direct', bport)] + [(t, port)
                                               for t, port, _ in proxies]

    bodies = {}
    for kind, _, path, body, group in LATENCY_KINDS:
        bodies[kind] = os.path.join(RUN, 'latency-%s.json' % kind)
        with open(bodies[kind], 'w') as f:
            f.write(body)
        port = dict(groups[group])['router, cache hit']
        for tries in range(1, 21):  # until the answer is stored
            latency_run(client, path, bodies[kind], 1, kind,
                        [('router, cache hit', port, None)], 1, 0)
            time.sleep(0.2)
            try:
                latency_run(client, path, bodies[kind], 1, kind,
                            [('router, cache hit', port, 'X-LLM-Cache: HIT')],
                            1, 0)
                break
            except RuntimeError:
                say('  %s: no cache hit after request %d' % (kind, tries))
        else:
            raise RuntimeError('%s: the answer was never stored' % kind)

    hold = LATENCY_CPU != 'none'
    if hold:
        cpus = [int(x) for x in LATENCY_CPU.split(',')]
        pcpu, ccpu = cpus[0], cpus[-1]
        prio = min(latency_hold([p.pid for p in procs[3:]] + [rd.pid], pcpu),
                   latency_hold([json_backend.pid, stream_backend.pid],
                                ccpu), key=['', 'nice -20',
                                            'SCHED_FIFO'].index)
    else:
        ccpu = None
    rounds, n, burst, skip = (3, 200, 10, 2) if QUICK else (20, 500, 10, 2)
    samples, paired, rnd_p99 = {}, {}, {}
    load = [os.getloadavg()[0]]
    t_start = time.time()
    for rnd in range(rounds):
        for kind, _, path, _, group in LATENCY_KINDS:
            ts = groups[group][rnd % 5:] + groups[group][:rnd % 5]
            res = latency_run(client, path, bodies[kind], n, kind, [
                (target, port, 'X-LLM-Cache: HIT'
                 if target == 'router, cache hit' else None)
                for target, port in ts], burst, skip, ccpu)
            for target, s in res.items():
                samples.setdefault((kind, target), []).extend(s)
                rnd_p99.setdefault((kind, target), []).append(
                    pct([x[1] for x in s], .99) / 1000)
                # the same turn's bursts, next to each other in time
                paired.setdefault((kind, target), []).extend(
                    (statistics.median(x[1] for x in s[i:i + burst])
                     - statistics.median(x[1] for x in
                                         res['nginx'][i:i + burst])) / 1000
                    for i in range(0, n, burst))
        load.append(os.getloadavg()[0])
        say('  round %d/%d: router minus nginx, paired p50: %s' % (
            rnd + 1, rounds, ', '.join(
                '%s %+.1f µs' % (kind, statistics.median(
                    paired[(kind, 'router')][-(n // burst):]))
                for kind, _, _, _, _ in LATENCY_KINDS)))
    lat_secs = time.time() - t_start
    with open(os.path.join(RUN, 'latency-samples.json'), 'w') as f:
        json.dump({'%s|%s' % k: v for k, v in samples.items()}, f)
    if hold:
        latency_hold([p.pid for p in procs], None)

    stat = {}
    for (kind, target), s in samples.items():
        v = [x[1] / 1000 for x in s]
        stat[(kind, target)] = {
            'p50': pct(v, .5), 'p99': pct(v, .99),
            'ahead': sum(1 for x in s if x[2] - x[1] > STREAM_DELAY_US * 500)
            / len(s)}

    def spread(kind, target):
        d = paired[(kind, target)]
        return '%+.1f [%+.1f, %+.1f]' % (pct(d, .5), pct(d, .25), pct(d, .75))

    def spread99(kind, target):
        d = [a - b for a, b in zip(rnd_p99[(kind, target)],
                                   rnd_p99[(kind, 'nginx')])]
        return '%+.0f [%+.0f, %+.0f]' % (pct(d, .5), pct(d, .25), pct(d, .75))

    text = []
    text.append('Each request is timed by `bench/latency_client.c` (built '
                'with `cc -O2`): one client, one kept-alive connection, '
                '`TCP_NODELAY`, from just before `send()` of the request to '
                'the `recv()` that brings the first whole event of a stream '
                '(first `}\\n` of NDJSON, first `\\n\\n` of SSE after the '
                'header) or the whole non-streamed answer. The paths take '
                'turns in bursts of %d + %d requests (the first %d of a '
                'burst, which bring the proxy back into the CPU caches, are '
                'not counted; the first path of a turn rotates), so a burst '
                'of the machine\'s other load falls on every path alike. '
                '%d rounds of %d counted requests per path and request '
                'kind: each figure pools %d requests. p50 and p99 in µs; '
                '"added" is the difference of the percentiles. "Paired by '
                'burst" compares bursts run next to each other: in each '
                'turn, the median of the path\'s burst minus the median of '
                'plain nginx\'s burst, over the %d turns (median and middle '
                'half); it is the figure the machine\'s other load moves '
                'least. "By round" is the same for p99: each round\'s p99 '
                '(its %d requests per path) minus plain nginx\'s, median and '
                'middle half of the %d rounds. "nginx again" is a second, '
                'identical plain `proxy_pass`: its difference to "nginx" '
                'is what the measurement itself cannot tell apart (client, '
                'scheduler, the machine\'s other load).\n\n%s Load '
                'average (1 min) during the rounds: %.2f to %.2f.\n'
                % (burst, skip, skip, rounds, n, rounds * n,
                   rounds * n // burst, n, rounds,
                   ('During the latency rounds %s, every thread%s, so the '
                    'machine\'s other work waits while a request is under '
                    'way (`LATENCY_CPU=P` puts everything on CPU P, '
                    '`LATENCY_CPU=P,C` the proxies and Redis on P and the '
                    'client and backends on C, `LATENCY_CPU=none` leaves '
                    'them to the scheduler at the default priority); the '
                    'throughput runs use every CPU at the default priority.'
                    % ('every process of the measurement (client, backends, '
                       'proxies, Redis) runs on CPU %d' % pcpu
                       if pcpu == ccpu else
                       'the proxies and Redis run on CPU %d, the client and '
                       'the backends on CPU %d (as GetBusbar/benchmarking '
                       'separates the gateway from the mock and the load '
                       'generator)' % (pcpu, ccpu),
                       ' with `%s`' % prio if prio else
                       ' at the default priority (raising it was refused)'))
                   if hold else 'The processes run where the '
                   'scheduler puts them (`LATENCY_CPU=none`).',
                   min(load), max(load)))
    text.append('- **direct**: the client to the backend, no proxy. '
                'Non-streamed: an nginx `return 200` with a realistic '
                'OpenAI chat answer (%d bytes). Streams: '
                '`bench/latency_backend.c` (one thread per connection, '
                'blocking I/O), which writes the header and the first event '
                'at once, then the other events and the last chunk %d µs '
                'later (chunked, as Ollama and OpenAI-compatible servers '
                'send them).\n'
                '- **nginx**, **nginx again**: plain `proxy_pass` to an '
                '`upstream` with `keepalive`, 1 worker.\n'
                '- **router**: `llm_router on`, two tiers '
                '(`max_inflight=100000`) on the same backend, `proxy_pass '
                'http://llm_tiers` through `llm_router_dispatch`, 1 worker, '
                'cache off.\n'
                '- **router, cache hit**: the same with `llm_cache on` and a '
                'local `redis-server`; every timed answer carried '
                '`X-LLM-Cache: HIT` (the client checks it), so the backend '
                'is never asked.\n'
                '- Streams go through `proxy_buffering off` on every proxy '
                '(as in `conf/llm_router_locations.conf`); the non-streamed '
                'answer through nginx\'s default buffering, as in the '
                'other scenarios. "First event ahead of the rest": the '
                'share of streamed requests whose whole answer came more '
                'than %d µs after the first event, i.e. the proxy passed '
                'the first event on without waiting for the rest (a cache '
                'hit sends the stored stream at once). Upstream and client '
                'connections are kept for 1 000 000 requests, so no path '
                'reconnects during a round.\n'
                % (len(ANSWER), STREAM_DELAY_US, STREAM_DELAY_US // 2))
    for kind, what, path, body, group in LATENCY_KINDS:
        nx, dr = stat[(kind, 'nginx')], stat[(kind, 'direct')]
        rows = []
        for target in LATENCY_TARGETS:
            m = stat[(kind, target)]
            rows.append(['**%s**' % target if target.startswith('router')
                         else target,
                         '%.1f' % m['p50'], '%.1f' % m['p99'],
                         '–' if target == 'direct' else
                         '%+.1f' % (m['p50'] - dr['p50']),
                         '–' if target == 'direct' else
                         '%+.1f' % (m['p99'] - dr['p99']),
                         '–' if target in ('direct', 'nginx') else
                         '**%+.1f**' % (m['p50'] - nx['p50'])
                         if target.startswith('router') else
                         '%+.1f' % (m['p50'] - nx['p50']),
                         '–' if target in ('direct', 'nginx') else
                         '**%+.1f**' % (m['p99'] - nx['p99'])
                         if target.startswith('router') else
                         '%+.1f' % (m['p99'] - nx['p99']),
                         '–' if target in ('direct', 'nginx') else
                         spread(kind, target),
                         '–' if target in ('direct', 'nginx') else
                         spread99(kind, target)]
                        + (['–' if target == 'router, cache hit' else
                            '%.0f %%' % (100 * m['ahead'])]
                           if group == 'stream' else []))
        text.append('\n**%s** (`POST %s`, %d-byte body)\n\n' % (
            what, path, len(body)) + table(
                ['path', 'p50', 'p99', 'added p50 over direct',
                 'added p99 over direct', 'added p50 over nginx',
                 'added p99 over nginx', 'added p50 over nginx, paired by '
                 'burst: median [25 %, 75 %]', 'added p99 over nginx, by '
                 'round: median [25 %, 75 %]']
                + (['first event ahead of the rest']
                   if group == 'stream' else []), rows) + '\n')

    # throughput at 16 and 64 connections, rounds interleaved
    tconc = [16, 64]
    # many short rounds rather than a few long ones: each round pairs the
    # paths run next to each other, and the median of more pairs moves
    # less with the machine's other load
    trounds, tsecs = (1, 2) if QUICK else tuple(
        int(x) for x in os.environ.get('THROUGHPUT_ROUNDS', '15,2')
        .split(','))
    tt = [(t, p) for t, p in groups['json']
          if t in ('nginx', 'router', 'router, cache hit')]
    rps, cpu_us = {}, {}
    tload = [os.getloadavg()[0]]
    for rnd in range(trounds):
        for c in tconc:
            for target, port in tt[rnd % len(tt):] + tt[:rnd % len(tt)]:
                proc = proc_of[('json', target)]
                t0 = cpu_ticks(proc.pid)
                r = wrk('http://127.0.0.1:%d/v1/chat/completions' % port,
                        CHAT, c, tsecs)
                if r['non2xx'] or not r['requests']:
                    raise RuntimeError('wrk on %s: %r' % (target, r))
                rps.setdefault((c, target), []).append(r['rps'])
                cpu_us.setdefault((c, target), []).append(
                    (cpu_ticks(proc.pid) - t0) * 1e6 / CLK / r['requests'])
                say('  throughput round %d c=%d %-18s %8.0f req/s, proxy '
                    'CPU %.1f µs/req' % (rnd + 1, c, target, r['rps'],
                                         cpu_us[(c, target)][-1]))
        tload.append(os.getloadavg()[0])
    med = {k: statistics.median(v) for k, v in rps.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpu_us.items()}
    # a round's paths ran next to each other: their ratio is the paired
    # figure; the ratio of the medians mixes rounds run under other loads
    ratio = {(c, t): statistics.median(a / b for a, b in zip(
        rps[(c, t)], rps[(c, 'nginx')])) for c in tconc for t, _ in tt}
    goals = {'router': 0.95, 'router, cache hit': 1.3}
    trows = []
    for c in tconc:
        for target, _ in tt:
            goal = goals.get(target)
            pairs = [a / b for a, b in zip(rps[(c, target)],
                                           rps[(c, 'nginx')])]
            q = (statistics.quantiles(pairs, n=4) if len(pairs) > 1
                 else [pairs[0]] * 3)
            trows.append([c, target, '%.0f' % med[(c, target)],
                          '%.0f–%.0f' % (min(rps[(c, target)]),
                                         max(rps[(c, target)])),
                          '**%.2f**' % ratio[(c, target)],
                          '[%.2f, %.2f]; %.2f–%.2f' % (q[0], q[2],
                                                       min(pairs),
                                                       max(pairs)),
                          '%.2f' % (med[(c, target)] / med[(c, 'nginx')]),
                          '%.1f' % cpu_med[(c, target)],
                          '%.2f' % (cpu_med[(c, 'nginx')]
                                    / cpu_med[(c, target)]),
                          '≥ %.2f: %s' % (goal, 'met' if ratio[(c, target)]
                                          >= goal else '**not met**')
                          if goal else '–'])
    text.append('\n**Throughput** (the non-streamed request, `wrk -t1`, '
                '%d s per run, %d round%s; in each round the three paths run '
                'one after the other, order rotating. "× nginx" is the '
                'median over the rounds of each round\'s req/s divided by '
                'plain `proxy_pass`\'s in the same round, the paired figure '
                'the targets are checked against; the ratio of the medians '
                'follows, for reference. "Proxy CPU" is the proxy\'s user + '
                'system time from /proc per request served (median of the '
                'rounds), and "CPU × nginx" the throughput ratio it predicts '
                'for a proxy that is the bottleneck; it moves much less with '
                'the machine\'s other load than req/s. Load average (1 min) '
                'during these runs: %.2f to %.2f.)\n\n'
                % (tsecs, trounds, 's' if trounds > 1 else '', min(tload),
                   max(tload))
                + table(['conns', 'path', 'median req/s', 'rounds\' req/s',
                         '× nginx', 'rounds\' × nginx: middle half; range',
                         'ratio of medians',
                         'proxy CPU µs/req', 'CPU × nginx', 'target'], trows)
                + '\n')

    # the published figures, and ours in their terms
    def over_direct(kind, target):
        return stat[(kind, target)]['p99'] - stat[(kind, 'direct')]['p99']

    pub = [[name, '%d' % us] for name, us in PUBLISHED_P99]
    for target in ('nginx', 'router', 'router, cache hit'):
        pub.append(['**%s** (this run)' % ('plain nginx `proxy_pass`'
                                           if target == 'nginx' else
                                           'ngx_llm_router, ' +
                                           target.replace('router, ', '')
                                           if ',' in target else
                                           'ngx_llm_router, cache off'),
                    '**%.0f**' % over_direct('json', target)])
    pub.sort(key=lambda r: float(r[1].strip('*')))
    ttft = [[name, '%d' % us] for name, us in PUBLISHED_TTFT_P99]
    for kind in ('ndjson', 'sse'):
        for target in ('nginx', 'router', 'router, cache hit'):
            ttft.append(['**%s, %s** (this run)' % (
                'plain nginx `proxy_pass`' if target == 'nginx' else
                'ngx_llm_router, cache hit' if ',' in target else
                'ngx_llm_router, cache off', kind.upper()),
                '**%.0f**' % over_direct(kind, target)])
    ttft.sort(key=lambda r: float(r[1].strip('*')))
    text.append('\n**Next to the published figures.** GetBusbar/benchmarking '
                '(July 2026) measures added latency the same way: '
                'concurrency 1, a fast mock, the gateway\'s p99 minus the '
                'p99 of the mock reached directly, for a non-streamed answer '
                'and for the time to the first streamed frame. Its gateways '
                'ran on 4 pinned Graviton3 cores and the mock and load '
                'generator on 4 others. Our rows are "added p99 over '
                'direct" from the tables above: plain nginx\'s own hop '
                'included, which is what a gateway in front of a backend '
                'adds. Bifrost states 11 µs of its own overhead at 5 000 '
                'req/s (its own figure, not on that board).\n\n'
                + table(['gateway', 'added p99 µs, non-streamed'], pub)
                + '\n\n'
                + table(['gateway', 'added p99 µs, time to first event'],
                        ttft) + '\n')

    # reading
    noise50 = max(abs(pct(paired[(k, 'nginx again')], .5))
                  for k, _, _, _, _ in LATENCY_KINDS)
    noise99 = max(abs(stat[(k, 'nginx again')]['p99']
                      - stat[(k, 'nginx')]['p99'])
                  for k, _, _, _, _ in LATENCY_KINDS)
    rnd99 = [a - b for k, _, _, _, _ in LATENCY_KINDS
             for a, b in zip(rnd_p99[(k, 'nginx again')],
                             rnd_p99[(k, 'nginx')])]
    lines = ['- **What the measurement resolves.** Plain nginx against an '
             'identical plain nginx: at most %.1f µs apart at p50 (paired '
             'by burst) and %.0f µs at p99 over the three request kinds; '
             'round by round their p99 differ by %+.0f to %+.0f µs (middle '
             'half). Differences of that size are noise; the p99 '
             'differences are the less certain figures (each pooled p99 '
             'rests on the slowest %d of %d requests). That is the noise '
             'within a run: between runs the shared virtual machine\'s '
             'speed varies, which scales every figure alike, so compare '
             'runs by the router\'s share of plain nginx\'s own hop (given '
             'below) or by instructions (`bench.py instructions`).'
             % (noise50, noise99, pct(rnd99, .25), pct(rnd99, .75),
                rounds * n // 100, rounds * n)]
    for kind, what, _, _, _ in LATENCY_KINDS:
        r, nx = stat[(kind, 'router')], stat[(kind, 'nginx')]
        h = stat[(kind, 'router, cache hit')]
        p50_goal = 10 if kind == 'json' else None
        add50, add99 = r['p50'] - nx['p50'], r['p99'] - nx['p99']
        lines.append(
            '- **%s**: the router adds %+.1f µs at p50 (paired by burst '
            '%+.1f, %.0f %% of plain nginx\'s own %.1f µs over direct%s) '
            'and %+.1f µs at p99 (target ≤ 50: %s%s) over plain nginx; a '
            'cache hit is %+.1f µs at p50 (paired %+.1f) and %+.1f µs at '
            'p99 from plain nginx asking the backend.'
            % (what[0].upper() + what[1:], add50,
               pct(paired[(kind, 'router')], .5),
               100 * pct(paired[(kind, 'router')], .5)
               / (nx['p50'] - stat[(kind, 'direct')]['p50']),
               nx['p50'] - stat[(kind, 'direct')]['p50'],
               '; target ≤ %d: %s' % (
                   p50_goal, 'met' if add50 <= p50_goal else '**not met**')
               if p50_goal else '', add99,
               'met' if add99 <= 50 else '**not met**',
               ', within the noise' if abs(add99) <= noise99 else '',
               h['p50'] - nx['p50'],
               pct(paired[(kind, 'router, cache hit')], .5),
               h['p99'] - nx['p99']))
    hit_json = pct(paired[('json', 'router, cache hit')], .5)
    hit_stream = max(pct(paired[(k, 'router, cache hit')], .5)
                     for k in ('ndjson', 'sse'))
    if hold and pcpu == ccpu and hit_stream > hit_json + 10:
        lines.append(
            '- **A replayed stream\'s first event comes late** (%+.1f µs '
            'over plain nginx against %+.1f for a non-streamed hit): the '
            'router writes a stored stream one event per write, each '
            'flushed, before it returns to the event loop. The first '
            'event leaves with the first write, but with every process on '
            'one CPU the client runs only after the last one; a client on '
            'its own CPU would read it sooner. The writes themselves (one '
            'system call per event) are CPU the router spends on every '
            'streamed hit.' % (hit_stream, hit_json))
    if hold:
        lines.append(
            '- **Against the published figures**: the rows above put plain '
            'nginx\'s own hop at %.0f µs added p99 (%.0f at p50) over the '
            'backend reached directly, the router at %.0f µs. %s The '
            'router\'s own share (router minus plain nginx) does not depend '
            'on this placement.'
            % (over_direct('json', 'nginx'),
               stat[('json', 'nginx')]['p50']
               - stat[('json', 'direct')]['p50'],
               over_direct('json', 'router'),
               'Everything here ran on one CPU, so no step of a request '
               'waited for a wake-up on another CPU, which a gateway on '
               'its own cores (as on that board) pays on each hop; on a '
               'virtual machine such a wake-up can cost tens of µs '
               '(`LATENCY_CPU=1,0` measures the split placement), so these '
               '"over direct" figures are lower bounds of what the same '
               'nginx would show there.' if pcpu == ccpu else
               'The proxies had their own CPU, as on that board, but on a '
               'shared virtual machine with 2 CPUs; the figures include '
               'its cross-CPU wake-ups.'))
    for c in tconc:
        lines.append('- **Throughput at %d connections**: router %.2f × '
                     'plain nginx (target ≥ 0.95: %s; proxy CPU per '
                     'request: %.2f ×), cache hits %.2f × (target ≥ 1.3: '
                     '%s; %.2f ×).'
                     % (c, ratio[(c, 'router')],
                        'met' if ratio[(c, 'router')] >= 0.95
                        else '**not met**',
                        cpu_med[(c, 'nginx')] / cpu_med[(c, 'router')],
                        ratio[(c, 'router, cache hit')],
                        'met' if ratio[(c, 'router, cache hit')] >= 1.3
                        else '**not met**',
                        cpu_med[(c, 'nginx')]
                        / cpu_med[(c, 'router, cache hit')]))
    spread_n = max(max(rps[(c, 'nginx')]) / min(rps[(c, 'nginx')])
                   for c in tconc)
    if trounds > 1:
        lines.append('- **How far to trust the throughput**: plain '
                     'nginx\'s own rounds differ by up to %.0f %% (fastest '
                     'over slowest) with a load average of %.2f to %.2f on '
                     '%d CPUs from the machine\'s other work, and a path\'s '
                     'ratio to it by up to %.0f %% from one round to the '
                     'next. The median of the paired rounds moves much less '
                     'than one round: a ratio whose middle half (in the '
                     'table) straddles its target is not settled by this '
                     'run, and the proxy CPU per request is then the steadier '
                     'guide.'
                     % (100 * (spread_n - 1), min(tload), max(tload),
                        os.cpu_count(), 100 * max(
                            max(a / b for a, b in zip(rps[(c, t)],
                                                      rps[(c, 'nginx')]))
                            / min(a / b for a, b in zip(rps[(c, t)],
                                                        rps[(c, 'nginx')]))
                            - 1 for c in tconc for t, _ in tt
                            if t != 'nginx')))
    text.append('\n**Reading**\n\n' + '\n'.join(lines) + '\n')

    REPORT.append('## Latency at concurrency 1\n')
    REPORT.extend(text)
    cpu = re.search(r'model name\s*:\s*(.*)', open('/proc/cpuinfo').read())
    with open(os.path.join(RUN if QUICK else RESULTS, 'LATENCY.md'),
              'w') as f:
        f.write('# Latency at concurrency 1, and throughput\n\n'
                'Command: `/usr/bin/python3 bench/bench.py latency` (about '
                '%.0f minutes; `--quick` for a short check, written to '
                '`bench/results/run/`). Run %s UTC on %d cores (%s), %s %s, '
                '%s, load average %.2f at the end; latency rounds took '
                '%.0f s.\n\n'
                % ((time.time() - t_start) / 60 + 0.5,
                   time.strftime('%Y-%m-%d %H:%M', time.gmtime()),
                   os.cpu_count(), cpu.group(1) if cpu else 'unknown CPU',
                   platform.system(), platform.release(),
                   subprocess.run([NGINX, '-v'], capture_output=True,
                                  text=True).stderr.strip(),
                   os.getloadavg()[0], lat_secs))
        f.write('\n'.join(text) + '\n')
    for p in reversed(procs):
        stop(p)


# --- scenario 4: failover ----------------------------------------------------------

def scenario_failover():
    say('failover: big stopped for 20 s of a 60 s run at concurrency 8')
    total = 30 if QUICK else 60
    down_at, up_at = total / 3, 2 * total / 3
    big, bport, small, sport = realistic_tiers()
    port = free_port()
    ngx = nginx('failover', tiers(bport, sport) + '''
    llm_router_breaker failures=3 cooldown=5s;
    llm_router_health_check interval=1s timeout=500ms;
    server {
        listen 127.0.0.1:%d;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $llm_upstream_host;
        proxy_connect_timeout 1s;
        proxy_read_timeout 600s;
        add_header X-LLM-Reason $llm_route_reason always;
        add_header X-LLM-Fallback $llm_fallback always;
%s
    }''' % (port, FALLBACK))
    items = load_prompts()
    recs = []
    lock = threading.Lock()
    t0 = time.time()
    stop_flag = [False]

    def worker(k):
        i = k
        while not stop_flag[0]:
            label, path, body = items[i % len(items)]
            i += 8
            start_t = time.time() - t0
            st, h, _, dt = post(port, path, body)
            with lock:
                recs.append((start_t, time.time() - t0, label, st,
                             h.get('x-mock-name', ''),
                             h.get('x-llm-reason', '')))

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in ts:
        t.start()
    time.sleep(down_at)
    stop(big)
    t_down = time.time() - t0
    time.sleep(up_at - down_at)
    big = start(['node', MOCK, '--port', str(bport), '--model', 'gpt-oss:20b',
                 '--name', 'big', '--ttft', '1200', '--tps', '22', '--tokens',
                 '24', '--slots', '4'], bport, os.path.join(RUN, 'big2.log'))
    t_up = time.time() - t0
    time.sleep(total - up_at)
    stop_flag[0] = True
    for t in ts:
        t.join()
    ok = sum(1 for r in recs if r[3] == 200)
    rate = ok / len(recs)
    # rerouted: from the stop, the first answer routed to small because big
    # is known down (no fallback round trip any more)
    rerouted = min((r[1] for r in recs if r[0] >= t_down
                    and r[5] == 'down'), default=float('nan')) - t_down
    back = min((r[1] for r in recs if r[0] >= t_up and r[4] == 'big'),
               default=float('nan')) - t_up
    fallbacks = sum(1 for r in recs if r[5] == 'fallback')
    REPORT.append('## 4. Failover\n')
    REPORT.append('The router with fallback (`error_page` to a named '
                  'location), breaker (3 failures, 5 s) and health check '
                  '(1 s), dev-set prompts at concurrency 8 for %d s; the big '
                  'tier\'s process is killed at %.0f s and restarted at %.0f '
                  's.\n' % (total, t_down, t_up))
    REPORT.append(table(['requests', 'succeeded', 'success rate',
                         'answered after a fallback',
                         'big down → routed around (s)',
                         'big back → used again (s)'],
                        [[len(recs), ok, '%.2f %%' % (100 * rate), fallbacks,
                          '%.1f' % rerouted, '%.1f' % back]]))
    REPORT.append('\nSuccess-rate target ≥ 99.5 %%: %s.\n'
                  % ('met' if rate >= 0.995 else 'missed'))
    for p in (ngx, big, small):
        stop(p)


# --- scenario 5: cache ---------------------------------------------------------------

def scenario_cache():
    say('cache: hit latency and GPU time saved on repeats')
    rd, redis_port = redis()
    big, bport, small, sport = realistic_tiers()
    port = free_port()
    ngx = nginx('cache', tiers(bport, sport, '4', '8') + '''
    llm_redis 127.0.0.1:%d;
    server {
        listen 127.0.0.1:%d;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $llm_upstream_host;
        proxy_read_timeout 600s;
        llm_cache on;
        location / {
            llm_router on;
            proxy_pass http://$llm_upstream;
        }
    }''' % (redis_port, port))
    items = load_prompts()
    rnd = random.Random(3)
    seq = [rnd.choice(items) for _ in range(60 if QUICK else 135)]
    first = {}
    saved = 0.0
    hits = 0
    lat_hit = []
    for label, path, body in seq:
        st, h, _, dt = post(port, path, body)
        if h.get('x-llm-cache') == 'HIT':
            hits += 1
            saved += first.get(body, 0)
            lat_hit.append(dt)
        else:
            first.setdefault(body, dt)
            time.sleep(0.05)           # let the asynchronous store land
    w = wrk('http://127.0.0.1:%d/v1/chat/completions' % port,
            items[2][2], 10, 2 if QUICK else 5)
    REPORT.append('## 5. Cache\n')
    REPORT.append('Realistic mock tiers and a local Redis. %d requests drawn '
                  'with repeats from the 45 dev prompts (%d distinct), one at '
                  'a time.\n' % (len(seq), len(first)))
    REPORT.append(table(['hits', 'hit rate', 'GPU seconds saved',
                         'hit latency p50 (client)', 'wrk on one hit: req/s',
                         'p50', 'p99'],
                        [[hits, '%.0f %%' % (100 * hits / len(seq)),
                          '%.1f s' % saved,
                          '%.2f ms' % (1000 * pct(lat_hit, .5)),
                          '%.0f' % w['rps'], '%.0f µs' % w['p50_us'],
                          '%.0f µs' % w['p99_us']]]))
    REPORT.append('\nGPU seconds saved: for every hit, the time the same '
                  'request took when it was first answered by a tier.\n')
    for p in (ngx, big, small, rd):
        stop(p)


# --- balance: least_conn against warm first, with and without affinity ---

def ttft_post(port, path, body):
    """(status, seconds to the first streamed line, server) for one request"""
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=120)
    t0 = time.time()
    try:
        c.request('POST', path, body=body,
                  headers={'Content-Type': 'application/json'})
        r = c.getresponse()
        r.readline()
        t = time.time() - t0
        r.read()
        return r.status, t, r.getheader('X-Mock-Name', '')
    except (OSError, http.client.HTTPException):
        return 0, time.time() - t0, ''
    finally:
        c.close()


def scenario_balance():
    say('balance: least_conn, warm first, warm first + affinity')
    load_ms = 4000 if QUICK else 8000
    users = 3                  # within the two servers' room (4)
    turns = 6 if QUICK else 10
    rows = []
    for label, method in (('least_conn', 'least_conn;'),
                          ('warm first', 'llm_router_balance;'),
                          ('warm first + affinity',
                           'llm_router_balance affinity;')):
        # server 1 has the model loaded, server 2 must load it (a cold
        # start: the study's 42 s for gpt-oss:20b, scaled down), and each
        # re-reads a conversation it did not serve last (its KV cache)
        servers = [mock('big%d' % i, 'gpt-oss:20b', '--ttft', '300',
                        '--tps', '40', '--tokens', '12', '--slots', '2',
                        '--load-ms', str(load_ms), '--prefill-ms', '250',
                        '--keep-alive', '10m')
                   for i in (1, 2)]
        unload = json.dumps({'model': 'gpt-oss:20b', 'prompt': '',
                             'keep_alive': 0})
        post(servers[1][1], '/api/generate', unload)
        small, sport = mock('small', 'llama3.2:3b', '--ttft', '100')
        port = free_port()
        ngx = nginx('balance-%d' % len(rows), '''
    upstream ollama_big {
        zone ollama_big 64k;
        %s
        server 127.0.0.1:%d max_conns=2;
        server 127.0.0.1:%d max_conns=2;
        keepalive 16;
    }
    upstream ollama_small { server 127.0.0.1:%d; keepalive 16; }
    llm_router_zone llm 1m;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b max_inflight=4 queue=8;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b;
    llm_router_health_check interval=500ms timeout=1s;
    server {
        listen 127.0.0.1:%d;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $llm_upstream_host;
        proxy_buffering off;
        proxy_read_timeout 600s;
        location / {
            llm_router on;
            proxy_pass http://$llm_upstream;
        }
        location = /metrics { llm_router_status; }
    }''' % (method, servers[0][1], servers[1][1], sport, port))
        # a health round or two: each server's residency known
        for _ in range(100):
            c = http.client.HTTPConnection('127.0.0.1', port, timeout=5)
            c.request('GET', '/metrics')
            data = c.getresponse().read()
            c.close()
            if b'llm_router_tier_servers_resident{tier="big"} 1' in data:
                break
            time.sleep(0.05)
        results = []
        lock = threading.Lock()

        def user(u):
            msgs = [{'role': 'system', 'content': 'You are JARVIS.'},
                    {'role': 'user', 'content': 'User %d: plan my week and '
                     'justify each choice step by step.' % u}]
            for t in range(turns):
                body = json.dumps({'model': 'gpt-oss:20b', 'stream': True,
                                   'messages': msgs})
                st, ttft, server = ttft_post(port, '/api/chat', body)
                with lock:
                    results.append((st, ttft, server))
                msgs += [{'role': 'assistant', 'content': 'answer %d' % t},
                         {'role': 'user', 'content': 'and then, part %d?'
                          % t}]

        ts = [threading.Thread(target=user, args=(u,)) for u in range(users)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        ok = [r for r in results if r[0] == 200]
        cold = [r for r in ok if r[1] * 1000 >= load_ms * 0.9]
        lat = [r[1] for r in ok]
        rows.append([label, len(results), len(ok), '%.2f' % pct(lat, .5),
                     '%.2f' % pct(lat, .95), len(cold)])
        say('  %-24s ttft p50 %.2f s p95 %.2f s, %d of %d cold'
            % (label, pct(lat, .5), pct(lat, .95), len(cold), len(ok)))
        for p in [ngx, small] + [s[0] for s in servers]:
            stop(p)
    REPORT.append('## Several servers in a tier\n')
    REPORT.append('Two big-tier mock servers (2 slots each, `max_conns=2`), '
                  'the model loaded on one; loading it costs %d ms (a cold '
                  'start), and a server re-reads a conversation it did not '
                  'serve last (250 ms per earlier message). %d users each '
                  'hold a %d-turn chat, all at once, streaming; time to the '
                  'first token, and requests that paid a cold start.\n'
                  % (load_ms, users, turns))
    REPORT.append(table(['balancer', 'requests', 'ok', 'TTFT p50 s',
                         'TTFT p95 s', 'served cold'], rows))


# --- overflow: the two local tiers alone, and with a paid overflow tier -----

def scenario_overflow():
    say('overflow: two local tiers against the same with an api=openai '
        'overflow tier')
    big, bport, small, sport = realistic_tiers()
    # a cloud API: further away (time to first token), faster once going
    cloud, cport = mock('cloud', 'gpt-oss:120b', '--ttft', '700', '--tps',
                        '90', '--tokens', '24', '--slots', '64')
    items = load_prompts()
    levels = [8, 16] if QUICK else [8, 16, 32]
    n = 32 if QUICK else 96
    rows = []
    for label, extra in (('two local tiers', ''),
                         ('with the overflow tier', '''
    upstream cloud_api { server 127.0.0.1:%d; keepalive 32; }
    llm_router_tier cloud upstream=cloud_api model=gpt-oss:120b rank=3
                    max_inflight=64 api=openai overflow;''' % cport)):
        port = free_port()
        ngx = nginx('overflow-%d' % len(extra), tiers(bport, sport, '4 queue=4',
                                                      '8 queue=8')
                    + extra + '''
    server {
        listen 127.0.0.1:%d;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $llm_upstream_host;
        proxy_read_timeout 600s;
        add_header X-LLM-Route $llm_target always;
        location / {
            llm_router on;
            proxy_pass http://$llm_upstream;
        }
    }''' % port)
        for c in levels:
            recs, wall = run_load(port, items, c, n)
            ok = [r for r in recs if r['status'] == 200]
            paid = [r for r in recs if r['tier'] == 'cloud']
            lat = [r['latency'] for r in ok]
            rows.append([label, c, n, '%.0f %%' % (100.0 * len(ok) / n),
                         '%.2f' % pct(lat, .5), '%.2f' % pct(lat, .95),
                         '%.0f %%' % (100.0 * len(paid) / n)])
            say('  %-24s c=%-3d p50 %.2f s p95 %.2f s paid %d / %d'
                % (label, c, pct(lat, .5), pct(lat, .95), len(paid), n))
        stop(ngx)
    REPORT.append('## Overflow to a paid tier\n')
    REPORT.append('The dev prompts (the assistant\'s mix), %d requests per '
                  'level, on mock tiers timed like the real ones (big: 4 '
                  'slots and 4 queued, small: 8 and 8) alone, and with an '
                  '`api=openai` overflow tier: a mock OpenAI-compatible API '
                  'with network-like latency (0.7 s to the first token, 90 '
                  'tokens/s, 64 slots), used only when neither local tier '
                  'has room. Seconds per request, the share of requests the '
                  'paid tier answered.\n' % n)
    REPORT.append(table(['tiers', 'clients', 'requests', 'ok', 'p50 s',
                         'p95 s', 'sent to the paid tier'], rows))
    for p in (cloud, big, small):
        stop(p)


# --- retyped: L1 alone against L1 + L2 on retyped repeats -------------------

def retyped_traffic(n, seed=5):
    """n assistant requests: intents (a template and its slot values) drawn
    with a popularity skew, each said canonically or retyped (typos, case,
    punctuation, politeness, contractions, ...), as users say them again;
    returns [(intent, text)]"""
    sys.path.insert(0, os.path.join(TOP, 'bench'))
    import similar as sim
    rnd = random.Random(seed)
    intents, seen = [], set()
    while len(intents) < 120:
        lang, kind, tmpl = rnd.choice(sim.TEMPLATES)
        vals = sim.slot_values(rnd, tmpl)
        said = sim.render(tmpl, vals, lang)
        if said not in seen:             # two intents never say the same
            seen.add(said)
            intents.append((lang, kind, tmpl, vals))
    weights = [1.0 / (i + 1) ** 0.9 for i in range(len(intents))]
    out = []
    for _ in range(n):
        i = rnd.choices(range(len(intents)), weights)[0]
        lang, kind, tmpl, vals = intents[i]
        if rnd.random() < 0.4:
            text = sim.render(tmpl, vals, lang)
        else:
            kinds = rnd.sample(['typo', 'case', 'punct', 'polite',
                                'contraction', 'article'], rnd.randint(1, 3))
            text = sim.retype(rnd, lang, kind, tmpl, vals, kinds)
        out.append((i, text))
    return out


def scenario_retyped():
    say('retyped: L1 alone and L1 + L2 on assistant traffic with retyped '
        'repeats')
    rd, redis_port = redis()
    small, sport = mock('small', 'llama3.2:3b', '--ttft', '5', '--tps',
                        '2000', '--tokens', '8', '--slots', '64')
    big, bport = mock('big', 'gpt-oss:20b', '--ttft', '5', '--tps', '2000',
                      '--tokens', '8', '--slots', '64')
    traffic = retyped_traffic(200 if QUICK else 1000)
    rows = []
    for label, similar in (('L1 (exact)', 'off'), ('L1 + L2 (similar)', 'on')):
        subprocess.run(['redis-cli', '-p', str(redis_port), 'FLUSHALL'],
                       capture_output=True)
        port = free_port()
        ngx = nginx('retyped-' + similar, tiers(bport, sport, '64', '64') + '''
    llm_redis 127.0.0.1:%d;
    llm_cache_similar_zone similar:4m;
    server {
        listen 127.0.0.1:%d;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $llm_upstream_host;
        llm_cache on;
        llm_cache_similar %s;
        location / {
            llm_router on;
            proxy_pass http://$llm_upstream;
        }
    }''' % (redis_port, port, similar))
        answers = {}                   # intent: the answers stored for it
        hits = similar_hits = wrong = 0
        for intent, text in traffic:
            body = json.dumps({'model': 'auto', 'stream': False, 'messages': [
                {'role': 'user', 'content': text}]})
            st, h, data, _ = post(port, '/api/chat', body)
            c = h.get('x-llm-cache')
            if c in ('HIT', 'HIT-SIMILAR'):
                hits += 1
                # an answer stored for this intent, or a wrong one (every
                # answer is told apart by its created_at and durations)
                if data not in answers.get(intent, ()):
                    wrong += 1
                similar_hits += c == 'HIT-SIMILAR'
            else:
                answers.setdefault(intent, set()).add(data)
                time.sleep(0.01)       # let the asynchronous store land
        n = len(traffic)
        rows.append([label, n, '%.1f %%' % (100.0 * hits / n),
                     similar_hits, wrong,
                     '%.2f %%' % (100.0 * wrong / max(hits, 1))])
        say('  %-20s hit rate %.1f %% (%d similar), wrong %d'
            % (label, 100.0 * hits / n, similar_hits, wrong))
        stop(ngx)
    distinct = len(set(i for i, _ in traffic))
    canonical = len(set((i, t) for i, t in traffic))
    text = ['## Cache levels on retyped repeats\n']
    text.append('%d one-turn requests of assistant traffic drawn from %d '
                  'intents (the templates and slot values of '
                  '`bench/similar.py`, English and French) with a '
                  'popularity skew: %d distinct intents asked, %d distinct '
                  'texts; 40 %% said canonically, the others retyped (1 to 3 '
                  'of: typo, case, punctuation, politeness, contraction, '
                  'article). One at a time, fast mock tiers, a local Redis. '
                  'The best any cache can do here is %.1f %% (every request '
                  'after its intent\'s first). A wrong hit is an answer '
                  'stored for another intent.\n'
                  % (len(traffic), 120, distinct, canonical,
                     100.0 * (len(traffic) - distinct) / len(traffic)))
    text.append(table(['cache', 'requests', 'hit rate', 'of which similar',
                       'wrong hits', 'wrong / hits'], rows))
    text.append('\nThe study\'s target is an 85 %% hit rate; the ceiling '
                'of this traffic is %.1f %%.\n'
                % (100.0 * (len(traffic) - distinct) / len(traffic)))
    REPORT.extend(text)
    if not QUICK:
        with open(os.path.join(RESULTS, 'RETYPED.md'), 'w') as f:
            f.write('# Cache levels on retyped repeats\n\nCommand: '
                    '`python3 bench/bench.py retyped` (%s UTC).\n\n'
                    % time.strftime('%Y-%m-%d %H:%M', time.gmtime()))
            f.write('\n'.join(text[1:]) + '\n')
    for p in (small, big, rd):
        stop(p)


# --- scenario 6: memory ----------------------------------------------------------------

def scenario_memory():
    say('memory: worker RSS around 100 000 routed requests')
    bport, rport = free_port(), free_port()
    backend = nginx('mem-backend', '''
    server {
        listen 127.0.0.1:%d;
        default_type application/json;
        location / { return 200 '%s'; }
    }''' % (bport, ANSWER.replace("'", "\\'")))
    router = nginx('mem-router', '''
    upstream backend { server 127.0.0.1:%d; keepalive 64; }
    llm_router_zone llm 1m;
    llm_router_tier big upstream=backend model=gpt-oss:20b max_inflight=100000;
    llm_router_tier small upstream=backend model=llama3.2:3b max_inflight=100000;
    server {
        listen 127.0.0.1:%d;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $llm_upstream_host;
        location / {
            llm_router on;
            proxy_pass http://$llm_upstream;
        }
    }''' % (bport, rport))
    wrk('http://127.0.0.1:%d/v1/chat/completions' % rport, CHAT, 16, 1)
    before = rss_kb(router.pid)
    done = 0
    target = 20000 if QUICK else 100000
    while done < target:
        done += wrk('http://127.0.0.1:%d/v1/chat/completions' % rport, CHAT,
                    16, 3)['requests']
    after = rss_kb(router.pid)
    REPORT.append('## 6. Memory\n')
    REPORT.append(table(['routed requests', 'worker RSS before',
                         'worker RSS after', 'growth'],
                        [[done, '%d KiB' % before, '%d KiB' % after,
                          '%+d KiB' % (after - before)]]))
    REPORT.append('\n')
    for p in (router, backend):
        stop(p)


# --- main ------------------------------------------------------------------------------

def main():
    os.makedirs(RUN, exist_ok=True)
    every = ['overhead', 'classify', 'workload', 'routing', 'failover',
             'cache', 'memory']
    wanted = [a for a in sys.argv[1:] if not a.startswith('--')] or every
    # a partial or quick run does not replace the committed full report
    report = os.path.join(RESULTS if wanted == every and not QUICK else RUN,
                          'REPORT.md')
    missing = [t for t in ('wrk', 'ab', 'valgrind', 'redis-server')
               if shutil.which(t) is None]
    if missing:
        sys.exit('bench.py: %s not found: "make bench" installs what it needs '
                 '(or apt-get install %s)' % (', '.join(missing), ' '.join(
                     {'ab': 'apache2-utils', 'redis-server': 'redis-server'}
                     .get(t, t) for t in missing)))
    cpu = re.search(r'model name\s*:\s*(.*)', open('/proc/cpuinfo').read())
    versions = {
        'nginx': subprocess.run([NGINX, '-v'], capture_output=True,
                                text=True).stderr.strip(),
        'wrk': subprocess.run(['wrk', '-v'], capture_output=True,
                              text=True).stdout.split('\n')[0].strip(),
        'node': subprocess.run(['node', '--version'], capture_output=True,
                               text=True).stdout.strip(),
        'redis': subprocess.run(['redis-server', '--version'],
                                capture_output=True,
                                text=True).stdout.strip().split(' sha')[0],
    }
    if os.path.exists(PORTKEY):
        with open(os.path.join(os.path.dirname(os.path.dirname(PORTKEY)),
                               'package.json')) as f:
            versions['Portkey gateway'] = json.load(f)['version']
    head = ['# ngx_llm_router benchmark report', '',
            'Run on %s (UTC) on %d cores (%s), %s %s. Versions: %s.' % (
                time.strftime('%Y-%m-%d %H:%M', time.gmtime()),
                os.cpu_count(), cpu.group(1) if cpu else 'unknown CPU',
                platform.system(), platform.release(),
                '; '.join('%s %s' % kv for kv in versions.items())),
            '', 'Command: `make bench` (= `python3 bench/bench.py%s %s`). '
            'Shared, noisy machine: medians and ratios, not single times.'
            % (' --quick' if QUICK else '', ' '.join(wanted)), '']
    for name in wanted:
        globals()['scenario_' + name]()
        with open(report, 'w') as f:
            f.write('\n'.join(head + REPORT) + '\n')
    say('wrote', report)


if __name__ == '__main__':
    main()
