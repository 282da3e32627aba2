# Security: tenants never share or poison each other's cache entries; the
# tier override is read only where enabled; the shipped configs' metrics
# endpoint answers only monitoring addresses; the Redis password and the
# prompts never reach the logs (prompts: nothing above debug).
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use IO::Socket::INET;
use File::Spec;

my $big = $ENV{TEST_NGINX_BIG_PORT};
my $marker = 'PROMPT-MARKER-7f3a';
my $password = 'Secr3t-PW-91c2';

my $complex = qq({"model":"auto","stream":false,"prompt":"Analyze the time)
    . qq( complexity of heapsort, prove its worst case step by step and)
    . qq( compare it with merge sort. $marker"});

my $tport = LLMTest::free_port();

sub conf {
    my ($port, $redis, $extra) = @_;
    $extra //= '';
    return <<"CONF";
${\ LLMTest::tiers_conf() }
    llm_redis $redis;
    include ${\ File::Spec->rel2abs('conf/llm_log_format.conf') };
    $extra

    server {
        listen 127.0.0.1:$port;
        access_log logs/llm.json llm_json;
${\ LLMTest::fallback_server() }
        llm_cache on;

        add_header X-LLM-Route \$llm_target always;
        add_header X-LLM-Reason \$llm_route_reason always;

        location = /status { llm_router_status; }
    }

    # clients trusted to pick a tier
    server {
        listen 127.0.0.1:$tport;
        llm_router_override_header X-LLM-Tier;
        add_header X-LLM-Route \$llm_target always;
        add_header X-LLM-Reason \$llm_route_reason always;
        location / {
            llm_router on;
            proxy_pass http://\$llm_upstream;
        }
    }
CONF
}

sub post {
    my ($port, $body, $h, $path) = @_;
    ($port, $path) = ($tport, $1) if defined $path && $path =~ m{^/trusted(/.*)};
    return LLMTest::http($port, 'POST', $path // '/api/generate', $body,
                         { 'Content-Type' => 'application/json', %{ $h || {} } });
}

my $rport = LLMTest::start_redis(undef, '--requirepass', $password);
unlink "t/servroot-security/logs/llm.json";
my $port = LLMTest::free_port();
my $root = File::Spec->rel2abs("t/servroot-security");
my $nginx = LLMTest::start_nginx($root, $port,
                                 conf($port, "127.0.0.1:$rport password=$password timeout=1s"),
                                 log_level => 'info');
ok(LLMTest::wait_until(sub { LLMTest::status($port)->{cache}{redis} eq 'up' }, 10),
   "connected to redis with its password");

# --- tenants ----------------------------------------------------------------

my %alice = (Authorization => 'Bearer alice');
my %bob = (Authorization => 'Bearer bob');

my $r = post($port, $complex, \%alice);
is($r->{headers}{'x-llm-cache'}, 'MISS', "alice: MISS");
ok(LLMTest::wait_until(sub { post($port, $complex, \%alice)->{headers}{'x-llm-cache'} eq 'HIT' }, 5),
   "alice: then HIT");
my $alice_answer = post($port, $complex, \%alice)->{content};

# bob asks the same thing, and makes the tier answer differently (the mock
# echoes the request): were keys shared, alice would now get bob's answer
$r = post($port, $complex, { %bob, 'X-Mock-Echo' => 1 });
is($r->{headers}{'x-llm-cache'}, 'MISS', "bob, same body: MISS, alice's entry is not his");
like($r->{content}, qr/body_raw/, "bob's answer differs from alice's");
ok(LLMTest::wait_until(sub { post($port, $complex, \%bob)->{headers}{'x-llm-cache'} eq 'HIT' }, 5),
   "bob: his own HIT");
like(post($port, $complex, \%bob)->{content}, qr/body_raw/, "bob's HIT is bob's answer");
$r = post($port, $complex, \%alice);
is("$r->{headers}{'x-llm-cache'} " . ($r->{content} eq $alice_answer ? 'same' : 'changed'),
   "HIT same", "alice still gets her own answer: bob could not overwrite it");

is(post($port, $complex)->{headers}{'x-llm-cache'}, 'MISS',
   "no credentials: a tenant of its own, not alice's");
is(post($port, $complex, { Authorization => 'Bearer alic' })->{headers}{'x-llm-cache'},
   'MISS', "a tenant that is a prefix of another: another key");

# nothing a client sends names a key: headers that look like cache controls
# are not read, and the only client switch, Cache-Control: no-cache,
# bypasses the cache for that request alone (no read, no write)
$r = post($port, $complex, { %bob, 'X-LLM-Cache' => 'HIT', 'X-LLM-Cache-Key' => 'llm:0',
                             'X-LLM-Tenant' => 'alice' });
is($r->{headers}{'x-llm-cache'}, 'HIT', "cache-looking headers change nothing: bob's own HIT");
like($r->{content}, qr/body_raw/, "... with bob's answer");
$r = post($port, $complex, { %bob, 'Cache-Control' => 'no-cache', 'X-Mock-Echo' => 1,
                             'X-Mock-Tokens' => 2 });
is($r->{headers}{'x-llm-cache'}, 'BYPASS', "no-cache: BYPASS");
is(post($port, $complex, \%bob)->{content}, post($port, $complex, \%bob)->{content},
   "... and bob's entry was not replaced by the bypassed answer");
unlike(post($port, $complex, \%bob)->{content}, qr/"eval_count":2\b/,
       "... (the 2-token bypass answer is not what is stored)");

my $keys = LLMTest::redis_session($rport, ['AUTH', $password], ['KEYS', 'llm:*']);
ok(!grep(/alice|bob|Bearer/, @$keys), "redis keys do not contain the tenant");
my $values = join '', map { LLMTest::redis_session($rport, ['AUTH', $password], ['GET', $_]) // '' }
                      grep { !/lock/ } @$keys;
# (bob's entry is the mock's echo of his request, his header included:
# that is the answer; the module itself adds no tenant to a value)
unlike($values, qr/alice/, "stored values do not contain the tenant");

# --- override header ----------------------------------------------------------

$r = post($port, $complex, { 'X-LLM-Tier' => 'small', 'Cache-Control' => 'no-cache' });
is("$r->{headers}{'x-llm-route'} $r->{headers}{'x-llm-reason'}", "big complexity",
   "X-LLM-Tier where the override is not enabled: ignored");
$r = post($port, $complex, { 'X-LLM-Tier' => 'small', 'Cache-Control' => 'no-cache' },
          '/trusted/api/generate');
is("$r->{headers}{'x-llm-route'} $r->{headers}{'x-llm-reason'}", "small override",
   "X-LLM-Tier where enabled: obeyed");
$r = post($port, $complex, { 'X-LLM-Tier' => 'nonsense', 'Cache-Control' => 'no-cache' },
          '/trusted/api/generate');
is("$r->{status} $r->{headers}{'x-llm-route'}", "200 big",
   "an unknown tier name in the override: routed as usual");

# --- prompts in the logs --------------------------------------------------------

post($port, qq({"prompt":12345,"x":"$marker"}));                       # 400
post($port, qq({"model":"nope","prompt":"$marker"}));                  # 404
post($port, qq({"prompt":"$marker \xff"}));                             # bad UTF-8
LLMTest::mock_config('big', { fail => 503 });
post($port, $complex =~ s/merge sort/quick sort/r);                     # fallback
LLMTest::mock_restore('big');
post($port, $complex =~ s/"stream":false/"stream":true/r);              # stream
LLMTest::raw_http($port, "POST /api/generate HTTP/1.1\r\nHost: x\r\n"  # client leaves
    . "Content-Length: 100\r\n\r\n{\"prompt\":\"$marker", close_after => 0.2);
post($port, qq({"messages":[{"role":"user","content":"$marker"}]}), {}, '/v1/chat/completions');

LLMTest::stop_nginx($nginx);
my $log = LLMTest::slurp("$root/logs/error.log");
like($log, qr/bad ollama_generate request/, "the error log has the info lines");
unlike($log, qr/$marker/, "no prompt text in the error log at info");
my $access = LLMTest::slurp("$root/logs/llm.json");
cmp_ok(scalar(split /\n/, $access), '>=', 10, "the JSON access log has the requests");
unlike($access, qr/$marker/, "no prompt text in the JSON access log");
unlike($log . $access, qr/$password/, "no redis password in the logs");
LLMTest::nginx_clean($root);

# --- the redis password at debug level, and when it is refused ----------------

$port = LLMTest::free_port();
$nginx = LLMTest::start_nginx($root, $port,
                              conf($port, "127.0.0.1:$rport password=$password timeout=1s"),
                              log_level => 'debug');
ok(LLMTest::wait_until(sub { LLMTest::status($port)->{cache}{redis} eq 'up' }, 10), "debug: connected");
post($port, $complex);
my $st = LLMTest::http($port, 'GET', '/status?format=json')->{content};
unlike($st, qr/$password/, "the status JSON does not show the password");
LLMTest::stop_nginx($nginx);
$log = LLMTest::slurp("$root/logs/error.log");
like($log, qr/\[debug\]/, "debug lines were written");
unlike($log, qr/$password/, "debug: no redis password in the error log");
LLMTest::nginx_clean($root);

$port = LLMTest::free_port();
$nginx = LLMTest::start_nginx($root, $port,
                              conf($port, "127.0.0.1:$rport password=wrong-$password"),
                              log_level => 'debug');
ok(LLMTest::wait_until(sub { LLMTest::slurp("$root/logs/error.log") =~ /redis .* refused/ }, 10),
   "a wrong password is reported");
LLMTest::stop_nginx($nginx);
$log = LLMTest::slurp("$root/logs/error.log");
unlike($log, qr/$password/, "... without the password");
LLMTest::nginx_clean($root);

# --- the shipped configs' metrics endpoint ------------------------------------
#
# The /metrics location is taken verbatim from conf/demo.conf.in and
# conf/nginx.conf; a client from 127.0.0.1 is a monitoring host, one from
# 127.0.0.2 (another loopback address) is not.

for my $file ('conf/demo.conf.in', 'conf/nginx.conf') {
    my ($block) = LLMTest::slurp($file) =~ /(location = \/metrics \{.*?\n\s*\})/s;
    ok($block, "$file has a /metrics location") or next;
    like($block, qr/deny\s+all;/, "$file: /metrics ends with deny all");
    $port = LLMTest::free_port();
    $nginx = LLMTest::start_nginx($root, $port, <<"CONF");
    upstream ollama_big { server 127.0.0.1:$big; }
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b;
    server {
        listen 127.0.0.1:$port;
        $block
    }
CONF
    is(LLMTest::http($port, 'GET', '/metrics')->{status}, 200, "$file: 127.0.0.1 may scrape");
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  LocalAddr => '127.0.0.2') or die "bind 127.0.0.2: $!";
    print $s "GET /metrics HTTP/1.0\r\n\r\n";
    my $line = <$s>;
    like($line, qr{^HTTP/1\.1 403}, "$file: another address gets 403");
    LLMTest::stop_nginx($nginx);
    LLMTest::nginx_clean($root);
}

done_testing();
