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

NAME=phoenix PIP_SPEC="arize-phoenix==$PHOENIX_VERSION" BIN=phoenix
# shellcheck source=scripts/lib/python-server.sh
. "$(dirname "$0")/lib/python-server.sh"

start() {
  install
  local port=${PHOENIX_PORT:-$(free_port)}
  local grpc_port; grpc_port=$(free_port)
  local dir; dir=$(new_dir)
  local uri="http://127.0.0.1:$port"
  local t0; t0=$(now_ms)
  # SQLite and working files in the throw-away dir, no telemetry, its gRPC receiver on a free port (the default
  # 4317 may be taken by another server on the machine). setsid: its own process group, so stop ends the tree.
  PHOENIX_HOST=127.0.0.1 PHOENIX_PORT="$port" PHOENIX_GRPC_PORT="$grpc_port" PHOENIX_WORKING_DIR="$dir" \
    PHOENIX_SQL_DATABASE_URL="sqlite:///$dir/phoenix.db" PHOENIX_TELEMETRY_ENABLED=false DO_NOT_TRACK=true \
    setsid "$VENV/bin/phoenix" serve >"$dir/server.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/pid"
  wait_up "$uri/healthz" "$pid" "$dir"
  log "phoenix $PHOENIX_VERSION up at $uri in $(( $(now_ms) - t0 )) ms (pid $pid, dir $dir)"
  printf 'export CLAWTRACE_TEST_PHOENIX_URL=%s\nexport CLAWTRACE_TEST_PHOENIX_DIR=%s\n' "$uri" "$dir"
}

case "${1:-}" in
  install) install; echo "$VENV" ;;
  start) start ;;
  stop) stop "${2:-${CLAWTRACE_TEST_PHOENIX_DIR:-}}" ;;
  *)
    echo "usage: $0 install | start | stop [DIR]" >&2
    exit 2
    ;;
esac
