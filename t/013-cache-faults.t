# The cache never makes a request fail or wait long: Redis absent at start,
# killed, restarted, slow, refusing the password or the db, and a client
# that leaves before Redis answers.
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use Time::HiRes qw(time);
use IO::Socket::INET;

my $big = $ENV{TEST_NGINX_BIG_PORT};
my $small = $ENV{TEST_NGINX_SMALL_PORT};

sub conf {
    my ($port, $redis) = @_;
    return <<"CONF";
    upstream ollama_big { server 127.0.0.1:$big; keepalive 8; }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b;
    llm_redis $redis;

    server {
        listen 127.0.0.1:$port;
        proxy_set_header Host \$llm_upstream_host;
        llm_cache on;
        location / {
            llm_router on;
            proxy_pass http://\$llm_upstream;
        }
        location = /status { llm_router_status; }
    }
CONF
}

my $n = 0;
sub ask {
    my ($port, $prompt) = @_;
    $prompt //= "fault " . $n++;
    my $t0 = time;
    my $r = LLMTest::http($port, 'POST', '/api/generate',
                          qq({"model":"auto","stream":false,"prompt":"$prompt"}));
    return ($r->{status}, $r->{headers}{'x-llm-cache'} // '-', time - $t0);
}

sub redis_state { LLMTest::status(shift)->{cache}{redis} }

# 1. no redis at start, then it comes, goes, and comes back ----------------

my $rport = LLMTest::free_port();
my $port = LLMTest::free_port();
my $root = "t/servroot-faults";
# a timeout the machine's load cannot reach: this part is about outages
my $nginx = LLMTest::start_nginx($root, $port,
                                 conf($port, "127.0.0.1:$rport timeout=1s"),
                                 log_level => 'info');

my ($st, $c, $dt) = ask($port);
is("$st $c", "200 ERROR", "redis not running at start: answered, ERROR");
ask($port) for 1 .. 3;

LLMTest::start_redis($rport);
ok(LLMTest::wait_until(sub { redis_state($port) eq 'up' }, 15), "redis started: the module connects");
is(join(' ', (ask($port, "again"))[0, 1]), "200 MISS", "then MISS");
ok(LLMTest::wait_until(sub { (ask($port, "again"))[1] eq 'HIT' }, 5), "then HIT");

LLMTest::stop_redis($rport);
($st, $c, $dt) = ask($port, "again");
is("$st $c", "200 ERROR", "redis killed: answered by the tier, ERROR");
cmp_ok($dt, '<', 1, "... without waiting");
ask($port) for 1 .. 3;

LLMTest::start_redis($rport);
ok(LLMTest::wait_until(sub { redis_state($port) eq 'up' }, 15), "redis restarted: reconnected");
is(join(' ', (ask($port, "again"))[0, 1]), "200 MISS", "MISS (the restarted redis is empty)");
ok(LLMTest::wait_until(sub { (ask($port, "again"))[1] eq 'HIT' }, 5), "then HIT again");

LLMTest::stop_nginx($nginx);
my $log = LLMTest::slurp("$root/logs/error.log");
my @down = ($log =~ /redis 127\.0\.0\.1:\d+ unavailable/g);
my @up = ($log =~ /redis 127\.0\.0\.1:\d+ connected/g);
is(scalar(@down), 2, "one warning per outage, not one per attempt or request");
is(scalar(@up), 2, "one notice per recovery");
unlike($log, qr/\[(error|crit|alert|emerg)\]/, "nothing above warn");
LLMTest::nginx_clean($root);
LLMTest::stop_redis($rport);

# 2. slow redis, and a client that leaves before redis answers -------------

$rport = LLMTest::start_redis(undef, '--enable-debug-command', 'yes');
$port = LLMTest::free_port();
$root = "t/servroot-slow";
$nginx = LLMTest::start_nginx($root, $port,
                              conf($port, "127.0.0.1:$rport timeout=200ms"));
ok(LLMTest::wait_until(sub { redis_state($port) eq 'up' }, 10), "connected");

my $sleeper = fork;
if ($sleeper == 0) {
    LLMTest::redis($rport, 'DEBUG', 'SLEEP', '1.5');
    POSIX::_exit(0);
}
Time::HiRes::sleep(0.1);    # let DEBUG SLEEP reach redis first

($st, $c, $dt) = ask($port);
is("$st $c", "200 ERROR", "redis sleeping: answered by the tier, ERROR");
cmp_ok($dt, '<', 1, "... within the timeout plus backend time");

# a client that sends its request and leaves while the lookup is pending
{
    my $body = '{"model":"auto","stream":false,"prompt":"leaving"}';
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
    print $s "POST /api/generate HTTP/1.1\r\nHost: x\r\nContent-Length: "
        . length($body) . "\r\n\r\n$body";
    close $s;
}
waitpid($sleeper, 0);

ok(LLMTest::wait_until(sub { my @a = ask($port, "after sleep"); $a[0] == 200 && $a[1] ne 'ERROR' }, 10),
   "after the sleep, late replies were dropped and the cache works again");
LLMTest::stop_nginx($nginx);
LLMTest::nginx_clean($root);
LLMTest::stop_redis($rport);

# 3. wrong password, wrong db ----------------------------------------------

$rport = LLMTest::start_redis(undef, '--requirepass', 's3cret');
for my $case (["password=wrong", "AUTH"], ["password=s3cret db=99", "SELECT"]) {
    my ($opts, $what) = @$case;
    $port = LLMTest::free_port();
    $root = "t/servroot-auth";
    $nginx = LLMTest::start_nginx($root, $port,
                                  conf($port, "127.0.0.1:$rport $opts"));
    ok(LLMTest::wait_until(sub {
           LLMTest::slurp("$root/logs/error.log") =~ /refused $what/ }, 10),
       "$what refused: a clear log line");
    is(join(' ', (ask($port))[0, 1]), "200 ERROR", "... the cache is off, traffic flows");
    ask($port) for 1 .. 3;
    LLMTest::stop_nginx($nginx);
    $log = LLMTest::slurp("$root/logs/error.log");
    my @lines = ($log =~ /refused $what/g);
    is(scalar(@lines), 1, "... logged once");
    unlike($log, qr/s3cret|wrong/, "... and the password is never logged");
}
LLMTest::stop_redis($rport);

$port = LLMTest::free_port();
$rport = LLMTest::start_redis(undef, '--requirepass', 's3cret');
$nginx = LLMTest::start_nginx("t/servroot-auth", $port,
                              conf($port, "127.0.0.1:$rport password=s3cret db=3"));
ok(LLMTest::wait_until(sub { redis_state($port) eq 'up' }, 10), "right password and db: up");
ask($port, "in db 3");
ok(LLMTest::wait_until(sub {
       my $k = LLMTest::redis_session($rport, ['AUTH', 's3cret'], ['SELECT', '3'],
                                      ['KEYS', 'llm:*']);
       ref $k && @$k == 1 }, 5), "... entries are written to db 3");
LLMTest::stop_nginx($nginx);
LLMTest::stop_redis($rport);

done_testing();
