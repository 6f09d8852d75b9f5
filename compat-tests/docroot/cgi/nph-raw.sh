#!/bin/sh
printf 'HTTP/1.1 202 Accepted\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nnph\n'
