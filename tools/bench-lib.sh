# Shared by tools/bench-cps and tools/bench-media (sourced, not run): start a release ivory on
# loopback with a temp config, read a process's CPU time and memory from /proc, find free ports.
# Linux only (reads /proc).

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
clock_ticks="$(getconf CLK_TCK)"

# free_port: a port free for UDP and TCP on 127.0.0.1 (asks the kernel for an ephemeral one).
free_port() {
    python3 -c 'import socket
while True:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0)); p = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        t.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass'
}

# cpu_ticks PID: user + system CPU time of PID in clock ticks (fields 14 and 15 of /proc/PID/stat;
# the command name may hold spaces, so count from the closing parenthesis).
cpu_ticks() {
    sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# memory_kb PID FIELD: VmRSS or VmHWM (peak) of PID in kB.
memory_kb() {
    awk -v field="$2:" '$1 == field {print $2}' "/proc/$1/status"
}

# cpu_percent TICKS SECONDS: CPU time over wall time, in percent of one core.
cpu_percent() {
    awk -v ticks="$1" -v seconds="$2" -v hz="$clock_ticks" 'BEGIN {printf "%.1f", (seconds > 0 ? 100 * ticks / hz / seconds : 0)}'
}

now() {
    date +%s.%N
}

elapsed() {
    awk -v from="$1" -v to="$2" 'BEGIN {printf "%.3f", to - from}'
}

# start_server EXTRA_NUMBERS_TOML: builds (unless IVORY_BIN is set) and starts a release ivory in a
# temp dir; sets server_pid, server_port, work_dir. The server is killed on exit.
start_server() {
    local extra_numbers="$1"
    local binary="${IVORY_BIN:-}"
    if [[ -z "$binary" ]]; then
        echo "building the release binary..." >&2
        cargo build --release --quiet -p ivory-server --bin ivory --manifest-path "$root/Cargo.toml" >&2
        binary="${CARGO_TARGET_DIR:-$root/target}/release/ivory"
    fi
    work_dir="$(mktemp -d -t ivory-bench.XXXXXX)"
    server_port="$(free_port)"
    local http_port
    http_port="$(free_port)"
    cat >"$work_dir/ivory.toml" <<TOML
[sip]
listen = ["udp:127.0.0.1:$server_port", "tcp:127.0.0.1:$server_port"]
public_address = "127.0.0.1"
loopback_only = true

[rtp]
port_range = "20000-29999"
bind_address = "127.0.0.1"

[http]
listen = "127.0.0.1:$http_port"

[storage]
url = "sqlite://ivory.db"

[calls]
log = "calls.jsonl"

[media]
sounds_dir = "$root/sounds"

[log]
level = "warn"

[[numbers]]
number = "1000"
scenario = "$root/config/scenarios/demo.json"
$extra_numbers
TOML
    (cd "$work_dir" && exec "$binary" serve --config ivory.toml >stdout.log 2>stderr.log) &
    server_pid=$!
    trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -rf "$work_dir"' EXIT
    local waited=0
    until grep -qx ready "$work_dir/stdout.log" 2>/dev/null; do
        if ! kill -0 "$server_pid" 2>/dev/null || ((waited >= 200)); then
            echo "ivory did not become ready; its stderr:" >&2
            tail -30 "$work_dir/stderr.log" >&2
            exit 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    echo "ivory pid $server_pid on 127.0.0.1:$server_port (work dir $work_dir)" >&2
}
