package Test::Nginx::Runner::HTTP;

# Raw HTTP/1.x client used by the project's Test::Nginx::Socket subset:
# builds requests from the "--- request" / "--- more_headers" sections,
# talks to nginx over a plain IO::Socket::INET socket and parses the
# (possibly chunked) response.  No LWP / HTTP::Message needed.

use strict;
use warnings;

use IO::Socket::INET ();
use IO::Select ();
use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use Time::HiRes qw(sleep time);

our $VERSION = '0.01';

# ----------------------------------------------------------------------
# request building

# Turns the text of "--- more_headers" into "Name: value\r\n" lines.
# Returns (header_text, is_chunked).
sub format_more_headers {
    my ($text) = @_;
    $text = '' unless defined $text;
    my $out = '';
    my $chunked = 0;
    for my $line (split /\n+/, $text) {
        next if $line =~ /^\s*#/;
        next if $line !~ /\S/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val = '' unless defined $val;
        $chunked = 1 if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $chunked);
}

# Builds the bytes of one request from a "--- request" style string:
# first line "METHOD [URI [VERSION]]", the rest is the body.
# Dies with a message on a malformed request line.
sub build_request {
    my (%a) = @_;
    my $req = $a{request};
    my $host = defined $a{host} ? $a{host} : 'localhost';
    my $conn = defined $a{connection} ? $a{connection} : 'close';
    my ($hdrs, $chunked) = format_more_headers($a{more_headers});

    die "request is empty\n" unless defined $req;

    # drop leading blank space and "# comment" lines
    while ($req =~ s/\A\s+// || $req =~ s/\A#[^\n]*(?:\n|\z)//) { }

    my ($first, $body);
    if ($req =~ /\A([^\n]*)\n(.*)\z/s) {
        ($first, $body) = ($1, $2);
    } else {
        ($first, $body) = ($req, '');
    }
    die "request line should be non-empty\n" if $first !~ /\S/;

    my @words = split ' ', $first;
    if (@words > 3) {
        die "request line is not valid: should be 'METHOD [URI [VERSION]]' "
            . "but got \"$first\"\n";
    }
    my ($method, $uri, $ver) = @words;
    $uri = '/' unless defined $uri;
    $ver = 'HTTP/1.1' unless defined $ver;

    my $extra = '';
    if ($hdrs !~ /(?:^|\n)Host:/i) {
        $extra .= "Host: $host\r\n";
    }
    if ($hdrs !~ /(?:^|\n)Connection/i) {
        $extra .= "Connection: $conn\r\n";
    }

    my $len = '';
    if (!$chunked && $body ne '' && $hdrs !~ /(?:^|\n)Content-Length:/) {
        # like the CPAN scaffold: surrounding white space of the body is
        # not sent when the length is computed for you
        $body =~ s/\A\s+//;
        $body =~ s/\s+\z//;
        $len = "Content-Length: " . length($body) . "\r\n";
    }

    return "$method $uri $ver\r\n$extra$hdrs$len\r\n$body";
}

# ----------------------------------------------------------------------
# sending

# Sends the given packets (array of byte strings; $a{delay} seconds
# between them) and reads until the server closes the connection, an
# I/O error happens, or no I/O event happened for $a{timeout} seconds.
#
# Returns a hash: resp (bytes read), timed_out (bool), error (text or
# undef), connect_error (text or undef).
sub send_packets {
    my (%a) = @_;
    my $timeout = $a{timeout} || 3;
    my @packets = @{ $a{packets} };
    my %r = (resp => '', timed_out => 0, error => undef, connect_error => undef);

    my $sock;
    my $deadline = time + ($a{connect_timeout} || 5);
    while (1) {
        $sock = IO::Socket::INET->new(
            PeerAddr => $a{host} || '127.0.0.1',
            PeerPort => $a{port},
            Proto    => 'tcp',
            Timeout  => $timeout,
        );
        last if $sock;
        my $err = "$!";
        if (time >= $deadline) {
            $r{connect_error} = $err;
            return \%r;
        }
        sleep 0.05;
    }

    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my $buf = shift @packets;
    $buf = '' unless defined $buf;
    my $off = 0;
    my $writing = 1;
    my $sel = IO::Select->new($sock);

    while (1) {
        if ($writing && $off >= length $buf) {
            if (@packets) {
                sleep $a{delay} if $a{delay};
                $buf = shift @packets;
                $buf = '' unless defined $buf;
                $off = 0;
                next;
            }
            $writing = 0;
            if (defined $a{shutdown}) {
                shutdown($sock, $a{shutdown});
            }
        }

        my ($rd, $wr) = IO::Select->select($sel, $writing ? $sel : undef,
                                           undef, $timeout);
        if (!$rd && !$wr) {
            next if $! == EINTR && !defined $rd;
            $r{timed_out} = 1;
            last;
        }

        if ($wr && @$wr && $writing) {
            my $n = syswrite($sock, $buf, length($buf) - $off, $off);
            if (defined $n) {
                $off += $n;
            } elsif ($! != EAGAIN && $! != EWOULDBLOCK && $! != EINTR) {
                # the server may already have answered (413, 400, ...):
                # stop writing but keep reading
                $r{write_error} = "$!";
                $writing = 0;
            }
        }

        if ($rd && @$rd) {
            my $chunk;
            my $n = sysread($sock, $chunk, 65536);
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                $r{error} = "$!";
                last;
            }
            last if $n == 0;
            $r{resp} .= $chunk;
        }
    }

    close $sock;
    return \%r;
}

# ----------------------------------------------------------------------
# response parsing

# Parses raw response bytes.  Returns a hash:
#   res         - Test::Nginx::Runner::Response object
#   raw_headers - status line + header lines, each with its CRLF
#   left        - bytes after the end of the body (if any)
#   error       - text when the chunked body is malformed / incomplete
#                 (res is undef then)
#   warning     - text when a Content-Length body is truncated
sub parse_response {
    my ($raw, $head_req) = @_;
    $raw = '' unless defined $raw;
    my %out = (raw_headers => '');

    if ($raw =~ /\A(.*?\r\n)\r\n/s) {
        $out{raw_headers} = $1;
    }

    my $res = Test::Nginx::Runner::Response->parse($raw);
    $out{res} = $res;

    my $code = $res->code;
    if (defined $code && $code !~ /^\d+$/) {
        $res->code(undef);
        $code = undef;
    }
    return \%out if $code && ($code == 304 || $code == 101);

    my $te = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    my @trailers = $res->header('Trailer');

    if (defined $te && $te eq 'chunked') {
        my $body = $res->content;
        my $decoded = '';
        my $pos = 0;
        while (1) {
            pos($body) = $pos;
            if ($body =~ /\G0[ \t]*\r\n/gc) {
                # last chunk; optional trailer fields, then CRLF
                for my $t (@trailers) {
                    if ($body !~ /\G\Q$t\E: [^\n]*\r\n/gc) {
                        $out{error} = "invalid trailer data received "
                                      . "(expected $t)";
                        delete $out{res};
                        return \%out;
                    }
                }
                if ($body !~ /\G\r\n/gc) {
                    $out{error} = "invalid chunked data received "
                                  . "(expected CRLF after the last chunk)";
                    delete $out{res};
                    return \%out;
                }
                my $p = pos($body);
                $out{left} = substr($body, $p) if $p < length $body;
                last;
            }
            pos($body) = $pos;
            if ($body =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
                my $size = hex $1;
                my $start = pos($body);
                if (length($body) - $start < $size) {
                    $out{error} = "invalid chunked data received (not "
                                  . "enough octets for the data section)";
                    delete $out{res};
                    return \%out;
                }
                $decoded .= substr($body, $start, $size);
                $pos = $start + $size;
                if (substr($body, $pos, 2) ne "\r\n") {
                    $out{error} = "invalid chunked data received "
                                  . "(expected CRLF).";
                    delete $out{res};
                    return \%out;
                }
                $pos += 2;
                next;
            }
            if ($pos < length $body) {
                $out{error} = "invalid chunked body received: "
                              . substr($body, $pos);
            } else {
                $out{error} = "no last chunk found - $body";
            }
            delete $out{res};
            return \%out;
        }
        $res->content($decoded);

    } elsif (defined $len && $len ne '' && $len =~ /^\d+$/) {
        my $body = $res->content;
        if (length $body < $len) {
            if (!$head_req) {
                $out{warning} = "response body truncated: $len expected, "
                                . "but got " . length($body);
            }
        } elsif (length $body > $len) {
            $out{left} = substr($body, $len);
            $res->content(substr($body, 0, $len));
        }
    }

    return \%out;
}

# ----------------------------------------------------------------------

package Test::Nginx::Runner::Response;

use strict;
use warnings;

sub new {
    my ($class, %a) = @_;
    return bless {
        protocol => $a{protocol},
        code     => $a{code},
        message  => $a{message},
        headers  => $a{headers} || [],
        content  => defined $a{content} ? $a{content} : '',
    }, $class;
}

# Same split rules as the usual Perl HTTP response parser: the status
# line is the first line, then "Name: value" lines (with continuation
# lines), then an empty line, then the body.
sub parse {
    my ($class, $str) = @_;
    $str = '' unless defined $str;

    my $status;
    if ($str =~ s/\A(.*)\n//) {
        $status = $1;
    } else {
        ($status, $str) = ($str, '');
    }
    $status =~ s/\r\z//;

    my @h;
    while (1) {
        if ($str =~ s/\A([^\s:]+)[ \t]*: ?(.*)\n?//) {
            my ($k, $v) = ($1, $2);
            $v =~ s/\r\z//;
            push @h, [$k, $v];
        } elsif (@h && $str =~ s/\A([ \t].*)\n?//) {
            my $c = $1;
            $c =~ s/\r\z//;
            $h[-1][1] .= "\n$c";
        } else {
            $str =~ s/\A\r?\n//;
            last;
        }
    }

    my ($proto, $code, $msg);
    if ($status =~ /^\d{3} /) {
        ($code, $msg) = split ' ', $status, 2;
    } else {
        ($proto, $code, $msg) = split ' ', $status, 3;
    }

    return $class->new(protocol => $proto, code => $code, message => $msg,
                       headers => \@h, content => $str);
}

sub protocol { $_[0]{protocol} }
sub message  { $_[0]{message} }

sub code {
    my $self = shift;
    $self->{code} = shift if @_;
    return $self->{code};
}

sub content {
    my $self = shift;
    $self->{content} = shift if @_;
    return $self->{content};
}

# In list context all values of the header, in scalar context the
# values joined with ", " (undef when absent).  Names are matched
# case-insensitively; "_" and "-" are not distinguished.
sub header {
    my ($self, $name) = @_;
    (my $want = lc $name) =~ tr/_/-/;
    my @v;
    for my $h (@{ $self->{headers} }) {
        (my $k = lc $h->[0]) =~ tr/_/-/;
        push @v, $h->[1] if $k eq $want;
    }
    return @v if wantarray;
    return @v ? join(', ', @v) : undef;
}

sub headers { @{ $_[0]{headers} } }

1;
