# llm_router_share redis: routers in front of the same big tier
# (max_inflight=2, no queue) split its two slots through a real Redis, as
# grants leased by one Lua script (src/ngx_http_llm_share.c).
#
# The script first, through Redis, with routers simulated here: the split
# by demand, a shrinking grant freeing its slots only once its router
# reports using it, expired leases, and a random run of exchanges,
# admissions and replies that arrive late, out of order or never, in
# which the routers never have more than the room in flight together.
#
# Then two nginx: a burst of slow requests on both at once never puts
# more than 2 on big (the mock counts); a killed router's grant returns
# to the other within a lease and an interval; Redis down: a router
# counts alone after a lease, and one started without Redis holds no slot
# of big until then; Redis back: the routers share again.
# llm_router_share_age_seconds: how old the last reading is (absent
# before the first).
use strict;
use warnings;
use lib 't/lib';
use LLMTest;
use Test::More;
use JSON::PP;
use File::Temp ();
use Time::HiRes ();

my $json = JSON::PP->new->canonical;
my $rport = LLMTest::start_redis(undef);
my ($big, $small) = map { LLMTest::mock_port($_) } qw(big small);
my $slow = $ENV{TEST_NGINX_USE_VALGRIND} ? 3 : 1;    # timing slack

# --- the script, through Redis ---------------------------------------------

my $lua = do {
    my $src = LLMTest::slurp('src/ngx_http_llm_share.c');
    my ($body) = $src =~ /ngx_http_llm_share_lua\[\] =\n(.*?);\n/s;
    my $text = '';
    while ($body =~ /"((?:[^"\\]|\\.)*)"/g) {
        (my $s = $1) =~ s/\\(.)/$1 eq 'n' ? "\n" : $1/ge;
        $text .= $s;
    }
    $text;
};
like($lua, qr/\A-- llm_router_share: begin\n.*-- llm_router_share: end\n\z/s,
     'the share script, from the source');

# a simulated router: its grants and the number of the exchange they
# came from, as the zone holds them
sub router { return { id => shift, seq => 0, applied => 0, grant => {} } }

# exchange($router, $lease, [tier, room, inflight, demand], ...): one run
# of the script; returns { tier => [grant, others' inflight, others] }
# and the exchange's number
sub run_script {
    my ($r, $lease, $applied, $seq, @tiers) = @_;
    my $reply = LLMTest::redis($rport, 'EVAL', $lua, scalar(@tiers),
        (map { "test:share:$_->{tier}" } @tiers),
        $r->{id}, $lease, $seq, $applied,
        map { ($_->{room}, $_->{inflight}, $_->{demand}, $_->{grant}) }
        @tiers);
    die "script: $reply\n" unless ref $reply eq 'ARRAY';
    my %out;
    for my $k (0 .. $#tiers) {
        $out{ $tiers[$k]{tier} } = [ @$reply[3 * $k .. 3 * $k + 2] ];
    }
    return \%out;
}

# an exchange whose reply is applied at once
sub exchange {
    my ($r, $lease, @tiers) = @_;
    my $seq = ++$r->{seq};
    my $out = run_script($r, $lease, $r->{applied}, $seq,
        map { { tier => $_->[0], room => $_->[1], inflight => $_->[2],
                demand => $_->[3], grant => $r->{grant}{ $_->[0] } // 0 } }
        @tiers);
    $r->{grant}{$_} = $out->{$_}[0] for keys %$out;
    $r->{applied} = $seq;
    return $out;
}

my $L = 60000;
my ($x, $y) = (router('x'), router('y'));
is(exchange($x, $L, ['t', 4, 0, 0])->{t}[0], 4, 'script: a router alone gets the room');
is(exchange($y, $L, ['t', 4, 0, 0])->{t}[0], 0,
   '... a second one gets nothing the first still holds');
is(exchange($x, $L, ['t', 4, 0, 0])->{t}[0], 2, '... the first is cut to half');
is(exchange($y, $L, ['t', 4, 0, 0])->{t}[0], 0,
   '... which frees nothing until it reports using it');
is(exchange($x, $L, ['t', 4, 0, 0])->{t}[0], 2, '... it reports');
my $o = exchange($y, $L, ['t', 4, 0, 0])->{t};
is("@$o", '2 0 1', '... the second has its half (others: 0 in flight, 1 router)');

# demand: x busy and asking for more, y idle
exchange($x, $L, ['t', 4, 2, 6]);
exchange($y, $L, ['t', 4, 0, 0]);
exchange($y, $L, ['t', 4, 0, 0]);
is(exchange($x, $L, ['t', 4, 2, 6])->{t}[0], 4,
   'script: demand takes what an idle router does not need');

# y asks for 3 while x has 3 in flight: y gets the one x does not use,
# once x has reported its grant of 3
is(exchange($y, $L, ['t', 4, 0, 3])->{t}[0], 0,
   '... a router asking gets nothing the other still holds');
is(exchange($x, $L, ['t', 4, 3, 6])->{t}[0], 3,
   '... the other is cut, never below its requests in flight');
exchange($x, $L, ['t', 4, 3, 6]);
is(exchange($y, $L, ['t', 4, 0, 3])->{t}[0], 1, '... then it has the rest');

# x's requests end: max-min fair, 2 and 2 for demands 6 and 3
is(exchange($x, $L, ['t', 4, 1, 6])->{t}[0], 2,
   'script: as requests end, max-min fair by demand');
exchange($x, $L, ['t', 4, 1, 6]);
is(exchange($y, $L, ['t', 4, 0, 3])->{t}[0], 2, '... 2 and 2 for 6 and 3');
is(exchange($x, $L, ['t', 4, 3, 6])->{t}[0], 2,
   '... but never more than the others leave: 2 with 3 in flight '
   . '(pinned requests go past grants)');

# leases: a router that stops exchanging is dropped, its slots free
my ($z, $w) = (router('z'), router('w'));
is(exchange($z, 300, ['e', 3, 1, 1])->{e}[0], 3, 'script: z takes the room');
is(exchange($w, 300, ['e', 3, 0, 0])->{e}[0], 0, '... w gets none');
Time::HiRes::sleep(0.4);
$o = exchange($w, 300, ['e', 3, 0, 0])->{e};
is("@$o", '3 0 0', '... z\'s lease expired: w has it all, alone');
is_deeply(LLMTest::redis($rport, 'HKEYS', 'test:share:e'), ['w'],
          '... z is gone from the hash');

# tiers by name, several at once, each split on its own
$o = exchange(router('v'), $L, ['t', 4, 0, 0], ['u', 8, 0, 0]);
is("$o->{t}[0] $o->{u}[0] $o->{u}[2]", '0 8 0',
   'script: several tiers in one exchange, each its own split');

# two workers, two connections: an exchange's report can reach Redis
# after a later one; it does not stand for the grant its router enforces
sub raw {
    my ($id, $seq, $applied, $inflight, $demand, $grant) = @_;
    return run_script({ id => $id }, $L, $applied, $seq,
        { tier => 'o', room => 2, inflight => $inflight, demand => $demand,
          grant => $grant })->{o}[0];
}
is(raw('q', 1, 0, 0, 0, 0), 2, 'script, a late report: q alone has 2');
is(raw('p', 1, 0, 0, 2, 0), 0, '... p asks, q holds them');
is(raw('q', 2, 1, 0, 0, 2), 0, '... q gives them up');
is(raw('q', 3, 2, 0, 0, 0), 0, '... and reports it');
is(raw('p', 3, 1, 0, 2, 0), 2, '... p has both');
is(raw('p', 4, 3, 0, 2, 2), 2, '... and reports enforcing them');
is(raw('q', 4, 3, 0, 2, 0), 0, '... q asks');
is(raw('p', 5, 4, 0, 2, 2), 1, '... p is cut to 1, its reply on its way');
raw('p', 2, 1, 0, 2, 0);    # p's exchange 2, sent long ago, runs now
is(raw('q', 5, 4, 0, 2, 0), 0,
   '... p\'s older report, run late, does not free what p enforces');

# A random run.  Three routers, a room of 5.  Each step: a router admits
# a request if below its grant, or one of its requests ends, or it sends
# an exchange (its state read now, run by Redis later: queued), or Redis
# runs a queued exchange (any router's, in any order: two workers, two
# connections), or a reply arrives (late, out of order: applied only if
# newer than the grants held) or is lost.  The requests in flight never
# exceed the room together.
srand(36);
my $room = 5;
my @r = map { my $h = router("r$_"); $h->{inflight} = 0; $h->{replies} = [];
              $h } 1 .. 3;
my @queued;
my ($max, $bad) = (0, 0);
for my $step (1 .. 3000) {
    my $h = $r[int rand 3];
    my $a = rand;
    my $g = $h->{grant}{s} // 0;
    if ($a < 0.35) {
        $h->{inflight}++ if $h->{inflight} < $g;
    } elsif ($a < 0.55) {
        $h->{inflight}-- if $h->{inflight} > 0;
    } elsif ($a < 0.7) {
        push @queued, [ $h, $h->{applied}, ++$h->{seq},
            { tier => 's', room => $room, inflight => $h->{inflight},
              demand => $h->{inflight} + int rand 4, grant => $g } ];
    } elsif ($a < 0.85) {
        next unless @queued;
        my ($q) = splice @queued, int rand @queued, 1;
        my $out = run_script($q->[0], $L, $q->[1], $q->[2], $q->[3]);
        push @{ $q->[0]{replies} }, [ $q->[2], $out->{s}[0] ];
    } else {
        next unless @{ $h->{replies} };
        my ($rep) = splice @{ $h->{replies} }, int rand @{ $h->{replies} }, 1;
        if (rand() < 0.9 && $rep->[0] > $h->{applied}) {
            $h->{grant}{s} = $rep->[1];
            $h->{applied} = $rep->[0];
        }
    }
    my $sum = 0;
    $sum += $_->{inflight} for @r;
    $max = $sum if $sum > $max;
    $bad++ if $sum > $room;
}
is($bad, 0, "script: a random run never has more than the room in flight "
            . "(at most $max of $room)");
ok($max >= $room - 1, '... and fills it');

# --- two routers -------------------------------------------------------------

sub conf {
    my ($port, $lease) = @_;
    $lease //= '1s';
    return <<"CONF";
    upstream ollama_big { server 127.0.0.1:$big; keepalive 8; }
    upstream ollama_small { server 127.0.0.1:$small; keepalive 8; }
    llm_router_zone llm 1m;
    llm_router_tier big upstream=ollama_big model=gpt-oss:20b max_inflight=2;
    llm_router_tier small upstream=ollama_small model=llama3.2:3b
                    max_inflight=16;
    llm_redis 127.0.0.1:$rport timeout=300ms;
    llm_router_share redis interval=100ms lease=$lease;

    server {
        listen 127.0.0.1:$port;
${\ LLMTest::fallback_server(read_timeout => '30s') }
        add_header X-LLM-Route \$llm_target always;
        add_header X-LLM-Reason \$llm_route_reason always;
        location = /status { llm_router_status; }
    }
CONF
}

my @port = map { LLMTest::free_port() } 0 .. 2;
my @nginx = map { LLMTest::start_nginx("t/servroot-share$_", $port[$_],
                                       conf($port[$_]),
                                       log_level => 'notice') } 0 .. 1;

sub metric {
    my ($p, $re) = @_;
    my $m = LLMTest::http($p, 'GET', '/status')->{content};
    return $m =~ $re ? $1 : -1;
}

sub slots {
    return metric(shift, qr/^llm_router_tier_share_slots\{tier="big"\} (\d+)$/m);
}

my $n = 0;
sub complex {
    return $json->encode({ model => 'auto', stream => JSON::PP::false,
        prompt => 'Prove step by step that there are infinitely many primes'
                . ' and analyze the proof, case ' . $n++ . '.' });
}

# @answers = burst([$port, $count], ...): that many complex prompts to each
# router, all at once, each on its own connection; "route reason status"
sub burst {
    my $out = File::Temp->new;
    my @kids;
    for my $b (@_) {
        for (1 .. $b->[1]) {
            my $body = complex();
            my $pid = fork;
            die "fork: $!" unless defined $pid;
            if ($pid == 0) {
                my $r = LLMTest::http_close($b->[0], 'POST', '/api/generate',
                                            $body);
                open my $fh, '>>', $out->filename or POSIX::_exit(1);
                syswrite $fh, ($r->{headers}{'x-llm-route'} // '-') . ' '
                    . ($r->{headers}{'x-llm-reason'} // '-')
                    . " $r->{status}\n";
                POSIX::_exit(0);
            }
            push @kids, $pid;
        }
    }
    waitpid($_, 0) for @kids;
    return split /\n/, LLMTest::slurp($out->filename);
}

ok(LLMTest::wait_until(sub {
       metric($port[1], qr/^llm_router_share_routers (\d+)$/m) == 1
       && metric($port[0], qr/^llm_router_share_routers (\d+)$/m) == 1 },
       10 * $slow),
   'each router sees the other');
ok(LLMTest::wait_until(sub { slots($port[0]) == 1 && slots($port[1]) == 1 },
                       10 * $slow),
   'idle, they hold one slot of big each');

my $age_re = qr/^llm_router_share_age_seconds (\d+\.\d{3})$/m;
my $age = metric($port[1], $age_re);
ok($age >= 0 && $age < 1, "the reading's age: under a second ($age s)");
$age = LLMTest::status($port[1])->{router}{share_age_seconds};
ok(defined $age && $age >= 0 && $age < 1, "... in the JSON too ($age)");

# a burst on both at once: 6 slow requests to each
LLMTest::mock_config('big', { ttft => 2500 * $slow });
LLMTest::mock_reset('big');
my @a = burst([$port[0], 6], [$port[1], 6]);
is(scalar(grep { / 200$/ } @a), 12, 'burst: 12 answers')
    or diag(join "\n", @a);
# the bound is the point; how many of its slots a burst finds free depends
# on when it meets the exchanges (a grant moving between the routers)
my $to_big = grep { /^big / } @a;
ok($to_big >= 1 && $to_big <= 2, "... $to_big of them from big")
    or diag(join "\n", @a);
is(scalar(grep { /^small queue 200$/ } @a), 12 - $to_big,
   '... the others from small')
    or diag(join "\n", @a);
cmp_ok(LLMTest::mock_stats('big')->{max_inflight_seen}, '<=', 2,
   '... big never had more than its max_inflight (its own count)');

# router A killed (master and worker): its lease expires, its slot
# returns to B within a lease and an interval
kill 'KILL', -$nginx[0]{pid};
waitpid($nginx[0]{pid}, 0);
my $t0 = Time::HiRes::time();
ok(LLMTest::wait_until(sub { slots($port[1]) == 2 }, 10 * $slow),
   'router A killed: B has both slots of big');
my $took = Time::HiRes::time() - $t0;
cmp_ok($took, '<', 1.1 + 0.5 * $slow,
       sprintf('... within the lease and an interval (%.2f s)', $took));
ok(LLMTest::wait_until(sub {
       metric($port[1], qr/^llm_router_share_routers (\d+)$/m) == 0 },
       10 * $slow),
   '... and then sees no other router (nor its requests in flight)');
LLMTest::mock_reset('big');
@a = burst([$port[1], 2]);
is(join(',', sort @a), 'big complexity 200,big complexity 200',
   '... two slow requests at once on B: both to big');
is(LLMTest::mock_stats('big')->{max_inflight_seen}, 2, '... 2 at once');
LLMTest::mock_restore('big');

# Redis down: B counts alone after a lease, and says so
LLMTest::stop_redis($rport);
ok(LLMTest::wait_until(sub {
       LLMTest::slurp("t/servroot-share1/logs/error.log")
           =~ /in-flight counts not shared \(.*\): this router counts alone/ },
       10 * $slow), 'redis down: B logs that it counts alone');
my $r = LLMTest::http($port[1], 'POST', '/api/generate', complex());
is($r->{headers}{'x-llm-route'}, 'big', '... and routes on its own counts');
ok(LLMTest::wait_until(sub { metric($port[1], $age_re) > 1 }, 10 * $slow),
   '... its last reading ages past the lease (1 s): '
   . metric($port[1], $age_re) . ' s');

# a router started without Redis holds no slot for a lease: every tier
# is full for it, and llm_router_both_full decides (least_loaded: the
# request waits at the least loaded tier, "queue"); then it counts alone
my $lease = 3 * $slow;
push @nginx, LLMTest::start_nginx("t/servroot-share2", $port[2],
                                  conf($port[2], "${lease}s"),
                                  log_level => 'notice');
my $c0 = Time::HiRes::time();
$r = LLMTest::http($port[2], 'POST', '/api/generate', complex());
my $early = Time::HiRes::time() - $c0 < $lease;
is("$r->{headers}{'x-llm-reason'}" . ($early ? '' : ' (late)'), 'queue',
   'a router started without redis: every tier full for it');
is(slots($port[2]) . ' '
   . metric($port[2], qr/^llm_router_tier_share_slots\{tier="small"\} (\d+)$/m),
   '0 0', '... it holds no slot');
my $m = LLMTest::http($port[2], 'GET', '/status')->{content};
ok($m =~ /^# TYPE llm_router_share_age_seconds gauge$/m
   && $m !~ /^llm_router_share_age_seconds /m,
   '... and has no reading: llm_router_share_age_seconds absent');
my $j = LLMTest::status($port[2])->{router};
ok(exists $j->{share_age_seconds} && !defined $j->{share_age_seconds},
   '... null in the JSON');
ok(LLMTest::wait_until(sub {
       LLMTest::slurp("t/servroot-share2/logs/error.log")
           =~ /this router counts alone/ }, 10 * $slow),
   '... after a lease it counts alone, and says so');
$r = LLMTest::http($port[2], 'POST', '/api/generate', complex());
is("$r->{headers}{'x-llm-route'} $r->{headers}{'x-llm-reason'}",
   'big complexity', '... and routes on its own counts');
is(slots($port[2]), 2, '... all of big for itself');

# Redis back: B and C share again
LLMTest::start_redis($rport);
ok(LLMTest::wait_until(sub {
       LLMTest::slurp("t/servroot-share$_/logs/error.log")
           =~ /counts shared with the other routers again/ }, 20 * $slow),
   "redis back: router " . ($_ == 1 ? 'B' : 'C') . " shares again")
    for 1, 2;
ok(LLMTest::wait_until(sub { slots($port[1]) == 1 && slots($port[2]) == 1 },
                       10 * $slow),
   '... one slot of big each');

LLMTest::forget_connections();
for (1, 2) {
    LLMTest::stop_nginx($nginx[$_]);
    LLMTest::nginx_clean("t/servroot-share$_");
}

done_testing();
