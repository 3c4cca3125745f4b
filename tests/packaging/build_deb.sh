#!/usr/bin/env bash
# Builds the Debian package as a packager would: `dpkg-buildpackage -b -us -uc` in a copy of
# the source tree (its files as they are now, committed or not) with node_modules/hls.js (the
# npm package the web page plays with; the package build downloads nothing). Prints the path
# of roomcast_*.deb.
#   tests/packaging/build_deb.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src=$(realpath "$1")
mkdir -p "$2"
work=$(realpath "$2")
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
# The same path on every run: ccache (base_dir) finds the objects of the previous build.
tree="$work/roomcast-$version"
rm -rf "$tree" "$work"/roomcast_* "$work/build.log"
mkdir -p "$tree"
(cd "$src" && git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do
    case "$f" in node_modules | node_modules/*) continue ;; esac  # (a worktree's may be a symlink)
    [ -e "$f" ] && printf '%s\0' "$f"
  done |
  tar --null -T - -cf -) | tar -xf - -C "$tree"
hls="$src/node_modules/hls.js"
[ -f "$hls/dist/hls.min.js" ] || { echo "no $hls/dist/hls.min.js: npm install first" >&2; exit 1; }
mkdir -p "$tree/node_modules/hls.js/dist"
cp -L "$hls/package.json" "$hls/LICENSE" "$tree/node_modules/hls.js/"
cp -L "$hls/dist/hls.min.js" "$tree/node_modules/hls.js/dist/"

if ! (cd "$tree" && DEB_BUILD_OPTIONS="parallel=${ROOMCAST_PACKAGE_JOBS:-2} nocheck" \
        dpkg-buildpackage -b -us -uc) >"$work/build.log" 2>&1; then
  tail -40 "$work/build.log" >&2
  echo "dpkg-buildpackage failed; the whole log: $work/build.log" >&2
  exit 1
fi
ls "$work"/roomcast_"$version"_*.deb
