# Token budgets for a paid tier, counted in a real Redis shared by two
# nginx instances of two workers each: the cloud tier (overflow) is used
# while the tenant's tokens for the period are under its budget; once
# spent, it is skipped (reason "budget") by every worker of both routers,
# and a request nothing else can serve gets a 429 in its dialect; another
# tenant still has its own budget; Redis down: the paid tier is never
# used (fail closed).
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use JSON::PP;

$LLMTest::Tiers{cloud} = { model => 'gpt-oss:120b', name => 'cloud',
                           env => 'TEST_NGINX_CLOUD_PORT' };
LLMTest::start_mock('cloud');

my $json = JSON::PP->new->canonical;
my $rport = LLMTest::start_redis(undef);
my ($big, $small, $cloud) = map { LLMTest::mock_port($_) } qw(big small cloud);

# big and small both down: only the cloud tier can answer
sub conf {
    my ($port, $redis) = @_;
    return <<"CONF";
    upstream ollama_big { server 127.0.0.1:1; }
    upstream ollama_small { server 127.0.0.1:1; }
    upstream ollama_cloud { server 127.0.0.1:$cloud; keepalive 8; }
    llm_router_zone llm 1m;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b;
    llm_router_tier cloud upstream=ollama_cloud model=gpt-oss:120b rank=3 overflow;
    llm_router_breaker failures=1 cooldown=1h;
    llm_redis 127.0.0.1:$redis timeout=300ms;
    llm_router_budget cloud 60 per=1h key=\$http_authorization;

    server {
        listen 127.0.0.1:$port;
${\ LLMTest::fallback_server() }
        add_header X-LLM-Route \$llm_target always;
        add_header X-LLM-Reason \$llm_route_reason always;
        location = /status { llm_router_status; }
    }
CONF
}

my @ports = map { LLMTest::free_port() } 1 .. 2;
my @nginx = map {
    LLMTest::start_nginx("t/servroot-budget$_", $ports[$_],
                         conf($ports[$_], $rport), workers => 2)
} 0 .. 1;

for my $p (@ports) {
    ok(LLMTest::wait_until(sub {
           LLMTest::http($p, 'GET', '/status')->{content}
               =~ /^llm_router_redis_up 1$/m }, 30),
       "router on $p: every worker on redis");
}

sub ask {
    my ($port, $tenant, $path) = @_;
    my $body = ($path // '') eq '/v1/chat/completions'
        ? { model => 'auto', messages => [{ role => 'user', content => 'Hi' }] }
        : { model => 'auto', stream => JSON::PP::false,
            messages => [{ role => 'user', content => 'Hi' }] };
    my $r = LLMTest::http_close($port, 'POST', $path // '/api/chat',
                                $json->encode($body),
                                { Authorization => "Bearer $tenant" });
    return $r;
}

# open both local tiers' breakers: one failure each
ask($ports[$_], 'warmup') for 0 .. 1;
ask($ports[$_], 'warmup') for 0 .. 1;

my $spent = 0;
my $n = 0;
my $r;
while ($n < 20) {
    $r = ask($ports[$n % 2], 'alice');
    last if $r->{status} != 200;
    is($r->{headers}{'x-llm-route'}, 'cloud', "alice $n: the cloud tier");
    $spent += $1 + $2
        if $r->{content} =~ /"prompt_eval_count":(\d+).*"eval_count":(\d+)/;
    $n++;
}
cmp_ok($n, '>=', 1, 'alice: answered while under budget');
cmp_ok($n, '<', 20, '... and refused once spent');
cmp_ok($spent, '>=', 60, '... after at least the budget was spent');
is($r->{status}, 429, 'spent, nothing else can answer: 429');
like($r->{content}, qr/"error":"token budget spent/, '... in Ollama\'s style');
my $k = LLMTest::redis($rport, 'KEYS', 'llm:budget:cloud:*');
is(scalar @{ $k || [] }, 2, 'one key in Redis per tenant (warmup, alice)');

# every worker of both routers sees it
for my $i (0 .. 3) {
    is(ask($ports[$i % 2], 'alice')->{status}, 429,
       "router " . ($i % 2) . ": alice stays refused");
}
$r = ask($ports[1], 'alice', '/v1/chat/completions');
like($r->{content}, qr/^\{"error":\{"message":"token budget spent/,
     'OpenAI dialect: OpenAI\'s error shape');

is(ask($ports[0], 'bob')->{headers}{'x-llm-route'}, 'cloud',
   'another tenant: its own budget');

like(LLMTest::http($ports[0], 'GET', '/status')->{content},
     qr/^llm_router_tier_budget_refusals_total\{tier="cloud"\} [1-9]\d*$/m,
     'metrics: refusals');

# Redis down: fail closed
LLMTest::stop_redis($rport);
$r = ask($ports[0], 'carol');
is($r->{status}, 429, 'redis down: the paid tier is not used');

LLMTest::stop_nginx($_) for @nginx;
LLMTest::stop_mock('cloud');

done_testing();
