#!/usr/bin/perl
# use-ipv6.pl [PORT] — called by lighttpd.conf through include_shell.
# Prints a config block that adds an IPv6 wildcard listener on PORT (default 80),
# with TLS switched on for port 443, when this host can open IPv6 sockets at all;
# prints nothing otherwise.
use strict;
use warnings;
use Socket qw(AF_INET6 SOCK_STREAM);

my $port = defined $ARGV[0] && $ARGV[0] =~ /^\d+$/ && $ARGV[0] > 0 && $ARGV[0] <= 65535
    ? $ARGV[0] : 80;

socket(my $probe, AF_INET6, SOCK_STREAM, 0) or exit 0;
close $probe;

my $listener = qq{\$SERVER["socket"] == "[::]:$port"};
if ($port == 443) {
    print qq{$listener {\nssl.engine = "enable"\n}\n};
} else {
    print qq{$listener { }\n};
}
