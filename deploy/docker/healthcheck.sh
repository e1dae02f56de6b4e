#!/bin/bash
# accord-healthcheck [PORT] [PATH]: exit 0 when GET http://127.0.0.1:PORT/PATH answers
# 200, 1 otherwise. Plain bash (its /dev/tcp), so the runtime image needs no curl.
#   accord-healthcheck 9944 /health   the node is up
#   accord-healthcheck 9944 /ready    the node is synced, connected and not halted
#   accord-healthcheck 9955 /health   the agent is subscribed to a node
set -u
port=${1:-9944}
path=${2:-/health}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$path" "$port" >&3
read -r -t 5 _ status _ <&3 || exit 1
[ "$status" = 200 ]
