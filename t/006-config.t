# nginx -t rejects bad directive values with a message naming the directive.
use lib 't/lib';
use LLMTest;
use Test::Nginx::Socket 'no_plan';

no_shuffle();
add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("config", <<'CONF') unless defined $block->config;
    location / {
        llm_router on;
        proxy_pass http://$llm_upstream;
    }
CONF
});
run_tests();

__DATA__

=== TEST 1: a tier named other than big or small needs its rank
--- http_config
    upstream u { server 127.0.0.1:1; }
    llm_router_tier medium upstream=u model=m;
--- must_die
--- error_log
"llm_router_tier" medium: missing "rank=" (only big and small have one by default)



=== TEST 2: a tier without upstream=
--- http_config
    llm_router_tier big model=m;
--- must_die
--- error_log
"llm_router_tier" big: missing "upstream="



=== TEST 3: a tier without model=
--- http_config
    upstream u { server 127.0.0.1:1; }
    llm_router_tier big upstream=u;
--- must_die
--- error_log
"llm_router_tier" big: missing "model="



=== TEST 4: a bad max_inflight
--- http_config
    upstream u { server 127.0.0.1:1; }
    llm_router_tier big upstream=u model=m max_inflight=zero;
--- must_die
--- error_log
invalid max_inflight "zero" in "llm_router_tier", it must be a positive number



=== TEST 5: an unknown tier parameter
--- http_config
    upstream u { server 127.0.0.1:1; }
    llm_router_tier big upstream=u model=m weight=3;
--- must_die
--- error_log
invalid parameter "weight=3" in "llm_router_tier"



=== TEST 6: a model name with a quote
--- http_config
    upstream u { server 127.0.0.1:1; }
    llm_router_tier big upstream=u 'model=a"b';
--- must_die
--- error_log
invalid model name "a"b" in "llm_router_tier"



=== TEST 7: a tier declared twice
--- http_config
    upstream u { server 127.0.0.1:1; }
    llm_router_tier big upstream=u model=m;
    llm_router_tier big upstream=u model=n;
--- must_die
--- error_log
"llm_router_tier" directive is duplicate



=== TEST 8: a tier whose upstream block does not exist
--- http_config
    upstream u { server 127.0.0.1:1; }
    llm_router_tier big upstream=u model=m;
    llm_router_tier small upstream=nope model=n;
--- must_die
--- error_log
"llm_router_tier" small: no "upstream nope" block is defined



=== TEST 9: llm_router on without tiers
--- http_config
--- must_die
--- error_log
"llm_router" is on but no tier is declared: add "llm_router_tier NAME upstream=... model=... [rank=N];"



=== TEST 10: thresholds out of range or in the wrong order
--- http_config eval: $LLMTest::HttpConfig
--- config
    llm_router_thresholds 0.8 0.2;
    location / { llm_router on; proxy_pass http://$llm_upstream; }
--- must_die
--- error_log
invalid thresholds "0.8 0.2" in "llm_router_thresholds"



=== TEST 11: thresholds that are not numbers
--- http_config eval: $LLMTest::HttpConfig
--- config
    llm_router_thresholds low high;
    location / { llm_router on; proxy_pass http://$llm_upstream; }
--- must_die
--- error_log
invalid thresholds "low high" in "llm_router_thresholds"



=== TEST 12: an unknown dialect
--- http_config eval: $LLMTest::HttpConfig
--- config
    location / { llm_router on; llm_router_dialect anthropic; proxy_pass http://$llm_upstream; }
--- must_die
--- error_log
invalid dialect "anthropic" in "llm_router_dialect"



=== TEST 13: an unknown default tier
--- http_config eval: $LLMTest::HttpConfig . "llm_router_default_tier huge;"
--- must_die
--- error_log
invalid tier "huge" in "llm_router_default_tier"



=== TEST 14: llm_router takes on or off
--- http_config eval: $LLMTest::HttpConfig
--- config
    location / { llm_router yes; proxy_pass http://$llm_upstream; }
--- must_die
--- error_log
invalid value "yes" in "llm_router" directive, it must be "on" or "off"



=== TEST 15: a bad max body size
--- http_config eval: $LLMTest::HttpConfig
--- config
    llm_router_max_body_size lots;
    location / { llm_router on; proxy_pass http://$llm_upstream; }
--- must_die
--- error_log
"llm_router_max_body_size" directive invalid value



=== TEST 16: a valid configuration starts
--- http_config eval: $LLMTest::HttpConfig
--- request
GET /api/version
--- error_code: 200



=== TEST 17: llm_cache without llm_redis
--- http_config eval: $LLMTest::HttpConfig
--- config
    location / { llm_router on; llm_cache on; proxy_pass http://$llm_upstream; }
--- must_die
--- error_log
"llm_cache" is on but no "llm_redis" is configured at http level



=== TEST 18: llm_redis with a host name (resolving would block)
--- http_config eval: $LLMTest::HttpConfig . "llm_redis localhost:6379;"
--- must_die
--- error_log
invalid address "localhost:6379" in "llm_redis", it must be IP:PORT or unix:PATH



=== TEST 19: llm_redis with a bad parameter never echoes a password
--- http_config eval: $LLMTest::HttpConfig . "llm_redis 127.0.0.1:6379 passwd=hunter2;"
--- must_die
--- error_log
invalid parameter "passwd=hu..." in "llm_redis"
--- no_error_log
hunter2



=== TEST 20: llm_redis with a bad timeout
--- http_config eval: $LLMTest::HttpConfig . "llm_redis unix:/tmp/r.sock timeout=soon;"
--- must_die
--- error_log
invalid parameter "timeout=s..." in "llm_redis"



=== TEST 21: llm_gpu without a source
--- http_config eval: $LLMTest::HttpConfig . "llm_gpu g0 device=/tmp;"
--- must_die
--- error_log
"llm_gpu" g0: missing "source=" (sysfs, rocm_smi or off)



=== TEST 22: a tier naming an unknown GPU
--- http_config
    upstream u { server 127.0.0.1:1; }
    upstream v { server 127.0.0.1:2; }
    llm_router_tier big upstream=u model=m gpu=nope;
    llm_router_tier small upstream=v model=n;
--- must_die
--- error_log
"llm_router_tier" big: no "llm_gpu nope" is defined



=== TEST 23: a bad llm_router_vram_high
--- http_config eval: $LLMTest::HttpConfig
--- config
    llm_router_vram_high 150%;
    location / { llm_router on; proxy_pass http://$llm_upstream; }
--- must_die
--- error_log
invalid value "150%" in "llm_router_vram_high", it must be a share such as "95%" or "0.95"



=== TEST 24: a bad llm_router_overload
--- http_config eval: $LLMTest::HttpConfig
--- config
    llm_router_overload drop;
    location / { llm_router on; proxy_pass http://$llm_upstream; }
--- must_die
--- error_log
invalid value "drop" in "llm_router_overload", it must be "least_loaded" or "reject"



=== TEST 25: a bad health check parameter
--- http_config eval: $LLMTest::HttpConfig . "llm_router_health_check every=5s;"
--- must_die
--- error_log
invalid parameter "every=5s" in "llm_router_health_check"



=== TEST 26: a zone that is too small
--- http_config eval: $LLMTest::HttpConfig . "llm_router_zone z 4k;"
--- must_die
--- error_log
zone "z" is too small in "llm_router_zone"



=== TEST 27: a bad queue on a tier
--- http_config
    upstream u { server 127.0.0.1:1; }
    llm_router_tier big upstream=u model=m queue=many;
--- must_die
--- error_log
invalid queue "queue=many" in "llm_router_tier", it must be a number
