#!/bin/bash
# node.sh NAME: the validator NAME of the compose network. Its home (/data, a volume of
# its own) is made once from the genesis volume, listening on every interface of the
# container; then `accord run`.
set -euo pipefail
name=${1:?usage: node.sh VALIDATOR}
if [ ! -f /data/config.toml ]; then
    accord init --spec /genesis/spec.json --validator "$name" --keys /genesis/keys \
        --home /data --rpc-listen 0.0.0.0:9944 --p2p-listen /ip4/0.0.0.0/tcp/30300
fi
exec accord run --home /data
