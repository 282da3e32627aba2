# The Debian package: "make deb" builds libnginx-mod-http-llm-router with
# nginx-dev's dh-sequence-nginx; this suite installs it the way a Debian
# user would, in a clean bookworm root, next to Debian's stock nginx:
#
#   * "make deb" is a no-op while build/deb's package is newer than the
#     sources (config, src/, conf/, debian/, README.md), else a build of
#     about a minute;
#   * the root comes from "debootstrap --variant=minbase bookworm", cached
#     as build/deb-root/bookworm-minbase.tar.gz (only the first run, or
#     LLMTEST_DEB_REFRESH=1, runs debootstrap: 1.5 to 2.5 minutes);
#   * apt inside it uses the host's sources, resolv.conf and apt proxy;
#     its downloads (lists, .debs) are kept in build/deb-root/apt between
#     runs, so a repeat run only asks the archive whether anything changed;
#   * stock nginx is installed with apt-get, then the package with apt-get
#     (so cJSON and hiredis come from the archive), and the suite checks the
#     ABI dependency, the files, the modules-enabled link, "nginx -t" with
#     Debian's own nginx.conf and with conf/nginx.conf, a drop-in using
#     the module's directives, and one request routed by the chroot's
#     nginx to the mock tiers on 127.0.0.1 (the chroot shares the host's
#     network);
#   * then "apt-get purge" must leave no file of the package behind.
#
# Needs root (chroot, mount).  Skips, saying why, when something outside
# the repository is missing: root, chroot/mount permission, Debian's
# archive.  Every external command runs under timeout(1); mounts and
# processes in the root are cleaned up in END, also on failure.  The
# root is removed at the end unless a test failed or LLMTEST_DEB_KEEP=1;
# build/deb-root/024-deb.log has the output of every command.  One run at
# a time (build/deb-root/.lock).  Measured here: first run about 3
# minutes, a repeat with the package up to date about 30 s.
use strict;
use warnings;
use lib 't/lib';
use LLMTest no_module => 1, no_mocks => 1;
use Test::More;
use Cwd qw(abs_path);
use File::Basename qw(basename dirname);
use Fcntl qw(:flock);
use File::Copy qw(copy);
use File::Path qw(make_path);
use POSIX ();
use Time::HiRes ();

my $top     = abs_path('.');
my $work    = "$top/build/deb-root";
my $root    = "$work/root";
my $tarball = "$work/bookworm-minbase.tar.gz";
my $aptdir  = "$work/apt";
my $logfile = "$work/024-deb.log";
my $pkg     = 'libnginx-mod-http-llm-router';
my $so      = '/usr/lib/nginx/modules/ngx_http_llm_router_module.so';
my $avail   = '/usr/share/nginx/modules-available/mod-http-llm-router.conf';
my $enabled = '/etc/nginx/modules-enabled/50-mod-http-llm-router.conf';
my $loadline = 'load_module modules/ngx_http_llm_router_module.so;';

my $nginx;          # the chroot's nginx serving the routed request
my $owner = $$;
my $locked;         # this run holds build/deb-root/.lock: the root is its own

# --- running commands ------------------------------------------------------

my $logfh;

sub logmsg {
    return unless $logfh;
    print $logfh @_;
}

# run($seconds, @cmd): output (stdout + stderr) and wait status
sub run {
    my ($secs, @cmd) = @_;
    my $t0 = Time::HiRes::time();
    my $pid = open(my $fh, '-|');
    die "fork: $!\n" unless defined $pid;
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        open STDIN, '<', '/dev/null';
        { no warnings 'exec'; exec 'timeout', '-k', '10', $secs, @cmd; }
        print "exec timeout: $!\n";
        POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh>;
    close $fh;
    my $rc = $?;
    $out = '' unless defined $out;
    logmsg(sprintf("### %s\n%s### status %d (%s), %.1f s\n\n", "@cmd", $out,
                   $rc >> 8, ($rc >> 8) == 124 ? 'timed out' : 'done',
                   Time::HiRes::time() - $t0));
    return wantarray ? ($rc, $out) : $rc;
}

# a clean environment inside the root: nothing of the host's leaks in
my @in_env = ('/usr/bin/env', '-i', 'HOME=/root', 'LC_ALL=C',
              'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
              'DEBIAN_FRONTEND=noninteractive');

sub in_root {
    my ($secs, @cmd) = @_;
    return run($secs, 'chroot', $root, @in_env, @cmd);
}

sub apt {
    my ($secs, @args) = @_;
    return in_root($secs, 'apt-get', '-q', '-y', '-o', 'DPkg::Lock::Timeout=600',
                   '-o', 'Acquire::Retries=2', '-o', 'Acquire::http::Timeout=30',
                   '-o', 'Dpkg::Use-Pty=0',    # no /dev/pts in the root
                   @args);
}

sub tail_of {
    my ($text, $n) = @_;
    my @l = split /\n/, defined $text ? $text : '';
    @l = @l[-$n .. -1] if @l > $n;
    return join("\n", @l) . "\n";
}

sub skip_because {
    my ($why, $out) = @_;
    diag(tail_of($out, 15)) if defined $out && length $out;
    plan skip_all => $why;
}

sub spew {
    my ($file, $text) = @_;
    open my $fh, '>', $file or die "$file: $!\n";
    print $fh $text;
    close $fh or die "$file: $!\n";
}

# --- mounts and processes under build/deb-root -------------------------------

sub mounts_under {
    my $dir = shift;
    my @m;
    open my $fh, '<', '/proc/self/mountinfo' or return ();
    while (<$fh>) {
        my $mp = (split ' ')[4];
        $mp =~ s/\\([0-7]{3})/chr oct $1/ge;
        push @m, $mp if $mp eq $dir || index($mp, "$dir/") == 0;
    }
    return sort { length $b <=> length $a } @m;    # deepest first
}

sub unmount_under {
    my $dir = shift;
    for my $mp (mounts_under($dir)) {
        run(30, 'umount', $mp) == 0 or run(30, 'umount', '-l', $mp);
    }
    return !mounts_under($dir);
}

sub procs_in {
    my $dir = shift;
    my @p;
    opendir my $d, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $d) {
        my $r = readlink("/proc/$pid/root");
        push @p, $pid if defined $r && ($r eq $dir || index($r, "$dir/") == 0);
    }
    return @p;
}

sub kill_procs_in {
    my $dir = shift;
    for my $sig ('TERM', 'KILL') {
        my @p = procs_in($dir) or return;
        kill $sig, @p;
        my $deadline = Time::HiRes::time() + 5;
        Time::HiRes::sleep(0.1) while procs_in($dir) && Time::HiRes::time() < $deadline;
    }
}

# removes a root tree, never through a mount point
sub remove_tree_safely {
    my $dir = shift;
    return 1 unless -e $dir;
    kill_procs_in($dir);
    unmount_under($dir) or return 0;
    return run(300, 'rm', '-rf', '--one-file-system', $dir) == 0;
}

END {
    if ($$ == $owner && $locked) {
        local $?;
        LLMTest::stop_nginx($nginx) if $nginx;
        # the root, or debootstrap's tree when it was cut short
        kill_procs_in($work);
        unmount_under($work)
            or print STDERR "# could not unmount everything under $work\n";
        my $keep = $ENV{LLMTEST_DEB_KEEP} || !Test::More->builder->is_passing;
        remove_tree_safely($root) if -d $root && !$keep;
    }
}

# --- the host's apt configuration ------------------------------------------

sub host_sources {
    my @f = grep { -f } '/etc/apt/sources.list',
                        glob('/etc/apt/sources.list.d/*.list'),
                        glob('/etc/apt/sources.list.d/*.sources');
    return @f;
}

# the mirror the host takes bookworm from (debootstrap uses the same)
sub host_mirror {
    for my $f (host_sources()) {
        my $text = LLMTest::slurp($f);
        if ($f =~ /\.sources$/) {
            for my $stanza (split /\n\s*\n/, $text) {
                next if $stanza =~ /^Enabled:\s*no/mi;
                next unless $stanza =~ /^Types:.*\bdeb\b/mi
                         && $stanza =~ /^Suites:(.*)$/mi
                         && " $1 " =~ /\sbookworm\s/;
                return $1 if $stanza =~ /^URIs:\s*(\S+)/mi;
            }
        } else {
            return $1 if $text =~ /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m;
        }
    }
    return 'http://deb.debian.org/debian';
}

sub configure_root_apt {
    unlink "$root/etc/apt/sources.list";
    for my $f (host_sources()) {
        my $dst = $f eq '/etc/apt/sources.list'
                  ? "$root/etc/apt/sources.list"
                  : "$root/etc/apt/sources.list.d/" . basename($f);
        copy($f, $dst) or die "$f: $!\n";
        # a keyring the root does not have yet (a local mirror's, say)
        for my $key (LLMTest::slurp($f) =~ /signed-by[=:]\s*(\/\S+?)(?:[\s\]]|$)/gi) {
            next if -e "$root$key" || !-f $key;
            make_path(dirname("$root$key"));
            copy($key, "$root$key");
        }
    }
    my $proxies = join '', grep { /^Acquire::\w+::Proxy/i } split /^/,
                  scalar `apt-config dump 2>/dev/null`;
    spew("$root/etc/apt/apt.conf.d/01host-proxy", $proxies) if $proxies ne '';
    copy('/etc/resolv.conf', "$root/etc/resolv.conf.host") or die "resolv.conf: $!\n";
    unlink "$root/etc/resolv.conf";
    rename "$root/etc/resolv.conf.host", "$root/etc/resolv.conf" or die;
    # no service may start: nginx's postinst would start the stock site on
    # port 80 of the host's network
    spew("$root/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n");
    chmod 0755, "$root/usr/sbin/policy-rc.d";
}

# apt's lists and downloaded .debs, kept between runs
sub apt_cache {
    my $dir = shift;    # 'in' (cache -> root) or 'out' (root -> cache)
    my %map = (lists => '/var/lib/apt/lists', archives => '/var/cache/apt/archives');
    for my $k (sort keys %map) {
        my ($from, $to) = $dir eq 'in' ? ("$aptdir/$k", "$root$map{$k}")
                                       : ("$root$map{$k}", "$aptdir/$k");
        next unless -d $from;
        if ($dir eq 'out') {
            run(120, 'rm', '-rf', $to);
            make_path($to);
        }
        run(120, 'cp', '-a', '--', "$from/.", $to);
    }
    run(120, 'rm', '-f', "$aptdir/lists/lock", "$aptdir/archives/lock")
        if $dir eq 'out';
}

# --- preconditions -----------------------------------------------------------

plan skip_all => "needs root: debootstrap, chroot and mount (run as root)" if $> != 0;
plan skip_all => "needs Linux (chroot, /proc)" unless $^O eq 'linux';
for my $tool (qw(chroot mount umount tar timeout make)) {
    skip_because("$tool is not installed")
        unless grep { -x "$_/$tool" } split /:/, $ENV{PATH};
}
skip_because("chroot is not permitted here (no CAP_SYS_CHROOT?)")
    if system('chroot / /bin/true >/dev/null 2>&1') != 0;

make_path($work);
# one run at a time: a second one would unmount and remove this one's root
# (make test and a hand-run prove, say)
open my $lockfh, '>>', "$work/.lock" or die "$work/.lock: $!\n";
if (!flock($lockfh, LOCK_EX | LOCK_NB)) {
    diag("waiting for another t/024-deb.t run to finish (lock $work/.lock)");
    my $deadline = time + 1800;
    until (flock($lockfh, LOCK_EX | LOCK_NB)) {
        skip_because("another t/024-deb.t run still holds $work/.lock after 30 minutes")
            if time > $deadline;
        sleep 1;
    }
}
$locked = 1;
open $logfh, '>', $logfile or die "$logfile: $!\n";
$logfh->autoflush(1);

# a previous run killed hard may have left its root mounted
remove_tree_safely($root)
    or skip_because("$root is still mounted from an earlier run and cannot be unmounted");
unmount_under($work);

# --- the package ---------------------------------------------------------------

my ($rc, $out) = run(1800, 'make', '--no-print-directory', 'deb-deps');
skip_because("cannot install the packaging tools (make deb-deps) from Debian's archive", $out)
    if $rc;
my $t0 = Time::HiRes::time();
my ($deb_rc, $deb_out) = run(1800, 'make', '--no-print-directory', 'deb');
my $deb_secs = Time::HiRes::time() - $t0;
my @debs = glob("$top/build/deb/${pkg}_*.deb");

# --- the clean root ----------------------------------------------------------

if (!-f $tarball || $ENV{LLMTEST_DEB_REFRESH}) {
    if (!grep { -x "$_/debootstrap" } split(/:/, $ENV{PATH}), '/usr/sbin') {
        ($rc, $out) = run(900, 'sh', '-c', 'DEBIAN_FRONTEND=noninteractive '
                          . 'apt-get install -y -q -o DPkg::Lock::Timeout=600 debootstrap '
                          . '|| { apt-get update -q && DEBIAN_FRONTEND=noninteractive '
                          . 'apt-get install -y -q -o DPkg::Lock::Timeout=600 debootstrap; }');
        skip_because("debootstrap is not installed and apt-get cannot install it", $out)
            if $rc;
    }
    my $mirror = host_mirror();
    my $fresh = "$work/fresh";
    remove_tree_safely($fresh) or skip_because("cannot remove $fresh");
    diag("first run: debootstrap --variant=minbase bookworm from $mirror "
         . "(1.5 to 2.5 minutes; cached in $tarball)");
    ($rc, $out) = run(1500, 'debootstrap', '--variant=minbase', 'bookworm',
                      $fresh, $mirror);
    unmount_under($fresh);
    if ($rc) {
        remove_tree_safely($fresh);
        skip_because("debootstrap cannot build a bookworm root from $mirror "
                     . "(Debian's archive unreachable?)", $out);
    }
    # the .debs debootstrap unpacked are not part of a root
    run(60, 'sh', '-c', "rm -f '$fresh'/var/cache/apt/archives/*.deb");
    ($rc, $out) = run(600, 'tar', '-C', $fresh, '--numeric-owner', '-czf',
                      "$tarball.tmp", '.');
    die "tar of the fresh root failed:\n$out" if $rc;
    rename "$tarball.tmp", $tarball or die "$tarball: $!\n";
    remove_tree_safely($fresh);
}

make_path($root);
($rc, $out) = run(600, 'tar', '-C', $root, '--numeric-owner', '-xzf', $tarball);
die "untar of $tarball failed:\n$out" if $rc;
configure_root_apt();
apt_cache('in');

($rc, $out) = run(30, 'mount', '-t', 'proc', 'proc', "$root/proc");
skip_because("cannot mount /proc in the chroot (mount not permitted here)", $out) if $rc;

($rc, $out) = apt(600, 'update');
skip_because("apt inside the chroot cannot reach Debian's archive (apt-get update)", $out)
    if $rc || $out =~ /^(?:W|E): Failed to fetch/m;
($rc, $out) = apt(900, 'install', 'nginx');
skip_because("apt-get install nginx fails in the chroot (Debian's archive?)", $out) if $rc;

# --- the package's build and metadata -----------------------------------------

ok($deb_rc == 0 && @debs == 1, sprintf("make deb: %s (%.0f s)",
                                       @debs ? basename($debs[0]) : 'no package',
                                       $deb_secs))
    or do {
        diag(tail_of($deb_out, 40));
        done_testing();
        exit;
    };
my $deb = $debs[0];
my $version = LLMTest::slurp('src/ngx_http_llm_router_module.h')
              =~ /NGX_HTTP_LLM_ROUTER_VERSION\s+"([^"]+)"/ ? $1 : '?';
like(basename($deb), qr/^\Q${pkg}_$version\E-\d+_[a-z0-9]+\.deb$/,
     "the package's version is the module's ($version)");

my %field;
for my $f (qw(Depends Recommends Suggests)) {
    chomp($field{$f} = `dpkg-deb -f '$deb' $f`);
}
my $abi = LLMTest::slurp('/usr/share/nginx/src/debian/libnginx-mod.abisubstvars')
          =~ /^nginx:abi=(\S+)/m ? $1 : 'nginx-abi-?';
like($field{Depends}, qr/(?:^|, )\Q$abi\E(?:,|$)/, "Depends on the exact nginx ABI ($abi)");
like($field{Depends}, qr/\blibcjson1\b/, "Depends on libcjson1 (shlibs)");
like($field{Depends}, qr/\blibhiredis[\d.]+\b/, "Depends on libhiredis (shlibs)");
unlike($field{Depends}, qr/rocm/, "rocm-smi-lib is no dependency (dlopen at run time)");
like($field{Suggests}, qr/\blibrocm-smi64-1\b/, "... only a Suggests");
like($field{Recommends}, qr/\bca-certificates\b/,
     "Recommends ca-certificates (the example config verifies TLS upstreams)");

# --- install -------------------------------------------------------------------

copy($deb, "$root/tmp/" . basename($deb)) or die "$deb: $!\n";
($rc, $out) = apt(900, 'install', '/tmp/' . basename($deb));
ok($rc == 0, "apt-get install ./" . basename($deb) . " (dependencies from the archive)")
    or diag(tail_of($out, 30));
unlink "$root/tmp/" . basename($deb);
apt_cache('out');    # nginx, cJSON and hiredis stay downloaded for the next run

($rc, $out) = in_root(30, 'dpkg-query', '-W', '-f', '${Status}', $pkg);
is($out, 'install ok installed', "dpkg: $pkg is installed");

($rc, $out) = in_root(30, 'dpkg', '-L', $pkg);
my @listed = grep { m{^/} && $_ ne '/.' } split /\n/, $out;
my %listed = map { $_ => 1 } @listed;
ok($listed{$so} && -f "$root$so", "the module is in /usr/lib/nginx/modules");
ok($listed{$avail}, "the load_module snippet is in modules-available");
is(LLMTest::slurp("$root$avail"), "$loadline\n", "... and loads the module from modules/");
for my $ex (qw(nginx.conf llm_router_http.conf llm_router_locations.conf jarvis-5010.conf
               llm_log_format.conf prometheus.yml alerts.yml grafana-dashboard.json)) {
    my $p = "/usr/share/doc/$pkg/examples/$ex";
    ok($listed{$p} && -f "$root$p", "example $ex");
}
ok($listed{"/usr/share/doc/$pkg/copyright"}, "a copyright file");

ok(-l "$root$enabled", "postinst enabled it: $enabled is a symlink");
is(readlink("$root$enabled"), $avail, "... to the modules-available snippet");

($rc, $out) = in_root(60, 'nginx', '-t');
ok($rc == 0, "nginx -t with Debian's stock /etc/nginx/nginx.conf") or diag($out);

# the module's directives in a conf.d drop-in: loaded through the stock
# nginx.conf's modules-enabled include
my $upstreams = <<'CONF';
upstream ollama_big   { server 127.0.0.1:11434; }
upstream ollama_small { server 127.0.0.1:11435; }
llm_router_tier big   upstream=ollama_big   model=gpt-oss:20b;
llm_router_tier small upstream=ollama_small model=llama3.2:3b;
CONF
spew("$root/etc/nginx/conf.d/llm-router-test.conf", $upstreams);
($rc, $out) = in_root(60, 'nginx', '-t');
ok($rc == 0, "stock nginx.conf + a conf.d drop-in with llm_router_tier: nginx -t")
    or diag($out);
unlink "$root/etc/nginx/conf.d/llm-router-test.conf";

# control: without the modules-enabled include the directive is unknown,
# so the drop-in above did pass through the package's snippet
make_path("$root/srv/noinclude");
spew("$root/srv/noinclude/nginx.conf",
     "pid /srv/noinclude/nginx.pid;\nevents {}\nhttp {\n$upstreams}\n");
($rc, $out) = in_root(60, 'nginx', '-t', '-c', '/srv/noinclude/nginx.conf');
ok($rc != 0 && $out =~ /unknown directive "llm_router_tier"/,
   "control: without modules-enabled, llm_router_tier is unknown") or diag($out);

# the project's production nginx.conf next to the package: loads the
# module exactly once (whether by its own line or through modules-enabled)
my $cd = "$root/srv/llm-conf";
make_path("$cd/certs");
copy($_, "$cd/" . basename($_)) or die "$_: $!\n" for glob("$top/conf/*.conf");
copy("$root/etc/nginx/mime.types", "$cd/mime.types") or die "mime.types: $!\n";
($rc, $out) = run(60, 'openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
                  '-days', '2', '-subj', '/CN=router', '-keyout', "$cd/certs/router.key",
                  '-out', "$cd/certs/router.crt");
($rc, $out) = in_root(60, 'nginx', '-t', '-c', '/srv/llm-conf/nginx.conf');
ok($rc == 0, "conf/nginx.conf (with its snippets) passes nginx -t with the package")
    or diag($out);

# --- one routed request, served by the chroot's nginx -------------------------

SKIP: {
    skip "node is not installed: no mock Ollama tiers", 7
        unless grep { -x "$_/" . ($ENV{LLMTEST_NODE} || 'node') } split /:/, $ENV{PATH};
    LLMTest::start_mock($_) for LLMTest::tiers();
    my ($big, $small) = map { LLMTest::mock_port($_) } qw(big small);
    my $before = LLMTest::mock_stats('small')->{requests};
    my $port = LLMTest::free_port();
    my $s = '/srv/llmtest';
    make_path("$root$s/tmp");
    spew("$root$s/nginx.conf", <<"CONF");
include /etc/nginx/modules-enabled/*.conf;

daemon off;
master_process on;
worker_processes 1;
error_log $s/error.log info;
pid $s/nginx.pid;

events {
    worker_connections 64;
}

http {
    access_log $s/access.log;
    client_body_temp_path $s/tmp/body;
    proxy_temp_path $s/tmp/proxy;
    fastcgi_temp_path $s/tmp/fastcgi;
    uwsgi_temp_path $s/tmp/uwsgi;
    scgi_temp_path $s/tmp/scgi;

    upstream ollama_big   { server 127.0.0.1:$big; }
    upstream ollama_small { server 127.0.0.1:$small; }
    llm_router_tier big   upstream=ollama_big   model=gpt-oss:20b;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b;

    server {
        listen 127.0.0.1:$port;
        location / {
            llm_router on;
            proxy_pass http://\$llm_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # a loopback Ollama answers 403 to the upstream block's name
            proxy_set_header Host \$llm_upstream_host;
            add_header X-LLM-Route \$llm_target always;
            add_header X-LLM-Model \$llm_model always;
        }
    }
}
CONF
    ($rc, $out) = in_root(60, 'nginx', '-t', '-c', "$s/nginx.conf");
    ok($rc == 0, "the routing config passes nginx -t in the chroot") or diag($out);

    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if (!$pid) {
        POSIX::setpgid(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$root$s/stderr.log";
        open STDERR, '>&', \*STDOUT;
        { no warnings 'exec';
          exec 'chroot', $root, @in_env, '/usr/sbin/nginx', '-c', "$s/nginx.conf"; }
        POSIX::_exit(127);
    }
    $nginx = { pid => $pid };
    my $up = LLMTest::wait_until(sub {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                              Proto => 'tcp', Timeout => 1)
            || waitpid($pid, POSIX::WNOHANG()) == $pid;
    }, 10) && kill(0, $pid);
    ok($up, "the chroot's nginx listens on 127.0.0.1:$port")
        or diag(LLMTest::slurp("$root$s/stderr.log") . LLMTest::slurp("$root$s/error.log"));

    my $r = LLMTest::http_close($port, 'POST', '/api/generate',
                                '{"model":"auto","prompt":"hi","stream":false}',
                                { 'Content-Type' => 'application/json' });
    is($r->{status}, 200, "POST /api/generate through the packaged module: 200")
        or diag("$r->{status} $r->{content}\n" . LLMTest::slurp("$root$s/error.log"));
    is($r->{headers}{'x-llm-route'}, 'small', "X-LLM-Route: small (a simple prompt)");
    is($r->{headers}{'x-llm-model'}, 'llama3.2:3b', "X-LLM-Model: llama3.2:3b");
    is(LLMTest::mock_stats('small')->{requests}, $before + 1,
       "the small mock tier answered it");

    my $st = LLMTest::stop_nginx($nginx);
    undef $nginx;
    my @bad = grep { /\[(alert|crit|emerg)\]|exited on signal/ }
              split /\n/, LLMTest::slurp("$root$s/error.log");
    ok(defined $st && !@bad, "nginx stopped cleanly, no alert in its log")
        or diag(join "\n", @bad);
}

# --- purge ---------------------------------------------------------------------

($rc, $out) = apt(600, 'purge', $pkg);
ok($rc == 0, "apt-get purge $pkg") or diag(tail_of($out, 20));
($rc, $out) = in_root(30, 'dpkg-query', '-W', '-f', '${Status}', $pkg);
ok($rc != 0 || $out !~ /installed/, "dpkg no longer knows it as installed");

my @left;
for my $p (@listed) {
    next unless -e "$root$p" || -l "$root$p";
    # a directory stays if another package owns it too
    next if -d "$root$p" && !-l "$root$p" && in_root(30, 'dpkg-query', '-S', $p) == 0;
    push @left, $p;
}
is("@left", '', "every file and directory of the package is gone ("
                . scalar(@listed) . " listed)");
ok(!-e "$root$enabled" && !-l "$root$enabled" && !-l "$root$enabled.removed",
   "the modules-enabled symlink is gone");
($rc, $out) = in_root(60, 'nginx', '-t');
ok($rc == 0, "stock nginx -t still passes after the purge") or diag($out);

done_testing();
