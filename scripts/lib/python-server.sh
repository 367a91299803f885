# Shared by scripts/mlflow-server.sh and scripts/phoenix-server.sh: a Python server installed into a cached venv
# and run on loopback for tests and CI. Sourced, not run. The sourcing script sets:
#   NAME       log prefix and temp-dir prefix (clawtrace-$NAME.XXXXXX)
#   VENV       the venv directory;  PIP_SPEC   what to pip-install;  BIN   the executable the venv must have
#   START_TIMEOUT_S   how long a start may take
# Progress goes to stderr; only the export lines a start prints go to stdout.

log() { printf '%s-server: %s\n' "$NAME" "$*" >&2; }
now_ms() { date +%s%3N; }

installed() { [ -x "$VENV/bin/$BIN" ] && [ -f "$VENV/.clawtrace-installed" ]; }

install() {
  installed && return 0
  mkdir -p "$(dirname "$VENV")"
  # One installer at a time (several test processes may start at once); the marker says it completed.
  exec 9>"$VENV.lock"
  flock 9
  if ! installed; then
    local t0; t0=$(now_ms)
    log "installing $PIP_SPEC into $VENV (one time)"
    rm -rf "$VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
    if ! "$VENV/bin/pip" install --quiet --no-input "$PIP_SPEC" >&2; then
      rm -rf "$VENV"
      log "pip install $PIP_SPEC failed"
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

new_dir() { mktemp -d "${TMPDIR:-/tmp}/clawtrace-$NAME.XXXXXX"; }

# wait_up URL PID DIR: polls URL until it answers; on the server's exit or START_TIMEOUT_S, prints its log, cleans
# up and exits non-zero.
wait_up() {
  local url=$1 pid=$2 dir=$3
  local deadline=$(( $(now_ms) + START_TIMEOUT_S * 1000 ))
  until curl -sf -o /dev/null "$url"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "the server exited before answering $url; its log:"
      cat "$dir/server.log" >&2
      rm -rf "$dir"
      exit 1
    fi
    if [ "$(now_ms)" -gt "$deadline" ]; then
      log "no answer from $url within ${START_TIMEOUT_S}s; its log:"
      cat "$dir/server.log" >&2
      stop "$dir"
      exit 1
    fi
    sleep 0.25
  done
}

# stop DIR: ends the server started in DIR (its own process group, from setsid) and deletes DIR.
stop() {
  local dir=$1
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
  # Workers left behind by a killed parent share its process group.
  if kill -0 -- "-$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || true; fi
  case "$dir" in
    */clawtrace-"$NAME".*) rm -rf "$dir" ;;
  esac
  log "stopped (pid $pid)"
}
