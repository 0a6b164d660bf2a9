#!/usr/bin/env bash
# Container tooling for CI and for anyone on a machine without a registry (see runbook/deploy.md):
#   scripts/containers.sh install   apt: docker.io, nginx, debootstrap; Compose v2 + buildx from Debian sid
#   scripts/containers.sh start     dockerd under $CONTAINERS_DIR, stopped by pid with `stop`
#   scripts/containers.sh bases     local base images under their upstream names (no registry is reachable)
#   scripts/containers.sh ci-images postgres, nginx and S3 stand-ins for compose.ci.yml (after bases)
#   scripts/containers.sh stop      stops that dockerd (which removes its bridges and iptables rules)
#   scripts/containers.sh env       prints the exports a shell needs to talk to that dockerd
# Everything lives under CONTAINERS_DIR (default .containers/ in the clone, git-ignored): nothing is
# cached elsewhere except what apt installs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
D="${CONTAINERS_DIR:-$ROOT/.containers}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Pinned; sid moves on, so a vanished pin falls back to sid's current version with a warning.
COMPOSE_VERSION="${COMPOSE_VERSION:-2.40.3-3}"
BUILDX_VERSION="${BUILDX_VERSION:-0.29.1+ds1-4}"
# Private subnets of this engine's own networks, away from docker's defaults.
ADDRESS_POOL="${CONTAINERS_ADDRESS_POOL:-10.213.0.0/16}"
BRIDGE_IP="${CONTAINERS_BRIDGE_IP:-10.214.0.1/24}"

export DOCKER_HOST="unix://$D/docker.sock"
export DOCKER_CONFIG="$D/config"
mkdir -p "$D" "$DOCKER_CONFIG/cli-plugins"
log() { printf 'containers: %s\n' "$*" >&2; }

fetch_sid_deb() { # name version → extracted under $D/sid/root
  local name="$1" version="$2" state="$D/sid/state"
  mkdir -p "$state/lists/partial" "$D/sid/cache/archives/partial" "$D/sid/debs" "$D/sid/root"
  [ -f "$D/sid/sources.list" ] || {
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR sid main" >"$D/sid/sources.list"
    apt-get -qq -o Dir::State="$state" -o Dir::Cache="$D/sid/cache" -o Dir::Etc::SourceList="$D/sid/sources.list" \
      -o Dir::Etc::SourceParts=/dev/null update
  }
  local apt=(apt-get -qq -o Dir::State="$state" -o Dir::Cache="$D/sid/cache"
    -o Dir::Etc::SourceList="$D/sid/sources.list" -o Dir::Etc::SourceParts=/dev/null)
  (cd "$D/sid/debs" && { "${apt[@]}" -o APT::Sandbox::User=root download "$name=$version" 2>/dev/null || {
    log "WARNING: $name=$version is gone from sid; taking sid's current $name"
    "${apt[@]}" -o APT::Sandbox::User=root download "$name"
  }; })
  dpkg-deb -x "$(ls -t "$D/sid/debs/${name}"_*.deb | head -1)" "$D/sid/root"
}

install() {
  if ! command -v dockerd >/dev/null || ! command -v nginx >/dev/null || ! command -v debootstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      docker.io nginx debootstrap iptables openssl ca-certificates >/dev/null
  fi
  for plugin in compose buildx; do
    [ -x "$DOCKER_CONFIG/cli-plugins/docker-$plugin" ] && continue
    if [ "$plugin" = compose ]; then fetch_sid_deb docker-compose "$COMPOSE_VERSION"; else fetch_sid_deb docker-buildx "$BUILDX_VERSION"; fi
    cp "$D/sid/root/usr/libexec/docker/cli-plugins/docker-$plugin" "$DOCKER_CONFIG/cli-plugins/"
  done
  docker compose version >&2
  docker buildx version >&2
}

start() {
  if [ -f "$D/dockerd.pid" ] && kill -0 "$(cat "$D/dockerd.pid")" 2>/dev/null; then return 0; fi
  mkdir -p "$D/data" "$D/exec"
  # dockerd sets FORWARD to DROP and leaves its default bridge behind: remember what to restore.
  [ -f "$D/forward-policy" ] || iptables -S FORWARD | awk '/^-P FORWARD/ {print $3}' >"$D/forward-policy"
  dockerd --data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/dockerd.pid" \
    --host "$DOCKER_HOST" --storage-driver overlay2 --bip "$BRIDGE_IP" \
    --default-address-pool "base=$ADDRESS_POOL,size=24" >"$D/dockerd.log" 2>&1 &
  for _ in $(seq 1 100); do
    docker info >/dev/null 2>&1 && { log "dockerd $(cat "$D/dockerd.pid") up"; return 0; }
    sleep 0.2
  done
  tail -20 "$D/dockerd.log" >&2
  return 1
}

stop() {
  [ -f "$D/dockerd.pid" ] || return 0
  local pid
  pid="$(cat "$D/dockerd.pid")"
  # Containers first, so nothing is left running and dockerd exits promptly (it then drops its rules).
  docker ps -q | xargs -r docker rm -f >/dev/null 2>&1 || true
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then log "dockerd $pid did not stop within 30 s"; return 1; fi
  rm -f "$D/dockerd.pid"
  log "dockerd $pid stopped"
  # A run that failed mid-way can leave network namespaces mounted under the exec root, and the clone
  # could then not be removed: unmount whatever is left there.
  if [ -d "$D/exec/netns" ]; then
    find "$D/exec/netns" -mindepth 1 -maxdepth 1 -exec umount {} \; 2>/dev/null || true
  fi
  clean_network
}

# A clean stop removes the per-network rules but keeps docker0, its NAT rule and the DOCKER* chains:
# remove what this engine added (no other engine runs here) and restore the FORWARD policy.
clean_network() {
  ip link delete docker0 2>/dev/null || true
  local table rule chain
  for table in filter nat; do
    iptables -t "$table" -S | grep -E '^-A (INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING) .*(DOCKER|docker0|br-)' |
      sed 's/^-A /-D /' | while read -r -a rule; do iptables -t "$table" "${rule[@]}"; done || true
    iptables -t "$table" -S | grep -E '^-A (POSTROUTING) -s '"${BRIDGE_IP%.*}"'\.0/24 ' |
      sed 's/^-A /-D /' | while read -r -a rule; do iptables -t "$table" "${rule[@]}"; done || true
    for chain in DOCKER DOCKER-ISOLATION-STAGE-1 DOCKER-ISOLATION-STAGE-2 DOCKER-USER; do
      iptables -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in DOCKER DOCKER-ISOLATION-STAGE-1 DOCKER-ISOLATION-STAGE-2 DOCKER-USER; do
      iptables -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
  [ -s "$D/forward-policy" ] && iptables -P FORWARD "$(cat "$D/forward-policy")"
  if iptables-save | grep -qE 'DOCKER|docker0' || ip link show docker0 >/dev/null 2>&1; then
    log "network rules of the engine are still there:"; iptables-save | grep -E 'DOCKER|docker0' >&2
    return 1
  fi
  log "bridge and iptables rules removed"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# Builds a small image from a Containerfile given on stdin, with the host CA bundle as a build secret
# (outbound TLS is re-signed here; nothing of it stays in a layer).
build_stdin() { # tag context
  docker buildx build --load -q -t "$1" --secret id=npm_ca,src=/etc/ssl/certs/ca-certificates.crt -f - "$2" >/dev/null
}

bases() {
  if ! have_image debian:bookworm-slim; then
    local tarball="$D/cache/debian-bookworm-minbase.tar"
    if [ ! -s "$tarball" ]; then
      mkdir -p "$D/cache"
      rm -rf "$D/rootfs"
      debootstrap --variant=minbase bookworm "$D/rootfs" "$MIRROR" >"$D/debootstrap.log" 2>&1 ||
        { tail -20 "$D/debootstrap.log" >&2; return 1; }
      rm -rf "$D/rootfs"/var/cache/apt/archives/*.deb "$D/rootfs"/var/lib/apt/lists/*
      tar -C "$D/rootfs" -cf "$tarball" .
      rm -rf "$D/rootfs"
    fi
    docker import "$tarball" debian:bookworm-slim >/dev/null
    log "debian:bookworm-slim imported"
  fi

  if ! have_image node:24-bookworm-slim; then
    # shellcheck source=toolchain.sh
    source "$ROOT/scripts/toolchain.sh" >&2 # the same Node 24 that runs the tests
    # The upstream image's layout: node + npm under /usr/local, user node (uid 1000).
    local ctx="$D/ctx/node"
    rm -rf "$ctx" && mkdir -p "$ctx"
    cp "$(command -v node)" "$ctx/node"
    (cd "$ctx" && npm pack -q "npm@${NPM_VERSION:-11}" >/dev/null && mv npm-*.tgz npm.tgz)
    build_stdin node:24-bookworm-slim "$ctx" <<'EOF'
FROM debian:bookworm-slim
COPY node /usr/local/bin/node
COPY npm.tgz /tmp/npm.tgz
RUN mkdir -p /usr/local/lib/node_modules/npm && tar -xzf /tmp/npm.tgz --strip-components=1 -C /usr/local/lib/node_modules/npm \
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && rm /tmp/npm.tgz && groupadd -g 1000 node && useradd -u 1000 -g node -m -s /bin/sh node
CMD ["node"]
EOF
    log "node:24-bookworm-slim built ($(node --version))"
  fi

}

ci_images() {
  # CI-only stand-ins for compose.ci.yml; compose.yml keeps the upstream images. Built side by side:
  # their apt and npm downloads overlap.
  local jobs=()
  if ! have_image stowage-ci/postgres:local; then (
    # PG 15 from bookworm: server and its own pg_dump/pg_restore, like the upstream image's pairing.
    build_stdin stowage-ci/postgres:local "$ROOT/ops/ci" <<'EOF'
FROM debian:bookworm-slim
RUN groupadd -r -g 999 postgres && useradd -r -u 999 -g postgres -d /var/lib/postgresql -s /bin/sh postgres \
 && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-contrib-15 >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
RUN mkdir -p /var/lib/postgresql/data /var/run/postgresql && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
USER postgres
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
EOF
    log "stowage-ci/postgres:local built"
  ) & jobs+=($!); fi
  if ! have_image stowage-ci/nginx:local; then (
    build_stdin stowage-ci/nginx:local "$ROOT/ops/ci" <<'EOF'
FROM debian:bookworm-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light curl ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb && groupadd -g 101 nginxu && useradd -u 101 -g 101 -M -s /usr/sbin/nologin nginxu
USER 101
CMD ["nginx", "-g", "daemon off;"]
EOF
    log "stowage-ci/nginx:local built"
  ) & jobs+=($!); fi
  if ! have_image stowage-ci/s3:local; then (
    build_stdin stowage-ci/s3:local "$ROOT/ops/ci" <<'EOF'
FROM node:24-bookworm-slim
WORKDIR /s3
RUN --mount=type=secret,id=npm_ca sh -c '[ -s /run/secrets/npm_ca ] && export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; npm install -q --no-audit --no-fund s3rver@3.7.1 >/dev/null && npm cache clean --force >/dev/null 2>&1'
COPY s3-server.mjs /s3/server.mjs
RUN mkdir /data && chown 1000:1000 /data
USER 1000
CMD ["node", "/s3/server.mjs"]
EOF
    log "stowage-ci/s3:local built"
  ) & jobs+=($!); fi
  local job failed=0
  for job in "${jobs[@]}"; do wait "$job" || failed=1; done
  return "$failed"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  clean-network) clean_network ;;
  bases) bases ;;
  ci-images) ci_images ;;
  env) printf 'export DOCKER_HOST=%q DOCKER_CONFIG=%q\n' "$DOCKER_HOST" "$DOCKER_CONFIG" ;;
  *) echo "usage: $0 install|start|bases|ci-images|stop|clean-network|env" >&2; exit 2 ;;
esac
