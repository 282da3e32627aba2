#!/usr/bin/env perl
# Runs t/*.t suites with TAP::Harness (the engine behind prove), prints the
# usual prove summary, a line "tap failed: FILE (tests ...)" per suite with
# a problem, then one line "tap: N passed, N failed" where a suite that died
# or ended with a wrong plan counts as one more failure.
use strict;
use warnings;
use TAP::Harness;

my @files = @ARGV ? @ARGV : sort glob("t/*.t");
my $harness = TAP::Harness->new({
    lib       => ['t/runner', 't/lib'],
    verbosity => $ENV{TEST_VERBOSE} ? 1 : 0,
    timer     => 1,
    color     => -t STDOUT ? 1 : 0,
});

my $agg = $harness->runtests(@files);

my $passed = scalar $agg->passed;
my $failed = scalar $agg->failed;

my @bad;
for my $file ($agg->descriptions) {
    my ($parser) = $agg->parsers($file);
    $failed++ if $parser->has_problems && !$parser->failed;
    next unless $parser->has_problems;
    my @n = $parser->failed;
    push @bad, $file . (@n ? " (tests @n)" : ' (died or wrong plan)');
}

# repeated just above the total, where a log's tail shows it
print "tap failed: $_\n" for @bad;

print "tap: $passed passed, $failed failed\n";
exit($failed ? 1 : 0);
