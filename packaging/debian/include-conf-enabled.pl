#!/usr/bin/perl
# include-conf-enabled.pl [CONFDIR] — deprecated include_shell helper kept for old
# configurations: prints one include line per CONFDIR/conf-enabled/*.conf (CONFDIR
# defaults to /etc/lighttpd/), paths relative to CONFDIR, in sorted order.
use strict;
use warnings;

my $confdir = $ARGV[0] || '/etc/lighttpd/';
chdir $confdir or die "cannot enter $confdir: $!\n";
print qq{include "$_"\n} for sort glob 'conf-enabled/*.conf';

print STDERR <<'WARN';

WARNING: include-conf-enabled.pl is deprecated and slated for removal.
         Replace in lighttpd.conf with:
           include "/etc/lighttpd/conf-enabled/*.conf"

WARN
