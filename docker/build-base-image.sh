#!/usr/bin/env bash
# The lab's base image, made from Debian's packages alone (for machines that reach no image registry).
#
#   docker/build-base-image.sh [TAG]          default TAG: chord-failure-lab-base:bookworm
#
# It stands in for python:3.11-slim as the Dockerfile's BASE_IMAGE: a debootstrap
# --variant=minbase root file system with Debian's python3 (in a venv at /opt/venv,
# first on PATH, so `python` and `pip` work as in the official image) and Debian's
# redis-server (so one image serves every node of a docker-runtime topology), imported
# with `docker import`.  It trusts this machine's local certificate authorities too (a
# proxy that re-signs TLS).  The root file system's tarball is cached, so a second build
# (a fresh dockerd, the same machine) is an import of a few seconds:
#   LAB_BASE_CACHE  cache folder (default /var/cache/chord-failure-lab)
#   DEBIAN_SUITE    (default: this machine's VERSION_CODENAME, else bookworm)
#   DEBIAN_MIRROR   (default http://deb.debian.org/debian)
set -euo pipefail

tag=${1:-}
suite=${DEBIAN_SUITE:-$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")}
suite=${suite:-bookworm}
tag=${tag:-chord-failure-lab-base:$suite}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${LAB_BASE_CACHE:-/var/cache/chord-failure-lab}
tarball="$cache/base-$suite-$(uname -m).tar"
packages=python3,python3-venv,redis-server,ca-certificates

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "base image $tag is already there"
  exit 0
fi

if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install -y debootstrap" >&2; exit 1; }
  mkdir -p "$cache"
  rootfs=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  echo "debootstrap --variant=minbase $suite ($packages) from $mirror"
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; echo "debootstrap failed; its log is $cache/debootstrap.log" >&2; exit 1; }
  # The venv gives `python` and `pip` the names the official python image has; Debian's own
  # python3 refuses `pip install` outside one (PEP 668).
  chroot "$rootfs" /usr/bin/python3 -m venv /opt/venv
  # Trust the certificate authorities this machine trusts locally (a proxy that re-signs
  # TLS, as in CI), so that pip inside the image reaches PyPI as pip here does.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" /usr/sbin/update-ca-certificates >/dev/null
  fi
  chroot "$rootfs" /usr/bin/apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  tar -C "$rootfs" --numeric-owner -cf "$tarball.part" .
  mv "$tarball.part" "$tarball"
  rm -rf "$rootfs"
  trap - EXIT
fi

docker import \
  --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  "$tarball" "$tag" >/dev/null
echo "base image $tag imported from $tarball"
