# L2, the similar-prompt cache, with a real redis-server: a retyped prompt
# ("whats the weather tomorrow ?" after "What is the weather tomorrow") is
# answered with the stored answer of the first (X-LLM-Cache: HIT-SIMILAR),
# within its partition only: tenant, model or class, dialect, stream,
# parameters, system prompt and earlier turns; never across a different
# number, negation or word; requests that are not text only bypass it.
# LRU eviction, an answer gone from Redis, a reload, a zone too small.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use JSON::PP;

my $json = JSON::PP->new->canonical;
my $rport = LLMTest::start_redis(undef);
my $port = LLMTest::free_port();
my $root = 't/servroot-similar';

sub conf {
    my ($entries) = @_;
    return <<"CONF";
${\ LLMTest::tiers_conf() }
    llm_redis 127.0.0.1:$rport timeout=300ms;
    llm_cache_similar_zone similar:1m entries=$entries;

    server {
        listen 127.0.0.1:$port;
${\ LLMTest::fallback_server() }
        llm_cache on;
        llm_cache_similar on;
        add_header X-LLM-Similarity \$llm_cache_similarity always;
        add_header X-LLM-Age \$llm_cache_age always;
        location /exact/ {
            llm_router on;
            llm_router_dialect ollama_generate;
            llm_cache_similar off;
            proxy_pass http://\$llm_upstream/api/generate;
        }
        location = /status { llm_router_status; }
    }
CONF
}

my $nginx = LLMTest::start_nginx($root, $port, conf(1000), workers => 2);
ok(LLMTest::wait_until(sub {
       LLMTest::http($port, 'GET', '/status')->{content}
           =~ /^llm_router_redis_connected_workers 2$/m }, 30),
   'both workers connected to redis');

sub keys_n { scalar @{ LLMTest::redis($rport, 'KEYS', 'llm:[0-9a-f]*') || [] } }

# a chat request; %o: system, turns (earlier messages), stream, options,
# model, path, headers, extra (more top-level members)
sub chat {
    my ($text, %o) = @_;
    my @m;
    push @m, { role => 'system', content => $o{system} } if $o{system};
    push @m, @{ $o{turns} || [] };
    push @m, { role => 'user', content => $text };
    my $b = { model => $o{model} // 'auto', stream => $o{stream} ? JSON::PP::true
                                                                 : JSON::PP::false,
              messages => \@m, %{ $o{extra} || {} } };
    $b->{options} = $o{options} if $o{options};
    my $n = keys_n();
    my $r = LLMTest::http($port, 'POST', $o{path} // '/api/chat',
                          $json->encode($b), $o{headers});
    # a MISS is stored just after it was sent
    LLMTest::wait_until(sub { keys_n() > $n }, 5)
        if ($r->{headers}{'x-llm-cache'} // '') eq 'MISS';
    return $r;
}

sub cache { my $r = chat(@_); return $r->{headers}{'x-llm-cache'} // '-' }

my $base = "What is the weather tomorrow";
is(cache($base), 'MISS', 'first: a miss, stored');
my $again = chat('whats the weather tomorrow ?');
is($again->{headers}{'x-llm-cache'}, 'HIT-SIMILAR', 'retyped: HIT-SIMILAR');
like($again->{headers}{'x-llm-similarity'} // '', qr/^0\.\d{3}$|^1\.000$/,
     '... $llm_cache_similarity');
like($again->{headers}{'x-llm-age'} // '', qr/^\d+$/, '... $llm_cache_age');
like($again->{content}, qr/"done":true/, '... a whole answer');
is(cache('What is the weather tomorrow'), 'HIT', 'the same again: an exact HIT');

# retypings of one question
is(cache('Please, what is the weather tomorrow?'), 'HIT-SIMILAR', 'politeness');
is(cache('WHAT IS THE WEATHER TOMORROW'), 'HIT-SIMILAR', 'case');
is(cache('what is the wether tomorrow'), 'HIT-SIMILAR', 'a typo');

# hard negatives: never an answer for another question
is(cache('Set a timer for 5 minutes'), 'MISS', 'timer 5: a miss, stored');
is(cache('Set a timer for 15 minutes'), 'MISS', 'another number: a miss');
is(cache('Set a timer for five minutes'), 'HIT-SIMILAR', 'five is 5');
is(cache('Turn on the kitchen light'), 'MISS', 'on: a miss, stored');
is(cache('Turn off the kitchen light'), 'MISS', 'off: a miss');
is(cache('What is the weather in Paris'), 'MISS', 'Paris: a miss, stored');
is(cache('What is the weather in Lyon'), 'MISS', 'another city: a miss');
is(cache('Do not remind me about the dentist'), 'MISS', 'a negation, stored');
is(cache('Remind me about the dentist'), 'MISS', 'without it: a miss');

# partitions: only the last user message is compared
is(cache('whats the weather tomorrow', headers => { Authorization => 'Bearer t2' }),
   'MISS', 'another tenant: a miss');
is(cache('whats the weather tomorrow', system => 'Answer in French.'),
   'MISS', 'another system prompt: a miss');
is(cache('whats the weather tomorrow',
         turns => [{ role => 'user', content => 'Hi' },
                   { role => 'assistant', content => 'Hello!' }]),
   'MISS', 'earlier turns: a miss');
is(cache('whats the weather tomorrow', stream => 1), 'MISS',
   'streamed: a miss');
is(cache('whats the weather tomorrow', options => { temperature => 0 }),
   'MISS', 'other parameters: a miss');
is(cache('whats the weather tomorrow', model => 'llama3.2:3b'), 'MISS',
   'a model named, not the alias: a miss');
is(cache('whats the weather tomorrow', path => '/v1/chat/completions'),
   'MISS', 'another dialect: a miss');
is(cache('whats the weather tomorrow',
         extra => { tools => [{ type => 'function', function => { name => 'f' } }] }),
   'MISS', 'tools: not compared');
is(cache('whats the weather tomorrow', extra => { format => 'json' }),
   'MISS', 'a format: not compared');

my $r = LLMTest::http($port, 'POST', '/exact/x',
                      '{"prompt":"whats the weather tomorrow","stream":false}');
is($r->{headers}{'x-llm-cache'}, 'MISS', 'llm_cache_similar off: exact only');

# the answer gone from Redis while L2 still points at it
LLMTest::redis($rport, 'FLUSHALL');
is(cache('what is the weather tomorrow please'), 'MISS',
   'answer gone from Redis: a miss, stored anew');
is(cache('whats the weather tomorrow'), 'HIT-SIMILAR', '... and found again');

# a reload keeps the zone
my $n = keys_n();
kill 'HUP', $nginx->{pid};
ok(LLMTest::wait_until(sub {
       LLMTest::http($port, 'GET', '/status')->{content}
           =~ /^llm_router_redis_connected_workers 2$/m }, 30),
   'reloaded');
is(cache('What is the weather for tomorrow'), 'HIT-SIMILAR',
   'after a reload: still found');

my $st = LLMTest::status($port);
cmp_ok($st->{cache}{similar}{hits} // 0, '>=', 6, 'status: similar hits');
cmp_ok($st->{cache}{similar}{rejects}{numbers} // 0, '>=', 1,
       'status: rejects by reason');
like(LLMTest::http($port, 'GET', '/status')->{content},
     qr/^llm_router_cache_similar_lookups_total \d+$/m, 'metrics: lookups');
LLMTest::stop_nginx($nginx);

# LRU: two entries; the least recently used goes
$nginx = LLMTest::start_nginx($root, $port, conf(2));
ok(LLMTest::wait_until(sub {
       LLMTest::http($port, 'GET', '/status')->{content}
           =~ /^llm_router_redis_up 1$/m }, 30),
   'lru: connected to redis');
LLMTest::redis($rport, 'FLUSHALL');
is(cache('How tall is the Eiffel tower'), 'MISS', 'lru: a');
is(cache('How old is the Eiffel tower'), 'MISS', 'lru: b');
is(cache('how tall is the eiffel tower ?'), 'HIT-SIMILAR', 'lru: a used');
is(cache('How far is the Eiffel tower'), 'MISS', 'lru: c evicts b');
is(cache('How tall is the Eiffel tower please'), 'HIT-SIMILAR', 'lru: a stays');
is(cache('how old is the eiffel tower ?'), 'MISS', 'lru: b is gone');
LLMTest::stop_nginx($nginx);

# a zone too small for its entries: nginx -t says so
my $bin = LLMTest::nginx_command();
my $conf = LLMTest::slurp("$root/conf/nginx.conf");
$conf =~ s/similar:1m entries=2/similar:64k entries=100000/;
open my $f, '>', "$root/conf/small.conf" or die;
print $f $conf;
close $f;
my $t = `$bin -t -p $root/ -c conf/small.conf 2>&1`;
like($t, qr/zone "similar" is too small for 100000 entries in "llm_cache_similar_zone", it must be at least \d+k/,
     'a zone too small: a clear nginx -t error');

LLMTest::stop_redis($rport);

done_testing();
