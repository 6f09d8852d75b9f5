#!/bin/sh
# Prints the CGI variables whose values do not depend on the machine or the port.
printf 'Content-Type: text/plain\r\n\r\n'
for v in GATEWAY_INTERFACE SERVER_PROTOCOL REQUEST_METHOD REQUEST_URI QUERY_STRING SCRIPT_NAME PATH_INFO \
         CONTENT_LENGTH CONTENT_TYPE HTTP_HOST HTTP_X_CUSTOM HTTP_PROXY REDIRECT_STATUS REDIRECT_URI REMOTE_ADDR SERVER_NAME HTTPS; do
    eval "val=\${$v-<unset>}"
    printf '%s=%s\n' "$v" "$val"
done
