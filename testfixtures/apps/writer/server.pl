#!/usr/bin/perl
# Writes a file into its own directory under /app when it starts, as apps
# that keep a cache, uploads or an SQLite database there do, and answers
# every request with that file and the owners it sees. perl-base only.
use strict;
use warnings;
use IO::Socket::INET;

$| = 1;
my $dir = '/app/data';
mkdir $dir or $!{EEXIST} or die "creating $dir: $!\n";
my $file = "$dir/started.txt";
open(my $out, '>', $file) or die "writing $file: $!\n";
print $out "written at start by uid $<\n";
close $out or die "writing $file: $!\n";

my $port = $ENV{PORT} || 5000;
my $server = IO::Socket::INET->new(
    LocalAddr => '0.0.0.0',
    LocalPort => $port,
    Listen    => 64,
    ReuseAddr => 1,
) or die "listening on port $port: $!\n";
print "writer app listening on port $port\n";
$SIG{TERM} = sub { exit 0 };

while (my $client = $server->accept) {
    while (my $line = <$client>) {
        last if $line =~ /^\r?\n$/;
    }
    open(my $in, '<', $file) or die "reading $file: $!\n";
    my $body = join '', <$in>;
    close $in;
    for my $path ('/app', $dir, $file) {
        my @st = stat $path or die "stat $path: $!\n";
        $body .= "$path owned by $st[4]:$st[5]\n";
    }
    print $client "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
      . 'Content-Length: ' . length($body) . "\r\n\r\n" . $body;
    close $client;
}
