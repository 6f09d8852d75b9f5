#!/bin/sh
# Promises 9 body bytes, sends more after a pause: the Content-Length ends the answer.
printf 'Content-Type: text/plain\r\nContent-Length: 9\r\n\r\npart one\n'
sleep 0.3
printf 'part two\n'
