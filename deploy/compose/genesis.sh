#!/bin/bash
# The compose network's genesis, written once into /data (the `genesis` volume):
#   spec.json   the `local` preset's spec, each validator's listen_addr its DNS name
#   keys/       every key of the preset (validators, voters, agents): development keys
set -euo pipefail
cd /data
if [ -f spec.json ]; then
    echo "genesis: spec.json exists; keeping it"
    exit 0
fi
rm -rf .build
mkdir .build
accord spec build --preset local --out .build/spec.json --keys-out .build/keys
# The preset listens on 127.0.0.1:30301-30304; in compose each validator is its own
# host, reached by its service name, every one on port 30300.
sed -e 's#/ip4/127\.0\.0\.1/tcp/30301#/dns4/eu-1/tcp/30300#' \
    -e 's#/ip4/127\.0\.0\.1/tcp/30302#/dns4/eu-2/tcp/30300#' \
    -e 's#/ip4/127\.0\.0\.1/tcp/30303#/dns4/us-1/tcp/30300#' \
    -e 's#/ip4/127\.0\.0\.1/tcp/30304#/dns4/us-2/tcp/30300#' \
    .build/spec.json > .build/spec.dns.json
if grep -q '/ip4/127\.0\.0\.1/' .build/spec.dns.json; then
    echo "genesis: the local preset has a listen address this script does not rename" >&2
    exit 1
fi
accord spec validate .build/spec.dns.json
mv .build/keys keys
mv .build/spec.dns.json spec.json
rm -rf .build
echo "genesis: wrote spec.json and keys/"
