#!/bin/bash
# The image's health check, with nothing but bash (no curl in the image): GET /ready on this
# process's own port ($PORT, as every executable reads it) over bash's /dev/tcp; healthy on a 200.
# `healthcheck /health` asks for liveness only.
port=${PORT:-8080} path=${1:-/ready}
{ exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || { echo "nothing listens on port $port"; exit 1; }
printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" >&3
read -r -t 5 _ status _ <&3 || { echo "no answer from $path within 5 s"; exit 1; }
[ "$status" = 200 ] || { echo "$path answered $status"; exit 1; }
