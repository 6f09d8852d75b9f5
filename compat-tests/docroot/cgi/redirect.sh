#!/bin/sh
printf 'Location: http://other.example/x\r\n\r\n'
