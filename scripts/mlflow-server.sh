#!/usr/bin/env bash
# A throw-away MLflow tracking server for tests and CI (reference: MLflow 3.17.2, lean settings).
#
#   scripts/mlflow-server.sh install      creates the cached venv if missing; prints its path
#   scripts/mlflow-server.sh start        installs if needed, starts a server on 127.0.0.1 (free port unless
#                                         MLFLOW_PORT is set) with SQLite in a fresh temp dir, waits for /health and
#                                         prints shell lines to eval:
#                                           export CLAWTRACE_TEST_MLFLOW_URI=http://127.0.0.1:PORT
#                                           export CLAWTRACE_TEST_MLFLOW_DIR=/tmp/clawtrace-mlflow.XXXX
#   scripts/mlflow-server.sh stop [DIR]   stops the server started in DIR (default $CLAWTRACE_TEST_MLFLOW_DIR) and
#                                         deletes DIR
#   scripts/mlflow-server.sh kill DIR     SIGKILLs the server started in DIR and keeps DIR (an outage: its database
#                                         and port stay for `resume`)
#   scripts/mlflow-server.sh resume DIR   starts the server again in DIR, on the same port and database
#
# The venv lives in ${CLAWTRACE_CACHE:-$HOME/.cache/clawtrace}/mlflow-3.17.2 (override with CLAWTRACE_MLFLOW_VENV).
# Progress goes to stderr; only the export lines go to stdout. Fails (non-zero, server log on stderr) when the
# server cannot be installed or started.
set -euo pipefail

MLFLOW_VERSION=3.17.2
CACHE=${CLAWTRACE_CACHE:-$HOME/.cache/clawtrace}
VENV=${CLAWTRACE_MLFLOW_VENV:-$CACHE/mlflow-$MLFLOW_VERSION}
START_TIMEOUT_S=${CLAWTRACE_MLFLOW_START_TIMEOUT_S:-90}

NAME=mlflow PIP_SPEC="mlflow==$MLFLOW_VERSION" BIN=mlflow
# shellcheck source=scripts/lib/python-server.sh
. "$(dirname "$0")/lib/python-server.sh"

start() {
  install
  local port=${MLFLOW_PORT:-$(free_port)}
  local dir; dir=$(new_dir)
  launch "$port" "$dir"
}

# Starts the server in DIR on PORT (DIR's database is kept when it exists) and waits for /health.
launch() {
  local port=$1 dir=$2
  local uri="http://127.0.0.1:$port"
  local t0; t0=$(now_ms)
  # Lean server: one worker, no job runner, no telemetry, SQLite and artifacts in the throw-away dir.
  # setsid: its own process group, so stop can end the whole tree (uvicorn and its worker) and nothing else.
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true \
    setsid "$VENV/bin/mlflow" server --host 127.0.0.1 --port "$port" --workers 1 \
      --backend-store-uri "sqlite:///$dir/mlflow.db" --artifacts-destination "$dir/artifacts" \
      >"$dir/server.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/pid"
  echo "$uri" >"$dir/uri"
  wait_up "$uri/health" "$pid" "$dir"
  log "mlflow $MLFLOW_VERSION up at $uri in $(( $(now_ms) - t0 )) ms (pid $pid, dir $dir)"
  printf 'export CLAWTRACE_TEST_MLFLOW_URI=%s\nexport CLAWTRACE_TEST_MLFLOW_DIR=%s\n' "$uri" "$dir"
}

case "${1:-}" in
  install) install; echo "$VENV" ;;
  start) start ;;
  stop) stop "${2:-${CLAWTRACE_TEST_MLFLOW_DIR:-}}" ;;
  kill)
    dir=${2:?usage: $0 kill DIR}
    pid=$(cat "$dir/pid")
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    log "killed (pid $pid); $dir kept for resume"
    ;;
  resume)
    dir=${2:?usage: $0 resume DIR}
    uri=$(cat "$dir/uri")
    install
    launch "${uri##*:}" "$dir" >/dev/null
    ;;
  *)
    echo "usage: $0 install | start | stop [DIR] | kill DIR | resume DIR" >&2
    exit 2
    ;;
esac
