#!/usr/bin/env bash
# Stops the broker that scripts/kafka-up.sh started: SIGTERM (a controlled shutdown), then SIGKILL
# if it is still alive after THEMIS_KAFKA_DOWN_TIMEOUT_SECS (default 30). Not running is fine.
#
#   --wipe   also delete .kafka/data (topics, offsets, cluster id); the next kafka:up formats anew.
#            The jars in .kafka/libs stay.
#
# THEMIS_KAFKA_STATE_DIR (.kafka) and THEMIS_KAFKA_PORT (9092) name a second broker that
# kafka-up.sh started with the same variables; only the broker of that state dir's pid file is stopped.
set -Eeuo pipefail
# Any failure not reported by fail() still gets a line saying where it happened.
trap 'echo "kafka-down: FAILED: unexpected error (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KAFKA_HOME="${THEMIS_KAFKA_STATE_DIR:-$ROOT/.kafka}"
STATE="${KAFKA_HOME#"$ROOT"/}"
CLIENT_PORT="${THEMIS_KAFKA_PORT:-9092}"
DATA="$KAFKA_HOME/data"
PID_FILE="$KAFKA_HOME/kafka.pid"
TIMEOUT_SECS="${THEMIS_KAFKA_DOWN_TIMEOUT_SECS:-30}"

say() { echo "kafka-down: $*"; }
fail() {
  echo "kafka-down: FAILED: $*" >&2
  exit 1
}

is_wipe=false
for arg in "$@"; do
  case "$arg" in
    --wipe) is_wipe=true ;;
    *) fail "unknown argument '$arg'; usage: kafka-down.sh [--wipe]" ;;
  esac
done

# The pid file can outlive the broker and its pid can be reused: only a JVM running kafka.Kafka
# under that pid is ours to stop.
broker_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka' || return 1
  echo "$pid"
}

stop_broker() {
  local pid="$1" started=$SECONDS
  say "stopping broker pid $pid (SIGTERM, up to ${TIMEOUT_SECS}s)"
  kill -TERM "$pid" 2>/dev/null || true
  while ((SECONDS - started < TIMEOUT_SECS)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      say "broker stopped after $((SECONDS - started))s"
      return
    fi
    sleep 0.5
  done
  say "broker pid $pid still alive after ${TIMEOUT_SECS}s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 1
  kill -0 "$pid" 2>/dev/null && fail "broker pid $pid survived SIGKILL"
  rm -f "$PID_FILE"
  say "broker killed"
}

if pid="$(broker_pid)"; then
  stop_broker "$pid"
else
  [[ -f "$PID_FILE" ]] && rm -f "$PID_FILE" && say "removed a stale pid file"
  if (exec 3<>"/dev/tcp/127.0.0.1/$CLIENT_PORT") 2>/dev/null; then
    say "something listens on 127.0.0.1:$CLIENT_PORT but kafka-up.sh did not start it (no live pid in $STATE/kafka.pid); leaving it alone"
  else
    say "Kafka is not running"
  fi
fi

if $is_wipe; then
  rm -rf "$DATA"
  say "deleted $STATE/data"
fi
