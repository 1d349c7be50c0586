#!/usr/bin/env bash
# Switchyard benchmark: Switchyard vs HAProxy vs NGINX (and direct-to-backend),
# one worker each, side by side on this machine. See bench/README.md.
#
#   bash bench/run.sh            (or: npm run bench)
#
# Environment knobs (all optional):
#   BENCH_DURATION=10        seconds per measured run
#   BENCH_WARMUP=2           seconds of warm-up before each measured run
#   BENCH_CONNS="16 64"      wrk connection counts (HTTP/1.1 scenarios)
#   BENCH_ROUNDS=3           rounds per scenario (proxies interleaved; BENCH_AGG=best|median combines them;
#                            2 or more also print each proxy's paired-round ratios to HAProxy)
#   BENCH_PROXIES="direct haproxy haproxy-b nginx node-floor switchyard"
#                            (haproxy-b: a second, identical HAProxy process, the
#                             A/A control whose ratios to haproxy show the run's noise;
#                             node-floor: bench/node-floor.js, a Node byte pipe that parses
#                             nothing, the least a Node proxy costs; L4 and L7 HTTP/1.1 only)
#   BENCH_SCENARIOS="l4-h1 l7-h1 l7-h2"
#   BENCH_H2_CONNS=16 BENCH_H2_STREAMS=10   h2load -c / -m for l7-h2
#   BENCH_PROXY_CPU=1 BENCH_CLIENT_CPU=0 BENCH_BACKEND_CPU=0   taskset cores
#   BENCH_PORT_BASE=18000    first port tried (127.0.0.1 only)
#   BENCH_BUILD=auto|1|0     rebuild dist/ before starting Switchyard (auto: if src is newer)
#   SWITCHYARD_BIN=bin/switchyard.js   Switchyard entry point (relative to the repo root or absolute)
#   BENCH_KEEP=1             keep the scratch directory (configs, logs, raw outputs)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
export PATH="$PATH:/usr/sbin:/sbin"

DUR=${BENCH_DURATION:-10}
WARM=${BENCH_WARMUP:-2}
CONNS=${BENCH_CONNS:-"16 64"}
PROXIES=${BENCH_PROXIES:-"direct haproxy haproxy-b nginx node-floor switchyard"}
SCENARIOS=${BENCH_SCENARIOS:-"l4-h1 l7-h1 l7-h2"}
H2_CONNS=${BENCH_H2_CONNS:-16}
H2_STREAMS=${BENCH_H2_STREAMS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
PORT_BASE=${BENCH_PORT_BASE:-18000}
BUILD=${BENCH_BUILD:-auto}
SY_BIN=${SWITCHYARD_BIN:-bin/switchyard.js}
NCPU=$(nproc 2>/dev/null || echo 1)
if [ "$NCPU" -ge 2 ]; then
  PROXY_CPU=${BENCH_PROXY_CPU:-1}; CLIENT_CPU=${BENCH_CLIENT_CPU:-0}; BACKEND_CPU=${BENCH_BACKEND_CPU:-0}
else
  PROXY_CPU=${BENCH_PROXY_CPU:-0}; CLIENT_CPU=${BENCH_CLIENT_CPU:-0}; BACKEND_CPU=${BENCH_BACKEND_CPU:-0}
fi

log()  { printf '[bench] %s\n' "$*" >&2; }
die()  { printf '[bench] FATAL: %s\n' "$*" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/switchyard-bench.XXXXXX") || die "mktemp failed"
RUNS="$WORK/runs.jsonl"; : > "$RUNS"

# ---------------------------------------------------------------- processes
# Every process we start is recorded here and stopped by PID (with its
# descendants, found through their parent PID) on exit. Never by name.
PIDS=()

descendants() { # pid -> pid and all its descendants, one per line
  local p=$1 k
  echo "$p"
  for k in $(pgrep -P "$p" 2>/dev/null); do descendants "$k"; done
}

stop_pid() {
  local p=$1 all i
  [ -n "$p" ] || return 0
  kill -0 "$p" 2>/dev/null || return 0
  all=$(descendants "$p")
  kill -TERM $all 2>/dev/null
  for i in $(seq 1 30); do
    kill -0 "$p" 2>/dev/null || break
    sleep 0.1
  done
  for i in $all; do kill -0 "$i" 2>/dev/null && kill -KILL "$i" 2>/dev/null; done
  wait "$p" 2>/dev/null
  return 0
}

cleanup() {
  local p
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then log "scratch dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- packages
wait_for_apt() {
  # Do not run apt concurrently with another apt/dpkg (e.g. a background install).
  local i
  for i in $(seq 1 600); do
    if [ -f /tmp/apt.log ] && ! grep -q '^done' /tmp/apt.log 2>/dev/null && pgrep -x apt-get >/dev/null; then :
    elif pgrep -x apt-get >/dev/null || pgrep -x dpkg >/dev/null || pgrep -x apt >/dev/null; then :
    else return 0; fi
    [ "$i" = 1 ] && log "waiting for a running apt/dpkg to finish..."
    sleep 1
  done
  die "apt/dpkg still busy after 10 minutes"
}

nginx_stream_mode() { # prints: static | dynamic | none
  local v; v=$(nginx -V 2>&1)
  if grep -q -- '--with-stream=dynamic' <<<"$v"; then echo dynamic
  elif grep -Eq -- '--with-stream( |$)' <<<"$v"; then echo static
  else echo none; fi
}
STREAM_SO=""
find_stream_so() {
  local f
  for f in /usr/lib/nginx/modules/ngx_stream_module.so /usr/lib64/nginx/modules/ngx_stream_module.so \
           /usr/share/nginx/modules/ngx_stream_module.so; do
    [ -f "$f" ] && { STREAM_SO=$f; return 0; }
  done
  return 1
}

ensure_packages() {
  local need=()
  command -v haproxy >/dev/null || need+=(haproxy)
  command -v nginx   >/dev/null || need+=(nginx-light)
  command -v wrk     >/dev/null || need+=(wrk)
  command -v h2load  >/dev/null || need+=(nghttp2-client)
  if command -v nginx >/dev/null && [ "$(nginx_stream_mode)" = dynamic ] && ! find_stream_so; then
    need+=(libnginx-mod-stream)
  elif ! command -v nginx >/dev/null; then
    need+=(libnginx-mod-stream)
  fi
  [ ${#need[@]} -eq 0 ] && return 0
  local SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  command -v apt-get >/dev/null || die "missing ${need[*]} and no apt-get to install them"
  wait_for_apt
  log "installing: ${need[*]}"
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need[@]}" >"$WORK/apt.log" 2>&1; then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get update >>"$WORK/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need[@]}" >>"$WORK/apt.log" 2>&1 \
      || { tail -20 "$WORK/apt.log" >&2; die "apt-get install ${need[*]} failed"; }
  fi
}

ensure_packages
for t in haproxy nginx wrk h2load curl taskset ss node pgrep; do
  command -v "$t" >/dev/null || die "required tool not found: $t"
done
STREAM_MODE=$(nginx_stream_mode)
[ "$STREAM_MODE" = dynamic ] && { find_stream_so || die "nginx stream module (.so) not found; install libnginx-mod-stream"; }
[ "$STREAM_MODE" = none ] && log "nginx has no stream module: NGINX L4 will be skipped"

# ---------------------------------------------------------------- ports
USED_PORTS=" "
port_free() {
  [[ "$USED_PORTS" != *" $1 "* ]] || return 1
  [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]
}
pick_port() { # VAR preferred
  local p=$2
  if ! port_free "$p"; then
    p=$((PORT_BASE + 100))
    while ! port_free "$p"; do p=$((p + 1)); done
  fi
  USED_PORTS+="$p "
  printf -v "$1" '%s' "$p"
}
# Defaults match the port_value lines in bench/switchyard-l{4,7}.yaml.
pick_port P_BACKEND    $((PORT_BASE + 0))
pick_port P_BACKEND_H2 $((PORT_BASE + 1))
pick_port P_HAP_L7     $((PORT_BASE + 10))
pick_port P_HAP_L4     $((PORT_BASE + 11))
pick_port P_HAP_H2     $((PORT_BASE + 12))
pick_port P_HAPB_L7    $((PORT_BASE + 13))
pick_port P_HAPB_L4    $((PORT_BASE + 14))
pick_port P_HAPB_H2    $((PORT_BASE + 15))
pick_port P_NGX_L7     $((PORT_BASE + 20))
pick_port P_NGX_L4     $((PORT_BASE + 21))
pick_port P_NGX_H2     $((PORT_BASE + 22))
pick_port P_FLOOR      $((PORT_BASE + 25))
pick_port P_SY_L7      $((PORT_BASE + 30))
pick_port P_SY_L4      $((PORT_BASE + 31))
pick_port P_SY_ADM7    $((PORT_BASE + 38))
pick_port P_SY_ADM4    $((PORT_BASE + 39))

# ---------------------------------------------------------------- helpers
# wait_ready NAME PID LOG URL [curl-args...]: poll until URL answers "hello".
wait_ready() {
  local name=$1 pid=$2 logf=$3 url=$4; shift 4
  local i body
  for i in $(seq 1 ${BENCH_START_TIMEOUT:-100}); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name: process $pid exited during startup; log ($logf):"
      tail -30 "$logf" >&2 2>/dev/null
      return 1
    fi
    body=$(curl -s -m 1 "$@" "$url" 2>/dev/null) && [[ "$body" == hello* ]] && return 0
    sleep 0.1
  done
  log "$name: $url did not answer 'hello' within $((${BENCH_START_TIMEOUT:-100} / 10))s; log ($logf):"
  tail -30 "$logf" >&2 2>/dev/null
  return 1
}

rss_of() { # pids... -> "rss_kb hwm_kb nprocs" summed over each pid's process tree
  local p q rss=0 hwm=0 n=0 r h
  for p in "$@"; do
    for q in $(descendants "$p"); do
      [ -r "/proc/$q/status" ] || continue
      r=$(awk '/^VmRSS:/{print $2}' "/proc/$q/status" 2>/dev/null)
      h=$(awk '/^VmHWM:/{print $2}' "/proc/$q/status" 2>/dev/null)
      rss=$((rss + ${r:-0})); hwm=$((hwm + ${h:-0})); n=$((n + 1))
    done
  done
  echo "$rss $hwm $n"
}

cpu_ticks_of() { # pids... -> "utime+stime utime" (clock ticks) summed over each pid's process tree
  local p q t=0 u=0 v w
  for p in "$@"; do
    for q in $(descendants "$p"); do
      read -r v w < <(awk '{print $14 + $15, $14}' "/proc/$q/stat" 2>/dev/null) || continue
      t=$((t + ${v:-0})); u=$((u + ${w:-0}))
    done
  done
  echo "$t $u"
}

json_str() { # escape for a JSON string body
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\t'/ }; s=${s//$'\r'/}
  printf '%s' "$s"
}

record() { # key=value pairs -> one JSON line in $RUNS (values: numbers stay numbers)
  local kv k v out="{" sep=""
  for kv in "$@"; do
    k=${kv%%=*}; v=${kv#*=}
    if [[ "$v" =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; then out+="$sep\"$k\":$v"
    else out+="$sep\"$k\":\"$(json_str "$v")\""; fi
    sep=","
  done
  echo "$out}" >> "$RUNS"
}

NGINX_COMMON_HTTP() { # dir
  cat <<EOF
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path $1/client_body;
    proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
    default_type text/plain;
EOF
}

start_nginx() { # name dir cpu -> sets STARTED_PID
  local name=$1 dir=$2 cpu=$3
  if ! nginx -t -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/test.log" 2>&1; then
    log "$name: nginx config test failed:"; cat "$dir/test.log" >&2; return 1
  fi
  taskset -c "$cpu" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout.log" 2>&1 &
  STARTED_PID=$!; PIDS+=("$STARTED_PID")
}

# ---------------------------------------------------------------- backend
start_backend() {
  local d="$WORK/backend"; mkdir -p "$d"
  cat > "$d/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process on;
pid $d/nginx.pid;
events { worker_connections 8192; }
http {
$(NGINX_COMMON_HTTP "$d")
    server {
        listen 127.0.0.1:$P_BACKEND backlog=4096;
        listen 127.0.0.1:$P_BACKEND_H2 http2 backlog=4096;
        location / { return 200 "hello\n"; }
    }
}
EOF
  start_nginx backend "$d" "$BACKEND_CPU" || return 1
  BACKEND_PID=$STARTED_PID
  wait_ready backend "$BACKEND_PID" "$d/error.log" "http://127.0.0.1:$P_BACKEND/" || return 1
  wait_ready backend-h2c "$BACKEND_PID" "$d/error.log" "http://127.0.0.1:$P_BACKEND_H2/" --http2-prior-knowledge || return 1
}

# ---------------------------------------------------------------- proxies
# Each start_<proxy> (called with PX=<proxy>) fills PORT[proxy/scenario] and
# PROC[proxy/scenario] (pids whose process trees are "the proxy" for RSS), and
# SKIP[proxy/scenario] with a reason when a scenario is not available.
declare -A PORT PROC SKIP FAILED DEAD
CUR_PIDS=()
PX=""

start_direct() {
  PORT[$PX/l4-h1]=$P_BACKEND;  PROC[$PX/l4-h1]=$BACKEND_PID
  PORT[$PX/l7-h1]=$P_BACKEND;  PROC[$PX/l7-h1]=$BACKEND_PID
  PORT[$PX/l7-h2]=$P_BACKEND_H2; PROC[$PX/l7-h2]=$BACKEND_PID
}

# start_haproxy L7-PORT L4-PORT H2-PORT: one HAProxy process named $PX (haproxy, or
# haproxy-b: the same configuration again in a second process, the A/A control).
start_haproxy() {
  local l7=$1 l4=$2 h2=$3 d="$WORK/$PX"; mkdir -p "$d"
  cat > "$d/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096

defaults
    timeout connect 5s
    timeout client 60s
    timeout server 60s

frontend fe_l7
    mode http
    bind 127.0.0.1:$l7
    bind 127.0.0.1:$h2 proto h2
    default_backend be_l7

backend be_l7
    mode http
    http-reuse always
    server backend 127.0.0.1:$P_BACKEND

frontend fe_l4
    mode tcp
    bind 127.0.0.1:$l4
    default_backend be_l4

backend be_l4
    mode tcp
    server backend 127.0.0.1:$P_BACKEND
EOF
  if ! haproxy -c -f "$d/haproxy.cfg" >"$d/check.log" 2>&1; then
    log "$PX: config check failed:"; cat "$d/check.log" >&2; return 1
  fi
  taskset -c "$PROXY_CPU" haproxy -db -f "$d/haproxy.cfg" >"$d/haproxy.log" 2>&1 &
  local pid=$!; PIDS+=("$pid"); CUR_PIDS+=("$pid")
  wait_ready $PX-l7  "$pid" "$d/haproxy.log" "http://127.0.0.1:$l7/" || return 1
  wait_ready $PX-l4  "$pid" "$d/haproxy.log" "http://127.0.0.1:$l4/" || return 1
  PORT[$PX/l7-h1]=$l7; PROC[$PX/l7-h1]=$pid
  PORT[$PX/l4-h1]=$l4; PROC[$PX/l4-h1]=$pid
  if wait_ready $PX-h2c "$pid" "$d/haproxy.log" "http://127.0.0.1:$h2/" --http2-prior-knowledge; then
    PORT[$PX/l7-h2]=$h2; PROC[$PX/l7-h2]=$pid
  else SKIP[$PX/l7-h2]="h2c listener did not answer"; fi
}

start_nginx_proxy() {
  local d="$WORK/nginx"; mkdir -p "$d"
  local load="" stream=""
  [ "$STREAM_MODE" = dynamic ] && load="load_module $STREAM_SO;"
  if [ "$STREAM_MODE" != none ]; then
    stream="stream {
    upstream backend_l4 { server 127.0.0.1:$P_BACKEND; }
    server { listen 127.0.0.1:$P_NGX_L4 backlog=4096; proxy_pass backend_l4; }
}"
  fi
  cat > "$d/nginx.conf" <<EOF
$load
worker_processes 1;
daemon off;
master_process on;
pid $d/nginx.pid;
events { worker_connections 8192; }
http {
$(NGINX_COMMON_HTTP "$d")
    upstream backend {
        server 127.0.0.1:$P_BACKEND;
        keepalive 256;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
    }
    server {
        listen 127.0.0.1:$P_NGX_L7 backlog=4096;
        listen 127.0.0.1:$P_NGX_H2 http2 backlog=4096;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
$stream
EOF
  start_nginx nginx "$d" "$PROXY_CPU" || return 1
  local pid=$STARTED_PID; CUR_PIDS+=("$pid")
  wait_ready nginx-l7 "$pid" "$d/error.log" "http://127.0.0.1:$P_NGX_L7/" || return 1
  PORT[$PX/l7-h1]=$P_NGX_L7; PROC[$PX/l7-h1]=$pid
  if [ "$STREAM_MODE" != none ] && wait_ready nginx-l4 "$pid" "$d/error.log" "http://127.0.0.1:$P_NGX_L4/"; then
    PORT[$PX/l4-h1]=$P_NGX_L4; PROC[$PX/l4-h1]=$pid
  else SKIP[$PX/l4-h1]="no stream module / L4 listener did not answer"; fi
  if wait_ready nginx-h2c "$pid" "$d/error.log" "http://127.0.0.1:$P_NGX_H2/" --http2-prior-knowledge; then
    PORT[$PX/l7-h2]=$P_NGX_H2; PROC[$PX/l7-h2]=$pid
  else SKIP[$PX/l7-h2]="h2c listener did not answer"; fi
}

switchyard_build() {
  local cli="$ROOT/dist/cli.js" stale=""
  case "$BUILD" in
    0|no|false) ;;
    *)
      if [ ! -f "$cli" ]; then stale="dist/cli.js missing"
      elif [ "$BUILD" != auto ]; then stale="BENCH_BUILD=$BUILD"
      elif [ -n "$(find "$ROOT/src" -name '*.ts' -newer "$cli" -print -quit 2>/dev/null)" ]; then stale="src/ newer than dist/"
      fi
      if [ -n "$stale" ]; then
        log "switchyard: building ($stale): npx tsc -p tsconfig.json"
        (cd "$ROOT" && npx --no-install tsc -p tsconfig.json) >"$WORK/switchyard-build.log" 2>&1 \
          || { log "switchyard: tsc reported errors (emitting anyway); first lines:"; head -10 "$WORK/switchyard-build.log" >&2; }
      fi ;;
  esac
}

sy_config() { # src dst: copy a bench yaml, rewriting its default ports (18000/18030/18031/18038/18039)
  # to the picked ones (through placeholders, so a picked port never gets rewritten twice)
  sed -e 's/port_value: 18000\b/port_value: @BACKEND@/' \
      -e 's/port_value: 18030\b/port_value: @SYL7@/' \
      -e 's/port_value: 18031\b/port_value: @SYL4@/' \
      -e 's/port_value: 18038\b/port_value: @ADM7@/' \
      -e 's/port_value: 18039\b/port_value: @ADM4@/' \
      -e "s/@BACKEND@/$P_BACKEND/; s/@SYL7@/$P_SY_L7/; s/@SYL4@/$P_SY_L4/; s/@ADM7@/$P_SY_ADM7/; s/@ADM4@/$P_SY_ADM4/" \
      "$1" > "$2"
}

# node-floor: one process for both HTTP/1.1 scenarios (a byte pipe cannot turn h2c into
# HTTP/1.1 for the backend, so it has no l7-h2 run).
start_node_floor() {
  local d="$WORK/node-floor"; mkdir -p "$d"
  taskset -c "$PROXY_CPU" node "$HERE/node-floor.js" "$P_FLOOR" "$P_BACKEND" >"$d/floor.log" 2>&1 &
  local pid=$!; PIDS+=("$pid"); CUR_PIDS+=("$pid")
  wait_ready node-floor "$pid" "$d/floor.log" "http://127.0.0.1:$P_FLOOR/" || return 1
  PORT[$PX/l7-h1]=$P_FLOOR; PROC[$PX/l7-h1]=$pid
  PORT[$PX/l4-h1]=$P_FLOOR; PROC[$PX/l4-h1]=$pid
  SKIP[$PX/l7-h2]="node-floor: a byte pipe has no h2c-to-HTTP/1.1 translation"
}

SY_FAIL=""
start_switchyard() {
  local d="$WORK/switchyard"; mkdir -p "$d"
  switchyard_build
  local ok=0
  sy_config "$HERE/switchyard-l7.yaml" "$d/l7.yaml"
  sy_config "$HERE/switchyard-l4.yaml" "$d/l4.yaml"
  (cd "$ROOT" && exec taskset -c "$PROXY_CPU" node "$SY_BIN" proxy -c "$d/l7.yaml" --concurrency 1) >"$d/l7.log" 2>&1 &
  local p7=$!; PIDS+=("$p7"); CUR_PIDS+=("$p7")
  if wait_ready switchyard-l7 "$p7" "$d/l7.log" "http://127.0.0.1:$P_SY_L7/"; then
    ok=1
    PORT[$PX/l7-h1]=$P_SY_L7; PROC[$PX/l7-h1]=$p7
    if wait_ready switchyard-h2c "$p7" "$d/l7.log" "http://127.0.0.1:$P_SY_L7/" --http2-prior-knowledge; then
      PORT[$PX/l7-h2]=$P_SY_L7; PROC[$PX/l7-h2]=$p7
    else SKIP[$PX/l7-h2]="switchyard: h2c (prior knowledge) on the L7 listener did not answer"; fi
  else
    SKIP[$PX/l7-h1]="switchyard: failed to start (L7)"; SKIP[$PX/l7-h2]="switchyard: failed to start (L7)"
    SY_FAIL+="L7: $(tail -15 "$d/l7.log" 2>/dev/null)"$'\n'
    echo "switchyard: failed to start (L7 config bench/switchyard-l7.yaml)" >&2
    stop_pid "$p7"
  fi
  (cd "$ROOT" && exec taskset -c "$PROXY_CPU" node "$SY_BIN" proxy -c "$d/l4.yaml" --concurrency 1) >"$d/l4.log" 2>&1 &
  local p4=$!; PIDS+=("$p4"); CUR_PIDS+=("$p4")
  if wait_ready switchyard-l4 "$p4" "$d/l4.log" "http://127.0.0.1:$P_SY_L4/"; then
    ok=1
    PORT[$PX/l4-h1]=$P_SY_L4; PROC[$PX/l4-h1]=$p4
  else
    SKIP[$PX/l4-h1]="switchyard: failed to start (L4)"
    SY_FAIL+="L4: $(tail -15 "$d/l4.log" 2>/dev/null)"$'\n'
    echo "switchyard: failed to start (L4 config bench/switchyard-l4.yaml)" >&2
    stop_pid "$p4"
  fi
  [ $ok = 1 ]
}

# ---------------------------------------------------------------- load
# measure PROXY SCENARIO CONNS ROUND
measure() {
  local proxy=$1 scen=$2 c=$3 round=$4 port=${PORT[$1/$2]} pid=${PROC[$1/$2]}
  local raw="$WORK/raw-$proxy-$scen-c$c-r$round.txt" tool cmd warm
  if [ "$scen" = l7-h2 ]; then
    tool=h2load
    cmd=(h2load -t1 -c"$c" -m"$H2_STREAMS" -D "$DUR" --warm-up-time="$WARM" "http://127.0.0.1:$port/")
    warm=()
  else
    tool=wrk
    cmd=(wrk -t1 -c"$c" -d"${DUR}s" --latency "http://127.0.0.1:$port/")
    warm=(wrk -t1 -c"$c" -d"${WARM}s" "http://127.0.0.1:$port/")
  fi
  log "$scen c=$c round $round/$ROUNDS: $proxy -> 127.0.0.1:$port ($tool, ${DUR}s)"
  [ ${#warm[@]} -gt 0 ] && taskset -c "$CLIENT_CPU" "${warm[@]}" >/dev/null 2>&1
  # sample RSS near the end of the run, while the load is still on
  local rssf="$WORK/rss-$proxy-$scen-c$c-r$round"
  local at; at=$(awk -v d="$DUR" -v w="$WARM" -v h="$([ "$tool" = h2load ] && echo 1 || echo 0)" \
                    'BEGIN{ printf "%.2f", (h ? w : 0) + d * 0.9 }')
  ( sleep "$at"; rss_of $pid > "$rssf" ) &
  local sampler=$!
  local cpu0 usr0 cpu1 usr1
  read -r cpu0 usr0 <<<"$(cpu_ticks_of $pid)"
  taskset -c "$CLIENT_CPU" "${cmd[@]}" >"$raw" 2>&1
  local rc=$?
  read -r cpu1 usr1 <<<"$(cpu_ticks_of $pid)"
  wait "$sampler" 2>/dev/null
  local rss hwm np; read -r rss hwm np < "$rssf" 2>/dev/null || { rss=0; hwm=0; np=0; }
  # if the sampler fired after the run ended, still take a reading now
  [ "${rss:-0}" = 0 ] && read -r rss hwm np <<<"$(rss_of $pid)"
  record proxy="$proxy" scenario="$scen" conns="$c" round="$round" streams="$([ "$tool" = h2load ] && echo "$H2_STREAMS" || echo 1)" \
         tool="$tool" status=ok exit_code="$rc" rss_kb="${rss:-0}" hwm_kb="${hwm:-0}" nprocs="${np:-0}" \
         cpu_ticks="$((cpu1 - cpu0))" usr_ticks="$((usr1 - usr0))" clk_tck="$CLK_TCK" \
         raw="$raw" cmd="${cmd[*]}"
  if ! kill -0 "$pid" 2>/dev/null; then
    log "$proxy: process $pid died during $scen c=$c"
    return 1
  fi
}

CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

streams_for() { if [ "$1" = l7-h2 ]; then echo "$H2_STREAMS"; else echo 1; fi; }
conns_for() { if [ "$1" = l7-h2 ]; then echo "$H2_CONNS"; else echo "$CONNS"; fi; }

# ---------------------------------------------------------------- main
log "scratch: $WORK; duration ${DUR}s (+${WARM}s warm-up); cores: proxy=$PROXY_CPU client=$CLIENT_CPU backend=$BACKEND_CPU (nproc=$NCPU)"
log "ports: backend=$P_BACKEND/$P_BACKEND_H2(h2c) haproxy=$P_HAP_L7/$P_HAP_L4/$P_HAP_H2 haproxy-b=$P_HAPB_L7/$P_HAPB_L4/$P_HAPB_H2 nginx=$P_NGX_L7/$P_NGX_L4/$P_NGX_H2 node-floor=$P_FLOOR switchyard=$P_SY_L7/$P_SY_L4"
start_backend || die "backend nginx failed to start (see log above)"

# Start every proxy first (each stays idle while the others are measured), then
# interleave: for each scenario and connection count, each round runs every
# proxy once, back to back, so that the ratios compare runs made minutes apart
# at most (the machine's background load changes over time).
for proxy in $PROXIES; do
  PX=$proxy
  started=1
  case "$proxy" in
    direct)     start_direct ;;
    haproxy)    start_haproxy "$P_HAP_L7" "$P_HAP_L4" "$P_HAP_H2"    || started=0 ;;
    haproxy-b)  start_haproxy "$P_HAPB_L7" "$P_HAPB_L4" "$P_HAPB_H2" || started=0 ;;
    nginx)      start_nginx_proxy || started=0 ;;
    node-floor) start_node_floor  || started=0 ;;
    switchyard) start_switchyard  || started=0 ;;
    *) log "unknown proxy '$proxy' (ignored)"; FAILED[$proxy]="unknown proxy" ;;
  esac
  if [ $started = 0 ]; then
    FAILED[$proxy]="$proxy: failed to start"
    echo "$proxy: failed to start" >&2
  fi
done

ORDER=($PROXIES)
for scen in $SCENARIOS; do
  for c in $(conns_for "$scen"); do
    for round in $(seq 1 "$ROUNDS"); do
      n=${#ORDER[@]}
      for k in $(seq 0 $((n - 1))); do
        proxy=${ORDER[$(((k + round - 1) % n))]}   # rotate the order each round
        if [ -n "${FAILED[$proxy]:-}" ]; then
          note=""; [ "$proxy" = switchyard ] && note="$SY_FAIL"
          [ "$round" = 1 ] && record proxy="$proxy" scenario="$scen" conns="$c" streams="$(streams_for "$scen")" \
            status=failed reason="${FAILED[$proxy]}" log="$note"
        elif [ -z "${PORT[$proxy/$scen]:-}" ]; then
          reason="${SKIP[$proxy/$scen]:-not available}"; st=skipped; note=""
          if [[ "$reason" == *"failed to start"* ]]; then st=failed; [ "$proxy" = switchyard ] && note="$SY_FAIL"; fi
          [ "$round" = 1 ] && record proxy="$proxy" scenario="$scen" conns="$c" streams="$(streams_for "$scen")" \
            status="$st" reason="$reason" log="$note"
        elif [ -n "${DEAD[${PROC[$proxy/$scen]}]:-}" ]; then
          record proxy="$proxy" scenario="$scen" conns="$c" round="$round" streams="$(streams_for "$scen")" \
            status=failed reason="$proxy: process exited during an earlier run"
        elif ! measure "$proxy" "$scen" "$c" "$round"; then
          DEAD[${PROC[$proxy/$scen]}]=1
        fi
      done
    done
  done
done

mkdir -p "$HERE/results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$HERE/results/$stamp.json"
node "$HERE/report.js" --runs "$RUNS" --out "$out" \
  --meta "duration=$DUR" --meta "warmup=$WARM" --meta "rounds=$ROUNDS" --meta "proxy_cpu=$PROXY_CPU" --meta "client_cpu=$CLIENT_CPU" \
  --meta "backend_cpu=$BACKEND_CPU" --meta "nproc=$NCPU" \
  --meta "haproxy=$(haproxy -v 2>/dev/null | head -1)" --meta "nginx=$(nginx -v 2>&1 | head -1)" \
  --meta "wrk=$(wrk -v 2>&1 | head -1)" --meta "h2load=$(h2load --version 2>&1 | head -1)" \
  --meta "node=$(node -v)" --meta "kernel=$(uname -r)" --meta "git=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo none)" \
  || die "report failed (raw outputs in $WORK; rerun with BENCH_KEEP=1)"
