#!/bin/sh
printf 'Content-Type: text/plain\r\n\r\npart one\n'
sleep 0.3
printf 'part two\n'
