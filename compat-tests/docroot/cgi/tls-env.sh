#!/bin/sh
# Prints the CGI variables that tell about the scheme and TLS, one `NAME:value` a line
# (after a colon, the case's port is masked as @PORT@ / @PORT2@).
printf 'Content-Type: text/plain\r\n\r\n'
for v in REQUEST_SCHEME HTTPS SERVER_PORT SERVER_ADDR SSL_PROTOCOL SSL_CIPHER SSL_CIPHER_USEKEYSIZE \
         SSL_CIPHER_ALGKEYSIZE SSL_CLIENT_VERIFY SSL_CLIENT_S_DN REMOTE_USER AUTH_TYPE; do
    eval "val=\${$v-<unset>}"
    printf '%s:%s\n' "$v" "$val"
done
