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

log() { printf 'mlflow-server: %s\n' "$*" >&2; }
now_ms() { date +%s%3N; }

installed() { [ -x "$VENV/bin/mlflow" ] && [ -f "$VENV/.clawtrace-installed" ]; }

install() {
  installed && return 0
  mkdir -p "$(dirname "$VENV")"
  # One installer at a time (several test processes may start at once); the marker says it completed.
  exec 9>"$VENV.lock"
  flock 9
  if ! installed; then
    local t0; t0=$(now_ms)
    log "installing mlflow==$MLFLOW_VERSION into $VENV (one time, ~1 min, ~850 MB)"
    rm -rf "$VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
    if ! "$VENV/bin/pip" install --quiet --no-input "mlflow==$MLFLOW_VERSION" >&2; then
      rm -rf "$VENV"
      log "pip install mlflow==$MLFLOW_VERSION failed"
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
  local port=${MLFLOW_PORT:-$(free_port)}
  local dir; dir=$(mktemp -d "${TMPDIR:-/tmp}/clawtrace-mlflow.XXXXXX")
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
  local deadline=$(( $(now_ms) + START_TIMEOUT_S * 1000 ))
  until curl -sf -o /dev/null "$uri/health"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "the server exited before answering /health; its log:"
      cat "$dir/server.log" >&2
      rm -rf "$dir"
      exit 1
    fi
    if [ "$(now_ms)" -gt "$deadline" ]; then
      log "no answer from $uri/health within ${START_TIMEOUT_S}s; its log:"
      cat "$dir/server.log" >&2
      stop "$dir"
      exit 1
    fi
    sleep 0.25
  done
  log "mlflow $MLFLOW_VERSION up at $uri in $(( $(now_ms) - t0 )) ms (pid $pid, dir $dir)"
  printf 'export CLAWTRACE_TEST_MLFLOW_URI=%s\nexport CLAWTRACE_TEST_MLFLOW_DIR=%s\n' "$uri" "$dir"
}

stop() {
  local dir=${1:-${CLAWTRACE_TEST_MLFLOW_DIR:-}}
  if [ -z "$dir" ] || [ ! -f "$dir/pid" ]; then
    log "stop: no server dir given (or no pid file in it)"
    return 0
  fi
  local pid; pid=$(cat "$dir/pid")
  # The process group led by the server (setsid above); SIGTERM ends uvicorn and its worker in ~2.5 s.
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
  # Workers left behind by a killed parent share its process group.
  if kill -0 -- "-$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
  case "$dir" in
    */clawtrace-mlflow.*) rm -rf "$dir" ;;
  esac
  log "stopped (pid $pid)"
}

case "${1:-}" in
  install) install; echo "$VENV" ;;
  start) start ;;
  stop) stop "${2:-}" ;;
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
