# The container image, built and run: docker/Dockerfile on a Debian
# bookworm base made here with debootstrap, run against the mock Ollama
# tiers and a redis-server on 127.0.0.1.
#
# A private dockerd of its own (everything under build/docker/: data root,
# exec root, pidfile, socket) with no bridge, no iptables, no NAT: the
# image is built and run with --network host (the router's listeners on
# free 127.0.0.1 ports, LLM_ROUTER_LISTEN=loopback) or with --network none
# (only the container's own loopback).  No container talks to anything but
# loopback.
#
# Checks: TLS + HTTP/2 routing, a streamed answer, a cache hit on a repeat,
# the image's HEALTHCHECK turning healthy, the JARVIS drop-in on its port,
# the HTTP redirect, a graceful "docker stop" (exit code 0, container
# gone); then the image as shipped (ports 80/443/5010, every address) in
# a container whose loopback has no IPv6 (Docker 20.10's default) and in
# one with IPv6 on its loopback.
#
# Caches between runs: build/docker/bookworm-minbase.tar (the debootstrap
# root file system) and the daemon's data root build/docker/root (the base
# image and the build's layers).  LLMTEST_DOCKER_FRESH=1 starts from
# nothing; LLMTEST_DOCKER_KEEP_IMAGES=0 removes the data root at the end;
# LLMTEST_DOCKER=0 skips the suite; LLMTEST_DEBOOTSTRAP_MIRROR is the
# archive (default http://deb.debian.org/debian); LLMTEST_DOCKERD and
# LLMTEST_DOCKER_CLI name the daemon and the client (default: docker.io's).
#
# Skipped (skip_all, with the reason) when not root, when docker.io or
# debootstrap cannot be installed, when dockerd does not start, or when
# debootstrap cannot reach the archive.
use strict;
use warnings;
use lib 't/lib';
use LLMTest no_module => 1, no_mocks => 1;
use Test::More;
use Cwd ();
use Fcntl qw(:flock);
use File::Path qw(make_path remove_tree);
use IO::Socket::IP ();
use POSIX ();
use Time::HiRes ();

my $Root   = Cwd::getcwd();
my $Dir    = "$Root/build/docker";
my $Docker = $ENV{LLMTEST_DOCKER_CLI}
             || (-x '/usr/bin/docker' ? '/usr/bin/docker' : 'docker');
my $Image  = 'ngx-llm-router:latest';
my $Mirror = $ENV{LLMTEST_DEBOOTSTRAP_MIRROR} || 'http://deb.debian.org/debian';
my $Tarball = "$Dir/bookworm-minbase.tar";
my $Label  = 'llmtest=t025';
my $Exec   = "$Dir/exec";
my ($DockerdPid, $LockFh, $PolicyRcd);
my @Timing;
my $OwnerPid = $$;

sub elapsed { sprintf '%.1f', Time::HiRes::time() - $_[0] }

# run($timeout, [cmd...], stdin => FILE, log => FILE): the command's exit
# status and its output (stdout and stderr; the last 60 lines of the log
# when it goes to a file), bounded by timeout(1)
sub run {
    my ($timeout, $cmd, %o) = @_;
    my $pid = open(my $fh, '-|');
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        if ($o{log}) { open STDOUT, '>', $o{log} or POSIX::_exit(126); }
        open STDERR, '>&', \*STDOUT;
        if ($o{stdin}) { open STDIN, '<', $o{stdin} or POSIX::_exit(126); }
        else { open STDIN, '<', '/dev/null'; }
        { no warnings 'exec'; exec 'timeout', '-k', '10', $timeout, @$cmd; }
        POSIX::_exit(127);
    }
    my $out = do { local $/; <$fh> };
    close $fh;
    my $st = $?;
    if ($o{log}) {
        my @l = split /\n/, LLMTest::slurp($o{log});
        $out = join "\n", @l > 60 ? @l[-60 .. -1] : @l;
    }
    $out = '' unless defined $out;
    return wantarray ? ($st, $out) : $out;
}

sub dk {
    my ($timeout, @args) = @_;
    return run($timeout, [$Docker, @args]);
}

sub tail_of {
    my ($text, $n) = @_;
    my @l = split /\n/, (defined $text ? $text : '');
    @l = @l[-$n .. -1] if @l > $n;
    return join("\n", @l) . "\n";
}

sub skip_suite {
    my $why = shift;
    $why =~ s/\s*\n\s*/ | /g;    # one TAP line
    $why =~ s/[ |]+$//;
    plan skip_all => $why;    # exits: the END block below cleans up
}

# --- preconditions -----------------------------------------------------------

skip_suite('disabled by LLMTEST_DOCKER=0')
    if defined $ENV{LLMTEST_DOCKER} && $ENV{LLMTEST_DOCKER} eq '0';
skip_suite('needs root (a private dockerd, debootstrap)') if $> != 0;
skip_suite('Linux only') unless $^O eq 'linux';
for my $p (qw(timeout curl tar)) {
    skip_suite("$p is not installed")
        unless grep { -x "$_/$p" } split /:/, $ENV{PATH};
}
skip_suite('curl has no HTTP/2 support') unless `curl -V` =~ /\bHTTP2\b/;

# docker.io and debootstrap from Debian's archive when missing; the
# packages' services are not started meanwhile (policy-rc.d): no system
# dockerd, no docker0 bridge
{
    my @missing;
    push @missing, 'docker.io'
        unless -x '/usr/sbin/dockerd' || -x '/usr/bin/dockerd';
    push @missing, 'docker.io' unless $Docker ne 'docker' || `command -v docker`;
    push @missing, 'debootstrap'
        unless -x '/usr/sbin/debootstrap' || -x '/usr/bin/debootstrap';
    my %seen;
    @missing = grep { !$seen{$_}++ } @missing;
    if (@missing) {
        diag("installing @missing from Debian's archive");
        local $ENV{DEBIAN_FRONTEND} = 'noninteractive';
        if (!-e '/usr/sbin/policy-rc.d') {
            if (open my $f, '>', '/usr/sbin/policy-rc.d') {
                print $f "#!/bin/sh\n# t/025-docker.t: no service starts while it installs\nexit 101\n";
                close $f;
                chmod 0755, '/usr/sbin/policy-rc.d';
                $PolicyRcd = 1;
            }
        }
        my @apt = ('apt-get', 'install', '-y', '-q', '--no-install-recommends',
                   '-o', 'DPkg::Lock::Timeout=600', @missing);
        my ($st, $out) = run(1200, \@apt);
        if ($st != 0) {
            run(600, ['apt-get', 'update', '-q']);
            ($st, $out) = run(1200, \@apt);
        }
        if ($PolicyRcd) { unlink '/usr/sbin/policy-rc.d'; $PolicyRcd = 0; }
        skip_suite("@missing could not be installed: " . tail_of($out, 3))
            if $st != 0;
        $Docker = -x '/usr/bin/docker' ? '/usr/bin/docker' : 'docker';
    }
}
my $Dockerd = $ENV{LLMTEST_DOCKERD}
              || (-x '/usr/sbin/dockerd' ? '/usr/sbin/dockerd' : '/usr/bin/dockerd');
my $Debootstrap = -x '/usr/sbin/debootstrap' ? '/usr/sbin/debootstrap'
                                             : '/usr/bin/debootstrap';

# one run at a time: the daemon's directories are shared
make_path($Dir);
open $LockFh, '>>', "$Dir/lock" or skip_suite("cannot open $Dir/lock: $!");
{
    my $wait = $ENV{LLMTEST_DOCKER_LOCK_WAIT} || 1800;
    my $deadline = time + $wait;
    my $said;
    until (flock($LockFh, LOCK_EX | LOCK_NB)) {
        skip_suite("another run of this suite holds $Dir/lock (waited ${wait}s)")
            if time >= $deadline;
        diag("waiting for another run of this suite ($Dir/lock)") unless $said++;
        Time::HiRes::sleep(1);
    }
}

if ($ENV{LLMTEST_DOCKER_FRESH}) {
    diag('LLMTEST_DOCKER_FRESH: no cached root file system, no data root');
    stop_stale_daemon();
    remove_tree("$Dir/root", "$Dir/rootfs.tmp");
    unlink $Tarball;
}

# containerd's sockets live in the exec root: a unix socket path has at
# most 107 bytes
$Exec = "/run/llmtest-docker-$<-" . unpack('%32C*', $Dir)
    if length("$Exec/containerd/containerd.sock.ttrpc") > 100;

$ENV{DOCKER_HOST} = "unix://$Dir/docker.sock";
$ENV{DOCKER_CONFIG} = "$Dir/cli";    # not ~/.docker
delete $ENV{DOCKER_CONTEXT};
delete $ENV{DOCKER_TLS_VERIFY};

# --- the private dockerd -----------------------------------------------------

sub pid_alive {
    my $pid = shift;
    return $pid && kill(0, $pid) && !(waitpid($pid, POSIX::WNOHANG()) == $pid);
}

sub cmdline { my $c = LLMTest::slurp("/proc/$_[0]/cmdline"); $c =~ tr/\0/ /; $c }

sub wait_gone {
    my ($pid, $secs) = @_;
    return LLMTest::wait_until(sub {
        waitpid($pid, POSIX::WNOHANG());
        !kill(0, $pid) }, $secs);
}

# mounts the daemon left under its directories (a killed run)
sub unmount_leftovers {
    my @m;
    for my $l (split /\n/, LLMTest::slurp('/proc/self/mountinfo')) {
        my $mp = (split / /, $l)[4];
        next unless defined $mp;
        $mp =~ s/\\040/ /g;
        push @m, $mp if index($mp, "$Dir/") == 0 || index($mp, "$Exec/") == 0
                        || $mp eq $Exec;
    }
    system('umount', '-l', $_) for reverse @m;
}

# a dockerd, or its containerd, of an earlier run that was killed
sub stop_stale_daemon {
    for my $pf ("$Dir/dockerd.pid", "$Exec/containerd/containerd.pid") {
        my $pid = LLMTest::slurp($pf);
        $pid =~ s/\s+//g;
        next unless $pid =~ /^\d+$/ && kill(0, $pid);
        next unless cmdline($pid) =~ /\Q$Dir\E|\Q$Exec\E/;
        kill 'TERM', $pid;
        kill 'KILL', $pid unless wait_gone($pid, 20);
    }
    unmount_leftovers();
}

sub start_dockerd {
    stop_stale_daemon();
    remove_tree($Exec);
    make_path("$Dir/root", $Exec, "$Dir/cli");
    unlink "$Dir/docker.sock";
    my $log = "$Dir/dockerd.log";
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $log;
        open STDERR, '>&', \*STDOUT;
        POSIX::setsid();
        LLMTest::_set_pdeathsig();
        # as docker.service's LimitNOFILE=infinity, where this process may
        # raise its limit (nginx.conf asks for 65536 files per worker; the
        # entrypoint lowers that to the container's limit otherwise)
        { no warnings 'exec';
          exec 'sh', '-c', 'ulimit -n 1048576 2>/dev/null || true; exec "$@"', 'sh',
               $Dockerd, '--data-root', "$Dir/root", '--exec-root', $Exec,
               '--pidfile', "$Dir/dockerd.pid", '-H', "unix://$Dir/docker.sock",
               '--iptables=false', '--ip6tables=false', '--ip-forward=false',
               '--ip-masq=false', '--bridge=none'; }
        POSIX::_exit(127);
    }
    $DockerdPid = $pid;
    my $ok = LLMTest::wait_until(sub {
        return 1 if -S "$Dir/docker.sock"
                    && (dk(10, 'version', '--format', '{{.Server.Version}}'))[0] == 0;
        return -1 unless pid_alive($pid);
        return 0;
    }, 90);
    return $ok && $ok == 1;
}

sub stop_dockerd {
    return unless $DockerdPid;
    kill 'TERM', $DockerdPid;
    if (!wait_gone($DockerdPid, 30)) {
        kill 'KILL', $DockerdPid;
        wait_gone($DockerdPid, 5);
    }
    undef $DockerdPid;
    stop_stale_daemon();    # its containerd, if it outlived it; mounts
    remove_tree($Exec);
    unlink "$Dir/docker.sock";
}

END {
    if ($$ == $OwnerPid) {
        local $?;
        unlink '/usr/sbin/policy-rc.d' if $PolicyRcd;
        if ($DockerdPid) {
            my $ids = dk(30, 'ps', '-aq');
            my @ids = grep { /^[0-9a-f]+$/ } split /\s+/, $ids;
            dk(60, 'rm', '-f', '-v', @ids) if @ids;
            stop_dockerd();
        }
        if (defined $ENV{LLMTEST_DOCKER_KEEP_IMAGES}
            && $ENV{LLMTEST_DOCKER_KEEP_IMAGES} eq '0') {
            unmount_leftovers();
            remove_tree("$Dir/root");
        }
        if (@Timing) {
            my $t = join ', ', map { "$_->[0] $_->[1]s" } @Timing;
            Test::More::diag("t/025 timings: $t");
            if (open my $f, '>>', "$Dir/timings.log") {
                print $f scalar(localtime), ": $t\n";
                close $f;
            }
        }
    }
}

my $t_all = Time::HiRes::time();
my $t0 = Time::HiRes::time();
if (!start_dockerd()) {
    my $how = pid_alive($DockerdPid) ? 'no answer on its socket within 90 s'
                                     : 'it exited';
    my $log = tail_of(LLMTest::slurp("$Dir/dockerd.log"), 3);
    stop_dockerd();
    skip_suite("dockerd did not start ($how); build/docker/dockerd.log: $log");
}
push @Timing, ['dockerd', elapsed($t0)];
my ($srv) = (dk(10, 'version', '--format', '{{.Server.Version}}'))[1] =~ /(\S+)/;
note("dockerd $srv on $ENV{DOCKER_HOST}");

# --- the base image: debootstrap --variant=minbase bookworm -----------------

my $df = LLMTest::slurp('docker/Dockerfile');
my (%stage, %base);
while ($df =~ /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/mgi) {
    $base{$1} = 1 unless $stage{$1};
    $stage{$2} = 1 if defined $2;
}
my @bases = sort keys %base;

if ((dk(30, 'image', 'inspect', 'debian:bookworm'))[0] != 0) {
    if (!-s $Tarball) {
        my $rootfs = "$Dir/rootfs.tmp";
        remove_tree($rootfs);
        $t0 = Time::HiRes::time();
        diag("debootstrap --variant=minbase bookworm from $Mirror (a few minutes, cached afterwards)");
        my ($st, $out) = run(2400, [$Debootstrap, '--variant=minbase', 'bookworm',
                                    $rootfs, $Mirror], log => "$Dir/debootstrap.log");
        if ($st != 0) {
            remove_tree($rootfs);
            skip_suite("debootstrap cannot build the base system from $Mirror: "
                       . tail_of($out, 3));
        }
        # apt's caches are of no use in an image
        remove_tree(glob("$rootfs/var/cache/apt/archives/*.deb"),
                    glob("$rootfs/var/lib/apt/lists/*_Packages"));
        ($st, $out) = run(600, ['tar', '--numeric-owner', '-C', $rootfs, '-cf',
                                "$Tarball.tmp", '.']);
        remove_tree($rootfs);
        BAIL_OUT("tar of the root file system failed: $out") if $st != 0;
        rename "$Tarball.tmp", $Tarball or BAIL_OUT("rename: $!");
        push @Timing, ['debootstrap', elapsed($t0)];
    }
    $t0 = Time::HiRes::time();
    my ($st, $out) = run(600, [$Docker, 'import', '-', 'debian:bookworm'], stdin => $Tarball);
    is($st, 0, 'docker import of the debootstrap root file system as debian:bookworm')
        or diag($out);
    push @Timing, ['import', elapsed($t0)];
} else {
    pass('debian:bookworm is in the data root already (imported by an earlier run)');
}
is_deeply(\@bases, ['debian:bookworm'], 'the Dockerfile builds FROM debian:bookworm only');

# --- the image ---------------------------------------------------------------

# the build context: what a clean checkout has (git's tracked files and
# untracked ones it does not ignore), not build/ or t/servroot*
my $ctx = "$Dir/context.tar";
{
    my @files;
    if (-e "$Root/.git" && open my $g, '-|', 'git', '-C', $Root, 'ls-files', '-z',
                                             '-co', '--exclude-standard') {
        local $/ = "\0";
        while (my $f = <$g>) { chomp $f; push @files, $f if -f $f || -l $f; }
        close $g;
    }
    @files = qw(config Makefile src conf docker) unless @files;
    open my $l, '>', "$Dir/context.list" or die;
    print $l map { "$_\0" } @files;
    close $l;
    my ($st, $out) = run(120, ['tar', '--null', '-C', $Root, '-T', "$Dir/context.list",
                               '-cf', $ctx]);
    BAIL_OUT("the build context: $out") if $st != 0;
}

# the build stage is tagged too, so that pruning the images earlier runs
# left untagged keeps its layers (the apt step) in the cache
$t0 = Time::HiRes::time();
my ($bst, $bout) = run(3000, [$Docker, 'build', '--network', 'host', '-f', 'docker/Dockerfile',
                              '--target', 'build', '-t', 'ngx-llm-router-build:t025', '-'],
                       stdin => $ctx, log => "$Dir/build-stage.log");
($bst, $bout) = run(3000, [$Docker, 'build', '--network', 'host', '-f', 'docker/Dockerfile',
                           '-t', $Image, '-'], stdin => $ctx, log => "$Dir/build.log")
    if $bst == 0;
push @Timing, ['build', elapsed($t0)];
if (!is($bst, 0, "docker build --network host -f docker/Dockerfile (log: build/docker/build.log)")) {
    diag($bout);
    done_testing();
    exit;
}
my $cached = () = LLMTest::slurp("$Dir/build.log") =~ /^ ---> Using cache$/mg;
note("build: $cached steps from the layer cache");
dk(300, 'image', 'prune', '-f');

my $inspect = dk(30, 'image', 'inspect', '--format',
                 '{{json .Config.Healthcheck}} {{.Config.StopSignal}} {{json .Config.ExposedPorts}}',
                 $Image);
like($inspect, qr/"CMD-SHELL".*api\/version/, 'the image has its HEALTHCHECK');
like($inspect, qr/\bSIGQUIT\b/, 'docker stop asks nginx for a graceful stop (SIGQUIT)');
my $ver = dk(60, 'run', '--rm', '--network', 'none', '--entrypoint', 'nginx', $Image, '-V');
like($ver, qr/nginx version: nginx\/1\.22\.1/, "Debian bookworm's nginx in the image");

# --- the router in a container, against the mocks and redis --------------------

LLMTest::start_mock($_) for LLMTest::tiers();
my $rport = LLMTest::start_redis(undef);
my ($big, $small) = map { LLMTest::mock_port($_) } qw(big small);

# --network host puts the listeners on this machine: free ports on both
# loopback addresses (IPv6 is used when the loopback has ::1)
sub free_port2 {
    for (1 .. 50) {
        my $p = LLMTest::free_port();
        my $s6 = IO::Socket::IP->new(LocalHost => '::1', LocalPort => $p,
                                     Proto => 'tcp', Listen => 1, ReuseAddr => 1);
        next if !$s6 && $! != POSIX::EADDRNOTAVAIL() && $! != POSIX::EAFNOSUPPORT();
        close $s6 if $s6;
        return $p;
    }
    die "no free port on 127.0.0.1 and ::1\n";
}
my %used;
my ($hp, $sp, $jp) = map {
    my $p; do { $p = free_port2() } while $used{$p}++; $p } 1 .. 3;

my $name = "llmtest-router-$$";
$t0 = Time::HiRes::time();
my ($rst, $rout) = dk(60, 'run', '-d', '--name', $name, '--label', $Label,
    '--network', 'host',
    '-e', "OLLAMA_BIG=127.0.0.1:$big", '-e', "OLLAMA_SMALL=127.0.0.1:$small",
    '-e', "REDIS_ADDR=127.0.0.1:$rport",
    '-e', 'LLM_ROUTER_LISTEN=loopback', '-e', "LLM_ROUTER_HTTP_PORT=$hp",
    '-e', "LLM_ROUTER_HTTPS_PORT=$sp", '-e', "LLM_ROUTER_JARVIS_PORT=$jp",
    $Image);
is($rst, 0, "docker run --network host (https $sp, http $hp, jarvis $jp)") or diag($rout);

sub state_of {
    my $n = shift;
    my $s = dk(20, 'inspect', '--format',
               '{{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{end}}', $n);
    $s =~ s/\s+$//;
    return $s;
}
sub logs_of { scalar dk(30, 'logs', shift) }

my $up = LLMTest::wait_until(sub {
    return -1 if state_of($name) !~ /^running/;
    return LLMTest::_connect_ok($sp) && LLMTest::_connect_ok($jp)
           && LLMTest::_connect_ok($hp);
}, 30);
if (!ok($up && $up == 1, 'nginx in the container listens on its three ports')) {
    diag(state_of($name) . "\n" . tail_of(logs_of($name), 30));
    done_testing();
    exit;
}
push @Timing, ['start', elapsed($t0)];
my $startlog = logs_of($name);
like($startlog, qr/^llm-router: http $hp, https $sp, jarvis $jp on 127\.0\.0\.1/m,
     'the entrypoint reports its listeners');
my $hard = dk(20, 'exec', $name, 'sh', '-c', 'ulimit -Hn');
$hard =~ s/\s+//g;
if ($hard =~ /^\d+$/ && $hard < 65536) {
    like($startlog, qr/worker_rlimit_nofile 65536 lowered to $hard\b/,
         "worker_rlimit_nofile capped at the container's open-file limit ($hard)");
} else {
    unlike($startlog, qr/worker_rlimit_nofile .* lowered/,
           "worker_rlimit_nofile 65536 kept (the container's limit is $hard)");
}

my $hdr = "$Dir/headers.txt";
sub curl {
    my (@args) = @_;
    unlink $hdr;
    my ($st, $out) = run(40, ['curl', '-sS', '--max-time', '30', '-D', $hdr, @args]);
    my $h = LLMTest::slurp($hdr);
    return ($st, $h, $out);
}

# TLS + HTTP/2 routing
my ($st, $h, $body) = curl('--http2', '-k', "https://127.0.0.1:$sp/api/generate",
    '-H', 'Content-Type: application/json',
    '-d', '{"model":"auto","prompt":"Hi","stream":false}');
like($h, qr{^HTTP/2 200}m, 'TLS + HTTP/2 to the container: 200') or diag("$st $h $body");
like($h, qr/^x-llm-route: small\r?$/mi, '... a simple prompt to the small tier');
like($body, qr/"response":"tok0 /, '... with the tier\'s answer');

($st, $h, $body) = curl('--http2', '-k', "https://127.0.0.1:$sp/v1/chat/completions",
    '-H', 'Content-Type: application/json',
    '-d', '{"model":"auto","stream":false,"messages":[{"role":"user","content":"Analyze this algorithm complexity and prove its worst case step by step"}]}');
like($h, qr{^HTTP/2 200}m, 'OpenAI chat over HTTP/2: 200') or diag("$st $h $body");
like($h, qr/^x-llm-route: big\r?$/mi, '... a complex prompt to the big tier');

# a streamed answer: NDJSON lines as the tier sends them (8 tokens at 20/s)
($st, $h, $body) = curl('--http2', '-k', '-N', '-w', '\n%{time_starttransfer} %{time_total}',
    "https://127.0.0.1:$sp/api/generate", '-H', 'X-Mock-Tps: 20',
    '-d', '{"model":"auto","prompt":"Tell me a short story","stream":true}');
my ($ttfb, $total) = $body =~ /\n([\d.]+) ([\d.]+)$/;
my @lines = grep { /^\{/ } split /\n/, $body;
like($h, qr{^HTTP/2 200}m, 'a streamed answer over HTTP/2') or diag("$st $h $body");
like($h, qr{^content-type: application/x-ndjson}mi, '... as NDJSON');
ok(@lines >= 8 && $lines[-1] =~ /"done":true/ && $lines[0] =~ /"done":false/,
   '... token by token, ending with done:true') or diag($body);
ok(defined $total && $total - $ttfb > 0.2,
   "... not buffered: first byte after ${\($ttfb // '?')}s, last after ${\($total // '?')}s");

# the cache: a repeat is answered from redis (stored asynchronously)
my $q = '{"model":"auto","prompt":"What is the capital of France?","stream":false,"options":{"seed":1}}';
($st, $h, $body) = curl('--http2', '-k', "https://127.0.0.1:$sp/api/generate", '-d', $q);
like($h, qr/^x-llm-cache: MISS\r?$/mi, 'first request: cache MISS') or diag("$h $body");
my $first = $body;
my $hit = LLMTest::wait_until(sub {
    my (undef, $h2, $b2) = curl('--http2', '-k', "https://127.0.0.1:$sp/api/generate", '-d', $q);
    return $h2 =~ /^x-llm-cache: HIT\r?$/mi ? $b2 : undef;
}, 10);
ok($hit, 'the same request again: cache HIT from the redis on 127.0.0.1');
is($hit, $first, '... with the same answer') if $hit;
ok(@{ LLMTest::redis($rport, 'KEYS', 'llm:*') || [] } >= 1, '... stored in redis');

# the JARVIS drop-in
($st, $h, $body) = curl('-X', 'POST', "http://127.0.0.1:$jp/generate", '-d', '{"prompt":"Hello"}');
like($h, qr{^HTTP/1\.1 200}m, "JARVIS: POST /generate {\"prompt\":\"Hello\"} on the JARVIS port")
    or diag("$st $h $body");
like($h, qr/^X-LLM-Route: small\r?$/mi, '... routed to the small tier');
like($body, qr/"response":"tok0 /, '... an Ollama generate answer');

# plain HTTP redirects
($st, $h, $body) = curl("http://127.0.0.1:$hp/api/tags");
like($h, qr{^HTTP/1\.1 301}m, 'plain HTTP: 301') or diag("$st $h");
like($h, qr{^Location: https://127\.0\.0\.1(?::$hp)?/api/tags\r?$}mi, '... to https');

# metrics from the container's own loopback
($st, $h, $body) = curl('-k', "https://127.0.0.1:$sp/metrics");
like($body, qr/^llm_router_requests_total\b/m, 'metrics on the TLS port')
    or diag(substr($body, 0, 300));

# both tiers saw requests with the Host an Ollama on loopback accepts
ok(LLMTest::mock_stats('small')->{requests} >= 2 && LLMTest::mock_stats('big')->{requests} >= 1,
   'the mock tiers answered the container (Host rule passed)');

# the image's HEALTHCHECK (every 10 s: curl of /api/version on the JARVIS port)
$t0 = Time::HiRes::time();
my $health = LLMTest::wait_until(sub { state_of($name) =~ /\b(healthy|unhealthy)$/ && $1 }, 60);
is($health, 'healthy', 'docker inspect: the HEALTHCHECK reports healthy')
    or diag(dk(20, 'inspect', '--format', '{{json .State.Health}}', $name));
push @Timing, ['healthy', elapsed($t0)];

# a graceful stop
$t0 = Time::HiRes::time();
($st, my $out) = dk(60, 'stop', '-t', '30', $name);
my $stop_s = elapsed($t0);
is($st, 0, "docker stop ($stop_s s)") or diag($out);
ok($stop_s < 25, '... well within its timeout (nginx quit, not killed)');
like(state_of($name), qr/^exited 0\b/, '... exit code 0');
my $logs = logs_of($name);
my @bad = grep { /\[(alert|crit|emerg)\]|exited on signal|segfault/ } split /\n/, $logs;
ok(!@bad, '... no alert, crash or emerg in its log') or diag(join "\n", @bad);
dk(30, 'rm', $name);
is(dk(20, 'ps', '-aq', '--filter', "name=^/$name\$"), '', '... and the container is gone');
ok(!LLMTest::_connect_ok($sp) && !LLMTest::_connect_ok($jp), '... its ports are closed');

# --- the image as shipped: ports 80/443/5010 on every address ---------------------
# --network none: only the container's own loopback, which Docker 20.10
# gives no IPv6 (listen [::1] fails there); the tiers are unreachable,
# nginx itself answers

sub shipped {
    my ($n, @opt) = @_;
    my ($s, $o) = dk(60, 'run', '-d', '--name', $n, '--label', $Label, '--network', 'none',
                     @opt, '-e', 'OLLAMA_BIG=127.0.0.1:1', '-e', 'OLLAMA_SMALL=127.0.0.1:2',
                     '-e', 'REDIS_ADDR=127.0.0.1:3', $Image);
    return "docker run: $o" if $s != 0;
    my $ok = LLMTest::wait_until(sub {
        return -1 if state_of($n) !~ /^running/;
        my $c = dk(20, 'exec', $n, 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}',
                   'http://127.0.0.1:5010/api/version');
        return $c =~ /^[1-5]\d\d$/ ? 1 : 0;
    }, 30);
    return $ok && $ok == 1 ? '' : state_of($n) . "\n" . tail_of(logs_of($n), 20);
}

my $n4 = "llmtest-noipv6-$$";
my $err = shipped($n4);
is($err, '', 'the image with its defaults starts where the loopback has no IPv6')
    or diag($err);
my $ll = logs_of($n4);
like($ll, qr/on every address, IPv4 only/, '... IPv4 listeners only (IPv6 auto-detected off)');
unlike($ll, qr/\[emerg\]/, '... no bind() failure');
my $tcp = dk(20, 'exec', $n4, 'cat', '/proc/net/tcp');
my %listen = map { hex($_) => 1 } $tcp =~ /^\s*\d+: 00000000:([0-9A-F]{4}) 00000000:0000 0A /mg;
ok($listen{80} && $listen{443} && $listen{5010},
   '... 80, 443 and 5010 on 0.0.0.0 (where a published port arrives)') or diag($tcp);
is(dk(20, 'exec', $n4, 'curl', '-sk', '-o', '/dev/null', '-w', '%{http_code}',
      'https://127.0.0.1/metrics'), '200', '... serves TLS on 443');
dk(60, 'stop', '-t', '30', $n4);
like(state_of($n4), qr/^exited 0\b/, '... stops with exit code 0');
dk(30, 'rm', $n4);

my $n6 = "llmtest-ipv6-$$";
$err = shipped($n6, '--sysctl', 'net.ipv6.conf.lo.disable_ipv6=0');
is($err, '', 'with --sysctl net.ipv6.conf.lo.disable_ipv6=0 it starts too') or diag($err);
like(logs_of($n6), qr/on every address, IPv4 and IPv6/, '... with IPv6 listeners as well');
is(dk(20, 'exec', $n6, 'curl', '-gs', '-o', '/dev/null', '-w', '%{http_code}',
      'http://[::1]:5010/api/version') =~ /^[1-5]\d\d$/ ? 'answered' : 'no answer',
   'answered', '... nginx answers on [::1]:5010');
dk(60, 'stop', '-t', '30', $n6);
like(state_of($n6), qr/^exited 0\b/, '... stops with exit code 0');
dk(30, 'rm', $n6);

is(dk(20, 'ps', '-aq'), '', 'no container left');
push @Timing, ['total', elapsed($t_all)];

done_testing();
