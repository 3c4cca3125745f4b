#!/usr/bin/env bash
# Installs what roomcast needs on Debian 12 (only what is missing), then builds it.
#   bash scripts/setup.sh           what building and running the server needs (scripts/start.sh)
#   bash scripts/setup.sh --tests   that, and what the tests need (scripts/test.sh)
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
with_tests=false
[ "${1:-}" = "--tests" ] && with_tests=true

# Building and running roomcastd, the CLI and the plugin.
packages=(
  # build
  meson ninja-build pkg-config g++
  libglib2.0-dev libsoup-3.0-dev libjson-glib-dev libsqlite3-dev libnice-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  # the opusfecdec element (plugins/roomcast) decodes with libopus directly
  libopus-dev
  # players' HLS connections on their own epoll thread (src/signaling/listener_http)
  libmicrohttpd-dev
  # recordings upload to S3-compatible storage (src/store/s3_upload)
  libcurl4-openssl-dev
  # TLS: roomcastd's port is served with GnuTLS (src/signaling/tls_*); the CLI's https:// and
  # wss:// go through GIO's TLS backend
  glib-networking libgnutls28-dev
  # sd_notify: readiness and the watchdog under systemd (src/app/service_notify)
  libsystemd-dev
  # a cluster of roomcastd nodes talks to Redis with hiredis on the GLib loop (src/cluster)
  libhiredis-dev
  # run: webrtcbin, hlssink2 (bad), Opus and AAC encoders, libnice for ICE, AAC decoding for `roomcast listen`
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-nice
  gstreamer1.0-libav gstreamer1.0-tools
  # transcription and automated moderation: pocketsphinx on each speaker's audio
  gstreamer1.0-pocketsphinx pocketsphinx-en-us
)
# What the tests add.
test_packages=(
  libgtest-dev libgmock-dev
  # fuzzing: clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
  # tests: ffmpeg decodes HLS and recordings; Debian chromium runs the web client's tests; nginx is the HLS edge
  ffmpeg chromium nginx
  # tests: strace shows that roomcastd reads no HLS file while a room plays (integration-hls)
  strace
  # tests: an emoji font, so the screenshots of the web client show its reaction buttons
  fonts-noto-color-emoji
  # tests: speech for the transcription tests; unshare/mount for the full-disk tests,
  # nsenter/prlimit and the sqlite3 shell for the output-fault tests
  flite util-linux sqlite3
  # tests: the TLS tests make their CA with openssl; caddy (tls internal) runs in front of roomcastd
  openssl caddy
  # tests: the cross-network test (tests/integration/test_networks.cpp) runs a TURN server
  # (coturn, TURN REST secret) and a NAT router (nftables masquerade) in network namespaces;
  # its Chromium trusts the test's CA through an NSS database made with certutil
  coturn nftables libnss3-tools
  # tests/packaging: dpkg-buildpackage with debhelper builds the .deb; mmdebstrap makes the
  # fresh Debian root it is installed into
  debhelper dpkg-dev fakeroot mmdebstrap
  # shape checks: universal-ctags gives every function's first and last line (no function in
  # src/ or bench/ over 100 lines; see bench/README.md)
  universal-ctags
  # tests: the cluster tests start their own redis-server on loopback (tests/support/redis_server)
  redis-server
)
$with_tests && packages+=("${test_packages[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js may come from elsewhere (with its own npm): only install Debian's when missing.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The web client's player (hls.js) comes from npm, never from the repository; the tests'
# playwright-core and s3rver are devDependencies.
if $with_tests; then
  if [ ! -f node_modules/playwright-core/package.json ] || [ package.json -nt node_modules/.package-lock.json ]; then
    echo "setup: npm install"
    npm install --no-audit --no-fund --loglevel=error
  fi
elif [ ! -f node_modules/hls.js/dist/hls.min.js ] || [ package.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm install --omit=dev"
  npm install --omit=dev --no-audit --no-fund --loglevel=error
fi

builddir=${ROOMCAST_BUILD_DIR:-build}
if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" --buildtype=debugoptimized -Dtests=$with_tests >/dev/null
elif $with_tests && meson introspect "$builddir" --buildoptions | grep -q '"name": "tests", "value": false'; then
  meson configure "$builddir" -Dtests=true >/dev/null  # a tree start.sh set up without the tests
fi
if $with_tests; then
  ninja -C "$builddir"
else
  ninja -C "$builddir" src/app/roomcastd src/client/roomcast plugins/roomcast/libgstroomcast.so
fi
