# VRAM-aware routing: the suite plays amdgpu by writing the two sysfs files
# and watches the big tier's GPU reading change the route.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use File::Path qw(make_path remove_tree);

my $servroot = "t/servroot-vram";
my $port = LLMTest::free_port();
my $dev = File::Spec->rel2abs("t/servroot-vram-gpu");
my $big = $ENV{TEST_NGINX_BIG_PORT};
my $small = $ENV{TEST_NGINX_SMALL_PORT};

remove_tree($dev);
make_path($dev);

sub gpu {
    my ($used, $total) = @_;
    for (['mem_info_vram_used', $used], ['mem_info_vram_total', $total]) {
        open my $f, '>', "$dev/$_->[0].tmp" or die $!;
        print $f "$_->[1]\n";
        close $f;
        rename "$dev/$_->[0].tmp", "$dev/$_->[0]" or die $!;
    }
}

my $gib = 1024 ** 3;
gpu(int(15.36 * $gib), 16 * $gib);    # 96 %

my %opt = (workers => 2, log_level => 'notice');
my $nginx = LLMTest::start_nginx($servroot, $port, <<"CONF", %opt);
    upstream ollama_big { server 127.0.0.1:$big; keepalive 8; }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }

    llm_router_zone llm 1m;
    llm_gpu rx7800 source=sysfs device=$dev interval=50ms;
    llm_gpu nogpu source=rocm_smi interval=50ms;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b gpu=rx7800;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b gpu=rx7800;

    server {
        listen 127.0.0.1:$port;
        proxy_set_header Host \$llm_upstream_host;
        add_header X-LLM-Route \$llm_target always;
        add_header X-LLM-Reason \$llm_route_reason always;
        location / {
            llm_router on;
            proxy_pass http://\$llm_upstream;
        }
        location = /status { llm_router_status; }
    }
CONF

my $complex = '{"model":"auto","stream":false,"prompt":"Analyze the time'
    . ' complexity of heapsort, prove its worst case step by step and'
    . ' compare it with merge sort."}';

sub vram { LLMTest::status($port)->{gpus}{rx7800}{vram_percent} }

sub route {
    my $r = LLMTest::http($port, 'POST', '/api/generate', $complex);
    return "$r->{status} $r->{headers}{'x-llm-route'} $r->{headers}{'x-llm-reason'}";
}

ok(LLMTest::wait_until(sub { (vram() // 0) == 96 }, 10), "status reads 96 % VRAM");
is(route(), "200 small vram", "96 %: a complex prompt goes to small, reason vram");

gpu(int(12.8 * $gib), 16 * $gib);     # 80 %
ok(LLMTest::wait_until(sub { (vram() // 0) == 80 }, 10), "status reads 80 %");
is(route(), "200 big complexity", "80 %: back to big");

# garbage: VRAM unknown, routing ignores it
open my $f, '>', "$dev/mem_info_vram_used" or die;
print $f "lots\n";
close $f;
ok(LLMTest::wait_until(sub { !defined vram() }, 10), "garbage: VRAM unknown (null)");
is(route(), "200 big complexity", "unknown VRAM does not block the big tier");

# a number larger than total, then huge numbers
gpu(17 * $gib, 16 * $gib);
ok(LLMTest::wait_until(sub { !defined vram() }, 10), "used above total: unknown");
gpu("99999999999999999999999", "99999999999999999999999");
ok(LLMTest::wait_until(sub { !defined vram() }, 10), "numbers beyond 64 bits: unknown");

# the files vanish
remove_tree($dev);
ok(LLMTest::wait_until(sub { !defined vram() }, 10), "files gone: unknown");
is(route(), "200 big complexity", "still routing");

# and come back
make_path($dev);
gpu(int(15.5 * $gib), 16 * $gib);
ok(LLMTest::wait_until(sub { (vram() // 0) >= 96 }, 10), "files back: read again");
is(route(), "200 small vram", "high VRAM steers again");

my $st = LLMTest::status($port);
ok(!defined $st->{gpus}{nogpu}{vram_percent},
   "rocm_smi without an AMD GPU: VRAM unknown, module serving");

LLMTest::stop_nginx($nginx);
my $log = LLMTest::slurp("$servroot/logs/error.log");
LLMTest::nginx_clean($servroot);

my @unknown = ($log =~ /GPU "rx7800": [^\n]*VRAM unknown/g);
my @reading = ($log =~ /GPU "rx7800": reading VRAM/g);
is(scalar(@unknown), 1, "one log line when the reading fails, not one per poll")
    or diag(join "\n", grep { /GPU/ } split /\n/, $log);
is(scalar(@reading), 2, "one log line each time it reads again");
my @rocm = ($log =~ /GPU "nogpu": [^\n]*VRAM unknown/g);
is(scalar(@rocm), 1, "rocm-smi failure logged once, not per poll");

# rocm-smi-lib missing: nginx runs in its own mount namespace where the
# library file is an empty file (dlopen fails); the probe says so once and
# routing goes on
SKIP: {
    my ($lib) = grep { -f $_ && !-l $_ } glob('/usr/lib/librocm_smi64.so.*'),
                                          glob('/usr/lib/*/librocm_smi64.so.*');
    skip "needs root, unshare and an installed rocm-smi-lib", 4
        if $> != 0 || !$lib || system('unshare -m true 2>/dev/null') != 0
           || $ENV{TEST_NGINX_USE_VALGRIND};
    my $wrap = File::Spec->rel2abs("$servroot-nolib.sh");
    open my $w, '>', $wrap or die $!;
    print $w "#!/bin/sh\nexec unshare -m sh -c 'mount --bind /dev/null $lib"
        . " && exec \"\$0\" \"\$@\"' " . LLMTest::_nginx_binary() . ' "$@"' . "\n";
    close $w;
    chmod 0755, $wrap;
    local $ENV{TEST_NGINX_BINARY} = $wrap;
    $port = LLMTest::free_port();
    $nginx = LLMTest::start_nginx("$servroot-nolib", $port, <<"CONF", log_level => 'notice');
    upstream ollama_big { server 127.0.0.1:$big; }
    upstream ollama_small { server 127.0.0.1:$small; }
    llm_router_zone llm 1m;
    llm_gpu gpu0 source=rocm_smi interval=50ms;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b gpu=gpu0;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b;
    server {
        listen 127.0.0.1:$port;
        proxy_set_header Host \$llm_upstream_host;
        add_header X-LLM-Route \$llm_target always;
        add_header X-LLM-Reason \$llm_route_reason always;
        location / {
            llm_router on;
            proxy_pass http://\$llm_upstream;
        }
        location = /status { llm_router_status; }
    }
CONF
    ok(LLMTest::wait_until(sub {
        LLMTest::slurp("$servroot-nolib/logs/error.log") =~ /GPU "gpu0"/ }, 10),
       "rocm-smi-lib missing: the probe reports it");
    is(route(), "200 big complexity", "rocm-smi-lib missing: routing goes on, VRAM unknown");
    LLMTest::stop_nginx($nginx);
    $log = LLMTest::slurp("$servroot-nolib/logs/error.log");
    like($log, qr/GPU "gpu0": [^\n]*(rocm-smi-lib|librocm_smi64)/, "... naming the library");
    LLMTest::nginx_clean("$servroot-nolib");
    unlink $wrap;
}

done_testing();
