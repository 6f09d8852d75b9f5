#!/bin/sh
printf 'no header line here\n'
