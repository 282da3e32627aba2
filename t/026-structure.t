# The source's shape, checked on the built objects and the files:
#   - every .c has its own header;
#   - no cycle among the headers' includes, nor among the files' calls
#     (a function of A calls one of B, and back, directly or around);
#   - tiers are a list: no fixed tier names or two-tier arithmetic outside
#     the policy and the directive parser;
#   - the request context keeps its progress in one state field.
use strict;
use warnings;
use Test::More;

my $src = 'src';
my $obj = 'build/nginx/addon/src';

my @c = sort glob("$src/*.c");
ok(@c > 10, 'source files found');

# a command-line tool's main() needs no header of its own
for my $c (grep { !/_cli\.c$/ } @c) {
    (my $h = $c) =~ s/\.c$/.h/;
    ok(-f $h, "$c has its header");
}

# includes: "file.h" edges between our own files
my %inc;
for my $f (glob("$src/*.[ch]")) {
    open my $fh, '<', $f or die "$f: $!";
    (my $n = $f) =~ s{.*/}{};
    while (<$fh>) {
        $inc{$n}{$1} = 1 if /^#include\s+"([^"]+)"/;
    }
}

my @cycle = cycles(\%inc);
is("@cycle", '', 'no include cycle');

SKIP: {
    skip 'module not built', 1 unless glob("$obj/*.o");

    # calls: functions a file uses that another file defines
    my (%def, %use, %call);
    for my $o (glob("$obj/*.o")) {
        (my $n = $o) =~ s{.*/}{};
        $n =~ s/\.o$//;
        for (`nm $o`) {
            $def{$1} = $n if /^\S+\s+T\s+(\S+)/;
            push @{$use{$n}}, $1 if /^\s+U\s+(\S+)/;
        }
    }

    for my $n (keys %use) {
        for my $s (@{$use{$n}}) {
            my $to = $def{$s};
            $call{$n}{$to} = 1 if defined $to && $to ne $n;
        }
    }

    @cycle = cycles(\%call);
    is("@cycle", '', 'no call cycle between source files');
}

# tiers: names and counts only where tiers are declared and ranked
my %allowed = map { ("$src/$_" => 1) }
    qw(ngx_llm_policy.c ngx_llm_policy.h ngx_http_llm_router_module.c);

for my $f (glob("$src/ngx_http_*.[ch]"), glob("$src/ngx_llm_*.[ch]")) {
    open my $fh, '<', $f or die "$f: $!";
    my @bad;
    while (<$fh>) {
        next if m{^\s*(/?\*|//)};
        push @bad, "$.: $_" if !$allowed{$f} && /NGX_(HTTP_)?LLM_(BIG|SMALL)\b/;
        push @bad, "$.: $_" if /\btier\w*\s*\[\s*[23]\s*\]|\b(tier|load)\w*\s*\[\s*1\s*-/;
        push @bad, "$.: $_" if /\b\w*tier\w*\s*<\s*2\b|\bi\s*<\s*2\b/;
        push @bad, "$.: $_" if /\b1\s*-\s*(ctx->)?(tier|failed|other|t)\b/;
        push @bad, "$.: $_" if /NGX_HTTP_LLM_TIERS\b/;
    }
    is(join('', @bad), '', "$f: tiers are a list");
}

# the request context: one state, a handful of flags, no "index + 1"
open my $fh, '<', "$src/ngx_http_llm_ctx.h" or die "ngx_http_llm_ctx.h: $!";
my $h = do { local $/; <$fh> };
my ($ctx) = $h =~ /struct ngx_http_llm_ctx_s \{(.*?)\n\};/s;
ok(defined $ctx, 'the context is declared in ngx_http_llm_ctx.h');
$ctx //= '';
my @flags = $ctx =~ /^\s+unsigned\s+\w+:1;/mg;
my @states = $ctx =~ /^\s+ngx_http_llm_state_e\s+\w+;/mg;
is(scalar @states, 1, 'one state field');
cmp_ok(scalar @flags, '<=', 6, 'a handful of one-bit flags');
unlike($ctx, qr/\+ *1|index1|_plus_one/, 'no "index + 1" fields');

done_testing();


# the cycles of a directed graph, as "a>b>a" strings
sub cycles {
    my ($g) = @_;
    my (%state, @stack, @found);
    my $visit;
    $visit = sub {
        my ($n) = @_;
        $state{$n} = 1;
        push @stack, $n;
        for my $m (sort keys %{$g->{$n} || {}}) {
            if (($state{$m} // 0) == 1) {
                my @loop;
                for (my $i = $#stack; $i >= 0; $i--) {
                    unshift @loop, $stack[$i];
                    last if $stack[$i] eq $m;
                }
                push @found, join('>', @loop, $m);
            } elsif (!$state{$m}) {
                $visit->($m);
            }
        }
        pop @stack;
        $state{$n} = 2;
    };
    $visit->($_) for sort keys %$g;
    return @found;
}
