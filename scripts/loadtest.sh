#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Load test of examples/http_server with wrk, once per allocation mode, on
# 127.0.0.1 only. Prints side by side: requests/s, latency p50/p99, socket
# errors, non-2xx/3xx responses, the server's peak RSS (VmHWM), and its CPU
# time and minor page faults per request (these vary far less than
# requests/s on a machine shared with other work).
# Exits non-zero on any socket error, any non-2xx/3xx response, a run with
# no requests, a server that fails to start or dies, or a GET /stats whose
# answer (the library's statistics) is not one JSON document.
#
#   scripts/loadtest.sh [--server PATH] [--duration SECONDS] [--connections N]
#                       [--wrk-threads N] [--server-threads N] [--modes "pool malloc"]
#                       [--body-size N] [--pin]
#
# CI: scripts/loadtest.sh --server build/examples/http_server --duration 3
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
server=""
duration=10
connections=64
wrk_threads=1
server_threads=1
modes="pool malloc"
body_size=14
pin=0

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --server) server=$2; shift 2 ;;
    --server=*) server=${1#*=}; shift ;;
    --duration) duration=$2; shift 2 ;;
    --duration=*) duration=${1#*=}; shift ;;
    --connections) connections=$2; shift 2 ;;
    --connections=*) connections=${1#*=}; shift ;;
    --wrk-threads) wrk_threads=$2; shift 2 ;;
    --wrk-threads=*) wrk_threads=${1#*=}; shift ;;
    --server-threads) server_threads=$2; shift 2 ;;
    --server-threads=*) server_threads=${1#*=}; shift ;;
    --modes) modes=$2; shift 2 ;;
    --modes=*) modes=${1#*=}; shift ;;
    --body-size) body_size=$2; shift 2 ;;
    --body-size=*) body_size=${1#*=}; shift ;;
    --pin) pin=1; shift ;;
    -h|--help) usage ;;
    *) echo "loadtest: unknown argument $1" >&2; usage ;;
  esac
done

if [ -z "$server" ]; then
  for cand in "$here/../build/examples/http_server" "$PWD/examples/http_server"; do
    if [ -x "$cand" ]; then server=$cand; break; fi
  done
fi
[ -n "$server" ] && [ -x "$server" ] || { echo "loadtest: http_server not found (use --server PATH)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "loadtest: wrk not installed (Debian package wrk)" >&2; exit 2; }
case "$duration$connections$wrk_threads$server_threads" in
  *[!0-9]*) echo "loadtest: numeric arguments expected" >&2; exit 2 ;;
esac
[ "$connections" -ge "$wrk_threads" ] || { echo "loadtest: connections < wrk threads" >&2; exit 2; }

tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

server_cpu=(); client_cpu=()
if [ "$pin" = 1 ] && command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  server_cpu=(taskset -c 0); client_cpu=(taskset -c 1)
fi

declare -A rps p50 p99 errors non2xx hwm requests cpu_ticks cpu_us minflt faults
clk_tck=$(getconf CLK_TCK)
failed=0

# GET /stats with python3 (no curl needed): prints the number of pools and
# buffer pools; fails unless the body parses as JSON.
check_stats() {
  local port=$1 mode=$2 when=$3
  if ! command -v python3 >/dev/null; then
    echo "loadtest: python3 not installed: GET /stats not checked" >&2
    return 0
  fi
  local out
  if ! out=$(timeout 10 python3 - "$port" <<'PY' 2>&1
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
c.request("GET", "/stats")
r = c.getresponse()
body = r.read()
assert r.status == 200, r.status
d = json.loads(body)
gets = sum(cl["gets"] for b in d["buffer_pools"] for cl in b["classes"])
print(f"{len(d['pools'])} pools, {len(d['buffer_pools'])} buffer pools, {gets} buffer gets, {len(body)} bytes")
PY
  ); then
    echo "loadtest: GET /stats ($mode, $when the run) is not JSON: $out" >&2
    return 1
  fi
  echo "  GET /stats ($when): $out"
}

run_mode() {
  local mode=$1 out="$tmp/server-$1.out" log="$tmp/server-$1.log"
  "${server_cpu[@]}" "$server" --alloc="$mode" --port=0 --threads="$server_threads" \
    --body-size="$body_size" >"$out" 2>"$log" &
  server_pid=$!
  local port="" i
  for i in $(seq 1 100); do  # up to 5 s for "listening on HOST:PORT"
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$out")
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$port" ]; then
    echo "loadtest: server ($mode) did not start:" >&2; cat "$log" >&2
    failed=1; return
  fi

  # The server's statistics endpoint must answer with one JSON document.
  if ! check_stats "$port" "$mode" before; then failed=1; fi

  local wout="$tmp/wrk-$mode.txt"
  if ! timeout $((duration + 30)) "${client_cpu[@]}" wrk -t"$wrk_threads" -c"$connections" \
      -d"${duration}s" --latency "http://127.0.0.1:$port/" >"$wout" 2>&1; then
    echo "loadtest: wrk failed ($mode):" >&2; cat "$wout" >&2
    failed=1
  fi

  if ! check_stats "$port" "$mode" after; then failed=1; fi

  # Peak RSS before stopping the server.
  hwm[$mode]=$(awk '/^VmHWM:/ {printf "%.1f MiB", $2 / 1024}' "/proc/$server_pid/status" 2>/dev/null || echo "?")
  # minflt (field 10), utime + stime (14, 15); the command name has no spaces.
  cpu_ticks[$mode]=$(awk '{print $14 + $15}' "/proc/$server_pid/stat" 2>/dev/null || echo "")
  minflt[$mode]=$(awk '{print $10}' "/proc/$server_pid/stat" 2>/dev/null || echo "")
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "loadtest: server ($mode) died during the run:" >&2; cat "$log" >&2
    failed=1
  fi
  kill -TERM "$server_pid" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""

  rps[$mode]=$(awk '/^Requests\/sec:/ {print $2}' "$wout")
  requests[$mode]=$(awk '/requests in/ {print $1}' "$wout")
  p50[$mode]=$(awk '$1 == "50%" {print $2}' "$wout")
  p99[$mode]=$(awk '$1 == "99%" {print $2}' "$wout")
  # "Socket errors: connect 0, read 0, write 0, timeout 0" appears only when non-zero.
  errors[$mode]=$(awk -F'[ ,]+' '/Socket errors:/ {print $5 + $7 + $9 + $11; found = 1} END {if (!found) print 0}' "$wout")
  non2xx[$mode]=$(awk -F': *' '/Non-2xx or 3xx responses/ {print $2; found = 1} END {if (!found) print 0}' "$wout")
  if [ -n "${cpu_ticks[$mode]}" ] && [ -n "${requests[$mode]}" ] && [ "${requests[$mode]}" != 0 ]; then
    cpu_us[$mode]=$(awk -v t="${cpu_ticks[$mode]}" -v hz="$clk_tck" -v n="${requests[$mode]}" \
      'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
    faults[$mode]=$(awk -v f="${minflt[$mode]}" -v n="${requests[$mode]}" 'BEGIN {printf "%.3f", f / n}')
  fi
  if [ -z "${requests[$mode]}" ] || [ "${requests[$mode]}" = 0 ]; then
    echo "loadtest: no requests completed ($mode)" >&2; cat "$wout" >&2
    failed=1
  fi
  if [ "${errors[$mode]}" != 0 ] || [ "${non2xx[$mode]}" != 0 ]; then
    echo "loadtest: $mode: ${errors[$mode]} socket errors, ${non2xx[$mode]} non-2xx/3xx responses" >&2
    cat "$wout" >&2
    failed=1
  fi
  sed 's/^/  server: /' "$log"
}

for mode in $modes; do
  echo "== $mode: wrk -t$wrk_threads -c$connections -d${duration}s, server threads $server_threads"
  run_mode "$mode"
done

cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo
echo "machine: ${cpu:-unknown} ($(nproc) CPUs); wrk -t$wrk_threads -c$connections -d${duration}s; server threads $server_threads; body $body_size B"
printf '%-18s' ""; for m in $modes; do printf '%16s' "$m"; done; echo
row() {
  local label=$1; shift
  local -n col=$1
  printf '%-18s' "$label"; for m in $modes; do printf '%16s' "${col[$m]:-?}"; done; echo
}
row "requests/s" rps
row "requests" requests
row "latency p50" p50
row "latency p99" p99
row "socket errors" errors
row "non-2xx/3xx" non2xx
row "peak RSS (VmHWM)" hwm
row "server CPU us/req" cpu_us
row "page faults/req" faults

if [ "$failed" != 0 ]; then
  echo "loadtest: FAILED" >&2
  exit 1
fi
echo "loadtest: OK"
