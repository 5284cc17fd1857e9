#!/bin/sh
#   local_cluster.sh - a Strata cluster on this machine: strata-router and
#   ten strata-node processes on loopback, each with its own data directory.
#
#   scripts/local_cluster.sh start     start it (what `make cluster` runs)
#   scripts/local_cluster.sh stop      stop it: SIGTERM, then wait (`make cluster-stop`)
#   scripts/local_cluster.sh status    show what is running
#   scripts/local_cluster.sh start NODE    start one node again (node03, or 3)
#   scripts/local_cluster.sh stop NODE     stop one node (SIGTERM, wait)
#   scripts/local_cluster.sh restart NODE  stop it, then start it
#   scripts/local_cluster.sh clean     remove the data, logs and cluster file of
#                                      a stopped cluster (`make cluster-clean`);
#                                      CURVE keys are kept
#
#   Layout (all under $STRATA_CLUSTER_DIR, default ./var/cluster):
#       cluster.cfg             the cluster file (rewritten on every start)
#       nodeNN/                 data directory of node NN
#       nodeNN.log, router.log  their output
#       nodeNN.pid, router.pid  their process ids while running
#
#   Node NN listens on writer 8100 + 2 * (NN - 1) and reader one above that
#   (node01: 8100/8101 ... node10: 8118/8119); the router on 8000.
#   HTTP (metrics, health, status pages; docs/operations.md): the router on
#   127.0.0.1:9100 (its status page is http://127.0.0.1:9100/), node NN on
#   127.0.0.1:9100 + NN (node01: 9101 ... node10: 9110).
#
#   Settings (environment): BUILD (directory with the binaries, default
#   build), STRATA_CLUSTER_DIR, STRATA_ROUTER_PORT (8000), STRATA_NODE_PORT
#   (8100), STRATA_NODES (10), STRATA_DATA_SHARDS (8), CURVE (1: CurveZMQ),
#   STRATA_METRICS_PORT (9100; 0 turns HTTP off).
#
#   CURVE=1 (`make cluster CURVE=1`): every socket is CurveZMQ. Keys under
#   $STRATA_CLUSTER_DIR/keys, made once with `strata keygen` and kept:
#   cluster (the cluster cert), router, nodes (the forwarders' client cert),
#   user (yours, for the CLI: an admin key), service7 (a sample service key
#   that may only read, write and list collection 7); clients/ holds the
#   public certs of router, nodes, user and service7 (the clients-dir).
#   keys/policy.cfg (auth/policy of every node and of the router) gives the
#   roles and grants. nodeNN.cfg carries each node's curve and auth
#   sections, cluster.cfg the router's. The start message shows the CLI
#   flags.

set -eu

BUILD=${BUILD:-build}
DIR=${STRATA_CLUSTER_DIR:-var/cluster}
ROUTER_PORT=${STRATA_ROUTER_PORT:-8000}
NODE_PORT=${STRATA_NODE_PORT:-8100}
NODES=${STRATA_NODES:-10}
DATA_SHARDS=${STRATA_DATA_SHARDS:-8}
METRICS_PORT=${STRATA_METRICS_PORT:-9100}
READY_SECONDS=30                #   longest wait for everything to answer
STOP_SECONDS=30                 #   longest wait for one process after SIGTERM

ROUTER_ENDPOINT="tcp://127.0.0.1:$ROUTER_PORT"
CLI="$BUILD/strata"
CURVE=${CURVE:-0}
KEYS="$DIR/keys"
CURVE_FLAGS=""                  #   CLI flags under CURVE=1

say () { printf '%s\n' "$*"; }
fail () { printf 'local_cluster: %s\n' "$*" >&2; exit 1; }

node_name () { printf 'node%02d' "$1"; }
node_writer () { printf 'tcp://127.0.0.1:%d' $((NODE_PORT + 2 * ($1 - 1))); }
node_reader () { printf 'tcp://127.0.0.1:%d' $((NODE_PORT + 2 * ($1 - 1) + 1)); }
#   The --metrics flag of node $1 (0: the router); nothing when HTTP is off
metrics_flag () { [ "$METRICS_PORT" = 0 ] || printf -- '--metrics 127.0.0.1:%d' $((METRICS_PORT + $1)); }

#   The pid in a pid file if that process is still the program named, else nothing
live_pid () {
    pid_file=$1
    program=$2
    [ -f "$pid_file" ] || return 0
    pid=$(cat "$pid_file" 2>/dev/null || true)
    case "$pid" in
        ''|*[!0-9]*) return 0 ;;
    esac
    if kill -0 "$pid" 2>/dev/null && [ "$(ps -p "$pid" -o comm= 2>/dev/null)" = "$program" ]; then
        printf '%s' "$pid"
    fi
}

write_cluster_file () {
    {
        say "#   Written by scripts/local_cluster.sh on every start; edit the script's"
        say "#   settings instead of this file."
        say "cluster"
        say "    name = local"
        say "    data-shards = $DATA_SHARDS"
        say "    total-shards = $NODES"
        say "    nodes"
        index=1
        while [ "$index" -le "$NODES" ]; do
            say "        $(node_name "$index")"
            say "            writer = $(node_writer "$index")"
            say "            reader = $(node_reader "$index")"
            index=$((index + 1))
        done
        say "router"
        say "    listen = $ROUTER_ENDPOINT"
        if [ "$CURVE" = 1 ]; then
            say "    curve"
            say "        cert = $KEYS/cluster_secret"
            say "        clients-dir = $KEYS/clients"
            say "        client-cert = $KEYS/router_secret"
            say "    auth"
            say "        policy = $KEYS/policy.cfg"
        fi
    } > "$DIR/cluster.cfg.new"
    mv "$DIR/cluster.cfg.new" "$DIR/cluster.cfg"
}

#   CURVE=1: the certificates (made once, then kept) and the node configs
make_keys () {
    mkdir -p "$KEYS/clients"
    chmod 700 "$KEYS"
    for name in cluster router nodes user service7; do
        if [ ! -f "$KEYS/${name}_secret" ]; then
            rm -f "$KEYS/$name"
            "$CLI" keygen --dir "$KEYS" "$name" > /dev/null || fail "strata keygen $name failed"
        fi
    done
    for name in router nodes user service7; do
        cp "$KEYS/$name" "$KEYS/clients/$name"
    done
    {
        say "#   Written by scripts/local_cluster.sh (CURVE=1) on every start: who may"
        say "#   do what (auth/policy of the router and of every node; docs/security.md)"
        say "keys"
        say "    router"
        say "        cert = clients/router"
        say "        role = router"
        say "    nodes"
        say "        cert = clients/nodes"
        say "        role = node"
        say "    user"
        say "        cert = clients/user"
        say "        role = admin"
        say "    service7"
        say "        cert = clients/service7"
        say "        grants"
        say "            7 = read write list"
    } > "$KEYS/policy.cfg"
    index=1
    while [ "$index" -le "$NODES" ]; do
        {
            say "#   Written by scripts/local_cluster.sh (CURVE=1) on every start"
            say "curve"
            say "    cert = $KEYS/cluster_secret"
            say "    clients-dir = $KEYS/clients"
            say "    client-cert = $KEYS/nodes_secret"
            say "auth"
            say "    policy = $KEYS/policy.cfg"
        } > "$DIR/$(node_name "$index").cfg"
        index=$((index + 1))
    done
    CURVE_FLAGS="--cert $KEYS/user_secret --server-cert $KEYS/cluster"
}

#   Start one program in the background with its output in a log
launch () {
    name=$1
    shift
    printf '\n=== %s: %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$*" >> "$DIR/$name.log"
    nohup "$@" >> "$DIR/$name.log" 2>&1 < /dev/null &
    printf '%s\n' "$!" > "$DIR/$name.pid"
}

#   Give up: say what failed with the tail of its log, stop what was started
give_up () {
    name=$1
    reason=$2
    printf 'local_cluster: %s %s; the end of %s/%s.log:\n' "$name" "$reason" "$DIR" "$name" >&2
    tail -n 15 "$DIR/$name.log" >&2 || true
    stop_cluster >&2 || true
    exit 1
}

#   Start node number $1 in the background (its pid file is written)
launch_node () {
    name=$(node_name "$1")
    mkdir -p "$DIR/$name"
    # shellcheck disable=SC2046
    if [ "$CURVE" = 1 ]; then
        launch "$name" "$BUILD/strata-node" --config "$DIR/$name.cfg" --cluster "$DIR/cluster.cfg" \
            --name "$name" --data-dir "$DIR/$name" $(metrics_flag "$1")
    else
        launch "$name" "$BUILD/strata-node" --cluster "$DIR/cluster.cfg" --name "$name" --data-dir "$DIR/$name" \
            $(metrics_flag "$1")
    fi
}

#   Wait until node number $1 answers on its writer endpoint
wait_node () {
    name=$(node_name "$1")
    waited=0
    # shellcheck disable=SC2086
    until "$CLI" ping --node "$(node_writer "$1")" --timeout 1 $CURVE_FLAGS > /dev/null 2>&1; do
        [ -n "$(live_pid "$DIR/$name.pid" strata-node)" ] || give_up "$name" "exited"
        waited=$((waited + 1))
        [ "$waited" -lt "$READY_SECONDS" ] || give_up "$name" "did not answer within $READY_SECONDS s"
    done
}

#   The node number named by $1: node03 or 3
node_index () {
    number=${1#node}
    case "$number" in
        ''|*[!0-9]*) fail "'$1' is not a node (node01 .. $(node_name "$NODES"), or 1 .. $NODES)" ;;
    esac
    number=$(expr "$number" + 0)    #   "03" -> 3
    [ "$number" -ge 1 ] && [ "$number" -le "$NODES" ] \
        || fail "'$1' is not a node (node01 .. $(node_name "$NODES"), or 1 .. $NODES)"
    printf '%s' "$number"
}

#   start NODE: one node of a cluster that was started before
start_one () {
    index=$(node_index "$1")
    name=$(node_name "$index")
    [ -f "$DIR/cluster.cfg" ] || fail "no cluster in $DIR: start the whole cluster first (make cluster)"
    [ -x "$BUILD/strata-node" ] || fail "$BUILD/strata-node not found; run 'make build' first (or set BUILD)"
    [ -z "$(live_pid "$DIR/$name.pid" strata-node)" ] || fail "$name is already running"
    if [ -f "$DIR/keys/cluster_secret" ] && [ -f "$DIR/$name.cfg" ]; then
        CURVE=1
        CURVE_FLAGS="--cert $KEYS/user_secret --server-cert $KEYS/cluster"
    fi
    launch_node "$index"
    wait_node "$index"
    say "started $name (pid $(live_pid "$DIR/$name.pid" strata-node))"
}

#   stop NODE: SIGTERM one node and wait
stop_one () {
    index=$(node_index "$1")
    name=$(node_name "$index")
    STOP_STATUS=0
    pid=$(live_pid "$DIR/$name.pid" strata-node)
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        wait_exit "$name" "$pid"
    else
        say "$name is not running"
    fi
    rm -f "$DIR/$name.pid"
    return "$STOP_STATUS"
}

#   clean: the data of a stopped cluster
clean_cluster () {
    [ -d "$DIR" ] || { say "nothing to clean in $DIR"; return 0; }
    [ -z "$(live_pid "$DIR/router.pid" strata-router)" ] || fail "the cluster is running: stop it first (make cluster-stop)"
    index=1
    while [ "$index" -le "$NODES" ]; do
        name=$(node_name "$index")
        [ -z "$(live_pid "$DIR/$name.pid" strata-node)" ] || fail "$name is running: stop it first (make cluster-stop)"
        rm -rf "$DIR/$name" "$DIR/$name.log" "$DIR/$name.pid" "$DIR/$name.cfg"
        index=$((index + 1))
    done
    rm -f "$DIR/router.log" "$DIR/router.pid" "$DIR/cluster.cfg" "$DIR/cluster.cfg.new"
    say "removed the cluster's data, logs and cluster file from $DIR"
}

start_cluster () {
    for program in strata-node strata-router strata; do
        [ -x "$BUILD/$program" ] || fail "$BUILD/$program not found; run 'make build' first (or set BUILD)"
    done
    mkdir -p "$DIR"
    if [ -n "$(live_pid "$DIR/router.pid" strata-router)" ]; then
        fail "a cluster is already running from $DIR (scripts/local_cluster.sh stop, or make cluster-stop)"
    fi
    index=1
    while [ "$index" -le "$NODES" ]; do
        [ -z "$(live_pid "$DIR/$(node_name "$index").pid" strata-node)" ] \
            || fail "$(node_name "$index") is already running from $DIR (make cluster-stop first)"
        index=$((index + 1))
    done
    case "$CURVE" in
        0|'') CURVE=0 ;;
        1) make_keys ;;
        *) fail "CURVE must be 0 or 1, not '$CURVE'" ;;
    esac
    write_cluster_file

    index=1
    while [ "$index" -le "$NODES" ]; do
        launch_node "$index"
        index=$((index + 1))
    done

    #   Every node answers on its writer endpoint
    index=1
    while [ "$index" -le "$NODES" ]; do
        wait_node "$index"
        index=$((index + 1))
    done

    # shellcheck disable=SC2046
    launch router "$BUILD/strata-router" --cluster "$DIR/cluster.cfg" $(metrics_flag 0)

    #   The router answers and reaches every node
    waited=0
    # shellcheck disable=SC2086
    until "$CLI" ping --router "$ROUTER_ENDPOINT" --timeout 1 $CURVE_FLAGS 2>/dev/null \
            | grep -q "^cluster local: $NODES of $NODES nodes reachable"; do
        [ -n "$(live_pid "$DIR/router.pid" strata-router)" ] || give_up router "exited"
        sleep 0.5
        waited=$((waited + 1))
        [ "$waited" -lt $((READY_SECONDS * 2)) ] || give_up router "did not see all $NODES nodes within $READY_SECONDS s"
    done

    if [ "$CURVE" = 1 ]; then
        cat <<EOF
CurveZMQ is on (keys in $KEYS/). Give the CLI your certificate and the
cluster's public key, as flags or in the environment:

    $CLI ping $CURVE_FLAGS
    export STRATA_CERT=$KEYS/user_secret STRATA_SERVER_CERT=$KEYS/cluster

Your key (user) is an admin key. The sample service key service7 may only
read, write and list collection 7 ($KEYS/policy.cfg; edit it, then
kill -HUP the router and nodes):

    $CLI put --collection 7 --cert $KEYS/service7_secret --server-cert $KEYS/cluster KEY FILE

EOF
    fi
    cat <<EOF
A local Strata cluster is running: strata-router at $ROUTER_ENDPOINT and
$NODES nodes (node01 .. $(node_name "$NODES") on ports $NODE_PORT..$((NODE_PORT + 2 * NODES - 1))), any $DATA_SHARDS of which rebuild an object.
Data, logs and the cluster file: $DIR/

    $CLI put greeting README.md        # prints the new version's unified-id
    $CLI get greeting copy.txt         # the newest version, verified
    $CLI versions greeting             # every version, newest first
    $CLI rm greeting
    $CLI ping                          # the router and its nodes
    $CLI stat --node $(node_writer 1)  # one node's counters, as JSON
    /usr/bin/python3 cluster/client/examples/strata_client.py   # a service in Python

One node: scripts/local_cluster.sh stop|start|restart node03
Stop it with: make cluster-stop   (or scripts/local_cluster.sh stop)
Remove its data afterwards: make cluster-clean
EOF
    if [ "$METRICS_PORT" != 0 ]; then
        cat <<EOF

Status page: http://127.0.0.1:$METRICS_PORT/   (every node; reloads itself)
Prometheus:  http://127.0.0.1:$METRICS_PORT/metrics (router), :$((METRICS_PORT + 1)) .. :$((METRICS_PORT + NODES)) (nodes)
In a terminal: $CLI top $CURVE_FLAGS
EOF
    fi
}

#   Wait for process $2 (named $1) to exit after SIGTERM; SIGKILL it if it
#   does not within STOP_SECONDS
wait_exit () {
    name=$1
    pid=$2
    waited=0
    while kill -0 "$pid" 2>/dev/null; do
        waited=$((waited + 1))
        if [ "$waited" -gt $((STOP_SECONDS * 10)) ]; then
            printf 'local_cluster: %s (pid %s) did not stop within %d s; killing it\n' \
                "$name" "$pid" "$STOP_SECONDS" >&2
            kill -KILL "$pid" 2>/dev/null || true
            STOP_STATUS=1
            return 0
        fi
        sleep 0.1
    done
    say "stopped $name (pid $pid)"
}

stop_cluster () {
    STOP_STATUS=0
    [ -d "$DIR" ] || { say "no cluster in $DIR"; return 0; }
    #   The router first, so nothing new reaches the nodes
    pid=$(live_pid "$DIR/router.pid" strata-router)
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        wait_exit router "$pid"
    fi
    rm -f "$DIR/router.pid"
    #   Then the nodes, all at once, and wait for each
    pids=""
    index=1
    while [ "$index" -le "$NODES" ]; do
        name=$(node_name "$index")
        pid=$(live_pid "$DIR/$name.pid" strata-node)
        if [ -n "$pid" ]; then
            kill -TERM "$pid" 2>/dev/null || true
            pids="$pids $name:$pid"
        fi
        index=$((index + 1))
    done
    for entry in $pids; do
        wait_exit "${entry%%:*}" "${entry#*:}"
        rm -f "$DIR/${entry%%:*}.pid"
    done
    index=1
    while [ "$index" -le "$NODES" ]; do
        rm -f "$DIR/$(node_name "$index").pid"
        index=$((index + 1))
    done
    return "$STOP_STATUS"
}

show_one () {
    pid=$(live_pid "$DIR/$1.pid" "$2")
    if [ -n "$pid" ]; then
        say "$1: running (pid $pid)"
        RUNNING=$((RUNNING + 1))
    else
        say "$1: not running"
    fi
}

status_cluster () {
    RUNNING=0
    show_one router strata-router
    index=1
    while [ "$index" -le "$NODES" ]; do
        show_one "$(node_name "$index")" strata-node
        index=$((index + 1))
    done
    [ "$RUNNING" -gt 0 ]
}

usage () {
    printf 'usage: %s start|stop|status|clean, or start|stop|restart NODE\n' "$0" >&2
    exit 2
}

[ $# -le 2 ] || usage
case "${1:-}:${2:-}" in
    start:)     start_cluster ;;
    stop:)      stop_cluster ;;
    status:)    status_cluster ;;
    clean:)     clean_cluster ;;
    start:*)    start_one "$2" ;;
    stop:*)     stop_one "$2" ;;
    restart:?*) stop_one "$2" && start_one "$2" ;;
    *)          usage ;;
esac
