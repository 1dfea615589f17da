#!/usr/bin/env bash
# Packs each package as it would be published, and checks the tarballs with publint and
# @arethetypeswrong/cli. The packages ship ESM only, with types; their exports' `default` condition
# lets CommonJS load them with require() (Node >= 20.19 loads ES modules in require()). So attw runs
# the node16 profile (ESM and CommonJS importers must both resolve to types; node10, which cannot read
# an exports map, is left out) and accepts `cjs-resolves-to-esm`: a require() that resolves to ESM
# is exactly what require(esm) loads (attw's node16-from-CJS column models TypeScript's
# `module: node16`, which rejects it; `module: nodenext` since TypeScript 5.8 accepts it).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for pkg in core platform-node; do
  (cd "packages/$pkg" && npx -y pnpm@10 pack --pack-destination "$out" >/dev/null)
done
for tarball in "$out"/*.tgz; do
  echo "== $(basename "$tarball")"
  npx publint run "$tarball" --strict
  npx attw "$tarball" --profile node16 --ignore-rules cjs-resolves-to-esm
done
