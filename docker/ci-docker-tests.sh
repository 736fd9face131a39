#!/usr/bin/env bash
# CI's docker step: the docker runtime's tests (`python -m pytest -m docker`), on their own, bounded.
#
#   bash docker/ci-docker-tests.sh        (.ci/run calls it after the main test command)
#
# 1. Debian's docker.io (the engine), debootstrap (the base image) and docker-compose, if missing.
# 2. dockerd, unless an engine already answers: --iptables=false --bridge=none (the runs make their
#    own bridge networks; no NAT is needed), overlay2, else vfs.  Stopped at the end if started here.
# 3. The base image from Debian's packages (docker/build-base-image.sh; no image registry is reachable
#    from CI), then the lab's image on it.  Both are cached: the root file system in
#    /var/cache/chord-failure-lab, the images in dockerd's own /var/lib/docker.
# 4. The tests.  Their failures fail CI; an engine that cannot be had skips the step (exit 0, saying why).
# LAB_DOCKER_STEP_BUDGET (seconds, default 1800) bounds the whole step.
set -uo pipefail
cd "$(dirname "$0")/.."

budget=${LAB_DOCKER_STEP_BUDGET:-1800}
t0=$SECONDS
say() { printf '+ [docker step %4ds] %s\n' "$((SECONDS - t0))" "$*"; }
skip() { say "docker tests skipped: $*"; exit 0; }
left() { echo $((budget - (SECONDS - t0))); }

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || need+=(docker-compose)
if [ ${#need[@]} -gt 0 ]; then
  say "apt-get install ${need[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq "${need[@]}"; } >/tmp/lab-ci-apt.log 2>&1 \
    || skip "could not install ${need[*]} ($(tail -1 /tmp/lab-ci-apt.log))"
fi

dockerd_pid=""
stop_dockerd() {
  [ -n "$dockerd_pid" ] || return 0
  say "stopping dockerd (pid $dockerd_pid)"
  kill -TERM "$dockerd_pid" 2>/dev/null
  for _ in $(seq 1 60); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$dockerd_pid" 2>/dev/null
  wait "$dockerd_pid" 2>/dev/null
  say "dockerd stopped"
}
if ! timeout 20 docker info >/dev/null 2>&1; then
  log=/tmp/lab-ci-dockerd.log
  for driver in overlay2 vfs; do
    say "starting dockerd --iptables=false --bridge=none --storage-driver=$driver"
    dockerd --iptables=false --bridge=none --storage-driver="$driver" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 120); do
      timeout 5 docker info >/dev/null 2>&1 && { dockerd_pid=$pid; break; }
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    [ -n "$dockerd_pid" ] && break
    kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  done
  [ -n "$dockerd_pid" ] || skip "dockerd did not start: $(tail -2 "$log" | tr '\n' ' ')"
  trap stop_dockerd EXIT
  say "dockerd answers (pid $dockerd_pid)"
fi

say "base image (docker/build-base-image.sh)"
base_out=$(timeout "$(left)" bash docker/build-base-image.sh) || { echo "$base_out"; say "the base image could not be made"; exit 1; }
echo "$base_out"
suite=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-bookworm}")
export LAB_BASE_IMAGE=${LAB_BASE_IMAGE:-chord-failure-lab-base:${DEBIAN_SUITE:-${suite:-bookworm}}}

say "the lab's image on $LAB_BASE_IMAGE"
timeout "$(left)" python -c 'from lab.runtime.docker.containers import engine, ensure_image; print(ensure_image(engine(), print, fresh=True))' \
  || { say "the lab's image could not be built"; exit 1; }

say "python -m pytest -m docker"
timeout "$(left)" python -m pytest -m docker -p no:cacheprovider tests/
code=$?
say "docker tests done (pytest exit $code)"
exit $code
