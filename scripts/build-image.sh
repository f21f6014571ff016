#!/usr/bin/env bash
# Builds canaryd's image with buildah, in the Dockerfile's layout, where no registry is
# reachable (so `FROM debian:bookworm-slim` cannot be pulled): the base is a minimal Debian 12
# bootstrapped by mmdebstrap from the Debian mirror, with ca-certificates and libssl3 as in
# the Dockerfile; the binary is this checkout's release build. Same user (canaryd, uid 10001),
# environment, volume, port and entrypoint as the Dockerfile.
#
#   sudo scripts/build-image.sh [IMAGE]        # default canaryd:0.1.0
#   podman run --rm -p 8080:8080 canaryd:0.1.0
#
# Needs (Debian): buildah, mmdebstrap; podman to run it. Runs as root with the vfs storage
# driver (no overlay or user namespaces needed). The bootstrapped base is cached in
# target/image/rootfs.tar (delete it to refresh). Not part of the test run: slow.
set -euo pipefail

image=${1:-canaryd:0.1.0}
root=$(cd "$(dirname "$0")/.." && pwd)
cache="$root/target/image"
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot

for bin in buildah mmdebstrap cargo; do
  command -v "$bin" >/dev/null || { echo "build-image.sh: $bin is missing (apt-get install buildah mmdebstrap)" >&2; exit 1; }
done

mkdir -p "$cache"
if [ ! -s "$cache/rootfs.tar" ]; then
  echo "build-image.sh: bootstrapping Debian bookworm (minbase + ca-certificates libssl3)"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates,libssl3 --format=tar \
    bookworm "$cache/rootfs.tar.tmp"
  mv "$cache/rootfs.tar.tmp" "$cache/rootfs.tar"
fi

echo "build-image.sh: cargo build --release"
(cd "$root" && nice -n 10 cargo build --release --locked --bin canaryd)
bin="$root/target/release/canaryd"

ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
mnt=$(buildah mount "$ctr")
tar -C "$mnt" -xf "$cache/rootfs.tar"
# Nothing of apt's caches in the image (the Dockerfile removes /var/lib/apt/lists too).
rm -rf "$mnt/var/lib/apt/lists/"* "$mnt/var/cache/apt/"*
# The user and the directories, as the Dockerfile's RUN makes them.
chroot "$mnt" groupadd --system --gid 10001 canaryd
chroot "$mnt" useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/canaryd \
  --no-create-home --shell /usr/sbin/nologin canaryd
mkdir -p "$mnt/var/lib/canaryd" "$mnt/etc/canaryd" "$mnt/usr/share/canaryd"
chown 10001:10001 "$mnt/var/lib/canaryd"
install -m 0755 "$bin" "$mnt/usr/local/bin/canaryd"
strip "$mnt/usr/local/bin/canaryd" 2>/dev/null || true
cp -r "$root/analysis-templates" "$mnt/usr/share/canaryd/analysis-templates"
buildah umount "$ctr" >/dev/null

buildah config \
  --env CANARYD__SERVER__LISTEN=0.0.0.0:8080 \
  --env CANARYD__STORE__URL=sqlite:///var/lib/canaryd/canaryd.db \
  --env CANARYD__TEMPLATES__DIR=/usr/share/canaryd/analysis-templates \
  --workingdir /var/lib/canaryd \
  --volume /var/lib/canaryd \
  --port 8080 \
  --user 10001:10001 \
  --entrypoint '["/usr/local/bin/canaryd"]' \
  --cmd serve \
  --label org.opencontainers.image.title=canaryd \
  "$ctr"
buildah commit --quiet --rm "$ctr" "$image" >/dev/null
trap - EXIT
echo "build-image.sh: built $image"
buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' | grep -F "${image%%:*}" || true
