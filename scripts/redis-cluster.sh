#!/usr/bin/env bash
# A local 3-primary Redis Cluster for development and `npm run test:cluster`, made from the
# installed redis-server and redis-cli. No replicas, no persistence: never use it for real data.
#
#   scripts/redis-cluster.sh start    start the nodes and create the cluster (idempotent)
#   scripts/redis-cluster.sh stop     shut the nodes down and delete their directory
#   scripts/redis-cluster.sh status   print each node and the cluster state; exit 1 unless healthy
#
# Environment: REDIS_CLUSTER_PORTS (default "7001 7002 7003"), REDIS_CLUSTER_HOST (default
# 127.0.0.1), REDIS_CLUSTER_DIR (default $TMPDIR/tandem-redis-cluster).
# Point Tandem at it with REDIS_CLUSTER_NODES=127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003.
set -euo pipefail

HOST="${REDIS_CLUSTER_HOST:-127.0.0.1}"
read -r -a PORTS <<<"${REDIS_CLUSTER_PORTS:-7001 7002 7003}"
DIR="${REDIS_CLUSTER_DIR:-${TMPDIR:-/tmp}/tandem-redis-cluster}"

die() {
  echo "redis-cluster: $*" >&2
  exit 1
}

cli() {
  local port="$1"
  shift
  redis-cli -h "$HOST" -p "$port" "$@"
}

is_up() {
  [[ "$(cli "$1" ping 2>/dev/null)" == "PONG" ]]
}

cluster_ok() {
  cli "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'
}

nodes_csv() {
  local out=() port
  for port in "${PORTS[@]}"; do out+=("$HOST:$port"); done
  (IFS=,; echo "${out[*]}")
}

start() {
  command -v redis-server >/dev/null || die "redis-server is not installed"
  command -v redis-cli >/dev/null || die "redis-cli is not installed"
  mkdir -p "$DIR"
  local port
  for port in "${PORTS[@]}"; do
    if is_up "$port"; then
      # Refuse to adopt a server that is not ours (a standalone Redis on the same port).
      cli "$port" info cluster | grep -q '^cluster_enabled:1' || die "port $port is taken by a Redis without cluster mode"
      continue
    fi
    mkdir -p "$DIR/$port"
    redis-server \
      --port "$port" --bind "$HOST" --daemonize yes \
      --dir "$DIR/$port" --pidfile "$DIR/$port/redis.pid" --logfile "$DIR/$port/redis.log" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
      --save '' --appendonly no --maxmemory-policy noeviction
  done
  for port in "${PORTS[@]}"; do
    for _ in $(seq 1 50); do is_up "$port" && break; sleep 0.1; done
    is_up "$port" || die "node $port did not start; see $DIR/$port/redis.log"
  done
  if ! cluster_ok "${PORTS[0]}"; then
    local known
    known="$(cli "${PORTS[0]}" cluster info | sed -n 's/^cluster_known_nodes:\([0-9]*\).*/\1/p')"
    if [[ "$known" == "1" ]]; then
      local args=() p
      for p in "${PORTS[@]}"; do args+=("$HOST:$p"); done
      redis-cli --cluster create "${args[@]}" --cluster-replicas 0 --cluster-yes >"$DIR/create.log" 2>&1 ||
        die "cluster create failed; see $DIR/create.log"
    fi
  fi
  # Every node must agree that all slots are served before clients connect.
  for port in "${PORTS[@]}"; do
    for _ in $(seq 1 100); do cluster_ok "$port" && break; sleep 0.1; done
    cluster_ok "$port" || die "node $port does not report cluster_state:ok; try: $0 stop && $0 start"
  done
  echo "redis cluster up: REDIS_CLUSTER_NODES=$(nodes_csv)"
}

stop() {
  local port
  for port in "${PORTS[@]}"; do
    if is_up "$port"; then
      cli "$port" shutdown nosave >/dev/null 2>&1 || true
    fi
  done
  for port in "${PORTS[@]}"; do
    for _ in $(seq 1 50); do is_up "$port" || break; sleep 0.1; done
    ! is_up "$port" || die "node $port did not stop"
  done
  rm -rf "$DIR"
  echo "redis cluster stopped"
}

status() {
  local port healthy=0
  for port in "${PORTS[@]}"; do
    if ! is_up "$port"; then
      echo "$HOST:$port down"
      healthy=1
    elif cluster_ok "$port"; then
      echo "$HOST:$port up, cluster_state:ok, $(cli "$port" dbsize) keys"
    else
      echo "$HOST:$port up, cluster not ok"
      healthy=1
    fi
  done
  if [[ $healthy -eq 0 ]]; then echo "REDIS_CLUSTER_NODES=$(nodes_csv)"; fi
  return $healthy
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
