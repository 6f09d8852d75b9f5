#!/bin/sh
# A 200 with headers and no body.
printf 'Content-Type: text/plain\r\n\r\n'
