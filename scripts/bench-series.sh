#!/bin/bash
# The headline series of docs/perf.md: each run three times (the page reports the median),
# each started once the one-minute load average is under 2 (waiting at most a minute).
# Usage: scripts/bench-series.sh OUTDIR [e2e] [batch] [drain] [rate] [pg]
# "pg" needs a PostgreSQL server in $PG (default the throw-away cluster of docs/perf.md); each
# PostgreSQL run starts on a dropped and re-created database. Raw JSON lands in OUTDIR.
set -u
OUT=${1:?usage: $0 OUTDIR [e2e] [batch] [drain] [rate] [pg]}; shift
mkdir -p "$OUT"
B=./bin/hookd
PG=${PG:-postgres://postgres@127.0.0.1:55432/hookd_bench?sslmode=disable}
PGB=${PGB:-/usr/lib/postgresql/15/bin}
quiet() {
  for _ in $(seq 1 12); do
    l=$(cut -d" " -f1 /proc/loadavg)
    awk "BEGIN{exit !($l < 2.0)}" && break
    sleep 5
  done
  cut -d" " -f1 /proc/loadavg
}
freshpg() {
  $PGB/dropdb -h 127.0.0.1 -p 55432 -U postgres --if-exists hookd_bench
  $PGB/createdb -h 127.0.0.1 -p 55432 -U postgres hookd_bench
}
run() { # name, bench args...
  name=$1; shift
  for r in 1 2 3; do
    case "$*" in *"$PG"*) freshpg ;; esac
    echo "$name run $r load $(quiet)" >&2
    $B bench "$@" -o json > "$OUT/$name-$r.json" 2> "$OUT/$name-$r.err"
    rc=$?
    [ $rc -eq 0 ] || echo "$name run $r FAILED (exit $rc): see $OUT/$name-$r.err" >&2
  done
}
[ $# -gt 0 ] || set -- e2e batch drain rate
for s in "$@"; do
  case $s in
    e2e) run e2e-sqlite -n 20000 ;;
    batch) run batch-sqlite -n 20000 --batch 100 ;;
    drain) run drain-sqlite -n 100000 --backlog ;;
    rate) run rate-sqlite -n 20000 --rate 1000 ;;
    pg)
      run e2e-pg -n 20000 --db "$PG"
      run batch-pg -n 20000 --batch 100 --db "$PG"
      run drain-pg -n 100000 --backlog --db "$PG"
      run rate-pg -n 20000 --rate 1000 --db "$PG"
      ;;
  esac
done
