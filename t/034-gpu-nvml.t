# llm_gpu source=nvml: the suite builds a stand-in libnvidia-ml (a few lines
# of C exporting NVML's calls, reading its numbers from a file the suite
# rewrites) and watches its readings steer the route like sysfs's do; a
# library whose nvmlInit_v2() fails and a missing one leave VRAM unknown.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use File::Path qw(make_path remove_tree);

my $servroot = "t/servroot-nvml";
my $port = LLMTest::free_port();
my $lib = File::Spec->rel2abs("t/servroot-nvml-lib");
my $big = $ENV{TEST_NGINX_BIG_PORT};
my $small = $ENV{TEST_NGINX_SMALL_PORT};

remove_tree($lib);
make_path($lib);

my $stub = <<'C';
#include <stdio.h>

typedef struct { unsigned long long total, free, used; } mem_t;
typedef struct { unsigned int gpu, memory; } util_t;

static int  the_gpu;

static int
values(unsigned long long v[5])
{
    int    n;
    FILE  *f = fopen(VALUES, "r");

    if (f == NULL) {
        return -1;
    }

    n = fscanf(f, "%llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4]);
    fclose(f);

    return n == 5 ? 0 : -1;
}

int nvmlInit_v2(void) { return INIT_RC; }

int
nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **dev)
{
    if (i != 0) {
        return 2;
    }

    *dev = &the_gpu;
    return 0;
}

int
nvmlDeviceGetMemoryInfo(void *dev, mem_t *m)
{
    unsigned long long  v[5];

    if (dev != &the_gpu || values(v) != 0) {
        return 999;
    }

    m->used = v[0];
    m->total = v[1];
    m->free = v[1] > v[0] ? v[1] - v[0] : 0;
    return 0;
}

int
nvmlDeviceGetUtilizationRates(void *dev, util_t *u)
{
    unsigned long long  v[5];

    if (values(v) != 0) {
        return 999;
    }

    u->gpu = (unsigned int) v[2];
    u->memory = 0;
    return 0;
}

int
nvmlDeviceGetTemperature(void *dev, int sensor, unsigned int *t)
{
    unsigned long long  v[5];

    if (sensor != 0 || values(v) != 0) {
        return 999;
    }

    *t = (unsigned int) v[3];
    return 0;
}

int
nvmlDeviceGetPowerUsage(void *dev, unsigned int *mw)
{
    unsigned long long  v[5];

    if (values(v) != 0) {
        return 999;
    }

    *mw = (unsigned int) v[4];
    return 0;
}
C

open my $c, '>', "$lib/nvml-stub.c" or die $!;
print $c $stub;
close $c;

my $values = "$lib/values";
for (["libnvml-stub.so", 0], ["libnvml-fail.so", 999]) {
    my $cmd = "cc -shared -fPIC -O1 -DVALUES='\"$values\"' -DINIT_RC=$_->[1]"
              . " -o $lib/$_->[0] $lib/nvml-stub.c";
    system($cmd) == 0 or BAIL_OUT("cannot build the NVML stand-in: $cmd");
}

sub nvml {
    my ($used, $total, $util, $temp, $mw) = @_;
    open my $f, '>', "$values.tmp" or die $!;
    print $f "$used $total $util $temp $mw\n";
    close $f;
    rename "$values.tmp", $values or die $!;
}

my $gib = 1024 ** 3;
nvml(int(23.04 * $gib), 24 * $gib, 77, 61, 182500);    # 96 %

my %opt = (workers => 2, log_level => 'notice');
my $tail = <<"CONF";
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
        location = /metrics { llm_router_status; }
    }
CONF

my $nginx = LLMTest::start_nginx($servroot, $port, <<"CONF", %opt);
    upstream ollama_big { server 127.0.0.1:$big; keepalive 8; }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }

    llm_router_zone llm 1m;
    llm_gpu l4 source=nvml library=$lib/libnvml-stub.so interval=50ms;
    llm_gpu noinit source=nvml library=$lib/libnvml-fail.so interval=50ms;
    llm_gpu nolib source=nvml library=$lib/absent/libnvidia-ml.so.1
        interval=50ms;
    llm_gpu noidx source=nvml library=$lib/libnvml-stub.so index=3
        interval=50ms;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b gpu=l4;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b gpu=l4;
$tail
CONF

my $complex = '{"model":"auto","stream":false,"prompt":"Analyze the time'
    . ' complexity of heapsort, prove its worst case step by step and'
    . ' compare it with merge sort."}';

sub gpu { LLMTest::status($port)->{gpus}{$_[0] // 'l4'} }
sub vram { gpu(@_)->{vram_percent} }

sub route {
    my $r = LLMTest::http($port, 'POST', '/api/generate', $complex);
    return "$r->{status} $r->{headers}{'x-llm-route'} $r->{headers}{'x-llm-reason'}";
}

ok(LLMTest::wait_until(sub { (vram() // 0) == 96 }, 10), "status reads 96 % VRAM from NVML")
    or diag(explain(gpu()));
is(route(), "200 small vram", "96 %: a complex prompt goes to small, reason vram");

my $g = gpu();
is($g->{source}, 'nvml', 'the status names the source');
is($g->{vram_used_bytes}, int(23.04 * $gib), 'used bytes from nvmlDeviceGetMemoryInfo');
is($g->{vram_total_bytes}, 24 * $gib, 'total bytes');
is($g->{busy_percent}, 77, 'busy from nvmlDeviceGetUtilizationRates');
is($g->{temperature_celsius}, 61, 'temperature from nvmlDeviceGetTemperature');
is($g->{power_watts}, 182.5, 'power from nvmlDeviceGetPowerUsage (milliwatts)');

my $m = LLMTest::http($port, 'GET', '/metrics')->{content};
like($m, qr/^llm_router_gpu_vram_used_ratio\{gpu="l4"\} 0\.96/m, 'Prometheus: VRAM ratio');
like($m, qr/^llm_router_gpu_power_watts\{gpu="l4"\} 182\.5\b/m, 'Prometheus: power');

nvml(int(19.2 * $gib), 24 * $gib, 10, 50, 60000);      # 80 %
ok(LLMTest::wait_until(sub { (vram() // 0) == 80 }, 10), "status reads 80 %");
is(route(), "200 big complexity", "80 %: back to big");

# the library answers garbage, then used above total: unknown
open my $f, '>', $values or die;
print $f "lots\n";
close $f;
ok(LLMTest::wait_until(sub { !defined vram() }, 10), "NVML call failing: VRAM unknown");
is(route(), "200 big complexity", "unknown VRAM does not block the big tier");
nvml(25 * $gib, 24 * $gib, 0, 0, 0);
ok(LLMTest::wait_until(sub { !defined vram() }, 10), "used above total: unknown");

nvml(int(23.3 * $gib), 24 * $gib, 99, 70, 200000);
ok(LLMTest::wait_until(sub { (vram() // 0) >= 97 }, 10), "reads again");
is(route(), "200 small vram", "high VRAM steers again");

for my $name (qw(noinit nolib noidx)) {
    ok(!defined vram($name), "$name: VRAM unknown, module serving");
}

LLMTest::stop_nginx($nginx);
my $log = LLMTest::slurp("$servroot/logs/error.log");
LLMTest::nginx_clean($servroot);

my @unknown = ($log =~ /GPU "l4": [^\n]*VRAM unknown/g);
my @reading = ($log =~ /GPU "l4": reading VRAM/g);
is(scalar(@unknown), 1, "one log line when the reading fails, not one per poll")
    or diag(join "\n", grep { /GPU/ } split /\n/, $log);
is(scalar(@reading), 2, "one log line each time it reads again");
my @noinit = ($log =~ /GPU "noinit": ([^\n]*VRAM unknown)/g);
is(scalar(@noinit), 1, "nvmlInit_v2() failing: logged once");
like($noinit[0] // '', qr/nvmlInit_v2\(\) failed/, "... saying so");
my @nolib = ($log =~ /GPU "nolib": ([^\n]*VRAM unknown)/g);
is(scalar(@nolib), 1, "library missing: logged once");
like($nolib[0] // '', qr/libnvidia-ml\) is not installed/, "... naming it");
my @noidx = ($log =~ /GPU "noidx": ([^\n]*VRAM unknown)/g);
is(scalar(@noidx), 1, "no GPU at the index: logged once");
unlike($log, qr/\[(alert|crit|emerg)\]/, 'no alert in the log');

# routing with only failing NVML GPUs: untouched
$port = LLMTest::free_port();
$tail =~ s/listen 127\.0\.0\.1:\d+/listen 127.0.0.1:$port/;
$nginx = LLMTest::start_nginx("$servroot-2", $port, <<"CONF", %opt);
    upstream ollama_big { server 127.0.0.1:$big; }
    upstream ollama_small { server 127.0.0.1:$small; }
    llm_router_zone llm 1m;
    llm_gpu noinit source=nvml library=$lib/libnvml-fail.so interval=50ms;
    llm_gpu nolib source=nvml library=$lib/absent.so interval=50ms;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b gpu=noinit;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b gpu=nolib;
$tail
CONF
ok(LLMTest::wait_until(sub {
    LLMTest::slurp("$servroot-2/logs/error.log") =~ /GPU "nolib"/ }, 10),
   "the failing probes ran");
is(route(), "200 big complexity", "init failing, library missing: routing unaffected");
LLMTest::stop_nginx($nginx);
LLMTest::nginx_clean("$servroot-2");

# the configuration
my $bad = LLMTest::nginx_command() . " -t -p $lib/ -c $lib/bad.conf 2>&1";
for (["llm_gpu g source=nvml url=http://127.0.0.1:1/metrics;",
      qr/"url=" is for source=prometheus/],
     ["llm_gpu g source=nvml library=;", qr/invalid parameter "library="/]) {
    open my $b, '>', "$lib/bad.conf" or die $!;
    print $b "load_module " . LLMTest::module_path() . ";\n"
        . "error_log /dev/stderr;\nevents {}\nhttp {\n"
        . "llm_router_zone llm 1m;\n$_->[0]\n}\n";
    close $b;
    like(`$bad`, $_->[1], "nginx -t refuses: $_->[0]");
}

remove_tree($lib);
done_testing();
