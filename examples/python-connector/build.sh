#!/usr/bin/env bash
# Builds the Python Workable connector into a WebAssembly component.
#
#   examples/python-connector/build.sh [--test] [--force]
#
# - Creates a virtual environment at $TARGET/python-venv (once) and installs
#   the pinned componentize-py there from PyPI (once).
# - Runs `componentize-py componentize app` against the project's own WIT
#   (wit/v0.1.0, world `connector`) and writes
#   $TARGET/python-connector/workable_py.wasm.
# - Skips the build when that file is newer than every input (the Python
#   sources but the tests, the WIT files and this script); --force rebuilds.
# - --test first runs the unit tests (test_*.py) natively with the venv's
#   Python against generated bindings: a second, no wasm involved.
#
# $TARGET is $CARGO_TARGET_DIR (a relative one is taken from the repository
# root) or <repo>/target. Progress goes to stderr; the only line on stdout is
# the component's absolute path, so scripts and tests can capture it.
set -euo pipefail

# The componentize-py release this connector is built and tested with. It
# bundles its own CPython and WASI libc, so the pin fixes the whole guest
# toolchain. Check for newer releases with `pip index versions componentize-py`.
COMPONENTIZE_PY_VERSION="0.25.1"
WORLD="connector"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
wit="$repo/wit/v0.1.0"

target="${CARGO_TARGET_DIR:-$repo/target}"
case "$target" in
  /*) ;;
  *) target="$repo/$target" ;;
esac
venv="$target/python-venv"
out_dir="$target/python-connector"
out="$out_dir/workable_py.wasm"

say() { printf '%s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

force=0
unit_tests=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    --test) unit_tests=1 ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument \`$arg\` (usage: build.sh [--test] [--force])" ;;
  esac
done

# The output is up to date when it is newer than every input.
up_to_date() {
  [[ $force -eq 0 && -f "$out" ]] || return 1
  local f
  for f in "$here"/*.py "$wit"/*.wit "${BASH_SOURCE[0]}"; do
    # Tests are not part of the component (componentize-py bundles what
    # app.py imports).
    [[ "$(basename "$f")" == test_* ]] && continue
    if [[ "$f" -nt "$out" ]]; then
      say "rebuilding: $f changed"
      return 1
    fi
  done
  say "up to date: $out"
}

# Fast path: nothing to test and nothing changed.
if [[ $unit_tests -eq 0 ]] && up_to_date; then
  echo "$out"
  exit 0
fi

command -v python3 >/dev/null 2>&1 \
  || die "python3 is not on PATH. Install Python 3 (Debian/Ubuntu: apt-get install python3 python3-venv python3-pip)."

mkdir -p "$out_dir"

# A venv whose interpreter no longer runs (Python upgraded or removed) is
# rebuilt rather than trusted.
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
  say "creating virtual environment $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" >&2 \
    || die "python3 could not create a virtual environment (Debian/Ubuntu: apt-get install python3-venv)."
fi
"$venv/bin/python" -m pip --version >/dev/null 2>&1 \
  || die "pip is missing from $venv (Debian/Ubuntu: apt-get install python3-pip python3-venv, then delete $venv)."

installed="$("$venv/bin/componentize-py" --version 2>/dev/null | awk '{print $2}' || true)"
if [[ "$installed" != "$COMPONENTIZE_PY_VERSION" ]]; then
  say "installing componentize-py==$COMPONENTIZE_PY_VERSION into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "componentize-py==$COMPONENTIZE_PY_VERSION" >&2 \
    || die "pip could not install componentize-py==$COMPONENTIZE_PY_VERSION (is PyPI reachable?)."
fi

if [[ $unit_tests -eq 1 ]]; then
  bindings="$out_dir/bindings"
  say "unit tests (native $("$venv/bin/python" --version 2>&1))"
  rm -rf "$bindings"
  "$venv/bin/componentize-py" --quiet -d "$wit" -w "$WORLD" bindings "$bindings" >&2 \
    || die "componentize-py could not generate bindings (see above)."
  (cd "$here" && PYTHONPATH="$bindings:$here" PYTHONDONTWRITEBYTECODE=1 \
    "$venv/bin/python" -m unittest discover -s "$here" -p 'test_*.py') >&2 \
    || die "unit tests failed (see above)."
fi

if [[ $unit_tests -eq 1 ]] && up_to_date; then
  echo "$out"
  exit 0
fi

say "componentize-py $COMPONENTIZE_PY_VERSION: building $out"
start=$(date +%s)
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
# `componentize` runs the app's imports at build time (pre-initialisation)
# and snapshots the interpreter, so an ImportError or SyntaxError fails here,
# not at install. Bindings for the world are generated on the fly.
(cd "$here" && "$venv/bin/componentize-py" --quiet -d "$wit" -w "$WORLD" \
  componentize app -p "$here" -o "$tmp") >&2 \
  || die "componentize-py failed (see above)."
mv -f "$tmp" "$out"
trap - EXIT
say "built $out ($(( $(wc -c <"$out") / 1024 )) KiB) in $(( $(date +%s) - start )) s"
echo "$out"
