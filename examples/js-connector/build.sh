#!/usr/bin/env bash
# Builds the JavaScript Workable connector into a WebAssembly component.
#
#   examples/js-connector/build.sh [--force]
#
# - Installs the exact toolchain of package-lock.json with `npm ci` into
#   $TARGET/js-connector/node_modules (once, and again when the lock file
#   changes): componentize-js 0.23.0, with jco pinned to 1.34.0 for it.
# - Runs componentize-js on app.js against the project's own WIT
#   (wit/v0.1.0, world `connector`), with the fetch-event HTTP handler
#   disabled (`-d http fetch-event`: the host grants no `wasi:http`; a
#   connector reaches the network only through the `http` import), and
#   writes $TARGET/js-connector/workable_js.wasm.
# - Skips the build when that file is newer than every input (the .js
#   sources, the WIT files, the lock file and this script); --force rebuilds.
#
# $TARGET is $CARGO_TARGET_DIR (a relative one is taken from the repository
# root) or <repo>/target. Progress goes to stderr; the only line on stdout is
# the component's absolute path, so scripts and tests can capture it.
set -euo pipefail

WORLD="connector"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
wit="$repo/wit/v0.1.0"

target="${CARGO_TARGET_DIR:-$repo/target}"
case "$target" in
  /*) ;;
  *) target="$repo/$target" ;;
esac
work="$target/js-connector"
out="$work/workable_js.wasm"

say() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument \`$arg\` (usage: build.sh [--force])" ;;
  esac
done

# The output is up to date when it is newer than every input.
up_to_date() {
  [[ $force -eq 0 && -f "$out" ]] || return 1
  local f
  for f in "$here"/*.js "$here/package-lock.json" "$wit"/*.wit "${BASH_SOURCE[0]}"; do
    if [[ "$f" -nt "$out" ]]; then
      say "rebuilding: $f changed"
      return 1
    fi
  done
  say "up to date: $out"
}

if up_to_date; then
  echo "$out"
  exit 0
fi

command -v npm >/dev/null 2>&1 \
  || die "npm is not on PATH. Install Node.js 20 or newer (Debian/Ubuntu: apt-get install nodejs npm)."

mkdir -p "$work"

# node_modules lives in the target directory, not next to the sources; it
# is reinstalled exactly from the lock file whenever the lock file changes.
if ! cmp -s "$here/package-lock.json" "$work/package-lock.json" || [[ ! -d "$work/node_modules" ]]; then
  say "npm ci (the versions of examples/js-connector/package-lock.json) into $work"
  cp "$here/package.json" "$here/package-lock.json" "$work/"
  (cd "$work" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error) >&2 \
    || die "npm ci failed (is the npm registry reachable, or its cache filled?)."
fi

componentize="$work/node_modules/.bin/componentize-js"
[[ -x "$componentize" ]] || die "$componentize is missing; delete $work/node_modules and run again."

say "componentize-js: building $out"
start=$(date +%s)
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
(cd "$here" && "$componentize" app.js --wit "$wit" --world-name "$WORLD" \
  --disable http --disable fetch-event --out "$tmp") >&2 \
  || die "componentize-js failed (see above)."
mv -f "$tmp" "$out"
trap - EXIT
say "built $out ($(( $(wc -c <"$out") / 1024 )) KiB) in $(( $(date +%s) - start )) s"
echo "$out"
