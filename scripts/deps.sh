#!/usr/bin/env bash
# Installs the Debian packages kvscope needs that are missing (idempotent:
# does nothing when all are present). Run as root or with sudo available.
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  protobuf-c-compiler libprotobuf-c-dev libgrpc-dev
  libcurl4-openssl-dev libmicrohttpd-dev libyaml-dev libyajl-dev
  zlib1g-dev libzstd-dev libmsgpack-dev libcmocka-dev
  curl time nodejs prometheus
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Debian's nodejs comes without npm (a NodeSource nodejs brings its own):
# the interop tests need npm, so install Debian's only when the command is missing.
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
