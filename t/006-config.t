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

=== TEST 1: a tier name other than big or small
--- http_config
    upstream u { server 127.0.0.1:1; }
    llm_router_tier medium upstream=u model=m;
--- must_die
--- error_log
invalid tier "medium" in "llm_router_tier", it must be "big" or "small"



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
"llm_router" is on but the big tier is not declared



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
