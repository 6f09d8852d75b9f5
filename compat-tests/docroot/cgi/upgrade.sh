#!/bin/sh
# Switches protocols when asked to (Upgrade), then echoes lines until "bye"; prints the
# upgrade-related CGI variables first.
printf 'Status: 101\r\nUpgrade: echo\r\n\r\n'
printf 'HTTP_UPGRADE=%s HTTP_CONNECTION=%s\n' "${HTTP_UPGRADE-<unset>}" "${HTTP_CONNECTION-<unset>}"
while read -r line; do
    printf 'got %s\n' "$line"
    [ "$line" = "bye" ] && exit 0
done
printf 'input closed\n'
