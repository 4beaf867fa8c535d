#!/usr/bin/env bash
# Writes the build context of the Containerfile to DIR: the built project (dist/src and the compact
# R4 definitions, bin, packages,
# the mediator SDK) and its production dependencies only (npm ci --omit=dev, from npm's cache when
# it can). Run `npm ci && npm run build` first.
set -euo pipefail
dir="${1:?usage: scripts/image-context.sh DIR}"
root="$(cd "$(dirname "$0")/.." && pwd)"
[ -f "$root/dist/src/cli/main.js" ] || { echo "image-context: build first (npm run build)" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir/dist" "$dir/docs" "$dir/sdk/mediator"
cp "$root/package.json" "$root/package-lock.json" "$dir/"
cp -r "$root/bin" "$root/packages" "$dir/"
cp -r "$root/dist/src" "$dir/dist/src"
# The compact R4 definitions (npm run build; scripts/compact-definitions.js); an empty folder without them (the full ones are read).
mkdir -p "$dir/dist/definitions"
if [ -d "$root/dist/definitions" ]; then cp -r "$root/dist/definitions/." "$dir/dist/definitions/"; fi
# The console's built app (npm run build); an empty folder without it (the console then answers 503 "not built").
mkdir -p "$dir/dist/console-app"
if [ -d "$root/dist/console-app" ]; then cp -r "$root/dist/console-app/." "$dir/dist/console-app/"; fi
cp "$root/docs/package-metadata.schema.json" "$dir/docs/"
cp -r "$root/sdk/mediator/package.json" "$root/sdk/mediator/dist" "$dir/sdk/mediator/"
(cd "$dir" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline >/dev/null)
echo "$dir"
