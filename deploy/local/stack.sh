#!/usr/bin/env bash
# Local stack for development and tests: Kafka (KRaft, from Maven Central jars), a private
# PostgreSQL cluster, an SMTP sink and a development token issuer, all on 127.0.0.1, all
# state in <repo>/var/.
#
#   deploy/local/stack.sh up     [kafka|postgres|smtp|issuer]   start (idempotent), return when answering
#   deploy/local/stack.sh status [kafka|postgres|smtp|issuer]   up/down per component; non-zero if any down
#   deploy/local/stack.sh down   [kafka|postgres|smtp|issuer]   stop (idempotent)
#   deploy/local/stack.sh env    [kafka|postgres|smtp|issuer]   print `export` lines for the services
#
# KAFKA_SECURITY=scram (or scram-tls) selects a second Kafka, with SASL/SCRAM and TLS, beside
# the PLAINTEXT one: own ports, data and pid file; `env` then prints SCRAM (or SCRAM over TLS)
# client settings.
#
# KAFKA_BROKERS=3 selects a cluster of three KRaft nodes (each broker and controller) beside
# the one-node Kafka: own ports (KAFKA_CLUSTER_PORT ...), data and pid files. `kafka` is then
# all three nodes, and `kafka-1`, `kafka-2`, `kafka-3` one of them (e.g. `down kafka-2`).
#
# See deploy/local/README.md for ports, environment variables and the folder layout.
set -euo pipefail

# ----------------------------------------------------------------------------- settings
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
VAR="$ROOT/var"
RUN_DIR="$VAR/run"
LOG_DIR="$VAR/log"

# plaintext: the stack's Kafka. scram / scram-tls: a second Kafka whose client listeners ask
# for SASL/SCRAM (SASL_PLAINTEXT on KAFKA_SCRAM_PORT, SASL_SSL on KAFKA_SCRAM_SSL_PORT); the
# two values run the same broker and differ only in what `env` prints.
KAFKA_SECURITY="${KAFKA_SECURITY:-plaintext}"
case "$KAFKA_SECURITY" in
    plaintext)
        KAFKA_INSTANCE="kafka"
        KAFKA_PORT="${KAFKA_PORT:-19092}"
        KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
        ;;
    scram | scram-tls)
        KAFKA_INSTANCE="kafka-scram"
        KAFKA_PORT="${KAFKA_SCRAM_PORT:-19094}"
        KAFKA_CONTROLLER_PORT="${KAFKA_SCRAM_CONTROLLER_PORT:-19095}"
        KAFKA_SSL_PORT="${KAFKA_SCRAM_SSL_PORT:-19096}"
        ;;
    *)
        printf 'stack.sh: error: KAFKA_SECURITY=%s is not one of plaintext, scram, scram-tls\n' "$KAFKA_SECURITY" >&2
        exit 2
        ;;
esac
# 1: the stack's Kafka (one combined node). 3: a cluster of three combined nodes, a 3-voter
# quorum, replication factor 3 and min ISR 2 for every internal topic. Node N listens on
# KAFKA_CLUSTER_PORT + N - 1 (clients) and KAFKA_CLUSTER_CONTROLLER_PORT + N - 1 (quorum).
KAFKA_BROKERS="${KAFKA_BROKERS:-1}"
case "$KAFKA_BROKERS" in
    1) ;;
    3)
        [[ "$KAFKA_SECURITY" == plaintext ]] || {
            printf 'stack.sh: error: KAFKA_BROKERS=3 runs PLAINTEXT only; unset KAFKA_SECURITY\n' >&2
            exit 2
        }
        KAFKA_INSTANCE="kafka-cluster"
        KAFKA_PORT="${KAFKA_CLUSTER_PORT:-19192}"
        KAFKA_CONTROLLER_PORT="${KAFKA_CLUSTER_CONTROLLER_PORT:-19195}"
        ;;
    *)
        printf 'stack.sh: error: KAFKA_BROKERS=%s: 1 (the one-node Kafka) or 3 (a three-node cluster)\n' "$KAFKA_BROKERS" >&2
        exit 2
        ;;
esac
for port in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    [[ "$port" =~ ^[0-9]+$ ]] || {
        printf 'stack.sh: error: the Kafka port %s is not a number\n' "$port" >&2
        exit 2
    }
done
KAFKA_FIRST_PORT="$KAFKA_PORT"                 # node N: + N - 1 (see kafka_node)
KAFKA_FIRST_CONTROLLER_PORT="$KAFKA_CONTROLLER_PORT"
# SCRAM users, created when the storage is formatted (`StorageTool format --add-scram`):
# the services' user (SCRAM-SHA-512 and SCRAM-SHA-256) and the broker's own (inter-broker).
# Local development only: a real cluster gets its credentials from its operator.
KAFKA_SCRAM_USER="${KAFKA_SCRAM_USER:-kl-services}"
KAFKA_SCRAM_PASSWORD="${KAFKA_SCRAM_PASSWORD:-kl-local-scram-secret}"
KAFKA_SCRAM_BROKER_USER="kl-broker"
KAFKA_SCRAM_BROKER_PASSWORD="${KAFKA_SCRAM_BROKER_PASSWORD:-kl-local-broker-secret}"
PG_PORT="${PG_PORT:-55432}"
SMTP_PORT="${SMTP_PORT:-2525}"
ISSUER_PORT="${ISSUER_PORT:-9400}"
STACK_TIMEOUT="${STACK_TIMEOUT:-90}"          # seconds for each component to answer
STACK_PYTHON="${STACK_PYTHON:-$ROOT/.venv/bin/python}"
STACK_PG_USER="${STACK_PG_USER:-kldev}"       # system user that runs postgres when we are root

KAFKA_VERSION="4.1.1"
LOG4J_VERSION="2.24.3"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx512m -Xms256m}"
KAFKA_LIBS="$VAR/kafka/libs"                   # shared by all Kafka instances
KAFKA_HOME="$VAR/$KAFKA_INSTANCE"              # cluster.id; scram: tls/, scram.credentials
KAFKA_TLS_DIR="$KAFKA_HOME/tls"                # scram: CA and broker certificate (PEM)
# Per node (kafka_node sets them): KAFKA_NODE_ID, KAFKA_NAME, KAFKA_PORT, KAFKA_CONTROLLER_PORT,
# KAFKA_DIR (data/ and server.properties), KAFKA_DATA, KAFKA_PROPS, KAFKA_PID, KAFKA_LOG
# (console: WARN and above, JVM errors) and KAFKA_LOG_DIR (server.log: INFO).
KAFKA_ALL_NODES=()
for ((n = 1; n <= KAFKA_BROKERS; n++)); do KAFKA_ALL_NODES+=("$n"); done
KAFKA_NODES=("${KAFKA_ALL_NODES[@]}")          # the nodes the command acts on

# The private cluster's folder (data/, run/): var/pg, or elsewhere when its user cannot reach
# var/ (see pg_locate, which sets PG_DIR, PG_DATA, PG_SOCKET_DIR and PG_LOG).
PG_HOME="${STACK_PG_HOME:-/var/lib/kl-stack}" # as root: clusters of checkouts kldev cannot reach
PG_LOCATION="$VAR/pg.location"                # where the cluster is, when not in var/pg
PG_SUPERUSER="postgres"

MAIL_DIR="$VAR/mail"
SMTP_PID="$RUN_DIR/smtp.pid"
SMTP_LOG="$LOG_DIR/smtp.log"

ISSUER_PID="$RUN_DIR/issuer.pid"
ISSUER_LOG="$LOG_DIR/issuer.log"
ISSUER_MARKER="services.operator dev-issuer"

COMPONENTS=(kafka postgres smtp issuer)

# ----------------------------------------------------------------------------- helpers
say() { printf '%s\n' "$*"; }
warn() { printf '%s\n' "$*" >&2; }
die() { printf 'stack.sh: error: %s\n' "$*" >&2; exit 1; }

now() { date +%s; }

# poll SECONDS INTERVAL CMD...: run CMD every INTERVAL seconds until it succeeds (return 0), for
# at most SECONDS (then return 1). The one way this script waits for something.
poll() {
    local deadline=$(($(now) + $1)) interval="$2"
    shift 2
    until "$@"; do
        (($(now) < deadline)) || return 1
        sleep "$interval"
    done
}

# Size of each log file when this invocation started a component: error messages show only
# what that start wrote, not older runs.
declare -A LOG_OFFSET=()
mark_log() {
    local f
    for f in "$@"; do LOG_OFFSET[$f]="$(stat -c %s "$f" 2>/dev/null || echo 0)"; done
}

# show_log FILE...: the last lines of each log (since mark_log), for error messages.
show_log() {
    local f text
    for f in "$@"; do
        [[ -s "$f" ]] || continue
        text="$(tail -c +"$((${LOG_OFFSET[$f]:-0} + 1))" "$f" | tail -n 25)"
        [[ -n "${text//[[:space:]]/}" ]] || continue
        warn "---- last lines of ${f#"$ROOT"/} ----"
        warn "$text"
    done
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
    timeout 2 bash -c ": </dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# port_owner PORT: best effort "pid N (command)" of the listener, for messages.
port_owner() {
    command -v ss >/dev/null 2>&1 || return 0
    local line pid
    line="$(ss -Htlnp "sport = :$1" 2>/dev/null | head -n1)" || return 0
    pid="$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' <<<"$line")"
    [[ -n "$pid" ]] || return 0
    printf 'pid %s (%s)' "$pid" "$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | cut -c1-80)"
}

# wait_self_connection PORT NAME: a client that retries against a stopped server on a port of
# the ephemeral range (/proc/sys/net/ipv4/ip_local_port_range, 32768-60999 by default) can
# get that very port as its own end and connect to itself; the connection then holds the
# port (for 60 s in TIME-WAIT after it closes) and the server cannot listen on it.
# self_connected PORT: such a connection exists. wait_self_connection PORT NAME: wait until
# it is gone, saying so.
self_connected() {
    command -v ss >/dev/null 2>&1 || return 1
    [[ -n "$(ss -Htan "( sport = :$1 and dport = :$1 )" 2>/dev/null)" ]]
}

port_released() { ! self_connected "$1"; }

wait_self_connection() {
    local port="$1" name="$2"
    self_connected "$port" || return 0
    say "$name: port $port is held by a connection to itself (a client retried against it while it was stopped; the port lies in the ephemeral range); waiting until it is released (at most 60 s)"
    poll 65 1 port_released "$port" ||
        die "port $port is still held by a connection to itself; choose a port below 32768 for $name"
}

# require_port_free PORT VARNAME: fail at once when a foreign process holds the port.
require_port_free() {
    local port="$1" var="$2" owner
    if port_open "$port"; then
        owner="$(port_owner "$port")"
        die "port $port is already in use${owner:+ by $owner}, not by this stack. Stop that process or choose another port: $var=<free port> $0 up"
    fi
}

# pid_matches PIDFILE MARKER: the pid file (first line) names a live process whose command
# line holds MARKER. A zombie has an empty command line, so it does not count.
pid_matches() {
    local pidfile="$1" marker="$2" pid cmdline
    [[ -s "$pidfile" ]] || return 1
    pid="$(head -n1 "$pidfile" 2>/dev/null)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline")" || return 1
    [[ "$cmdline" == *"$marker"* ]]
}

# proc_alive PID: running, not a zombie. (On some machines PID 1 reaps orphans only every
# few seconds, so a killed server can linger as a zombie; `kill -0` would call it alive.)
proc_alive() {
    local state
    state="$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null)" || return 1
    [[ -n "$state" && "$state" != Z ]]
}

proc_gone() { ! proc_alive "$1"; }

# stop_pid PIDFILE MARKER NAME: SIGTERM, wait up to 60 s, then SIGKILL.
stop_pid() {
    if stop_signal "$@"; then stop_wait "$1" "$3"; fi
}

# stop_signal PIDFILE MARKER NAME: SIGTERM to the process if it runs (status 1, and "NAME: not
# running", if it does not).
stop_signal() {
    local pidfile="$1" marker="$2" name="$3"
    if ! pid_matches "$pidfile" "$marker"; then
        rm -f "$pidfile"
        say "$name: not running"
        return 1
    fi
    kill -TERM "$(pid_of "$pidfile")" 2>/dev/null || true
}

# stop_wait PIDFILE NAME: wait up to 60 s for the signalled process to end, then SIGKILL it.
stop_wait() {
    local pidfile="$1" name="$2" pid
    pid="$(pid_of "$pidfile")"
    if ! poll 60 0.1 proc_gone "$pid"; then
        warn "$name: still running after 60 s, sending SIGKILL to pid $pid"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
    rm -f "$pidfile"
    say "$name: stopped"
}

# launch PIDFILE LOGFILE CMD...: start CMD in its own session, detached, with a pid file.
launch() {
    local pidfile="$1" logfile="$2"
    shift 2
    mark_log "$logfile"
    printf '\n==== %s start ====\n' "$(date '+%F %T')" >>"$logfile"
    # 9>&-: the server must not inherit (and so keep holding) the stack lock.
    setsid "$@" </dev/null >>"$logfile" 2>&1 9>&- &
    echo $! >"$pidfile"
}

# A component NAME (kafka, pg, smtp, issuer) provides NAME_alive (its process runs; for a
# server we do not manage: true), NAME_probe (a real client round trip; prints what it found)
# and NAME_pid (its process id, or nothing). await_ready and report_status do the rest.

# answers NAME: stop polling when NAME answers (PROBE_OUT: what it said) or died (DIED=1).
answers() {
    if ! "${1}_alive"; then
        DIED=1
        return 0
    fi
    PROBE_OUT="$("${1}_probe" 2>&1)"
}

# await_ready NAME WHAT WHERE HINT LOG...: wait until NAME answers, at most STACK_TIMEOUT s.
# If its process exits meanwhile, NAME_revive (where defined) may start it again (then the
# wait begins anew); otherwise, and at the deadline, fail with the tail of the LOGs. HINT is
# added to the timeout's message.
await_ready() {
    local name="$1" what="$2" where="$3" hint="$4" logs
    shift 4
    logs="$(printf '%s, ' "${@#"$ROOT"/}")"
    logs="${logs%, }"
    while :; do
        DIED=0 PROBE_OUT=""
        if ! poll "$STACK_TIMEOUT" 0.3 answers "$name"; then
            show_log "$@"
            die "$what did not answer on $where within ${STACK_TIMEOUT}s${PROBE_OUT:+ (last try: $PROBE_OUT)}${hint:+; $hint}"
        fi
        ((DIED)) || return 0
        if declare -F "${name}_revive" >/dev/null && "${name}_revive"; then
            continue
        fi
        show_log "$@"
        die "$what exited during start-up${logs:+ (logs above: $logs)}"
    done
}

# report_status NAME LABEL WHERE PORT DETAIL...: one line "LABEL up|down WHERE ..."; status 1
# when down. DETAIL is a command that prints the rest of an "up" line; PROBE_OUT holds what
# the probe said.
report_status() {
    local name="$1" label where="$3" port="$4" pid
    label="$(printf '%-9s' "$2")"
    shift 4
    if ! "${name}_alive"; then
        say "$label down  $where$(port_open "$port" && echo " (port in use by another process)")"
        return 1
    fi
    pid="$("${name}_pid")"
    if ! PROBE_OUT="$("${name}_probe" 2>&1)"; then
        say "$label down  $where  ${pid:+pid $pid runs but }does not answer: $PROBE_OUT"
        return 1
    fi
    say "$label up    $where  ${pid:+pid $pid  }$("$@")"
}

# probe_said: what the last probe said (a DETAIL for report_status).
probe_said() { printf '%s' "$PROBE_OUT"; }

# listening PORT: something accepts connections on the port; says so when not (for probes).
listening() { port_open "$1" || { echo "nothing listens on 127.0.0.1:$1"; return 1; }; }

# pid_of PIDFILE: the process id a pid file names.
pid_of() { head -n1 "$1" 2>/dev/null; }

need_python() {
    [[ -x "$STACK_PYTHON" ]] ||
        die "no Python at $STACK_PYTHON (the project venv): create it and install the project's dependencies (aiokafka, aiosmtpd), or point STACK_PYTHON at a Python that has them"
    "$STACK_PYTHON" -c 'import aiokafka, aiosmtpd' 2>/dev/null ||
        die "$STACK_PYTHON cannot import aiokafka and aiosmtpd: install the project's dependencies into the venv"
}

prepare_dirs() {
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    ensure_gitignore
}

# ensure_gitignore: var/ and .venv/ stay out of git.
ensure_gitignore() {
    local gi="$ROOT/.gitignore" line
    for line in "var/" ".venv/"; do
        if ! { [[ -f "$gi" ]] && grep -qxF "$line" "$gi"; }; then
            if [[ -s "$gi" && -n "$(tail -c1 "$gi")" ]]; then echo >>"$gi"; fi
            echo "$line" >>"$gi"
        fi
    done
}

# ----------------------------------------------------------------------------- Kafka
java_bin() {
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
        echo "$JAVA_HOME/bin/java"
    else
        command -v java || true
    fi
}

need_java() {
    JAVA="$(java_bin)"
    [[ -n "$JAVA" ]] ||
        die "java not found (Kafka $KAFKA_VERSION needs Java 17+): apt-get install openjdk-17-jre-headless, or set JAVA_HOME"
    local version major
    version="$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
    major="${version%%.*}"
    [[ "$major" =~ ^[0-9]+$ && "$major" -ge 17 ]] ||
        die "$JAVA is Java '$version'; Kafka $KAFKA_VERSION needs Java 17+: apt-get install openjdk-17-jre-headless, or set JAVA_HOME"
}

# kafka_node N: select node N of the instance (sets the per-node KAFKA_* settings). The
# one-node instances (kafka, kafka-scram) have node 1 only, in var/<instance>/; a cluster's
# node N is kafka-N, in var/kafka-cluster/kafka-N/.
kafka_node() {
    KAFKA_NODE_ID="$1"
    KAFKA_PORT=$((KAFKA_FIRST_PORT + $1 - 1))
    KAFKA_CONTROLLER_PORT=$((KAFKA_FIRST_CONTROLLER_PORT + $1 - 1))
    if kafka_cluster; then
        KAFKA_NAME="kafka-$1"
        KAFKA_DIR="$KAFKA_HOME/$KAFKA_NAME"
    else
        KAFKA_NAME="$KAFKA_INSTANCE"
        KAFKA_DIR="$KAFKA_HOME"
    fi
    KAFKA_DATA="$KAFKA_DIR/data"
    KAFKA_PROPS="$KAFKA_DIR/server.properties"
    KAFKA_PID="$RUN_DIR/$KAFKA_NAME.pid"
    KAFKA_LOG="$LOG_DIR/$KAFKA_NAME.log"
    KAFKA_LOG_DIR="$LOG_DIR/$KAFKA_NAME"
}

# kafka_each FUNCTION: FUNCTION for each selected node (KAFKA_NODES); status 1 if it failed
# for any.
kafka_each() {
    local n rc=0
    for n in "${KAFKA_NODES[@]}"; do
        kafka_node "$n"
        "$1" || rc=1
    done
    return "$rc"
}

kafka_cluster() { ((KAFKA_BROKERS > 1)); }

# kafka_say MESSAGE: "kafka: MESSAGE" (one node) or "kafka-N: MESSAGE" (a cluster's node).
kafka_say() { say "$(kafka_cluster && echo "$KAFKA_NAME" || echo kafka): $*"; }

kafka_alive() { pid_matches "$KAFKA_PID" "$KAFKA_PROPS"; }

# kafka_fetch: the jars of kafka_2.13 and its dependencies, plus the log4j binding, into
# var/kafka/libs; skipped when the marker says the folder is complete for these versions.
KAFKA_LIBS_WANT="kafka_2.13-$KAFKA_VERSION log4j-$LOG4J_VERSION"
kafka_libs_complete() {
    [[ -f "$KAFKA_LIBS/.complete" && "$(<"$KAFKA_LIBS/.complete")" == "$KAFKA_LIBS_WANT" ]]
}

kafka_fetch() {
    kafka_libs_complete && return 0
    say "kafka: fetching kafka_2.13 $KAFKA_VERSION and dependencies from Maven Central (once) ..."
    local tmp="$KAFKA_LIBS.tmp" fetch_log="$LOG_DIR/kafka-fetch.log"
    rm -rf "$tmp"
    mkdir -p "$(dirname "$KAFKA_LIBS")"
    if ! mvn -B -q -f "$HERE/kafka/pom.xml" \
        -Dkafka.version="$KAFKA_VERSION" -Dlog4j.version="$LOG4J_VERSION" \
        dependency:copy-dependencies -DoutputDirectory="$tmp" >"$fetch_log" 2>&1; then
        show_log "$fetch_log"
        die "mvn could not fetch the Kafka jars (is Maven Central reachable?); full output in ${fetch_log#"$ROOT"/}"
    fi
    [[ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" && -f "$tmp/log4j-slf4j-impl-$LOG4J_VERSION.jar" ]] ||
        die "mvn finished but $tmp lacks kafka_2.13-$KAFKA_VERSION.jar or log4j-slf4j-impl; see ${fetch_log#"$ROOT"/}"
    rm -rf "$KAFKA_LIBS"
    mv "$tmp" "$KAFKA_LIBS"
    echo "$KAFKA_LIBS_WANT" >"$KAFKA_LIBS/.complete"
}

# kafka_cmd: KAFKA_CMD = the java command line up to (not including) the main class.
kafka_cmd() {
    local heap
    read -r -a heap <<<"$KAFKA_HEAP_OPTS"
    KAFKA_CMD=("$JAVA" "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
        -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true
        -Dkafka.logs.dir="$KAFKA_LOG_DIR"
        -Dlog4j2.configurationFile="$HERE/kafka/log4j2.xml"
        -cp "$KAFKA_LIBS/*")
}

# meta_value FILE KEY
meta_value() { sed -n "s/^$2=//p" "$1" | head -n1; }

# kafka_check_storage: a formatted data folder must match the instance's cluster.id and the
# node's id.
kafka_check_storage() {
    local id_file="$KAFKA_HOME/cluster.id" meta="$KAFKA_DATA/meta.properties" data="${KAFKA_DATA#"$ROOT"/}"
    local meta_id meta_node
    if [[ ! -f "$meta" ]]; then
        if [[ -d "$KAFKA_DATA" && -n "$(ls -A "$KAFKA_DATA")" ]]; then
            die "$data is not empty but has no meta.properties, so it is not a Kafka log folder: delete $data (topics are lost) and run up again"
        fi
        return 0
    fi
    meta_id="$(meta_value "$meta" cluster.id)"
    meta_node="$(meta_value "$meta" node.id)"
    [[ -n "$meta_id" ]] ||
        die "$data/meta.properties has no cluster.id, the Kafka data folder is broken: delete $data (topics are lost) and run up again"
    if [[ ! -s "$id_file" ]]; then
        echo "$meta_id" >"$id_file" # cluster.id lost but the data is fine: adopt it
    fi
    [[ "$meta_id" == "$(<"$id_file")" ]] ||
        die "$data belongs to Kafka cluster '$meta_id' but ${id_file#"$ROOT"/} says '$(<"$id_file")': delete $data and ${id_file#"$ROOT"/} (topics are lost) and run up again"
    [[ "$meta_node" == "$KAFKA_NODE_ID" ]] ||
        die "$data was formatted for node.id '$meta_node', not $KAFKA_NODE_ID: delete $data (topics are lost) and run up again"
    if kafka_scram; then
        [[ -f "$KAFKA_HOME/scram.credentials" && "$(<"$KAFKA_HOME/scram.credentials")" == "$(scram_fingerprint)" ]] ||
            die "$data was formatted with other SCRAM credentials than KAFKA_SCRAM_USER/KAFKA_SCRAM_PASSWORD/KAFKA_SCRAM_BROKER_PASSWORD now give: use the old ones, or delete $data (topics are lost) and run up again"
    fi
    return 0
}

# ----------------------------------------------------------------------------- Kafka: SCRAM and TLS
kafka_scram() { [[ "$KAFKA_INSTANCE" == "kafka-scram" ]]; }

# scram_fingerprint: a hash of the SCRAM users, to notice when they no longer match the
# storage (SCRAM users are written into the metadata log once, when it is formatted).
scram_fingerprint() {
    printf '%s\n' "$KAFKA_SCRAM_USER" "$KAFKA_SCRAM_PASSWORD" "$KAFKA_SCRAM_BROKER_PASSWORD" |
        sha256sum | cut -d' ' -f1
}

# scram_check_credentials: StorageTool parses `[name=...,password=...]`, so keep to characters
# that need no quoting there.
scram_check_credentials() {
    local v
    for v in "$KAFKA_SCRAM_USER" "$KAFKA_SCRAM_PASSWORD" "$KAFKA_SCRAM_BROKER_PASSWORD"; do
        [[ "$v" =~ ^[A-Za-z0-9._~+/-]+$ ]] ||
            die "KAFKA_SCRAM_USER, KAFKA_SCRAM_PASSWORD and KAFKA_SCRAM_BROKER_PASSWORD may hold only letters, digits and . _ ~ + / -"
    done
}

# scram_format_args: the --add-scram options of `StorageTool format`.
scram_format_args() {
    local user="$KAFKA_SCRAM_USER" pw="$KAFKA_SCRAM_PASSWORD"
    SCRAM_ARGS=(--add-scram "SCRAM-SHA-512=[name=$user,password=$pw]"
        --add-scram "SCRAM-SHA-256=[name=$user,password=$pw]"
        --add-scram "SCRAM-SHA-512=[name=$KAFKA_SCRAM_BROKER_USER,password=$KAFKA_SCRAM_BROKER_PASSWORD]")
}

# kafka_tls: a CA and a broker certificate (127.0.0.1, localhost) for the SASL_SSL listener,
# made once in var/kafka-scram/tls (tls_certs.py, with the venv's cryptography).
kafka_tls() {
    [[ -s "$KAFKA_TLS_DIR/ca.pem" && -s "$KAFKA_TLS_DIR/broker.pem" ]] && return 0
    say "kafka: making a CA and a broker certificate in ${KAFKA_TLS_DIR#"$ROOT"/} (once) ..."
    "$STACK_PYTHON" "$HERE/kafka/tls_certs.py" "$KAFKA_TLS_DIR" >>"$LOG_DIR/kafka-tls.log" 2>&1 || {
        show_log "$LOG_DIR/kafka-tls.log"
        die "could not make the TLS certificates for Kafka (log above: ${LOG_DIR#"$ROOT"/}/kafka-tls.log)"
    }
}

# kafka_new_cluster_id FILE: a new cluster id (kafka.tools.StorageTool random-uuid) into FILE.
kafka_new_cluster_id() {
    local id log="$LOG_DIR/kafka-format.log"
    mark_log "$log"
    id="$("${KAFKA_CMD[@]}" kafka.tools.StorageTool random-uuid 2>&1 | tee -a "$log" | tail -n1)" || true
    [[ "$id" =~ ^[A-Za-z0-9_-]{22}$ ]] || {
        show_log "$log"
        die "kafka.tools.StorageTool random-uuid gave no cluster id (log above: ${log#"$ROOT"/})"
    }
    echo "$id" >"$1"
}

# kafka_format: the node's storage formatted once, with the instance's cluster id (made at the
# first format). One node: a standalone quorum (--standalone). A cluster: the static quorum of
# its controller.quorum.voters, the same on every node.
kafka_format() {
    local id_file="$KAFKA_HOME/cluster.id" quorum=() log="$LOG_DIR/$KAFKA_NAME-format.log"
    [[ -f "$KAFKA_DATA/meta.properties" ]] && return 0
    [[ -s "$id_file" ]] || kafka_new_cluster_id "$id_file"
    mkdir -p "$KAFKA_DATA"
    SCRAM_ARGS=()
    if kafka_scram; then
        scram_format_args
        scram_fingerprint >"$KAFKA_HOME/scram.credentials"
    fi
    kafka_cluster || quorum=(--standalone)
    if ! "${KAFKA_CMD[@]}" kafka.tools.StorageTool format -t "$(<"$id_file")" -c "$KAFKA_PROPS" \
        "${quorum[@]}" --ignore-formatted "${SCRAM_ARGS[@]}" >"$log" 2>&1; then
        show_log "$log"
        die "formatting the Kafka storage in ${KAFKA_DATA#"$ROOT"/} failed: delete ${KAFKA_DATA#"$ROOT"/} and ${id_file#"$ROOT"/} and run up again"
    fi
}

# kafka_properties: server.properties from the template (kafka/properties.py); for scram with
# kafka/scram.properties.template over it (listeners, SASL, TLS), for a cluster's node with
# kafka/cluster.properties.template (the quorum's voters, replication). Readable by its owner
# only: it holds the broker's SCRAM password.
kafka_properties() {
    local overlays=() unset=() voters="" n
    if kafka_scram; then overlays+=("$HERE/kafka/scram.properties.template"); fi
    if kafka_cluster; then
        overlays+=("$HERE/kafka/cluster.properties.template")
        unset=(--unset controller.quorum.bootstrap.servers)
        for n in "${KAFKA_ALL_NODES[@]}"; do
            voters+="${voters:+,}$n@127.0.0.1:$((KAFKA_FIRST_CONTROLLER_PORT + n - 1))"
        done
    fi
    "$STACK_PYTHON" "$HERE/kafka/properties.py" "$HERE/kafka/server.properties.template" \
        "${overlays[@]}" --output "$KAFKA_PROPS" "${unset[@]}" \
        --var KAFKA_NODE_ID="$KAFKA_NODE_ID" \
        --var KAFKA_PORT="$KAFKA_PORT" \
        --var KAFKA_CONTROLLER_PORT="$KAFKA_CONTROLLER_PORT" \
        --var KAFKA_VOTERS="$voters" \
        --var KAFKA_SSL_PORT="${KAFKA_SSL_PORT:-}" \
        --var KAFKA_DATA_DIR="$KAFKA_DATA" \
        --var KAFKA_TLS_DIR="$KAFKA_TLS_DIR" \
        --var BROKER_USER="$KAFKA_SCRAM_BROKER_USER" \
        --var BROKER_PASSWORD="$KAFKA_SCRAM_BROKER_PASSWORD" ||
        die "could not write ${KAFKA_PROPS#"$ROOT"/} (message above)"
}

# kafka_preflight: everything that can fail before any component is started.
kafka_preflight() {
    kafka_each kafka_node_preflight
}

kafka_node_preflight() {
    kafka_alive && return 0
    need_java
    need_python
    kafka_libs_complete || command -v mvn >/dev/null 2>&1 ||
        die "mvn not found, needed once to fetch the Kafka jars from Maven Central: apt-get install maven"
    if kafka_scram; then
        scram_check_credentials
        require_port_free "$KAFKA_PORT" KAFKA_SCRAM_PORT
        require_port_free "$KAFKA_SSL_PORT" KAFKA_SCRAM_SSL_PORT
        require_port_free "$KAFKA_CONTROLLER_PORT" KAFKA_SCRAM_CONTROLLER_PORT
    elif kafka_cluster; then
        require_port_free "$KAFKA_PORT" KAFKA_CLUSTER_PORT
        require_port_free "$KAFKA_CONTROLLER_PORT" KAFKA_CLUSTER_CONTROLLER_PORT
    else
        require_port_free "$KAFKA_PORT" KAFKA_PORT
        require_port_free "$KAFKA_CONTROLLER_PORT" KAFKA_CONTROLLER_PORT
    fi
    mkdir -p "$KAFKA_DIR"
    kafka_check_storage
}

kafka_launch() {
    wait_self_connection "$KAFKA_PORT" "$KAFKA_NAME"
    wait_self_connection "$KAFKA_CONTROLLER_PORT" "$KAFKA_NAME"
    kafka_cmd
    mkdir -p "$KAFKA_LOG_DIR"
    mark_log "$KAFKA_LOG_DIR/server.log"
    launch "$KAFKA_PID" "$KAFKA_LOG" "${KAFKA_CMD[@]}" kafka.Kafka "$KAFKA_PROPS"
}

# kafka_start: returns at once; kafka_wait checks that it answers. (A cluster's nodes all
# start before any is waited for: none answers before a majority of the quorum runs.)
kafka_start() {
    kafka_each kafka_node_start
}

kafka_node_start() {
    if kafka_alive; then
        kafka_say "already running (pid $(<"$KAFKA_PID"))"
        return 0
    fi
    rm -f "$KAFKA_PID"
    kafka_fetch
    kafka_cmd
    if kafka_scram; then kafka_tls; fi
    kafka_properties
    kafka_format
    kafka_launch
    STARTED+=("$(kafka_cluster && echo "$KAFKA_NAME" || echo kafka)")
    kafka_say "starting (pid $(<"$KAFKA_PID")) on 127.0.0.1:$KAFKA_PORT$(kafka_scram && echo " (SASL_PLAINTEXT), $KAFKA_SSL_PORT (SASL_SSL)")"
}

# kafka_probe [TIMEOUT]: as a client would; for scram over both listeners, with the services'
# user; for a cluster's node: the node is among the brokers the cluster's metadata lists.
kafka_probe() {
    listening "$KAFKA_PORT" || return 1
    if ! kafka_scram; then
        local node=()
        kafka_cluster && node=(--node "$KAFKA_NODE_ID")
        "$STACK_PYTHON" "$HERE/probe.py" kafka "127.0.0.1:$KAFKA_PORT" --timeout "${1:-5}" "${node[@]}"
        return
    fi
    local common=(--sasl-mechanism SCRAM-SHA-512 --username "$KAFKA_SCRAM_USER" --timeout "${1:-5}")
    PROBE_KAFKA_PASSWORD="$KAFKA_SCRAM_PASSWORD" "$STACK_PYTHON" "$HERE/probe.py" kafka \
        "127.0.0.1:$KAFKA_PORT" --security-protocol SASL_PLAINTEXT "${common[@]}" &&
        PROBE_KAFKA_PASSWORD="$KAFKA_SCRAM_PASSWORD" "$STACK_PYTHON" "$HERE/probe.py" kafka \
            "127.0.0.1:$KAFKA_SSL_PORT" --security-protocol SASL_SSL \
            --cafile "$KAFKA_TLS_DIR/ca.pem" "${common[@]}" >/dev/null
}

kafka_pid() { pid_of "$KAFKA_PID"; }

# kafka_revive: a client took the port as its own end while Kafka started (see
# wait_self_connection): start it again once that connection is gone (three times at most).
kafka_revive() {
    ((KAFKA_RELAUNCHED < 3)) && [[ -n "${KAFKA_CMD+set}" ]] || return 1
    self_connected "$KAFKA_PORT" || self_connected "$KAFKA_CONTROLLER_PORT" || return 1
    KAFKA_RELAUNCHED=$((KAFKA_RELAUNCHED + 1))
    kafka_say "could not listen, its port was held by a connection to itself; starting it again"
    kafka_launch
}

kafka_wait() {
    kafka_each kafka_node_wait
}

kafka_node_wait() {
    local hint="if you changed KAFKA_PORT while it ran, run down first"
    kafka_cluster && hint="a node answers only while a majority of the three runs; if you changed KAFKA_CLUSTER_PORT while they ran, run down first"
    KAFKA_RELAUNCHED=0
    await_ready kafka "$KAFKA_NAME" "127.0.0.1:$KAFKA_PORT" "$hint" \
        "$KAFKA_LOG" "$KAFKA_LOG_DIR/server.log"
    kafka_say "up on 127.0.0.1:$KAFKA_PORT ($PROBE_OUT)"
}

# kafka_stop: SIGTERM to every selected node at once, then wait for them (a cluster's last
# nodes would otherwise wait in vain for a quorum to shut down in order).
kafka_stop() {
    local stopping=() n
    for n in "${KAFKA_NODES[@]}"; do
        kafka_node "$n"
        stop_signal "$KAFKA_PID" "$KAFKA_PROPS" "$KAFKA_NAME" && stopping+=("$n")
    done
    for n in "${stopping[@]}"; do
        kafka_node "$n"
        stop_wait "$KAFKA_PID" "$KAFKA_NAME"
    done
}

kafka_status() {
    kafka_each kafka_node_status
}

kafka_node_status() {
    report_status kafka "$KAFKA_NAME" "127.0.0.1:$KAFKA_PORT" "$KAFKA_PORT" probe_said
}

# kafka_env: plaintext: the bootstrap servers. scram / scram-tls: also the security settings,
# as KAFKA_* (tools, tests) and as <SERVICE>_KAFKA__* (the services' KafkaSettings).
kafka_env() {
    local servers="" n
    if ! kafka_scram; then
        for n in "${KAFKA_ALL_NODES[@]}"; do
            servers+="${servers:+,}127.0.0.1:$((KAFKA_FIRST_PORT + n - 1))"
        done
        say "export KAFKA_BOOTSTRAP_SERVERS=$servers"
        return 0
    fi
    local -A values=(
        [BOOTSTRAP_SERVERS]="127.0.0.1:$KAFKA_PORT"
        [SECURITY_PROTOCOL]=SASL_PLAINTEXT
        [SASL_MECHANISM]=SCRAM-SHA-512
        [SASL_USERNAME]="$KAFKA_SCRAM_USER"
        [SASL_PASSWORD]="$KAFKA_SCRAM_PASSWORD"
    )
    if [[ "$KAFKA_SECURITY" == "scram-tls" ]]; then
        values[BOOTSTRAP_SERVERS]="127.0.0.1:$KAFKA_SSL_PORT"
        values[SECURITY_PROTOCOL]=SASL_SSL
        values[SSL_CAFILE]="$KAFKA_TLS_DIR/ca.pem"
    fi
    local key prefix
    for key in BOOTSTRAP_SERVERS SECURITY_PROTOCOL SASL_MECHANISM SASL_USERNAME SASL_PASSWORD SSL_CAFILE; do
        [[ -n "${values[$key]:-}" ]] || continue
        say "export KAFKA_$key=$(printf '%q' "${values[$key]}")"
        for prefix in MEMBERSHIP EVENTS NOTIFICATIONS; do
            say "export ${prefix}_KAFKA__$key=$(printf '%q' "${values[$key]}")"
        done
    done
}

# ----------------------------------------------------------------------------- PostgreSQL
PRIVATE_PG_URL="postgresql://$PG_SUPERUSER@127.0.0.1:$PG_PORT/postgres"

# An external server is named by DATABASE_URL (unless it is the URL of our own cluster,
# e.g. after `eval "$(stack.sh env)"`).
pg_external() { [[ -n "${DATABASE_URL:-}" && "$DATABASE_URL" != "$PRIVATE_PG_URL" ]]; }

pg_url() { if pg_external; then echo "$DATABASE_URL"; else echo "$PRIVATE_PG_URL"; fi; }

# pg_tool NAME: path of a PostgreSQL program (PG_BIN, then PATH, then Debian's folders).
pg_tool() {
    local name="$1" dir
    if [[ -n "${PG_BIN:-}" && -x "$PG_BIN/$name" ]]; then echo "$PG_BIN/$name"; return 0; fi
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
    # Debian keeps the server programs off PATH, one folder per major version: newest first.
    while read -r dir; do
        if [[ -x "$dir/$name" ]]; then echo "$dir/$name"; return 0; fi
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k4 -rn)
    return 1
}

need_pg_client() {
    if ! PG_ISREADY="$(pg_tool pg_isready)" || ! PSQL="$(pg_tool psql)"; then
        die "pg_isready/psql not found: apt-get install postgresql-client-15 (or set PG_BIN)"
    fi
}

need_pg_server() {
    need_pg_client
    if ! INITDB="$(pg_tool initdb)" || ! PG_CTL="$(pg_tool pg_ctl)" || ! pg_tool postgres >/dev/null; then
        die "initdb/pg_ctl/postgres not found: apt-get install postgresql-15 (or set PG_BIN to its bin folder)"
    fi
}

# as_pg CMD...: run CMD as the cluster owner (postgres refuses to run as root).
as_pg() {
    if ((EUID == 0)); then
        # From /: the checkout may be a folder the user cannot enter (see pg_locate).
        (cd / && runuser -u "$STACK_PG_USER" -- "$@")
    else
        "$@"
    fi
}

# searchable_by_others DIR: every folder from DIR (or its first existing parent) up to / lets
# other users pass (o+x), as the system user that runs postgres for root needs.
searchable_by_others() {
    local dir="$1" mode
    while [[ ! -e "$dir" ]]; do dir="$(dirname "$dir")"; done
    while :; do
        mode="$(stat -c %a "$dir")" || return 1
        (((8#$mode & 1) == 1)) || return 1
        [[ "$dir" == / ]] && return 0
        dir="$(dirname "$dir")"
    done
}

# pg_locate: where the private cluster lives. In var/pg, unless
#   - STACK_PG_DIR names the folder, or var/pg.location does (written when the cluster was
#     made elsewhere, so it is found again however the folders' modes change later), or
#   - we are root, there is no var/pg/data yet, and the checkout lies in a folder other users
#     cannot pass (root's home, a folder of mode 0700): postgres runs as STACK_PG_USER, who
#     could not reach var/pg, so the cluster goes to $PG_HOME/<checkout>-<hash>/pg.
# The server log is in var/log/postgres.log, or beside the cluster when it is elsewhere.
pg_locate() {
    local checkout
    if [[ -n "${STACK_PG_DIR:-}" ]]; then
        PG_DIR="$STACK_PG_DIR"
    elif [[ -s "$PG_LOCATION" ]]; then
        PG_DIR="$(<"$PG_LOCATION")"
    elif ((EUID == 0)) && [[ ! -e "$VAR/pg/data" ]] && ! searchable_by_others "$VAR"; then
        checkout="$(basename "$ROOT")-$(printf '%s' "$ROOT" | sha256sum | cut -c1-8)"
        PG_DIR="$PG_HOME/$checkout/pg"
    else
        PG_DIR="$VAR/pg"
    fi
    PG_DATA="$PG_DIR/data"
    PG_SOCKET_DIR="$PG_DIR/run"
    if [[ "$PG_DIR" == "$VAR/pg" ]]; then
        PG_LOG="$LOG_DIR/postgres.log"
    else
        PG_LOG="$PG_DIR/postgres.log"
    fi
}

# pg_where: the cluster's folder for messages (relative to the checkout when inside it).
pg_where() { printf '%s' "${PG_DIR#"$ROOT"/}"; }

# pg_owner_setup: folders for the cluster; as root, a system user that owns and runs it.
pg_owner_setup() {
    mkdir -p "$PG_DIR" "$PG_SOCKET_DIR"
    if [[ "$PG_DIR" != "$VAR/pg" ]]; then
        echo "$PG_DIR" >"$PG_LOCATION"
    fi
    touch "$PG_LOG"
    ((EUID == 0)) || return 0
    if ! id -u "$STACK_PG_USER" >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$STACK_PG_USER" ||
            die "could not create the system user $STACK_PG_USER that runs postgres (set STACK_PG_USER to an existing non-root user)"
    fi
    chown -R "$STACK_PG_USER:" "$PG_DIR" "$PG_LOG"
    # shellcheck disable=SC2016 # $1 expands in the inner shell
    as_pg "$BASH" -c '[[ -w "$1" && -x "$1" ]]' _ "$PG_DIR" ||
        die "user $STACK_PG_USER cannot reach ${PG_DIR}: every folder above it must be searchable (chmod o+x), or choose another folder for the cluster with STACK_PG_DIR"
}

# pg_running: the postmaster named by postmaster.pid is alive. (Not `pg_ctl status`: a
# killed postmaster that nobody reaped yet still looks alive to it.)
pg_running() { pid_matches "$PG_DATA/postmaster.pid" "$PG_DATA"; }

pg_check_datadir() {
    local major
    [[ -d "$PG_DATA" && -n "$(ls -A "$PG_DATA" 2>/dev/null)" ]] || return 0
    [[ -f "$PG_DATA/PG_VERSION" ]] ||
        die "${PG_DATA#"$ROOT"/} is not empty but is not a PostgreSQL cluster (no PG_VERSION): delete ${PG_DATA#"$ROOT"/} (databases are lost) and run up again"
    major="$("$PG_CTL" --version | awk '{print $3}')"
    major="${major%%.*}"
    [[ "$(<"$PG_DATA/PG_VERSION")" == "$major" ]] ||
        die "${PG_DATA#"$ROOT"/} is a PostgreSQL $(<"$PG_DATA/PG_VERSION") cluster but the binaries are PostgreSQL $major: delete ${PG_DATA#"$ROOT"/} (databases are lost) or set PG_BIN"
    [[ -f "$PG_DATA/postgresql.conf" ]] ||
        die "${PG_DATA#"$ROOT"/} has no postgresql.conf: the cluster is broken; delete ${PG_DATA#"$ROOT"/} and run up again"
}

pg_init() {
    [[ -f "$PG_DATA/PG_VERSION" ]] && return 0
    say "postgres: creating the cluster in ${PG_DATA#"$ROOT"/} (once) ..."
    if [[ "$PG_DIR" != "$VAR/pg" && -z "${STACK_PG_DIR:-}" ]]; then
        say "postgres: (not in var/pg: user $STACK_PG_USER, who runs it, cannot pass the folders above ${VAR}; ${PG_LOCATION#"$ROOT"/} says where it is)"
    fi
    local init_log="$LOG_DIR/postgres-initdb.log"
    mkdir -p "$PG_DATA"
    ((EUID == 0)) && chown "$STACK_PG_USER:" "$PG_DATA"
    if ! as_pg "$INITDB" -D "$PG_DATA" -U "$PG_SUPERUSER" --auth=trust -E UTF8 --locale=C >"$init_log" 2>&1; then
        show_log "$init_log"
        die "initdb failed; delete ${PG_DATA#"$ROOT"/} and run up again"
    fi
    echo "include_if_exists = 'stack.conf'    # written by deploy/local/stack.sh" >>"$PG_DATA/postgresql.conf"
}

pg_config() {
    local socket_dir="$PG_SOCKET_DIR"
    # A unix socket path is limited to 107 bytes; clients here use TCP anyway.
    ((${#socket_dir} + 20 < 107)) || socket_dir=""
    sed -e "s|@PG_PORT@|$PG_PORT|g" -e "s|@PG_SOCKET_DIR@|$socket_dir|g" \
        "$HERE/postgres/postgresql.local.conf" >"$PG_DATA/stack.conf"
    ((EUID == 0)) && chown "$STACK_PG_USER:" "$PG_DATA/stack.conf"
    return 0
}

# pg_wait_stale_postmaster: after a crash postgres refuses to start while the pid in the old
# postmaster.pid still exists, even as a zombie; wait until it is reaped.
no_such_pid() { [[ ! -e "/proc/$1" ]]; }

pg_wait_stale_postmaster() {
    local pidfile="$PG_DATA/postmaster.pid" pid
    [[ -f "$pidfile" ]] || return 0
    pid="$(head -n1 "$pidfile")"
    [[ "$pid" =~ ^[0-9]+$ && -e "/proc/$pid" ]] || return 0
    say "postgres: waiting for the previous postmaster (pid $pid, exited) to be reaped ..."
    poll "$STACK_TIMEOUT" 0.2 no_such_pid "$pid" ||
        die "the old postmaster (pid $pid) named in ${pidfile#"$ROOT"/} still exists; stop it, then run up again"
}

pg_preflight() {
    if pg_external; then
        need_pg_client
        return 0
    fi
    need_pg_server
    pg_running && return 0
    require_port_free "$PG_PORT" PG_PORT
    pg_check_datadir
}

pg_start() {
    if pg_external; then
        say "postgres: DATABASE_URL is set, using that server (no private cluster)"
        return 0
    fi
    if pg_running; then
        say "postgres: already running"
        return 0
    fi
    pg_owner_setup
    pg_init
    pg_config
    pg_wait_stale_postmaster
    wait_self_connection "$PG_PORT" postgres
    mark_log "$PG_LOG"
    printf '\n==== %s start ====\n' "$(date '+%F %T')" >>"$PG_LOG"
    say "postgres: starting on 127.0.0.1:$PG_PORT"
    STARTED+=(postgres)
    # -w: pg_ctl waits (it takes about a second, Kafka boots meanwhile) and notices when the
    # postmaster dies; pg_wait then checks with pg_isready and a query.
    # 9>&-: postgres must not inherit (and so keep holding) the stack lock.
    mark_log "$LOG_DIR/pg_ctl.log"
    if ! as_pg "$PG_CTL" start -D "$PG_DATA" -l "$PG_LOG" -w -t "$STACK_TIMEOUT" \
        >>"$LOG_DIR/pg_ctl.log" 2>&1 9>&-; then
        show_log "$PG_LOG" "$LOG_DIR/pg_ctl.log"
        die "postgres did not start (logs above: ${PG_LOG#"$ROOT"/}, ${LOG_DIR#"$ROOT"/}/pg_ctl.log)"
    fi
}

pg_query() {
    "$PSQL" "$(pg_url)" -XAtq -v ON_ERROR_STOP=1 -c 'select 1' 2>&1
}

pg_alive() { pg_external || pg_running; }
pg_pid() { pg_external || pid_of "$PG_DATA/postmaster.pid"; }

# pg_probe [TIMEOUT]: pg_isready, then a query.
pg_probe() {
    local out
    out="$("$PG_ISREADY" -t "${1:-2}" -d "$(pg_url)" 2>&1)" &&
        out="$(PGCONNECT_TIMEOUT="${1:-5}" pg_query)" && [[ "$out" == "1" ]] || {
        printf '%s' "$out"
        return 1
    }
}

pg_wait() {
    local logs=()
    pg_external || logs=("$PG_LOG")
    await_ready pg postgres "$(pg_safe_url)" "" "${logs[@]}"
    say "postgres: up on $(pg_safe_url)$(pg_external || echo ", data in $(pg_where)/data")"
}

# pg_safe_url: the URL without a password, for messages.
pg_safe_url() { pg_url | sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#'; }

pg_stop() {
    if pg_external; then
        say "postgres: external server (DATABASE_URL), not managed here"
        return 0
    fi
    if ! pg_running; then
        say "postgres: not running"
        return 0
    fi
    need_pg_server
    as_pg "$PG_CTL" stop -D "$PG_DATA" -m fast -w -t 60 >/dev/null ||
        as_pg "$PG_CTL" stop -D "$PG_DATA" -m immediate -w -t 30 >/dev/null
    say "postgres: stopped"
}

pg_status() {
    need_pg_client
    if pg_external; then
        report_status pg postgres "$(pg_safe_url)" "$PG_PORT" echo "(external, DATABASE_URL)"
    else
        report_status pg postgres "$(pg_safe_url)" "$PG_PORT" pg_data_said
    fi
}

pg_data_said() { printf 'data %s/data%s' "$(pg_where)" "$( ((EUID == 0)) && echo " (run as $STACK_PG_USER)")"; }

pg_env() { say "export DATABASE_URL=$(printf '%q' "$(pg_url)")"; }

# ----------------------------------------------------------------------------- SMTP sink
smtp_alive() { pid_matches "$SMTP_PID" "$HERE/smtp_sink.py"; }

smtp_preflight() {
    smtp_alive && return 0
    need_python
    require_port_free "$SMTP_PORT" SMTP_PORT
}

smtp_start() {
    if smtp_alive; then
        say "smtp: already running (pid $(<"$SMTP_PID"))"
        return 0
    fi
    rm -f "$SMTP_PID"
    mkdir -p "$MAIL_DIR"
    launch "$SMTP_PID" "$SMTP_LOG" "$STACK_PYTHON" "$HERE/smtp_sink.py" \
        --host 127.0.0.1 --port "$SMTP_PORT" --maildir "$MAIL_DIR"
    STARTED+=(smtp)
    say "smtp: starting (pid $(<"$SMTP_PID")) on 127.0.0.1:$SMTP_PORT"
}

smtp_pid() { pid_of "$SMTP_PID"; }

smtp_probe() {
    listening "$SMTP_PORT" && "$STACK_PYTHON" "$HERE/probe.py" smtp 127.0.0.1 "$SMTP_PORT" --timeout 3
}

smtp_wait() {
    await_ready smtp "the SMTP sink" "127.0.0.1:$SMTP_PORT" "" "$SMTP_LOG"
    say "smtp: up on 127.0.0.1:$SMTP_PORT, Maildir ${MAIL_DIR#"$ROOT"/}"
}

smtp_stop() { stop_pid "$SMTP_PID" "$HERE/smtp_sink.py" smtp; }

smtp_status() {
    report_status smtp smtp "127.0.0.1:$SMTP_PORT" "$SMTP_PORT" echo "Maildir ${MAIL_DIR#"$ROOT"/}"
}

smtp_env() {
    say "export SMTP_HOST=127.0.0.1"
    say "export SMTP_PORT=$SMTP_PORT"
    say "export MAIL_DIR=$(printf '%q' "$MAIL_DIR")"
}

# ----------------------------------------------------------------------------- issuer
# The development token issuer (python -m services.operator dev-issuer): a new RSA key at
# every start, tokens for any role, loopback only. See docs/security.md.
issuer_url() { echo "http://127.0.0.1:$ISSUER_PORT"; }

issuer_alive() { pid_matches "$ISSUER_PID" "$ISSUER_MARKER"; }

issuer_preflight() {
    issuer_alive && return 0
    need_python
    require_port_free "$ISSUER_PORT" ISSUER_PORT
}

issuer_start() {
    if issuer_alive; then
        say "issuer: already running (pid $(<"$ISSUER_PID"))"
        return 0
    fi
    rm -f "$ISSUER_PID"
    launch "$ISSUER_PID" "$ISSUER_LOG" env PYTHONPATH="$ROOT" "$STACK_PYTHON" \
        -m services.operator dev-issuer --host 127.0.0.1 --port "$ISSUER_PORT"
    STARTED+=(issuer)
    say "issuer: starting (pid $(<"$ISSUER_PID")) on $(issuer_url)"
}

issuer_pid() { pid_of "$ISSUER_PID"; }

issuer_probe() {
    listening "$ISSUER_PORT" && "$STACK_PYTHON" "$HERE/probe.py" http "$(issuer_url)/jwks.json" --timeout 3
}

issuer_wait() {
    await_ready issuer "the development issuer" "$(issuer_url)" "" "$ISSUER_LOG"
    say "issuer: up on $(issuer_url)"
}

issuer_stop() { stop_pid "$ISSUER_PID" "$ISSUER_MARKER" issuer; }

issuer_status() {
    report_status issuer issuer "$(issuer_url)" "$ISSUER_PORT" echo "(development tokens)"
}

issuer_env() {
    local url prefix
    url="$(issuer_url)"
    say "export ISSUER_URL=$url"
    for prefix in MEMBERSHIP EVENTS NOTIFICATIONS; do
        say "export ${prefix}_AUTH__ISSUER=$url"
        say "export ${prefix}_AUTH__JWKS_URL=$url/jwks.json"
        # A development run: the services accept this issuer and the vault's public
        # development key and pepper only when told so (docs/security.md).
        say "export ${prefix}_DEVELOPMENT=true"
    done
    say "export WEB_ISSUER_URL=$url"
}

# ----------------------------------------------------------------------------- commands
STARTED=()

# stop_started: a failed `up` stops again what it started itself (components that were
# already running stay), so it leaves no half-started process behind.
stop_started() {
    local c
    ((${#STARTED[@]} > 0)) || return 0
    warn "stack.sh: up failed, stopping what it started: ${STARTED[*]}"
    for c in "${STARTED[@]}"; do
        component stop "$c" >/dev/null 2>&1 || true
    done
    STARTED=()
}

# component ACTION COMPONENT: run the component's function for ACTION (preflight, start,
# wait, stop, status, env). `kafka` acts on every node of the selected Kafka, `kafka-N` on
# node N of the cluster (KAFKA_BROKERS=3) only.
component() {
    local action="$1" c="$2"
    case "$c" in
        kafka)
            KAFKA_NODES=("${KAFKA_ALL_NODES[@]}")
            "kafka_$action"
            ;;
        kafka-[0-9])
            known_component "$c"
            KAFKA_NODES=("${c#kafka-}")
            "kafka_$action"
            ;;
        postgres | pg) "pg_$action" ;;
        smtp) "smtp_$action" ;;
        issuer) "issuer_$action" ;;
        *) die "unknown component '$c' (kafka, postgres, smtp or issuer)" ;;
    esac
}

# known_component COMPONENT: fails with a message for a name that is none.
known_component() {
    case "$1" in
        kafka | postgres | pg | smtp | issuer) ;;
        kafka-[0-9])
            kafka_cluster && ((${1#kafka-} >= 1 && ${1#kafka-} <= KAFKA_BROKERS)) ||
                die "unknown component '$1' (kafka-N names a node of the cluster: KAFKA_BROKERS=3 and kafka-1, kafka-2 or kafka-3)"
            ;;
        *) die "unknown component '$1' (kafka, postgres, smtp or issuer)" ;;
    esac
}

# with_lock: one up/down at a time (several test sessions may call up together).
with_lock() {
    prepare_dirs
    exec 9>"$RUN_DIR/stack.lock"
    flock -w 300 9 || die "another stack.sh up/down holds $RUN_DIR/stack.lock"
}

cmd_up() {
    local c t0=$SECONDS
    with_lock
    trap 'rc=$?; ((rc == 0)) || stop_started; exit "$rc"' EXIT
    # Check everything (tools, ports, data folders) before starting anything; then start
    # all, then wait: the components boot in parallel.
    for c in "$@"; do component preflight "$c"; done
    for c in "$@"; do component start "$c"; done
    for c in "$@"; do component wait "$c"; done
    say "stack: ready in $((SECONDS - t0)) s"
    trap - EXIT
}

cmd_down() {
    local c i
    with_lock
    for ((i = $# ; i >= 1; i--)); do
        c="${!i}"
        component stop "$c"
    done
}

cmd_status() {
    local c rc=0
    for c in "$@"; do component status "$c" || rc=1; done
    return "$rc"
}

cmd_env() {
    local c
    for c in "$@"; do component env "$c"; done
}

usage() {
    local rc="${1:-0}"
    if ((rc == 0)); then
        sed -n '2,/^# See /p' "$0" | sed 's/^# \{0,1\}//'
    else
        sed -n '2,/^# See /p' "$0" | sed 's/^# \{0,1\}//' >&2
    fi
    exit "$rc"
}

main() {
    [[ $# -ge 1 ]] || usage 2
    local cmd="$1"
    shift
    [[ $# -ge 1 ]] || set -- "${COMPONENTS[@]}"
    local c
    for c in "$@"; do known_component "$c"; done
    pg_locate
    case "$cmd" in
        up) cmd_up "$@" ;;
        down) cmd_down "$@" ;;
        status) cmd_status "$@" ;;
        env) cmd_env "$@" ;;
        -h | --help | help) usage 0 ;;
        *) warn "unknown command '$cmd'"; usage 2 ;;
    esac
}

main "$@"
