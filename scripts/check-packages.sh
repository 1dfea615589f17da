#!/usr/bin/env bash
# Packs each package as it would be published, and checks the tarballs with publint and
# @arethetypeswrong/cli (ESM-only profile: the packages ship ESM with types, no CommonJS).
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
  npx attw "$tarball" --profile esm-only
done
