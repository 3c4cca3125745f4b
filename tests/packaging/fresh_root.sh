#!/usr/bin/env bash
# Makes ROOT a fresh Debian 12 root with the package installed by apt (which resolves its
# Depends), and systemd (what runs the service).
#   tests/packaging/fresh_root.sh DEB CACHE_DIR ROOT
# mmdebstrap builds a minimal bookworm with the package from the Debian mirror once; the
# package is then purged and the root kept as a tarball in CACHE_DIR, named after the package's
# Depends. Later runs (same Depends) start from that tarball and install the package with apt,
# offline (--no-download: every dependency must be there already).
set -euo pipefail
deb=$(realpath "$1")
mkdir -p "$2"
cache=$(realpath "$2")
root=$3
depends=$(dpkg-deb -f "$deb" Pre-Depends Depends)
key=$(printf '%s' "$depends" | sha256sum | cut -c1-16)
base="$cache/bookworm-roomcast-deps-$key.tar"
if [ ! -f "$base" ]; then
  echo "fresh_root: mmdebstrap bookworm with $(basename "$deb") (no cached root for these Depends)" >&2
  # apt inside the new root resolves the package's Depends from the mirror (the .deb is copied
  # in: mmdebstrap would hand its path to dpkg inside the root as it is).
  rm -rf "$base.part"
  mmdebstrap --variant=apt --format=tar --include=systemd \
    --customize-hook="copy-in $deb /tmp" \
    --customize-hook="chroot \"\$1\" env DEBIAN_FRONTEND=noninteractive apt-get install -y /tmp/$(basename "$deb")" \
    --customize-hook='chroot "$1" dpkg --purge roomcast' \
    --customize-hook="rm \"\$1/tmp/$(basename "$deb")\"" \
    bookworm "$base.part" "deb http://deb.debian.org/debian bookworm main" >"$cache/mmdebstrap.log" 2>&1 ||
    { tail -30 "$cache/mmdebstrap.log" >&2; exit 1; }
  mv "$base.part" "$base"
fi
rm -rf "$root"
mkdir -p "$root"
tar -xf "$base" -C "$root"
cp "$deb" "$root/var/cache/apt/archives/"
chroot "$root" sh -c 'cd / && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-download "$0"' \
  "/var/cache/apt/archives/$(basename "$deb")" >"$cache/apt-install.log" 2>&1 ||
  { cat "$cache/apt-install.log" >&2; exit 1; }
rm "$root/var/cache/apt/archives/$(basename "$deb")"
