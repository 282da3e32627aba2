# Prometheus metrics, the JSON and HTML status, alert rules and dashboard:
# a scripted mix of requests must show up in the counters exactly.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use JSON::PP;
use File::Temp qw(tempfile);

my $has_promtool = -x '/usr/bin/promtool';
my $rport = LLMTest::start_redis(undef);
my $port = LLMTest::free_port();
my $root = "t/servroot-metrics";
my $dev = File::Spec->rel2abs("$root-gpu");
my $big = $ENV{TEST_NGINX_BIG_PORT};
my $small = $ENV{TEST_NGINX_SMALL_PORT};
my $down = LLMTest::free_port();    # a server marked down, never asked

mkdir $dev;
for (['mem_info_vram_used', 14 * 1024 ** 3], ['mem_info_vram_total', 16 * 1024 ** 3],
     ['gpu_busy_percent', 42]) {
    open my $f, '>', "$dev/$_->[0]" or die;
    print $f "$_->[1]\n";
    close $f;
}

my $nginx = LLMTest::start_nginx($root, $port, <<"CONF", workers => 2);
    upstream ollama_big {
        llm_router_balance;
        server 127.0.0.1:$big;
        server 127.0.0.1:$down down;
        keepalive 8;
    }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }

    llm_router_zone llm 1m;
    llm_gpu gpu0 source=sysfs device=$dev interval=100ms;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b gpu=gpu0;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b gpu=gpu0;
    llm_redis 127.0.0.1:$rport timeout=1s;

    server {
        listen 127.0.0.1:$port;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host \$llm_upstream_host;
        proxy_buffering off;
        proxy_intercept_errors on;
        recursive_error_pages on;
        llm_cache on;

        location / {
            llm_router on;
            proxy_pass http://\$llm_upstream;
            error_page 502 503 504 = \@fb;
        }
        location \@fb {
            llm_router on;
            proxy_pass http://\$llm_upstream;
            error_page 502 503 504 = \@fb;
        }
        location = /metrics { llm_router_status; }
    }
CONF

sub scrape {
    my $r = LLMTest::http($port, 'GET', '/metrics');
    return $r->{status} == 200 ? $r->{content} : '';
}

sub metric {
    my ($text, $name) = @_;
    my $re = quotemeta($name);
    return $text =~ /^$re (\S+)$/m ? $1 + 0 : 0;
}

sub promtool_ok {
    my $text = shift;
    my ($fh, $file) = tempfile();
    print $fh $text;
    close $fh;
    my $out = `promtool check metrics < $file 2>&1`;
    unlink $file;
    return ($? == 0, $out);
}

sub post {
    my ($path, $body, $h) = @_;
    return LLMTest::http($port, 'POST', $path, $body, $h);
}

sub stored { scalar grep { !/^llm:lock:/ } @{ LLMTest::redis($rport, 'KEYS', 'llm:*') || [] } }

ok(LLMTest::wait_until(sub { metric(scrape(), 'llm_router_redis_connected_workers') == 2 }, 30),
   "redis connected in both workers");

# --- the scripted mix -------------------------------------------------------

my $A = '{"model":"auto","stream":false,"prompt":"Hello there!"}';
post('/api/generate', $A);                                       # small miss
ok(LLMTest::wait_until(sub { stored() == 1 }, 5), "first answer stored");
is(post('/api/generate', $A)->{headers}{'x-llm-cache'}, 'HIT', "same again: hit");
post('/v1/chat/completions', '{"model":"auto","messages":[{"role":"user","content":'
     . '"Analyze merge sort, prove its complexity and compare it with heapsort step by step."}]}');
post('/api/generate', '{"model":"auto","prompt":"Good night JARVIS"}');       # stream
post('/api/generate', '{"model":"auto","stream":false,"prompt":"Thanks!"}',
     { 'Cache-Control' => 'no-cache' });                                        # bypass
LLMTest::mock_config('big', { fail => 503 });
my $r = post('/api/generate', '{"model":"auto","stream":false,"prompt":"Prove that'
             . ' sqrt(2) is irrational and justify each step."}');
LLMTest::mock_restore('big');
is($r->{headers}{'x-mock-name'}, 'small', "the fallback request was answered by small");
is(post('/api/generate', '{"prompt":5}')->{status}, 400, "one bad request");

ok(LLMTest::wait_until(sub { stored() == 4 }, 5), "four answers stored");
my $m = '';
ok(LLMTest::wait_until(sub {
       $m = scrape();
       metric($m, 'llm_router_request_duration_seconds_count{tier="none"}') == 1
       && metric($m, 'llm_router_request_duration_seconds_count{tier="small"}') == 4 }, 5),
   "every request ended");

my %want = (
    'llm_router_requests_total{tier="small",class="simple",reason="complexity",cache="miss"}' => 2,
    'llm_router_requests_total{tier="cache",class="simple",reason="cache",cache="hit"}' => 1,
    'llm_router_requests_total{tier="big",class="complex",reason="complexity",cache="miss"}' => 1,
    'llm_router_requests_total{tier="small",class="simple",reason="complexity",cache="bypass"}' => 1,
    'llm_router_requests_total{tier="small",class="complex",reason="fallback",cache="miss"}' => 1,
    'llm_router_requests_total{tier="none",class="none",reason="none",cache="bypass"}' => 1,
    'llm_router_responses_total{tier="small",code="2xx"}' => 4,
    'llm_router_responses_total{tier="big",code="2xx"}' => 1,
    'llm_router_responses_total{tier="cache",code="2xx"}' => 1,
    'llm_router_responses_total{tier="none",code="4xx"}' => 1,
    'llm_router_request_duration_seconds_count{tier="big"}' => 1,
    'llm_router_request_duration_seconds_count{tier="cache"}' => 1,
    'llm_router_upstream_ttfb_seconds_count{tier="small"}' => 4,
    'llm_router_upstream_ttfb_seconds_count{tier="big"}' => 1,
    'llm_router_cache_requests_total{result="hit"}' => 1,
    'llm_router_cache_requests_total{result="miss"}' => 4,
    'llm_router_cache_requests_total{result="bypass"}' => 2,
    'llm_router_cache_requests_total{result="error"}' => 0,
    'llm_router_cache_stores_total' => 4,
    'llm_router_fallbacks_total{from="big",to="small",reason="503"}' => 1,
    'llm_router_fallbacks_total{from="small",to="big",reason="503"}' => 0,
    'llm_router_completion_tokens_total{tier="small"}' => 32,
    # gpt-oss thinks first: its 6 thinking tokens are in eval_count too
    'llm_router_completion_tokens_total{tier="big"}' => 6 + 8,
    'llm_router_complexity_score_count' => 6,
    'llm_router_inflight_requests{tier="big"}' => 0,
    'llm_router_inflight_requests{tier="small"}' => 0,
    'llm_router_max_inflight_requests{tier="big"}' => 4,
    'llm_router_breaker_state{tier="big"}' => 0,
    'llm_router_redis_up' => 1,
    'llm_router_gpu_vram_used_bytes{gpu="gpu0"}' => 14 * 1024 ** 3,
    'llm_router_gpu_vram_total_bytes{gpu="gpu0"}' => 16 * 1024 ** 3,
    'llm_router_gpu_vram_used_ratio{gpu="gpu0"}' => 0.875,
    'llm_router_gpu_busy_ratio{gpu="gpu0"}' => 0.42,
    "llm_router_server_inflight_requests{tier=\"big\",server=\"127.0.0.1:$big\"}" => 0,
    "llm_router_server_up{tier=\"big\",server=\"127.0.0.1:$big\"}" => 1,
);

for my $k (sort keys %want) {
    is(metric($m, $k), $want{k} // $want{$k}, $k);
}
cmp_ok(metric($m, 'llm_router_prompt_tokens_total{tier="small"}'), '>', 0, "prompt tokens counted");
cmp_ok(metric($m, 'llm_router_generation_seconds_total{tier="small"}'), '>', 0,
       "generation time counted (Ollama eval_duration)");
unlike($m, qr/Hello there|irrational|Good night/, "no prompt text in the metrics");
like($m, qr/^llm_router_server_up\{tier="big",server="127.0.0.1:$down"\} 0$/m,
     "the server marked down: llm_router_server_up 0");
unlike($m, qr/^llm_router_server_(inflight_requests|up)\{tier="small"/m,
       "... small's server not llm_router_balance's: no in flight or up");
unlike($m, qr/llm_router_share_age_seconds|^llm_router_tier_affinity_/m,
       "no share age without llm_router_share, no affinity counts without it");

SKIP: {
    skip "promtool not installed", 1 unless $has_promtool;
    my ($ok, $out) = promtool_ok($m);
    ok($ok, "promtool check metrics accepts the exposition") or diag($out);
}

# --- JSON and HTML formats ----------------------------------------------------

my $j = LLMTest::status($port, '/metrics');
is($j->{decisions}{fallback}, 1, "JSON: decisions by reason");
ok(abs($j->{cache}{hit_rate} - 0.2) < 1e-9, "JSON: cache hit rate (1 of 5 lookups)");
ok(defined $j->{latency_seconds}{small}{p95}, "JSON: latency percentiles");

# the ring of recent decisions: newest first, what was decided, no prompt
my $recent = $j->{recent} || [];
is(scalar @$recent, 7, "JSON: the 7 requests are in the recent decisions");
is(join(' ', map { $recent->[0]{$_} } qw(class tier reason cache status)),
   'none none none bypass 400', "... the newest first: the bad request");
is(join(' ', map { $recent->[1]{$_} } qw(class tier reason cache status)),
   'complex small fallback miss 200', "... then the fallback, answered by small");
is(join(' ', map { "$_->{tier}/$_->{cache}" } reverse @$recent),
   'small/miss cache/hit big/miss small/miss small/bypass small/miss none/bypass',
   "... in the order they were made");
ok(!grep({ $_->{duration_ms} !~ /^\d+$/ || $_->{time_ms} < 1e12 } @$recent),
   "... each with its time and duration");
ok(abs($recent->[1]{score} - 0.999) < 0.01 && !defined $recent->[0]{score},
   "... and its score (none for a request never classified)");
unlike(LLMTest::http($port, 'GET', '/metrics?format=json')->{content},
       qr/Hello there|irrational|Good night|Thanks!/, "... and no prompt text");
is($j->{tiers}{small}{completion_tokens}, 32, "JSON: a table row's key (completion tokens)");
is($j->{served}{none}{responses}{'4xx'}, 1, "JSON: who answered, by status class");
is($j->{served}{small}{duration_seconds}{count}, 4, "JSON: answer times by who answered");
is($j->{tiers}{big}{breaker}, 'closed', "JSON: the breaker by name");
is(join(' ', map { join ',', $_->{address}, $_->{state}, $_->{inflight},
                             $_->{resident} // 'null' }
             @{ $j->{tiers}{big}{servers} }),
   "127.0.0.1:$big,up,0,null 127.0.0.1:$down,down,0,null",
   "JSON: big's servers, as its balancer sees them");
$r = LLMTest::http($port, 'GET', '/metrics', undef, { Accept => 'application/json' });
like($r->{content}, qr/^\{"shared":true/, "Accept: application/json gives JSON");
$r = LLMTest::http($port, 'GET', '/metrics?format=html');
like($r->{headers}{'content-type'}, qr{^text/html}, "?format=html: the status page");
unlike($r->{content}, qr/<(script|link|img)[^>]+(src|href)=/i, "... with no external assets");

# --- reading while traffic flows ------------------------------------------------

my $load = fork;
if ($load == 0) {
    LLMTest::parallel($port, map {
        ['POST', '/api/generate', qq({"model":"auto","stream":false,"prompt":"load $_"}),
         { 'X-Mock-Ttft' => 200, 'Cache-Control' => 'no-cache' }] } 1 .. 40);
    POSIX::_exit(0);
}
my ($scrapes, $valid) = (0, 0);
for (1 .. 25) {
    my $t = scrape();
    $scrapes++ if length $t;
    $valid++ if $has_promtool ? (promtool_ok($t))[0] : $t =~ /llm_router_requests_total/;
}
waitpid($load, 0);
is($scrapes, 25, "25 scrapes answered during a burst of 40 requests");
is($valid, 25, "... every one a valid exposition");
$recent = LLMTest::status($port, '/metrics')->{recent};
is(scalar @$recent, 32, "the recent decisions keep the last 32 requests");
ok(!grep({ $recent->[$_]{n} != $recent->[$_ + 1]{n} + 1 } 0 .. 30),
   "... newest first, none missing");

# --- alert rules, scrape config and dashboard use exported metrics only ----------

my $live = scrape();
my %exported = map { $_ => 1 } ($live =~ /^# TYPE (\w+) /mg);
for my $f ('conf/alerts.yml', 'conf/grafana-dashboard.json') {
    my $text = LLMTest::slurp($f);
    my %used = map { $_ => 1 } map { s/_(bucket|sum|count)$//r } ($text =~ /\b(llm_router_\w+)/g);
    my @missing = grep { !$exported{$_} } sort keys %used;
    ok(scalar(keys %used) >= 6, "$f queries the router's metrics");
    is("@missing", "", "$f uses only metrics the module exports");
}
SKIP: {
    skip "promtool not installed", 2 unless $has_promtool;
    my $out = `promtool check rules conf/alerts.yml 2>&1`;
    is($?, 0, "promtool check rules conf/alerts.yml") or diag($out);
    $out = `promtool check config conf/prometheus.yml 2>&1`;
    is($?, 0, "promtool check config conf/prometheus.yml") or diag($out);
}
my $dash = eval { decode_json(LLMTest::slurp('conf/grafana-dashboard.json')) };
my %titles = map { $_->{title} => 1 } @{ $dash->{panels} || [] };
for my $t ('VRAM used', 'GPU temperature and power', 'Request duration P50 / P95 / P99',
           'Requests per second', 'Tokens per second', 'Model selection', 'Cache hit rate',
           'Fallbacks and errors', 'In flight per tier') {
    ok($titles{$t}, "dashboard panel: $t");
}

# --- the HTML page in a real browser ------------------------------------------------

my $chromium = (grep { -x } '/usr/bin/chromium', '/usr/bin/chromium-browser')[0];
SKIP: {
    skip "chromium not installed", 4 unless $chromium;
    my $profile = File::Temp::tempdir(CLEANUP => 1);
    my @flags = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                 '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync',
                 "--user-data-dir=$profile", '--virtual-time-budget=3000');
    my $url = "http://127.0.0.1:$port/metrics?format=html";
    my $dom = sub {
        my $out = `$chromium @flags --dump-dom '$url' 2>/dev/null`;
        return $out =~ /id="total">(\d+)</ ? $1 : -1;
    };
    my $before = $dom->();
    cmp_ok($before, '>', 0, "the page renders the request count ($before)");
    my $page = `$chromium @flags --dump-dom '$url' 2>/dev/null`;
    my ($servers) = $page =~ /<table class="servers" id="servers-big">(.*?)<\/table>/s;
    my @srv = map { join ' ', map { s/<[^>]*>//gr } /<td[^>]*>(.*?)<\/td>/g }
              ($servers // '') =~ /<tr>(.*?)<\/tr>/g;
    is(join(' | ', grep { length } @srv),
       "127.0.0.1:$big up ? 0 | 127.0.0.1:$down down ? 0",
       "the page lists big's servers: address, state, model, in flight");
    post('/api/generate', qq({"model":"auto","stream":false,"prompt":"page $_"})) for 1 .. 3;
    my $after = $dom->();
    is($after, $before + 3, "... and it changes after 3 more requests ($after)");
    my $png = File::Spec->rel2abs("$root/status-page.png");
    unlink $png;
    system("$chromium @flags --window-size=1280,900 --screenshot=$png '$url' >/dev/null 2>&1");
    ok(-s $png, "screenshot saved: $png");
}

# --- the page's live charts and recent decisions, while requests flow ------------

SKIP: {
    skip "chromium not installed", 14 unless $chromium;
    my $profile = File::Temp::tempdir(CLEANUP => 1);
    # 8 s of the page's own time: 8 polls, or so, of the JSON
    my @flags = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                 '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync',
                 "--user-data-dir=$profile", '--virtual-time-budget=8000');
    my $url = "http://127.0.0.1:$port/metrics?format=html";
    my $sparks = sub {
        my %s;
        while ($_[0] =~ /<svg[^>]* id="spark-(\w+)-(rate|latency|vram)"[^>]*data-points="(\d+)"[^>]*>(.*?)<\/svg>/sg) {
            my ($tier, $what, $n, $svg) = ($1, $2, $3, $4);
            my ($d) = $svg =~ /<path class="line" d="([^"]*)"/;
            $s{"$tier.$what"} = { n => $n, d => $d // '' };
        }
        return \%s;
    };
    my $rows = sub {
        my ($body) = $_[0] =~ /<table id="recent">.*?<tbody>(.*?)<\/tbody>/s;
        return [ map { [ map { s/<[^>]*>//gr } /<td[^>]*>(.*?)<\/td>/g ] }
                 ($body // '') =~ /<tr>(.*?)<\/tr>/g ];
    };
    my $vram = sub {
        open my $f, '>', "$dev/mem_info_vram_used" or die;
        print $f "$_[0]\n";
        close $f;
    };

    # simple prompts, one after another, while the page polls
    my $stop = "$root/page-load.stop";
    unlink $stop;
    my $load = fork;
    if ($load == 0) {
        for my $i (1 .. 400) {
            last if -e $stop;
            post('/api/generate', qq({"model":"auto","stream":false,"prompt":"spark $i"}),
                 { 'Cache-Control' => 'no-cache' });
        }
        POSIX::_exit(0);
    }
    my $dom1 = `$chromium @flags --dump-dom '$url' 2>/dev/null`;
    my $png = File::Spec->rel2abs("$root/status-page-live.png");
    unlink $png;
    system("$chromium @flags --window-size=1280,1000 --screenshot=$png '$url' >/dev/null 2>&1");
    open my $sf, '>', $stop;
    close $sf;
    waitpid($load, 0);
    unlink $stop;

    my $s1 = $sparks->($dom1);
    is(join(' ', sort keys %$s1), 'big.latency big.rate big.vram small.latency small.rate small.vram',
       "the page draws request rate, latency and VRAM for each tier");
    ok(!grep({ $s1->{"$_.rate"}{n} < 2 || $s1->{"$_.vram"}{n} < 2 } qw(big small)),
       "... each rate and VRAM chart holds more than one sample ("
       . join(', ', map { "$_ $s1->{$_}{n}" } sort keys %$s1) . ")");
    my %ys = map { $_ => 1 } $s1->{'small.rate'}{d} =~ /[ML][\d.]+ ([\d.]+)/g;
    cmp_ok(scalar keys %ys, '>', 1, "... and small's request rate moved while requests were sent");
    cmp_ok($s1->{'small.latency'}{n}, '>', 0, "... and its latency chart has samples");
    like($dom1, qr/id="spark-big-vram-now">87\.5 %</, "... VRAM now: 87.5 %");
    my $rows1 = $rows->($dom1);
    ok(@$rows1 && $rows1->[0][1] eq 'simple' && $rows1->[0][3] eq 'small'
       && $rows1->[0][5] eq 'bypass' && $rows1->[0][6] eq '200',
       "the recent decisions list the requests just made: simple, small, bypass, 200")
        or diag(explain($rows1->[0]));

    # VRAM at half, one complex prompt to big: a second look
    $vram->(8 * 1024 ** 3);
    ok(LLMTest::wait_until(sub {
           (LLMTest::status($port, '/metrics')->{gpus}{gpu0}{vram_percent} // 0) == 50 }, 5),
       "VRAM reading now 50 %");
    my $cx = post('/api/generate', '{"model":"auto","stream":false,"prompt":"Analyze the'
                  . ' trade-offs of B-trees versus LSM trees, prove the write amplification'
                  . ' bounds and compare them step by step."}', { 'Cache-Control' => 'no-cache' });
    is($cx->{headers}{'x-mock-name'}, 'big', "a complex prompt answered by big");
    my $dom2 = `$chromium @flags --dump-dom '$url' 2>/dev/null`;
    my $s2 = $sparks->($dom2);
    isnt($s2->{'big.vram'}{d}, $s1->{'big.vram'}{d}, "the VRAM chart changed between two looks");
    like($dom2, qr/id="spark-big-vram-now">50\.0 %</, "... VRAM now: 50.0 %");
    my $rows2 = $rows->($dom2);
    is(join(' ', @{ $rows2->[0] || [] }[1, 3, 4, 5, 6]), 'complex big complexity bypass 200',
       "the newest decision: complex, big, complexity, bypass, 200");
    like($rows2->[0][2] // '', qr/^[01]\.\d{3}$/, "... with its score");
    unlike($dom2, qr/trade-offs|B-trees|spark \d/, "no prompt text on the page");

    my $head = '';
    if (open my $pf, '<:raw', $png) { read($pf, $head, 24); close $pf; }
    my ($w, $h) = length($head) == 24 ? unpack('N2', substr($head, 16, 8)) : (0, 0);
    ok(substr($head, 0, 8) eq "\x89PNG\r\n\x1a\n" && $w == 1280 && $h == 1000
       && (-s $png) > 40000, "screenshot of the live page: $png (${w}x$h, " . (-s $png // 0)
       . " bytes)");
}

LLMTest::stop_nginx($nginx);
LLMTest::nginx_clean($root);

done_testing();
