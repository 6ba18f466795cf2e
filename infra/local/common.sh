# Shared settings for infra/local/{start,stop,status}. Sourced, not executed.
# Everything is overridable by environment variables (defaults in brackets):
#   CRATEWATCH_KAFKA_PORT [19092]             Kafka PLAINTEXT listener on 127.0.0.1
#   CRATEWATCH_KAFKA_CONTROLLER_PORT [19093]  KRaft controller listener on 127.0.0.1
#   CRATEWATCH_NEO4J_PORT [17687]             Neo4j Bolt on 127.0.0.1
#   CRATEWATCH_INFRA_DATA [infra/local/.data] pids, logs, Kafka log dirs, Neo4j store
#   CRATEWATCH_INFRA_TIMEOUT [120]            seconds start waits for each server to answer
#   CRATEWATCH_KAFKA_HEAP [512m]  CRATEWATCH_NEO4J_HEAP [768m]  NEO4J_PAGECACHE_MB [128]
#   NEO4J_PASSWORD [empty]                    empty: Neo4j auth disabled; else user neo4j/<password>
#   JAVA_HOME / JAVA                          which java (JDK 17+)

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$INFRA_DIR/../.." && pwd)"
DATA_DIR="${CRATEWATCH_INFRA_DATA:-$INFRA_DIR/.data}"
LIB_DIR="$INFRA_DIR/lib"

KAFKA_HOST=127.0.0.1
KAFKA_PORT="${CRATEWATCH_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${CRATEWATCH_KAFKA_CONTROLLER_PORT:-19093}"
NEO4J_PORT="${CRATEWATCH_NEO4J_PORT:-17687}"
START_TIMEOUT="${CRATEWATCH_INFRA_TIMEOUT:-120}"
KAFKA_HEAP="${CRATEWATCH_KAFKA_HEAP:-512m}"
NEO4J_HEAP="${CRATEWATCH_NEO4J_HEAP:-768m}"

KAFKA_BROKERS_VALUE="$KAFKA_HOST:$KAFKA_PORT"
NEO4J_URI_VALUE="bolt://127.0.0.1:$NEO4J_PORT"

KAFKA_PID_FILE="$DATA_DIR/kafka.pid"
NEO4J_PID_FILE="$DATA_DIR/neo4j.pid"
KAFKA_LOG="$DATA_DIR/kafka.log"
LEASE_DIR="$DATA_DIR/leases"            # one file per test run using the servers (start --lease)
HARNESS_OWNED="$DATA_DIR/harness-owned" # servers launched by a leasing run (stop --release may stop them)
NEO4J_LOG="$DATA_DIR/neo4j.log"

if [[ -n "${JAVA:-}" ]]; then
  JAVA_BIN="$JAVA"
elif [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
  JAVA_BIN="$JAVA_HOME/bin/java"
else
  JAVA_BIN=java
fi

# pid_of NAME -> prints the pid if the pid file names a live process of ours (matched on its
# command line, so a recycled pid is never mistaken for our server), else nothing.
pid_of() {
  local name="$1" file marker pid
  case "$name" in
    kafka) file="$KAFKA_PID_FILE"; marker="kafka.Kafka" ;;
    neo4j) file="$NEO4J_PID_FILE"; marker="dev.cratewatch.infra.LocalNeo4j" ;;
  esac
  [[ -f "$file" ]] || return 0
  pid="$(cat "$file" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  if [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$marker"; then
    echo "$pid"
  fi
}

log_tail() {
  local file="$1" n="${2:-60}"
  echo "----- last $n lines of $file -----" >&2
  tail -n "$n" "$file" >&2 2>/dev/null || echo "(no log)" >&2
  echo "-----" >&2
}
