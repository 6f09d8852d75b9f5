#!/bin/sh
printf 'Content-Type: application/octet-stream\r\n\r\n'
cat
