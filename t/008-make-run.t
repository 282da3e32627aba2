# "make run"'s script (conf/run.sh) starts Redis, the mock tiers and nginx,
# and routes its simple prompt to the small tier and its complex prompt to
# the big tier.  DEMO_ONESHOT=1 makes it stop after the two requests.
use strict;
use warnings;
use lib 't/lib';
use LLMTest no_mocks => 1;
use Test::More;

my $port = LLMTest::free_port();
my $redis = LLMTest::free_port();
my $out = `DEMO_ONESHOT=1 PORT=$port REDIS_PORT=$redis conf/run.sh 2>&1`;
is($? >> 8, 0, "conf/run.sh exits cleanly") or diag($out);

my ($simple, $complex) = split /complex prompt/, $out, 2;
like($simple // '', qr/X-LLM-Route: small/, "simple prompt on the small tier");
like($simple // '', qr/X-LLM-Model: llama3\.2:3b/, "small tier model");
like($simple // '', qr/X-LLM-Class: simple/, "simple class");
like($complex // '', qr/X-LLM-Route: big/, "complex prompt on the big tier");
like($complex // '', qr/X-LLM-Model: gpt-oss:20b/, "big tier model");
like($complex // '', qr/X-LLM-Reason: complexity/, "reason shown");
like($complex // '', qr/body: \{"id":"chatcmpl-/, "an OpenAI answer came back");

done_testing();
