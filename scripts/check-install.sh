#!/usr/bin/env bash
# Runs the README's install lines with npm, each in a scratch project, as a user would, and fails on any
# ERESOLVE warning or on a missing or invalid peer dependency (`npm ls --all`). Our packages are not
# published: the packed tarballs (built dist/, as check-packages.sh packs them) stand in for their names.
#
# The lines are the `npm install` lines of the ```sh blocks of README.md's "## Install" section. Each line
# of the first block runs in a fresh project of its own; the lines of the later blocks (packages used
# alongside) run, in order, in the project of the first line. Prints every line's warning count (npm 11's
# `install-scripts` notices, about dependencies' install scripts, are counted and not failed on). Then, in
# that project: both packages import, on Effect 3, and an @effect/vitest test runs.
#
# Needs the network (the npm registry) and `pnpm build` first. Run: `bash scripts/check-install.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir "$work/tarballs"
for pkg in core platform-node; do
  (cd "packages/$pkg" && npx -y pnpm@10 pack --pack-destination "$work/tarballs" >/dev/null)
done
core=$(ls "$work"/tarballs/loop-local-core-*.tgz)
node=$(ls "$work"/tarballs/loop-local-platform-node-*.tgz)

# The Install section's ```sh blocks: "<block number> <line>" for each npm install line, comments removed.
lines=$(awk '
  /^## / { inside = ($0 == "## Install") }
  inside && /^```sh/ { block++; code = 1; next }
  inside && /^```/ { code = 0; next }
  inside && code && /^npm install / { sub(/[ \t]*#.*$/, ""); print block " " $0 }
' README.md)
[ -n "$lines" ] || { echo "check-install: no npm install line in README.md's Install section" >&2; exit 1; }

failed=0
first=""
n=0
while read -r block line; do
  n=$((n + 1))
  if [ "$block" = 1 ]; then
    dir="$work/project-$n"
    mkdir "$dir"
    (cd "$dir" && npm init -y >/dev/null)
    [ -n "$first" ] || first=$dir
  else
    dir=$first
  fi
  # Our names become the tarballs' paths (whole words only); the rest of the line is run as written.
  args=()
  read -r -a words <<<"$line"
  for word in "${words[@]:2}"; do
    word=${word//\"/}
    case "$word" in
      @loop-local/core) args+=("$core") ;;
      @loop-local/platform-node) args+=("$node") ;;
      *) args+=("$word") ;;
    esac
  done
  log="$work/install-$n.log"
  status=0
  (cd "$dir" && npm install "${args[@]}") >"$log" 2>&1 || status=$?
  warnings=$(grep -ci '^npm warn' "$log" || true)
  eresolve=$(grep -c 'ERESOLVE' "$log" || true)
  others=$(grep -i '^npm warn' "$log" | grep -v 'install-scripts' | sed 's/^npm warn //I' | sort -u || true)
  echo "$line"
  echo "  exit $status; $warnings warning line(s), $eresolve ERESOLVE$([ -z "$others" ] || printf '; other than install-scripts notices:\n%s' "$others")"
  if [ "$status" != 0 ] || [ "$eresolve" != 0 ]; then
    failed=1
    sed 's/^/    /' "$log" | head -60
  fi
  if ! (cd "$dir" && npm ls --all >"$log.ls" 2>&1); then
    failed=1
    echo "  npm ls --all reports problems:"
    grep -Ei 'invalid|missing|ERR' "$log.ls" | sed 's/^/    /' | head -30
  fi
done <<<"$lines"

# The versions the first project got, and a smoke test: both packages import, on Effect 3.
(cd "$first" && npm ls --depth=0 | sed 's/^/  /' &&
  node --input-type=module -e '
    const { LoopLocal } = await import("@loop-local/core")
    const { run } = await import("@loop-local/platform-node")
    const { createRequire } = await import("node:module")
    const { version } = createRequire(process.cwd() + "/")("effect/package.json")
    if (!version.startsWith("3.") || typeof LoopLocal.stickySingleton !== "function" || typeof run !== "function")
      throw new Error(`unexpected: effect ${version}`)
    console.log(`  imports fine, effect ${version}`)
  ') || failed=1
# And the test runner the README names: an @effect/vitest test with a loop per block (it.layer).
cat >"$first/loop.test.ts" <<'TEST'
import { expect, it } from "@effect/vitest"
import { LoopLocal } from "@loop-local/core"
import { Effect } from "effect"

const Pool = LoopLocal.stickySingleton((url: string) => Effect.acquireRelease(Effect.succeed({ url }), () => Effect.void))
it.layer(LoopLocal.layer)((it) => {
  it.effect("one pool per loop", () => Effect.gen(function* () {
    expect(yield* Pool("a")).toBe(yield* Pool("a"))
  }))
})
TEST
if (cd "$first" && npx vitest run >"$work/vitest.log" 2>&1); then
  echo "  vitest with @effect/vitest: a test passes"
else
  failed=1
  sed 's/^/    /' "$work/vitest.log" | tail -30
fi
cd "$root"
[ "$failed" = 0 ] || { echo "check-install: FAILED" >&2; exit 1; }
echo "check-install: every README install line resolves cleanly"
