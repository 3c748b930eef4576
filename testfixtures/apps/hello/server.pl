#!/usr/bin/perl
# A small HTTP server using only perl-base, so it runs on a minimal Debian
# stack. It answers every request with a greeting and what it was sent.
use strict;
use warnings;
use IO::Socket::INET;

$| = 1;
my $port = $ENV{PORT} || 5000;
my $server = IO::Socket::INET->new(
    LocalAddr => '0.0.0.0',
    LocalPort => $port,
    Listen    => 64,
    ReuseAddr => 1,
) or die "listening on port $port: $!\n";
print "hello app listening on port $port\n";
$SIG{TERM} = sub { print "hello app stopping\n"; exit 0 };

while (my $client = $server->accept) {
    my $request = <$client> // '';
    my %headers;
    while (my $line = <$client>) {
        last if $line =~ /^\r?\n$/;
        $headers{lc $1} = $2 if $line =~ /^([^:]+):\s*(.*?)\r?\n$/;
    }
    my (undef, $path) = split ' ', $request;
    my $body = "Hello from paas\n"
      . 'greeting=' . ($ENV{GREETING} // '') . "\n"
      . 'path=' . ($path // '') . "\n"
      . "port=$port\n";
    for my $h (sort grep { /^x-/ } keys %headers) {
        $body .= "$h=$headers{$h}\n";
    }
    print $client "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
      . 'Content-Length: ' . length($body) . "\r\nConnection: close\r\n\r\n$body";
    close $client;
    # Lets tests crash the app on purpose, to see it restarted.
    if (($path // '') eq '/crash') { print "hello app crashing on request\n"; exit 3 }
}
