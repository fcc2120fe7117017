#!/usr/bin/env bash
# Functions to install etcd and run a local 3-member cluster on loopback
# ports, for scripts/test-etcd.sh and scripts/bench-etcd.sh (source it).
#
#   etcd_install      installs etcd (Debian's etcd-server) and protoc if missing;
#                     returns 1 when they cannot be installed
#   etcd_start DIR    starts the cluster with its data and logs under DIR and
#                     exports RWLOCKER_ETCD_ENDPOINTS (comma-separated) and
#                     RWLOCKER_ETCD_PIDS (space-separated, member order)
#   etcd_stop         stops every member started by etcd_start and waits for it

ETCD_PIDS=()

etcd_install() {
    local missing=()
    command -v etcd >/dev/null 2>&1 || missing+=(etcd-server etcd-client)
    command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        echo "cannot install ${missing[*]}: not root or no apt-get" >&2
        return 1
    fi
    echo "installing ${missing[*]}" >&2
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"; } >&2 || return 1
    command -v etcd >/dev/null 2>&1 && command -v protoc >/dev/null 2>&1
}

# A free loopback TCP port pair base, base+1, ... base+5.
_etcd_free_base() {
    local base
    for base in $(shuf -i 20000-60000 -n 20); do
        if python3 - "$base" <<'PY' 2>/dev/null; then
import socket, sys
b = int(sys.argv[1])
socks = []
for p in range(b, b + 6):
    s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
PY
            echo "$base"; return 0
        fi
    done
    return 1
}

etcd_start() {
    local dir=$1 base i cluster="" endpoints=""
    base=$(_etcd_free_base) || { echo "no free loopback ports" >&2; return 1; }
    for i in 1 2 3; do
        cluster+="${cluster:+,}m$i=http://127.0.0.1:$((base + 2 * i - 1))"
        endpoints+="${endpoints:+,}http://127.0.0.1:$((base + 2 * i - 2))"
    done
    for i in 1 2 3; do
        local client="http://127.0.0.1:$((base + 2 * i - 2))" peer="http://127.0.0.1:$((base + 2 * i - 1))"
        etcd --name "m$i" --data-dir "$dir/m$i" \
            --listen-client-urls "$client" --advertise-client-urls "$client" \
            --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
            --initial-cluster "$cluster" --initial-cluster-token "rwlocker-$base" \
            --initial-cluster-state new \
            --heartbeat-interval 50 --election-timeout 500 \
            >"$dir/m$i.log" 2>&1 &
        ETCD_PIDS+=($!)
    done
    export RWLOCKER_ETCD_ENDPOINTS=$endpoints
    export RWLOCKER_ETCD_PIDS="${ETCD_PIDS[*]}"
    local t
    for t in $(seq 1 60); do
        if ETCDCTL_API=3 etcdctl --endpoints="$endpoints" --command-timeout=1s endpoint health >/dev/null 2>&1; then
            echo "etcd cluster up: $endpoints" >&2
            return 0
        fi
        sleep 0.5
    done
    echo "etcd cluster did not become healthy; logs:" >&2
    tail -n 20 "$dir"/m*.log >&2 || true
    return 1
}

etcd_stop() {
    local pid
    for pid in "${ETCD_PIDS[@]}"; do
        kill -CONT "$pid" 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${ETCD_PIDS[@]}"; do
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    ETCD_PIDS=()
}
