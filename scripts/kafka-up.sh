#!/usr/bin/env bash
# Starts a single-node Apache Kafka broker (KRaft, combined broker + controller, node id 1) for
# development and the integration tests, with no Docker and no Kafka download beyond Maven Central.
#
#   clients:     127.0.0.1:9092 (PLAINTEXT)     controller: 127.0.0.1:9093
#   state:       .kafka/libs (jars), .kafka/data (log dirs), .kafka/config, .kafka/logs, .kafka/kafka.pid
#
# The Kafka version is pinned in scripts/kafka/pom.xml. Maven copies the broker jar and its runtime
# dependencies into .kafka/libs once; later runs reuse them while the pom is unchanged.
#
# auto.create.topics.enable is false: every topic Themis reads or writes is created on purpose, by
# `npm run kafka:topics` or, in tests, by createTopics with a per-test name. A mistyped topic name
# then fails loudly instead of quietly creating a one-partition topic with the broker's retention.
#
# Idempotent: if a broker already answers on 127.0.0.1:9092 it says so and exits 0.
# Environment: THEMIS_KAFKA_UP_TIMEOUT_SECS (default 60) bounds the wait for the broker to answer.
# A second broker (the fault tests stop and start one of their own) takes other ports and state:
#   THEMIS_KAFKA_PORT (9092), THEMIS_KAFKA_CONTROLLER_PORT (9093), and THEMIS_KAFKA_STATE_DIR
#   (.kafka) for its data, config, logs and pid file; the jars stay in .kafka/libs either way.
set -Eeuo pipefail
# Any failure not reported by fail() still gets a line saying where it happened.
trap 'echo "kafka-up: FAILED: unexpected error (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$ROOT/scripts/kafka/pom.xml"
PROBE="$ROOT/scripts/kafka/probe-broker.mjs"
KAFKA_HOME="${THEMIS_KAFKA_STATE_DIR:-$ROOT/.kafka}"
LIBS="$ROOT/.kafka/libs"
DATA="$KAFKA_HOME/data"
CONFIG="$KAFKA_HOME/config"
LOGS="$KAFKA_HOME/logs"
PID_FILE="$KAFKA_HOME/kafka.pid"
# How messages name the state directory: relative to the checkout when inside it.
STATE="${KAFKA_HOME#"$ROOT"/}"

CLIENT_PORT="${THEMIS_KAFKA_PORT:-9092}"
CONTROLLER_PORT="${THEMIS_KAFKA_CONTROLLER_PORT:-9093}"
BROKERS="127.0.0.1:$CLIENT_PORT"
TIMEOUT_SECS="${THEMIS_KAFKA_UP_TIMEOUT_SECS:-60}"
HEAP_OPTS=(-Xms256m -Xmx512m)
MIN_JAVA_MAJOR=11

STARTED_AT=$SECONDS
SERVER_LOG_START_LINE=0
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM")"

say() { echo "kafka-up: $*"; }
fail() {
  echo "kafka-up: FAILED: $*" >&2
  exit 1
}
show_tail() { # file, lines, [lines of the file to skip: those written before this start]
  local skip="${3:-0}"
  if [[ -s "$1" ]] && (($(wc -l <"$1") > skip)); then
    echo "----- last $2 lines of ${1#"$ROOT"/} -----" >&2
    tail -n +$((skip + 1)) "$1" | tail -n "$2" >&2
    echo "-----" >&2
  fi
}

broker_answers() { node "$PROBE" "$BROKERS" 2>/dev/null; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A pid file can outlive its process and the pid can be reused, so check what the process runs.
running_broker_pid() {
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka' || return 1
  echo "$pid"
}

require_java() {
  command -v java >/dev/null 2>&1 ||
    fail "java not found on PATH; Kafka $KAFKA_VERSION needs Java $MIN_JAVA_MAJOR+ (apt-get install openjdk-17-jre-headless)"
  local version major
  version="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
  major="${version%%.*}"
  [[ "$major" == 1 ]] && major="$(echo "$version" | cut -d. -f2)"
  [[ "$major" =~ ^[0-9]+$ ]] || fail "cannot read the Java version from 'java -version' (got '$version')"
  ((major >= MIN_JAVA_MAJOR)) || fail "java $version is too old; Kafka $KAFKA_VERSION needs Java $MIN_JAVA_MAJOR+"
}

require_free_port() {
  if port_in_use "$1"; then
    local holder
    holder="$(ss -ltnpH "sport = :$1" 2>/dev/null || true)"
    fail "port $1 on 127.0.0.1 is taken by something that is not a Kafka broker answering on $BROKERS${holder:+:
$holder}
stop that process (or run 'npm run kafka:down' if it is a broker this script started) and retry"
  fi
}

# Jars are fetched again only when the pom changed since the last successful fetch.
fetch_jars() {
  if [[ -f "$LIBS/kafka_2.13-$KAFKA_VERSION.jar" ]] && cmp -s "$POM" "$LIBS/.pom.xml"; then
    say "jars for Kafka $KAFKA_VERSION already in .kafka/libs"
    return
  fi
  command -v mvn >/dev/null 2>&1 || fail "mvn not found on PATH; it fetches the Kafka jars (apt-get install maven)"
  say "fetching Kafka $KAFKA_VERSION and its runtime dependencies with Maven into .kafka/libs"
  local fetch_started=$SECONDS
  rm -rf "$LIBS.tmp"
  if ! mvn -B -q -f "$POM" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp" >"$LOGS/maven.log" 2>&1; then
    show_tail "$LOGS/maven.log" 40
    fail "Maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (is Maven Central reachable?); full output in $STATE/logs/maven.log"
  fi
  [[ -f "$LIBS.tmp/kafka_2.13-$KAFKA_VERSION.jar" ]] ||
    fail "Maven finished but kafka_2.13-$KAFKA_VERSION.jar is not in its output; see $STATE/logs/maven.log"
  cp "$POM" "$LIBS.tmp/.pom.xml"
  rm -rf "$LIBS"
  mv "$LIBS.tmp" "$LIBS"
  say "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars in $((SECONDS - fetch_started))s"
}

write_config() {
  mkdir -p "$CONFIG" "$DATA"
  cat >"$CONFIG/server.properties" <<EOF
# Written by scripts/kafka-up.sh on every start: change the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:$CLIENT_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$CLIENT_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA

# Topics are created explicitly (kafka:topics, createTopics in tests); see the header of kafka-up.sh.
auto.create.topics.enable=false
delete.topic.enable=true
num.partitions=1

# One node: internal topics cannot have more than one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
# Fewer offset partitions than the default 50 make the first consumer group start faster.
offsets.topic.num.partitions=8
# Tests start consumers often; waiting 3 s for more members to join only slows them down.
group.initial.rebalance.delay.ms=0

# Sized for a 2-core machine.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF

  cat >"$CONFIG/log4j.properties" <<'EOF'
# Broker log: .kafka/logs/server.log, rolled at 20 MB, 3 files kept.
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
# Request logging at INFO would write a line per client request.
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.clients.NetworkClient=WARN
EOF

  cat >"$CONFIG/tools-log4j.properties" <<'EOF'
# For the one-shot storage tool runs: warnings and errors only, to stderr.
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

run_storage_tool() {
  java -Xmx256m -Dlog4j.configuration="file:$CONFIG/tools-log4j.properties" \
    -cp "$LIBS/*" kafka.tools.StorageTool "$@"
}

# KRaft log dirs must be formatted with a cluster id once; meta.properties marks a formatted dir.
format_storage() {
  if [[ -f "$DATA/meta.properties" ]]; then
    say "reusing formatted storage in $STATE/data (cluster $(sed -n 's/^cluster.id=//p' "$DATA/meta.properties"))"
    return
  fi
  local cluster_id
  cluster_id="$(run_storage_tool random-uuid 2>"$LOGS/format.log")" ||
    { show_tail "$LOGS/format.log" 20; fail "kafka.tools.StorageTool random-uuid failed"; }
  if ! run_storage_tool format -t "$cluster_id" -c "$CONFIG/server.properties" >>"$LOGS/format.log" 2>&1; then
    show_tail "$LOGS/format.log" 30
    fail "formatting $STATE/data with cluster id $cluster_id failed"
  fi
  say "formatted $STATE/data with new cluster id $cluster_id"
}

start_broker() {
  rm -f "$PID_FILE"
  if [[ -f "$LOGS/server.log" ]]; then SERVER_LOG_START_LINE="$(wc -l <"$LOGS/server.log")"; fi
  # setsid: the broker gets its own session, so it outlives this script, npm and the terminal.
  # bash writes its own pid and then execs java, so the pid file names the JVM itself.
  # shellcheck disable=SC2016 # $$, $0 and $@ are meant for the inner bash.
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
    java "${HEAP_OPTS[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dkafka.logs.dir="$LOGS" -Dlog4j.configuration="file:$CONFIG/log4j.properties" \
    -cp "$LIBS/*" kafka.Kafka "$CONFIG/server.properties" \
    >"$LOGS/stdout.log" 2>&1 </dev/null &
  local i
  for ((i = 0; i < 50; i++)); do
    [[ -s "$PID_FILE" ]] && break
    sleep 0.1
  done
  [[ -s "$PID_FILE" ]] || fail "the broker process did not start; see $STATE/logs/stdout.log"
  say "started broker pid $(cat "$PID_FILE") (heap ${HEAP_OPTS[*]}), logs in $STATE/logs/server.log"
}

stop_after_failed_start() {
  kill -TERM "$1" 2>/dev/null || return 0
  local i
  for ((i = 0; i < 20; i++)); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL "$1" 2>/dev/null || true
  rm -f "$PID_FILE"
}

wait_until_ready() {
  local pid="$1" deadline=$((SECONDS + TIMEOUT_SECS))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      show_tail "$LOGS/server.log" 40 "$SERVER_LOG_START_LINE"
      show_tail "$LOGS/stdout.log" 20
      fail "the broker (pid $pid) died during startup; see $STATE/logs/server.log and $STATE/logs/stdout.log"
    fi
    if broker_answers; then
      say "Kafka $KAFKA_VERSION answers on $BROKERS (pid $pid); kafka:up took $((SECONDS - STARTED_AT))s"
      return
    fi
    sleep 1
  done
  show_tail "$LOGS/server.log" 40 "$SERVER_LOG_START_LINE"
  stop_after_failed_start "$pid"
  fail "the broker (pid $pid) did not answer on $BROKERS within ${TIMEOUT_SECS}s; stopped it"
}

main() {
  [[ -n "$KAFKA_VERSION" ]] || fail "no <kafka.version> in scripts/kafka/pom.xml"
  command -v node >/dev/null 2>&1 || fail "node not found on PATH; it runs the readiness probe"
  [[ -d "$ROOT/node_modules/kafkajs" ]] || fail "kafkajs is not installed (the readiness probe uses it); run 'npm ci' first"
  mkdir -p "$LOGS"

  if broker_answers; then
    say "a Kafka broker already answers on $BROKERS; nothing to do"
    exit 0
  fi

  local pid
  if pid="$(running_broker_pid)"; then
    say "broker pid $pid from an earlier kafka:up is still starting; waiting for it"
    wait_until_ready "$pid"
    exit 0
  fi

  require_java
  require_free_port "$CLIENT_PORT"
  require_free_port "$CONTROLLER_PORT"
  fetch_jars
  write_config
  format_storage
  start_broker
  wait_until_ready "$(cat "$PID_FILE")"
}

main "$@"
