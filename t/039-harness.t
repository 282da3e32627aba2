# t/harness.pl, the runner behind "make test", names what failed: a line
# "tap failed: FILE (tests N ...)" per suite with a failed test, one for a
# suite that died, then the total, which counts the dead suite once more.
# make test repeats those lines above its own total, where a log's tail
# (all CI keeps) shows them.
use strict;
use warnings;
use Test::More;
use File::Temp ();

my $dir = File::Temp->newdir();

sub suite {
    my ($name, $body) = @_;
    open my $fh, '>', "$dir/$name" or die "$dir/$name: $!\n";
    print $fh "use strict;\nuse warnings;\nuse Test::More;\n$body";
    close $fh;
    return "$dir/$name";
}

my $good = suite('good.t', "ok(1);\nok(1);\ndone_testing();\n");
my $bad = suite('bad.t', "ok(1);\nok(0);\nok(1);\nok(0);\ndone_testing();\n");
my $dead = suite('dead.t', "plan tests => 3;\nok(1);\ndie \"gone\\n\";\n");

my $out = `perl t/harness.pl $good $bad $dead 2>&1`;
my $rc = $? >> 8;

isnt($rc, 0, 'a failure: the runner exits non-zero');
like($out, qr/^tap failed: \Q$bad\E \(tests 2 4\)$/m,
     'a suite with failed tests: named with their numbers');
like($out, qr/^tap failed: \Q$dead\E \(died or wrong plan\)$/m,
     'a suite that died: named');
unlike($out, qr/^tap failed: \Q$good\E/m, 'a suite that passed: not named');
like($out, qr/\ntap: 5 passed, 3 failed\n\z/,
     'the total is the last line: the two failed tests and the dead suite');

$out = `perl t/harness.pl $good 2>&1`;
is($? >> 8, 0, 'all passed: exit code 0');
unlike($out, qr/^tap failed:/m, '... and no suite named');

done_testing();
