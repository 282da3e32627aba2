# llm_gpu source=prometheus: a GPU on another host, read from its exporter's
# Prometheus page.  A fake exporter (forked here) serves pages in the formats
# of AMD's device-metrics-exporter, NVIDIA's dcgm-exporter and node_exporter's
# drm collector, each driving the route; garbage, an error status, a slow,
# a hanging and a vanished exporter leave VRAM unknown and never hold up a
# request.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes ();

my $servroot = "t/servroot-promgpu";
my $port = LLMTest::free_port();
my $xport = LLMTest::free_port();
my $dir = File::Spec->rel2abs("t/servroot-promgpu-pages");
my $big = $ENV{TEST_NGINX_BIG_PORT};
my $small = $ENV{TEST_NGINX_SMALL_PORT};

remove_tree($dir);
make_path($dir);

sub put {
    my ($name, $text) = @_;
    open my $f, '>', "$dir/$name.tmp" or die $!;
    print $f $text;
    close $f;
    rename "$dir/$name.tmp", "$dir/$name" or die $!;
}

# the fake exporter: GET /NAME answers the file NAME; the file "mode" makes
# it answer "500", answer "slow"ly (after 0.6 s) or "hang" (3 s, no answer)
sub exporter {
    my $pid = fork // die "fork: $!";
    return $pid if $pid;
    POSIX::setpgid(0, 0);
    $SIG{CHLD} = 'IGNORE';
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $xport,
                                  Listen => 64, ReuseAddr => 1)
        or POSIX::_exit(1);
    while (1) {
        my $c = $l->accept or next;
        if (fork) { close $c; next; }
        my $req = '';
        while ($req !~ /\r\n\r\n/) {
            my $n = sysread($c, $req, 4096, length $req);
            last unless $n;
        }
        my ($path) = $req =~ m{^GET /(\w+)};
        my $mode = (-f "$dir/mode") ? LLMTest::slurp("$dir/mode") : 'ok';
        if ($mode eq 'hang') { sleep 3; POSIX::_exit(0); }
        Time::HiRes::sleep(0.6) if $mode eq 'slow';
        my $body = defined $path && -f "$dir/$path"
                   ? LLMTest::slurp("$dir/$path") : "not found\n";
        my $status = $mode eq '500' ? '500 Internal Server Error' : '200 OK';
        print $c "HTTP/1.1 $status\r\nContent-Type: text/plain; version=0.0.4"
            . "\r\nContent-Length: " . length($body)
            . "\r\nConnection: close\r\n\r\n$body";
        close $c;
        POSIX::_exit(0);
    }
}

my $mib = 1024 ** 2;

sub amd {
    my ($used, $total) = @_;     # MB, GPU 0; GPU 1 almost empty
    return "# HELP gpu_used_vram Total VRAM memory used in MB\n"
        . "# TYPE gpu_used_vram gauge\n"
        . "gpu_used_vram{card_model=\"rx7800\",gpu_id=\"0\",hostname=\"gpu-host\"} $used\n"
        . "gpu_used_vram{card_model=\"rx7800\",gpu_id=\"1\",hostname=\"gpu-host\"} 1024\n"
        . "# TYPE gpu_total_vram gauge\n"
        . "gpu_total_vram{card_model=\"rx7800\",gpu_id=\"0\",hostname=\"gpu-host\"} $total\n"
        . "gpu_total_vram{card_model=\"rx7800\",gpu_id=\"1\",hostname=\"gpu-host\"} 16384\n"
        . "gpu_gfx_activity{gpu_id=\"0\"} 87\ngpu_gfx_activity{gpu_id=\"1\"} 2\n"
        . "gpu_edge_temperature{gpu_id=\"0\"} 64.5\n"
        . "gpu_junction_temperature{gpu_id=\"0\"} 80\n"
        . "gpu_power_usage{gpu_id=\"0\"} 212\ngpu_power_usage{gpu_id=\"1\"} 15\n";
}

sub dcgm {
    my ($used, $free) = @_;      # MiB, GPU 0; GPU 1 half full
    my $l = sub { "{gpu=\"$_[0]\",UUID=\"GPU-$_[1]\",device=\"nvidia$_[0]\","
                  . "modelName=\"NVIDIA L4\",Hostname=\"gpu-host\"}" };
    my ($a, $b) = ($l->(0, 'aaaa-1111'), $l->(1, 'bbbb-2222'));
    return "# HELP DCGM_FI_DEV_FB_FREE Framebuffer memory free (in MiB).\n"
        . "# TYPE DCGM_FI_DEV_FB_FREE gauge\n"
        . "DCGM_FI_DEV_FB_FREE$a $free\nDCGM_FI_DEV_FB_FREE$b 11000\n"
        . "# TYPE DCGM_FI_DEV_FB_USED gauge\n"
        . "DCGM_FI_DEV_FB_USED$a $used\nDCGM_FI_DEV_FB_USED$b 11000\n"
        . "DCGM_FI_DEV_GPU_UTIL$a 93\nDCGM_FI_DEV_GPU_UTIL$b 50\n"
        . "DCGM_FI_DEV_GPU_TEMP$a 71\nDCGM_FI_DEV_POWER_USAGE$a 68.5\n";
}

sub node {
    my ($used, $total) = @_;     # bytes, card0; card1 a small iGPU
    return "# HELP node_drm_gpu_busy_percent How busy the GPU is.\n"
        . "# TYPE node_drm_gpu_busy_percent gauge\n"
        . "node_drm_gpu_busy_percent{card=\"card0\"} 100\n"
        . "node_drm_gpu_busy_percent{card=\"card1\"} 4\n"
        . "node_drm_memory_vram_size_bytes{card=\"card0\"} $total\n"
        . "node_drm_memory_vram_size_bytes{card=\"card1\"} 536870912\n"
        . "node_drm_memory_vram_used_bytes{card=\"card0\"} $used\n"
        . "node_drm_memory_vram_used_bytes{card=\"card1\"} 134217728\n"
        . "node_load1 0.25\n";
}

put('amd', amd(15729, 16384));
put('dcgm', dcgm(2000, 20000));
put('node', node(1600000000, 16000000000));
put('page', amd(15729, 16384));     # 96 %

my $xpid = exporter();
LLMTest::wait_until(sub { IO::Socket::INET->new("127.0.0.1:$xport") }, 5)
    or BAIL_OUT("the fake exporter does not listen");

my %opt = (workers => 2, log_level => 'notice');
my $url = "http://127.0.0.1:$xport";
my $nginx = LLMTest::start_nginx($servroot, $port, <<"CONF", %opt);
    upstream ollama_big { server 127.0.0.1:$big; keepalive 8; }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }

    llm_router_zone llm 1m;
    llm_gpu remote source=prometheus url=$url/page timeout=300ms
        interval=50ms;
    llm_gpu amd1 source=prometheus url=$url/amd device=1 interval=200ms;
    llm_gpu l4b source=prometheus url=$url/dcgm device=GPU-bbbb-2222
        interval=200ms;
    llm_gpu card1 source=prometheus url=$url/node device=card1
        interval=200ms;
    llm_gpu nocard source=prometheus url=$url/node device=card9
        interval=200ms;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b gpu=remote;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b gpu=remote;

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

sub gpu { LLMTest::status($port)->{gpus}{$_[0] // 'remote'} }
sub vram { gpu(@_)->{vram_percent} }

sub route {
    my $r = LLMTest::http($port, 'POST', '/api/generate', $complex);
    return "$r->{status} $r->{headers}{'x-llm-route'} $r->{headers}{'x-llm-reason'}";
}

sub reads {
    my ($want, $what) = @_;
    ok(LLMTest::wait_until(sub { (vram() // -1) == $want }, 10), "$what: reads $want %")
        or diag(explain(gpu()));
}

# each exporter's format, at 96 % and at 80 %
reads(96, 'device-metrics-exporter');
is(route(), "200 small vram", "device-metrics-exporter 96 %: complex to small, reason vram");
my $g = gpu();
is($g->{source}, 'prometheus', 'the status names the source');
is($g->{vram_used_bytes}, 15729 * $mib, 'MB read as MiB');
is($g->{vram_total_bytes}, 16384 * $mib, 'total');
is($g->{busy_percent}, 87, 'gpu_gfx_activity');
is($g->{temperature_celsius}, 64.5, 'gpu_edge_temperature');
is($g->{power_watts}, 212, 'gpu_power_usage');
put('page', amd(13107, 16384));
reads(80, 'device-metrics-exporter');
is(route(), "200 big complexity", "device-metrics-exporter 80 %: big");

put('page', dcgm(23593, 983));
reads(96, 'dcgm-exporter');
is(route(), "200 small vram", "dcgm-exporter 96 %: small, reason vram");
$g = gpu();
is($g->{vram_total_bytes}, (23593 + 983) * $mib, 'total = FB_USED + FB_FREE');
is($g->{busy_percent}, 93, 'DCGM_FI_DEV_GPU_UTIL');
is($g->{temperature_celsius}, 71, 'DCGM_FI_DEV_GPU_TEMP');
is($g->{power_watts}, 68.5, 'DCGM_FI_DEV_POWER_USAGE');
put('page', dcgm(19661, 4915));
reads(80, 'dcgm-exporter');
is(route(), "200 big complexity", "dcgm-exporter 80 %: big");

put('page', node(15360000000, 16000000000));
reads(96, 'node_exporter');
is(route(), "200 small vram", "node_exporter 96 %: small, reason vram");
$g = gpu();
is($g->{busy_percent}, 100, 'node_drm_gpu_busy_percent');
ok(!defined $g->{temperature_celsius}, 'node_exporter drm: no temperature');
put('page', node(12800000000, 16000000000));
reads(80, 'node_exporter');
is(route(), "200 big complexity", "node_exporter 80 %: big");

# the GPU picked by its label
is(vram("amd1"), 6.3, 'device=1 picks gpu_id="1"');
is(gpu('amd1')->{busy_percent}, 2, '... and its busy');
is(vram('l4b'), 50, 'device=GPU-bbbb-2222 picks the UUID');
is(vram('card1'), 25, 'device=card1 picks card="card1"');
ok(!defined vram('nocard'), 'a device the page does not name: unknown');

# failures, each followed by a recovery
my @fail = (
    [ 'garbage', sub { put('page', "<html><body>Bad Gateway</body></html>\n") } ],
    [ 'HTTP 500', sub { put('mode', '500') } ],
    [ 'slow past the timeout', sub { put('mode', 'slow') } ],
);

my $n = 0;
for my $f (@fail) {
    my ($what, $do) = @$f;
    $do->();
    ok(LLMTest::wait_until(sub { !defined vram() }, 10), "$what: VRAM unknown");
    is(route(), "200 big complexity", "$what: routing unaffected");
    unlink "$dir/mode";
    put('page', amd(15729 - $n++, 16384));
    reads(96, "$what, then well again");
}

# hanging: requests are answered while the exporter holds the fetch
put('mode', 'hang');
ok(LLMTest::wait_until(sub { !defined vram() }, 10), "hanging exporter: VRAM unknown");
my ($slowest, $routes) = (0, '');
for (1 .. 10) {
    my $t0 = Time::HiRes::time();
    my $r = route();
    my $dt = Time::HiRes::time() - $t0;
    $slowest = $dt if $dt > $slowest;
    $routes .= "$r\n" if $r ne "200 big complexity";
    Time::HiRes::sleep(0.05);
}
is($routes, '', 'hanging exporter: every complex prompt to big');
cmp_ok($slowest, '<', 0.25, 'hanging exporter: no request waits for it');
unlink "$dir/mode";
reads(96, 'hanging, then well again');

# vanished: the port refuses, then the exporter comes back
kill 'KILL', -$xpid;
waitpid($xpid, 0);
ok(LLMTest::wait_until(sub { !defined vram() }, 10), "vanished exporter: VRAM unknown");
is(route(), "200 big complexity", "vanished exporter: routing unaffected");
$xpid = exporter();
reads(96, 'the exporter back');
is(route(), "200 small vram", "high VRAM steers again");

LLMTest::stop_nginx($nginx);
kill 'KILL', -$xpid;
waitpid($xpid, 0);
my $log = LLMTest::slurp("$servroot/logs/error.log");
LLMTest::nginx_clean($servroot);

my @unknown = ($log =~ /GPU "remote": ([^\n]*)VRAM unknown/g);
my @reading = ($log =~ /GPU "remote": reading VRAM/g);
is(scalar(@unknown), 5, "one log line per failure, not one per poll")
    or diag(join "\n", grep { /GPU/ } split /\n/, $log);
is(scalar(@reading), 6, "one log line each time it reads again");
like($unknown[0] // '', qr/not a Prometheus text page/, 'garbage: said so');
like($unknown[1] // '', qr/HTTP status 500/, '500: said so');
like($unknown[2] // '', qr/timed out/, 'slow: timed out');
like($unknown[4] // "", qr/connection (failed|closed)|timed out/,
     "vanished: the connection fails (or a fetch under way times out)");
like($log, qr/GPU "nocard": [^\n]*no VRAM metrics for this device/, 'no such device: said so');
unlike($log, qr/\[(alert|crit|emerg)\]/, 'no alert in the log');

# the configuration
my $bad = LLMTest::nginx_command() . " -t -p $dir/ -c $dir/bad.conf 2>&1";
# newer nginx opens the pid file under -t too: the prefix needs its logs/
File::Path::make_path("$dir/logs");
for (["llm_gpu g source=prometheus;", qr/needs "url=http:/],
     ["llm_gpu g source=prometheus url=https://10.0.0.1:9400/metrics;",
      qr/only http:/],
     ["llm_gpu g source=prometheus url=http://gpu-host:9400/metrics;",
      qr/must be an IP address with a port/],
     ["llm_gpu g source=prometheus url=http://10.0.0.1/metrics;",
      qr/must be an IP address with a port/],
     ["llm_gpu g source=prometheus url=http://10.0.0.1:9400 timeout=0;",
      qr/invalid parameter "timeout=0"/]) {
    open my $b, '>', "$dir/bad.conf" or die $!;
    print $b "load_module " . LLMTest::module_path() . ";\n"
        . "error_log /dev/stderr;\nevents {}\nhttp {\n"
        . "llm_router_zone llm 1m;\n$_->[0]\n}\n";
    close $b;
    like(`$bad`, $_->[1], "nginx -t refuses: $_->[0]");
}
open my $b, '>', "$dir/bad.conf" or die $!;
print $b "load_module " . LLMTest::module_path() . ";\nerror_log /dev/stderr;\n"
    . "events {}\nhttp {\nllm_router_zone llm 1m;\n"
    . "llm_gpu g source=prometheus url=http://10.0.0.1:9400;\n}\n";
close $b;
like(`$bad`, qr/test is successful/, 'url without a path: /metrics');

remove_tree($dir);
done_testing();
