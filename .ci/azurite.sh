#!/usr/bin/env bash
# Azurite, Microsoft's Azure Storage emulator (npm), for the Azure Blob artifact tests. Installs Node.js when it is
# missing (Debian's nodejs + npm), azurite at a pinned version into a cache folder, starts its Blob service on a
# free 127.0.0.1 port in the background (in memory, no files), and prints its connection string: stdout's only
# line. Everything else goes to stderr. Usage: AZURE_CS="$(bash .ci/azurite.sh)"
set -euo pipefail
VERSION=3.35.0  # engines: node >= 10 (3.36+ need node >= 21; Debian 12 ships node 18)
DIR="${TRACKLET_AZURITE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tracklet-azurite}"
# Azurite's documented development account (a public, well-known key: it only opens the local emulator)
KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "azurite.sh: installing Node.js (Debian packages)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >&2
fi
BIN="$DIR/node_modules/.bin/azurite-blob"
if [ ! -x "$BIN" ] || ! grep -q "\"version\": \"$VERSION\"" "$DIR/node_modules/azurite/package.json" 2>/dev/null; then
  echo "azurite.sh: npm install azurite@$VERSION into $DIR" >&2
  mkdir -p "$DIR"
  npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error "azurite@$VERSION" >&2
fi

LOG="$(mktemp "${TMPDIR:-/tmp}/azurite.XXXXXX.log")"
nohup "$BIN" --blobHost 127.0.0.1 --blobPort 0 --inMemoryPersistence --extentMemoryLimit 2048 \
  --skipApiVersionCheck --loose --disableProductStyleUrl </dev/null >"$LOG" 2>&1 &
pid=$!
port=""
for _ in $(seq 1 150); do
  port="$(grep -oE 'listens on http://127\.0\.0\.1:[0-9]+' "$LOG" | grep -oE '[0-9]+$' || true)"
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$port" ]; then
  echo "azurite.sh: Azurite did not start:" >&2
  cat "$LOG" >&2
  exit 1
fi
echo "azurite.sh: Azurite $VERSION (pid $pid) on 127.0.0.1:$port, log $LOG" >&2
echo "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$KEY;BlobEndpoint=http://127.0.0.1:$port/devstoreaccount1;"
