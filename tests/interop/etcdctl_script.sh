#!/usr/bin/env bash
# One etcdctl session, run by tests/interop/test_etcdctl.py against a fresh real etcd and a
# fresh kcore server; the two transcripts must be equal once normalised (see the test).
#
#   ETCDCTL=/usr/bin/etcdctl bash etcdctl_script.sh 127.0.0.1:PORT
#
# Every command is echoed ("$ etcdctl ..."), followed by its output (stderr too) and its exit
# status. Watches are bounded: stopped (by PID) after the expected number of output lines, or
# after 10 s. Lease IDs are captured from "lease grant" and used as etcdctl users would.
set -u
ENDPOINT="$1"
ETCDCTL="${ETCDCTL:-etcdctl}"
export ETCDCTL_API=3

ctl() { "$ETCDCTL" --endpoints="$ENDPOINT" --command-timeout=5s "$@"; }

step() {  # step ARGS...: one etcdctl command, stdin passed through
    echo "\$ etcdctl $*"
    ctl "$@" 2>&1
    echo "[exit $?]"
}

current_revision() {
    ctl get /a -w fields | awk '/"Revision"/ {print $3}'
}

watch_start() {  # watch_start ARGS...: etcdctl watch in the background, writing WATCH_FILE
    WATCH_FILE=$(mktemp)
    # etcdctl itself (not a subshell) is the background job, so $! is its PID
    "$ETCDCTL" --endpoints="$ENDPOINT" watch "$@" >"$WATCH_FILE" 2>&1 &
    WATCH_PID=$!
}

watch_stop() {  # watch_stop LINES ARGS...: wait for LINES lines (10 s at most), stop it
    local file=$WATCH_FILE lines=$1
    shift
    for _ in $(seq 100); do
        [ "$(wc -l <"$file")" -ge "$lines" ] && break
        sleep 0.1
    done
    sleep 0.2 # anything more that comes is printed too (and compared)
    kill "$WATCH_PID" 2>/dev/null
    wait "$WATCH_PID" 2>/dev/null
    WATCH_PID=""
    echo "\$ etcdctl watch $* (stopped by PID after $lines lines)"
    cat "$file"
    rm -f "$file"
}

WATCH_FILE=""
WATCH_PID=""
trap '[ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null; [ -n "$WATCH_FILE" ] && rm -f "$WATCH_FILE"' EXIT

echo "# --- put / get"
step put /a 1
step put /b 2
step put /c/x 3
step put /c/y 4 --prev-kv
step put /a 5 --prev-kv -w json
step get /a
step get --prefix /
step get --prefix / -w json
step get --prefix / --limit 2 -w json
step get --prefix / --limit 1 --keys-only
step get /a -w fields
step get /a --rev 2
step get /a --rev 2 -w json
step get /a --rev 99
step get /b --from-key --print-value-only
step get /c/ --prefix --sort-by=MODIFY --order=DESCEND
step get /c/ --prefix --sort-by=VALUE --order=ASCEND --limit 1 -w json
step get "" --from-key --hex
step get /nothing
step get /nothing -w json

echo "# --- del"
step del /b
step del /nothing
step del --prefix /c/ --prev-kv
step put /c/z 6
step del /c/z -w json

echo "# --- txn (stdin)"
step txn <<'EOF'
value("/a") = "5"

put /t yes
get /t

put /t no

EOF
step txn -w json <<'EOF'
mod("/a") > "100"
create("/t") != "0"

put /never x

get /a
del /t

EOF
step txn --interactive <<'EOF'
version("/a") = "2"

put /i interactive

get /nothing

EOF

echo "# --- watch"
watch_start --prefix / --rev 1
watch_stop 39 --prefix / --rev 1
watch_start /a --rev 2 --prev-kv
watch_stop 8 /a --rev 2 --prev-kv
watch_start --prefix /c/ --rev 3 -w json
watch_stop 1 --prefix /c/ --rev 3 -w json
NEXT=$(($(current_revision) + 1))
echo "# (the live watch starts at the next revision)"
watch_start --prefix /w/ --rev "$NEXT" --prev-kv
step put /w/1 one
step put /w/1 uno
step del /w/1
watch_stop 13 --prefix /w/ --rev "(next)" --prev-kv

echo "# --- leases"
GRANT=$(ctl lease grant 100 2>&1)
echo "\$ etcdctl lease grant 100"
echo "$GRANT"
LEASE=$(echo "$GRANT" | awk '{print $2}')
step put /leased v --lease="$LEASE"
step get /leased -w json
step lease timetolive "$LEASE"
step lease timetolive "$LEASE" --keys
step lease timetolive "$LEASE" --keys -w json
step lease keep-alive --once "$LEASE"
step lease list
step lease revoke "$LEASE"
step get /leased
step lease timetolive "$LEASE"
step lease revoke "$LEASE"
step lease keep-alive --once "$LEASE"
step lease grant 1
step lease revoke 1
step lease grant 9000000001
step put /x y --lease=abc

echo "# --- compaction"
step compaction 3
step compaction 3
step compaction 999
step compaction --physical 5
step get /a --rev 4
step get /a --rev 5 -w json
watch_start /a --rev 2
watch_stop 2 /a --rev 2

echo "# --- endpoint"
step endpoint status
step endpoint status -w json
step endpoint status -w table
step endpoint health
step get "" --from-key --keys-only
