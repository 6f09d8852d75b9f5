#!/bin/sh
printf 'Location: /hello.txt\r\n\r\n'
