#!/usr/bin/env bash
# Builds the image with docker or podman and checks, end to end, what the README promises:
# non-root, ready, the health check, a signed event accepted, the README's recipe as written, a
# graceful stop under load within the engine's default timeout, state kept across containers,
# and two replicas on one PostgreSQL answering `duplicate` for a redelivery to the other.
#
#   bash scripts/container-check.sh
#
# With neither engine installed it says so and exits 0. Where no registry is reachable it builds
# local stand-ins for the base images (debootstrap; says when it does). Not part of .ci/run: a
# full build takes minutes. Needs python3 and openssl on the host; PostgreSQL on 127.0.0.1:5432
# for the replica check (skipped, saying so, without it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# The engine that answers: a docker CLI without a daemon does not count.
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then E=docker
elif command -v podman >/dev/null 2>&1; then E=podman
else
  echo "container-check: neither docker (with a daemon) nor podman is installed; nothing to check."
  exit 0
fi
WORK=${CONTAINER_CHECK_DIR:-/var/tmp/relay-container-check}
mkdir -p "$WORK"
IMAGE=hrflow-relay
SECRET=container-check-webhook-secret
PASS=0
FAIL=0
ok() { echo "  ok   $*"; PASS=$((PASS + 1)); }
bad() { echo "  FAIL $*"; FAIL=$((FAIL + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

BUILD_FLAGS=()
if [ "$E" = podman ]; then
  # crun cannot apply its limits on some sandboxed hosts: runc, with explicit ulimits.
  cat > "$WORK/containers.conf" <<'CONF'
[engine]
runtime = "runc"
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]
CONF
  export CONTAINERS_CONF=$WORK/containers.conf
  # The Docker format keeps the HEALTHCHECK; OCI drops it.
  BUILD_FLAGS=(--format docker)
fi
echo "engine: $($E --version)"
# Podman without systemd cannot schedule health-check timers and says so on every run; the
# check runs the health check itself (podman healthcheck run), so that line is noise here.
E_BIN=$E
quiet_engine() { "$E_BIN" "$@" 2> >(grep -v -e 'systemd connection' -e 'Removing timer' >&2); }
E=quiet_engine

have_image() { $E image inspect "$1" >/dev/null 2>&1; }

# --- Base images: the registry's, or local stand-ins -------------------------------------
mirror() {
  grep -h -E '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -v security | head -n 1 | sed -E 's/^URIs: *//; s/^deb +(\[[^]]*\] +)?//; s/ .*//'
}
debootstrap_to() {  # folder, extra packages
  local dir=$1 include=${2:-}
  if [ -x "$dir/bin/sh" ]; then return; fi
  command -v debootstrap >/dev/null || { echo "debootstrap is needed to make stand-ins (apt-get install debootstrap)"; exit 1; }
  rm -rf "$dir"
  debootstrap --variant=minbase ${include:+--include=$include} bookworm "$dir" "$(mirror)" >"$dir.log" 2>&1 \
    || { echo "debootstrap failed: see $dir.log"; exit 1; }
}
# What makes the official image "slim": apt keeps no downloaded packages or caches, dpkg
# installs no docs, man pages or translations; and none of them are in the root file system.
slim() {
  local dir=$1
  cat > "$dir/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
  cat > "$dir/etc/dpkg/dpkg.cfg.d/docker" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
DPKG
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin "$dir"/var/lib/apt/lists/* \
    "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/var/log/*.log
  find "$dir/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
  find "$dir/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
}
if ! have_image debian:bookworm-slim && ! $E pull -q debian:bookworm-slim >/dev/null 2>&1; then
  echo "stand-in: debian:bookworm-slim from debootstrap --variant=minbase bookworm ($(mirror)), slimmed as the official image"
  debootstrap_to "$WORK/rootfs-base"
  slim "$WORK/rootfs-base"
  tar -C "$WORK/rootfs-base" -c . | $E import -q - docker.io/library/debian:bookworm-slim >/dev/null
fi
if ! have_image rust:1.95-slim-bookworm && ! $E pull -q rust:1.95-slim-bookworm >/dev/null 2>&1; then
  toolchain=$(rustc --print sysroot)
  echo "stand-in: rust:1.95-slim-bookworm = that base + gcc, libc6-dev + this host's toolchain ($toolchain) and CA bundle"
  debootstrap_to "$WORK/rootfs-rust" gcc,libc6-dev,ca-certificates
  slim "$WORK/rootfs-rust"
  rm -rf "$WORK/rootfs-rust/usr/local/rust"
  mkdir -p "$WORK/rootfs-rust/usr/local/rust"
  (cd "$toolchain" && tar -c --exclude=share/doc .) | tar -C "$WORK/rootfs-rust/usr/local/rust" -x
  # cargo reaches the crates registry through this host's TLS trust (an egress proxy's CA).
  cp /etc/ssl/certs/ca-certificates.crt "$WORK/rootfs-rust/etc/ssl/certs/ca-certificates.crt"
  tar -C "$WORK/rootfs-rust" -c . | $E import -q \
    --change 'ENV PATH=/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV CARGO_HOME=/usr/local/cargo' \
    - docker.io/library/rust:1.95-slim-bookworm >/dev/null
fi

# --- Build -------------------------------------------------------------------------------
echo "building $IMAGE (a clean build takes about 4 minutes)"
started=$(date +%s)
$E_BIN build "${BUILD_FLAGS[@]}" -t "$IMAGE" . >"$WORK/build.log" 2>&1 || { tail -n 30 "$WORK/build.log"; echo "build failed"; exit 1; }
echo "built in $(( $(date +%s) - started )) s; size $($E image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1000/1000}')"

cleanup() {
  for c in relay relay-check relay-a relay-b; do $E rm -f "$c" >/dev/null 2>&1 || true; done
  for v in relay-data relay-check-data; do $E volume rm -f "$v" >/dev/null 2>&1 || true; done
  [ -n "${FAKE_PID:-}" ] && kill "$FAKE_PID" 2>/dev/null || true
  [ -n "${PG_DB:-}" ] && psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -f "$WORK/recipe/relay.toml"
}
trap cleanup EXIT
cleanup

# --- Stand-ins for HrFlow and Flatchr: every call hangs (deliveries stay in flight) ---------
FAKE_PORT=18931
python3 - "$FAKE_PORT" <<'PY' &
import socket, sys, threading, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(512)
held = []
while True:
    c, _ = s.accept(); held.append(c)   # never answers
PY
FAKE_PID=$!

sign() { printf '%s' "$1" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //'; }
event() { printf '{"type":"profile.parsing.success","profile":{"key":"%s","source":{"key":"container-check"}}}' "$1"; }
post() {  # port, body -> status and answer
  curl -s -o "$WORK/answer.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -H "HTTP-HRFLOW-SIGNATURE: $(sign "$2")" --data-binary "$2" "http://127.0.0.1:$1/hrflow/events"
}
wait_ready() {  # container
  for _ in $(seq 1 100); do
    $E exec "$1" hrflow-relay probe --path /health/ready >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  $E logs "$1" | tail -n 20
  return 1
}

echo "checks:"
# 1. Non-root, the health check, the data folder.
check "runs as uid 10001, gid 10001" test "$($E run --rm --entrypoint id "$IMAGE" -u):$($E run --rm --entrypoint id "$IMAGE" -g)" = "10001:10001"
health=$($E image inspect "$IMAGE" --format '{{json .Config.Healthcheck}}')
check "the HEALTHCHECK is kept: $health" test "${health#*hrflow-relay}" != "$health"
check "/data belongs to 10001, mode 700" test "$($E run --rm --entrypoint stat "$IMAGE" -c %u:%a /data)" = 10001:700

# A root-owned bind mount on /data: one clear error naming the folder and the uid, at once.
mkdir -p "$WORK/root-owned" && chown 0:0 "$WORK/root-owned" && chmod 755 "$WORK/root-owned"
started=$(date +%s%N)
out=$($E run --rm -v "$WORK/root-owned:/data" "$IMAGE" 2>&1 || true)
took=$(( ($(date +%s%N) - started) / 1000000 ))
check "a root-owned bind mount on /data fails at once ($took ms) naming /data and uid 10001" \
  test "${out#*cannot write the SQLite database in /data*uid 10001}" != "$out" -a "$took" -lt 10000

# 2. A container on the host network, its upstreams hanging: ready, healthy, events accepted.
PORT=18932
$E run -d --name relay-check --network host -v relay-check-data:/data \
  -e RELAY__SERVER__PORT=$PORT -e RELAY_CONFIG=/etc/hrflow-relay/example.toml \
  -e RELAY__HRFLOW__API_URL=http://127.0.0.1:$FAKE_PORT -e RELAY__HRFLOW__API_KEY=k \
  -e RELAY__HRFLOW__USER_EMAIL=ops@example.org -e RELAY__HRFLOW__WEBHOOK_SECRET=$SECRET \
  -e RELAY__FLATCHR__CAREERS_URL=http://127.0.0.1:$FAKE_PORT -e RELAY__FLATCHR__API_URL=http://127.0.0.1:$FAKE_PORT \
  -e RELAY__FLATCHR__API_KEY=f -e RELAY__FLATCHR__COMPANY=c "$IMAGE" >/dev/null
check "ready (probe --path /health/ready inside the container)" wait_ready relay-check
if [ "$E_BIN" = podman ]; then
  check "the engine's health check passes (podman healthcheck run)" $E healthcheck run relay-check
else
  sleep 16; check "the engine reports healthy" test "$($E inspect relay-check --format '{{.State.Health.Status}}')" = healthy
fi
check "a signed event is answered 202" test "$(post $PORT "$(event cc-0)")" = 202
modes=$($E exec relay-check stat -c %a /data/relay.db /data/relay.db-wal | tr '\n' ' ')
check "the database and its WAL are readable by the relay's user only ($modes)" test "$modes" = "600 600 "
check "a wrong signature is answered 401" test "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -H 'HTTP-HRFLOW-SIGNATURE: 00' --data-binary "$(event cc-x)" http://127.0.0.1:$PORT/hrflow/events)" = 401
for i in $(seq 1 20); do post $PORT "$(event "cc-$i")" >/dev/null; done
sleep 1  # the workers claim them; every delivery now hangs on its upstream call

# 3. A graceful stop under load, within the engine's default timeout (10 s, then SIGKILL).
started=$(date +%s%N)
$E stop relay-check >/dev/null
took=$(( ($(date +%s%N) - started) / 1000000 ))
code=$($E inspect relay-check --format '{{.State.ExitCode}}')
check "stopped with jobs in flight: exit $code after $took ms (0, under 10,000)" test "$code" = 0 -a "$took" -lt 10000
released=$($E logs relay-check 2>&1 | grep -o '"worker stopped","released":[0-9]*' | grep -o '[0-9]*$' || echo 0)
check "the leases of the jobs in flight were released at the stop ($released)" test "${released:-0}" -gt 0

# 4. State kept across containers: a new container on the same volume has the 21 jobs.
jobs=$($E run --rm -v relay-check-data:/data "$IMAGE" jobs --status pending --limit 100 | wc -l)
check "a new container on the volume sees the 21 pending jobs ($jobs)" test "$jobs" = 21

# 5. The README's recipe, exactly as written (with `docker` being this engine).
mkdir -p "$WORK/recipe/config"
cp config/example.toml config/example.rhai "$WORK/recipe/config/"
sed -n '/<!-- container-recipe -->/,/<!-- \/container-recipe -->/p' README.md | sed '/^<!--/d; /^```/d' > "$WORK/recipe/recipe.sh"
(cd "$WORK/recipe" && docker() { $E "$@"; } && . ./recipe.sh >/dev/null)
check "the README recipe's container becomes ready" wait_ready relay
check "the README recipe's container answers on host port 8080" curl -sf -o /dev/null http://127.0.0.1:8080/health/live
logs=$($E logs relay 2>&1)
check "docker logs relay shows hrflow-relay listening" test "${logs#*hrflow-relay listening}" != "$logs"
recipe_health=$($E inspect relay --format '{{json .Config.Healthcheck}}' 2>/dev/null || true)
check "the recipe's container carries the health check" test "${recipe_health#*probe}" != "$recipe_health"
$E rm -f relay >/dev/null

# 6. Two replicas on one PostgreSQL: a redelivery to the other replica is a duplicate.
if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  PG_DB=relay_container_check
  psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB" >/dev/null
  for r in a:18933 b:18934; do
    $E run -d --name "relay-${r%%:*}" --network host -e RELAY__SERVER__PORT="${r##*:}" \
      -e RELAY__DATABASE__URL=postgres://postgres@127.0.0.1:5432/$PG_DB \
      -e RELAY_CONFIG=/etc/hrflow-relay/example.toml \
      -e RELAY__HRFLOW__API_URL=http://127.0.0.1:$FAKE_PORT -e RELAY__HRFLOW__API_KEY=k \
      -e RELAY__HRFLOW__USER_EMAIL=ops@example.org -e RELAY__HRFLOW__WEBHOOK_SECRET=$SECRET \
      -e RELAY__FLATCHR__API_KEY=f -e RELAY__FLATCHR__COMPANY=c "$IMAGE" >/dev/null
  done
  check "replica a ready" wait_ready relay-a
  check "replica b ready" wait_ready relay-b
  body=$(event cc-replicated)
  check "the event, to replica a: 202" test "$(post 18933 "$body")" = 202
  status=$(post 18934 "$body")
  answer=$(cat "$WORK/answer.json")
  check "its redelivery, to replica b: $status $answer" test "$status" = 200 -a "${answer#*duplicate}" != "$answer"
else
  echo "  skip two replicas on PostgreSQL: none at 127.0.0.1:5432"
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
