#!/usr/bin/env bash
# A throw-away Arize Phoenix server for tests and CI: "any OTLP backend" that reads OpenInference attributes.
#
#   scripts/phoenix-server.sh install      creates the cached venv if missing; prints its path
#   scripts/phoenix-server.sh start        installs if needed, starts `phoenix serve` on 127.0.0.1 (free ports unless
#                                          PHOENIX_PORT is set) with SQLite in a fresh temp dir, waits for /healthz
#                                          and prints shell lines to eval:
#                                            export CLAWTRACE_TEST_PHOENIX_URL=http://127.0.0.1:PORT
#                                            export CLAWTRACE_TEST_PHOENIX_DIR=/tmp/clawtrace-phoenix.XXXX
#   scripts/phoenix-server.sh stop [DIR]   stops the server started in DIR (default $CLAWTRACE_TEST_PHOENIX_DIR) and
#                                          deletes DIR
#
# Phoenix takes OTLP/HTTP protobuf at $URL/v1/traces (it answers 415 to OTLP/JSON) and serves its REST API on the
# same port. The venv lives in ${CLAWTRACE_CACHE:-$HOME/.cache/clawtrace}/phoenix-$PHOENIX_VERSION (override with
# CLAWTRACE_PHOENIX_VENV). Progress goes to stderr; only the export lines go to stdout.
set -euo pipefail

PHOENIX_VERSION=20.26.1
CACHE=${CLAWTRACE_CACHE:-$HOME/.cache/clawtrace}
VENV=${CLAWTRACE_PHOENIX_VENV:-$CACHE/phoenix-$PHOENIX_VERSION}
START_TIMEOUT_S=${CLAWTRACE_PHOENIX_START_TIMEOUT_S:-120}

log() { printf 'phoenix-server: %s\n' "$*" >&2; }
now_ms() { date +%s%3N; }

installed() { [ -x "$VENV/bin/phoenix" ] && [ -f "$VENV/.clawtrace-installed" ]; }

install() {
  installed && return 0
  mkdir -p "$(dirname "$VENV")"
  # One installer at a time (several test processes may start at once); the marker says it completed.
  exec 9>"$VENV.lock"
  flock 9
  if ! installed; then
    local t0; t0=$(now_ms)
    log "installing arize-phoenix==$PHOENIX_VERSION into $VENV (one time)"
    rm -rf "$VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
    if ! "$VENV/bin/pip" install --quiet --no-input "arize-phoenix==$PHOENIX_VERSION" >&2; then
      rm -rf "$VENV"
      log "pip install arize-phoenix==$PHOENIX_VERSION failed"
      exit 1
    fi
    touch "$VENV/.clawtrace-installed"
    log "installed in $(( ($(now_ms) - t0) / 1000 )) s"
  fi
  flock -u 9
  exec 9>&-
}

free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  install
  local port=${PHOENIX_PORT:-$(free_port)}
  local grpc_port; grpc_port=$(free_port)
  local dir; dir=$(mktemp -d "${TMPDIR:-/tmp}/clawtrace-phoenix.XXXXXX")
  local uri="http://127.0.0.1:$port"
  local t0; t0=$(now_ms)
  # SQLite and working files in the throw-away dir, no telemetry, its gRPC receiver on a free port (the default
  # 4317 may be taken by another server on the machine). setsid: its own process group, so stop ends the tree.
  PHOENIX_HOST=127.0.0.1 PHOENIX_PORT="$port" PHOENIX_GRPC_PORT="$grpc_port" PHOENIX_WORKING_DIR="$dir" \
    PHOENIX_SQL_DATABASE_URL="sqlite:///$dir/phoenix.db" PHOENIX_TELEMETRY_ENABLED=false DO_NOT_TRACK=true \
    setsid "$VENV/bin/phoenix" serve >"$dir/server.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/pid"
  local deadline=$(( $(now_ms) + START_TIMEOUT_S * 1000 ))
  until curl -sf -o /dev/null "$uri/healthz"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "the server exited before answering /healthz; its log:"
      cat "$dir/server.log" >&2
      rm -rf "$dir"
      exit 1
    fi
    if [ "$(now_ms)" -gt "$deadline" ]; then
      log "no answer from $uri/healthz within ${START_TIMEOUT_S}s; its log:"
      cat "$dir/server.log" >&2
      stop "$dir"
      exit 1
    fi
    sleep 0.25
  done
  log "phoenix $PHOENIX_VERSION up at $uri in $(( $(now_ms) - t0 )) ms (pid $pid, dir $dir)"
  printf 'export CLAWTRACE_TEST_PHOENIX_URL=%s\nexport CLAWTRACE_TEST_PHOENIX_DIR=%s\n' "$uri" "$dir"
}

stop() {
  local dir=${1:-${CLAWTRACE_TEST_PHOENIX_DIR:-}}
  if [ -z "$dir" ] || [ ! -f "$dir/pid" ]; then
    log "stop: no server dir given (or no pid file in it)"
    return 0
  fi
  local pid; pid=$(cat "$dir/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "server $pid did not stop on SIGTERM; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  if kill -0 -- "-$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
  case "$dir" in
    */clawtrace-phoenix.*) rm -rf "$dir" ;;
  esac
  log "stopped (pid $pid)"
}

case "${1:-}" in
  install) install; echo "$VENV" ;;
  start) start ;;
  stop) stop "${2:-}" ;;
  *)
    echo "usage: $0 install | start | stop [DIR]" >&2
    exit 2
    ;;
esac
