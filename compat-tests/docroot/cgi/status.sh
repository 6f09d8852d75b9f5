#!/bin/sh
printf 'Status: 418 I am a teapot\r\nContent-Type: text/plain\r\nX-Backend: yes\r\n\r\nteapot body\n'
