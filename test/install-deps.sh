#!/usr/bin/env bash
# Installs the Debian packages the tests use (real clients: curl, nghttp, openssl, grpcio;
# iptables/nftables/iproute2 for the network-namespace tests; g++, make and python3 for
# node-gyp, which `npm ci` runs to build the interception addon in src/interception/native). Idempotent: prints nothing
# and changes nothing when everything is already installed.
set -euo pipefail

PACKAGES=(curl nghttp2-client openssl iptables iproute2 nftables python3-grpcio python3-prometheus-client ca-certificates g++ make python3)

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "install-deps: dpkg-query not found: this script installs Debian packages (${PACKAGES[*]}); install their equivalents by hand" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ "${#missing[@]}" -eq 0 ] && exit 0

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "install-deps: missing Debian packages: ${missing[*]}" >&2
    echo "install-deps: installing them needs root; run as root (as CI does) or:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
