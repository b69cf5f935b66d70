#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every benchmark and prints one table: each benchmark in each mode
# (in-process liburing, plain syscalls, aiod), the median of the runs, and the
# ratio to in-process liburing measured in the same run. Installs what is
# missing and builds a Release tree first. docs/benchmarks.md explains it all.
#
#   scripts/bench.sh              the full suite (5 runs each; ~10 minutes on 2 free cores)
#   scripts/bench.sh --quick      smaller counts and 3 runs, for a first look
#   scripts/bench.sh --only nops,fs   some benchmarks only
#
# Options: --runs N, --out DIR (results, default $build/bench-results),
# --nice N (run the programs and their daemons at this nice level, e.g. -10 on
# a shared machine; needs root; see docs/benchmarks.md for what it changes),
# --daemon-nice N (the private daemons' nice level; default -10, as the system
# unit runs aiod; 0 to run them like the programs),
# --placement split|free (split, the default with 2 CPUs or more: the private
# daemons' shard pinned to the last CPU with --shard-cpus and the one-client
# programs kept off it with taskset, as Client::keep_off_daemon_cpu() does;
# free: wherever the scheduler puts them, which may be one CPU for both),
# --no-deps (skip scripts/deps.sh), --no-build. The build directory is
# $AIOD_BENCH_BUILD_DIR, default build-bench/ in the repository.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${AIOD_BENCH_BUILD_DIR:-$root/build-bench}
out=""
runs=""
quick=0
deps=1
do_build=1
nice_level=""
daemon_nice=-10
placement=split
only="nops,coro_nops,fs,ping_pongs,echo,scaling,idle,syscalls"
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --runs) runs=$2; shift ;;
    --out) out=$2; shift ;;
    --only) only=$2; shift ;;
    --nice) nice_level=$2; shift ;;
    --daemon-nice) daemon_nice=$2; shift ;;
    --placement) placement=$2; shift ;;
    --no-deps) deps=0 ;;
    --no-build) do_build=0 ;;
    -h|--help) awk '/SPDX-License-Identifier/ { next } NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
out=${out:-$build/bench-results}
[[ $placement == split || $placement == free ]] || { echo "bench.sh: --placement is split or free" >&2; exit 2; }
last_cpu=$(($(nproc) - 1))
((last_cpu > 0)) || placement=free
runs=${runs:-$([[ $quick == 1 ]] && echo 3 || echo 5)}

((deps)) && "$root/scripts/deps.sh"
if ((do_build)); then
  # Warnings are not errors here: scripts/test.sh enforces them; a warning that
  # only an optimised build shows must not stop a measurement.
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DAIOD_WERROR=OFF \
    -DAIOD_BUILD_TESTS=OFF -DAIOD_BUILD_EXAMPLES=OFF > /dev/null
  cmake --build "$build" -j "$(nproc)" --target \
    bench_nops bench_coro_nops bench_fs bench_ping_pongs bench_echo bench_scaling bench_idle bench_syscalls \
    bench_emulated > /dev/null
fi
bin=$build/bench
mkdir -p "$out"
results=$out/results.tsv
: > "$results"
: > "$out/raw.txt"  # this run only, like the table

poll_us=$(sed -n 's/.*poll = std::chrono::microseconds(\([0-9]*\)).*/\1/p' "$root/daemon/runtime/config.hpp" | head -1)
spin_us=$(sed -n 's/.*std::chrono::microseconds spin{\([0-9]*\)};.*/\1/p' "$root/client/include/aiod/client.hpp" | head -1)
{
  echo "date:       $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit:     $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "cpus:       $(nproc) ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1))"
  echo "kernel:     $(uname -r)"
  echo "aiod:       private daemon per program, default --poll-us (${poll_us:-?} us), 1 shard; client spin up to ${spin_us:-?} us (default)"
  echo "runs:       $runs per mode, median reported$([[ $quick == 1 ]] && echo '; --quick counts')"
  echo "priority:   programs at nice ${nice_level:-0}; private aiod at nice $daemon_nice (the system unit's Nice=)"
  if [[ $placement == split ]]; then
    echo "placement:  split: shard pinned to CPU $last_cpu (--shard-cpus), one-client programs on CPUs 0-$((last_cpu - 1))"
  else
    echo "placement:  free: the scheduler places programs and shards"
  fi
  echo "load avg:   $(cut -d' ' -f1-3 /proc/loadavg) (before)"
} | tee "$out/machine.txt"

# Each program prints RESULT lines on stdout and progress on stderr. One-client
# programs run split from their shard (--placement); scaling (many processes),
# idle and emulated (whose posix workers the shard thread starts) run free.
run() {
  local name=$1
  shift
  [[ ",$only," == *",$name,"* ]] || return 0
  echo "== $name" >&2
  local pin=()
  if [[ $placement == split && " scaling idle emulated " != *" $name "* ]]; then
    pin=(taskset -c "0-$((last_cpu - 1))")
    set -- "$@" "--daemon-arg=--shard-cpus=$last_cpu"
  fi
  nice -n "${nice_level:-0}" "${pin[@]}" "$bin/bench_$name" --runs "$runs" --daemon-nice "$daemon_nice" "$@" | tee -a "$out/raw.txt" | grep '^RESULT' >> "$results" || {
    echo "bench.sh: bench_$name failed" >&2
    return 1
  }
}
if ((quick)); then
  run nops --ops 2000000 --latency-ops 50000 --warmup 20000
  run coro_nops --ops 2000000 --warmup 20000
  run fs --ops 20000 --warmup 2000
  run ping_pongs --round-trips 20000 --warmup 1000
  run echo --round-trips 30000 --warmup 1000
  run scaling --clients 1,4,16,64 --seconds 0.3
  run idle --clients 16 --seconds 1
  run syscalls --ops-batch32 320000 --ops-batch1 50000
  run emulated --ops 10000 --warmup 1000
else
  run nops --ops 10000000 --latency-ops 200000
  run coro_nops --ops 10000000
  run fs --ops 100000
  run ping_pongs --round-trips 200000
  run echo --round-trips 250000
  run scaling --clients 1,4,16,64 --seconds 1
  run idle --clients 16 --seconds 5
  run syscalls
  run emulated --ops 50000
fi
echo "load avg:   $(cut -d' ' -f1-3 /proc/loadavg) (after)" | tee -a "$out/machine.txt"

# The table: benchmark, mode, metric, median, ratio to uring, runs and spread.
echo
awk -F'\t' '
  { n++; b[n]=$2; m[n]=$3; k[n]=$4; v[n]=$7; r[n]=$8; c[n]=$9; s[n]=$10; x[n]=$11 }
  function w(i, x) { if (length(x) > W[i]) W[i] = length(x) }
  END {
    hb="benchmark"; hm="mode"; hk="metric"; hv="median"; hr="vs uring"; hx="vs best"; hc="runs"; hs="min .. max"
    w(1,hb); w(2,hm); w(3,hk); w(4,hv); w(5,hr); w(6,hx); w(7,hc)
    for (i = 1; i <= n; i++) { w(1,b[i]); w(2,m[i]); w(3,k[i]); w(4,v[i]); w(5,r[i]); w(6,x[i]); w(7,c[i]) }
    f = "%-" W[1] "s  %-" W[2] "s  %-" W[3] "s  %" W[4] "s  %" W[5] "s  %" W[6] "s  %" W[7] "s  %s\n"
    printf f, hb, hm, hk, hv, hr, hx, hc, hs
    for (i = 1; i <= n; i++) { if (i > 1 && b[i] != b[i-1]) printf "\n"; printf f, b[i], m[i], k[i], v[i], r[i], x[i], c[i], s[i] }
  }' "$results" | tee "$out/table.txt"

# The same as a Markdown table, for docs/benchmarks.md.
awk -F'\t' 'BEGIN { print "| benchmark | mode | metric | median | vs uring | vs best in-process | runs | min .. max |"; print "|---|---|---|---:|---:|---:|---:|---|" }
  { printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $7, $8, $11, $9, $10 }' "$results" > "$out/table.md"

# The scaling plot: aggregate ops/s per mode and the daemon's CPU, by client count.
if [[ ",$only," == *",scaling,"* ]] && command -v gnuplot > /dev/null; then
  awk -F'\t' '$2 ~ /^scaling / {
      split($2, p, " "); n = p[2]
      if ($4 == "aggregate") v[n, $3] = $6 / 1e6
      if ($4 == "daemon CPU") cpu[n] = $6
      seen[n] = 1
    }
    END { for (n in seen) printf "%d %s %s %s %s\n", n, v[n,"uring"], v[n,"syscalls"], v[n,"aiod"], cpu[n] }' \
    "$results" | sort -n > "$out/scaling.dat"
  gnuplot <<GNUPLOT
set terminal pngcairo noenhanced size 900,540 font "sans,11"
set output "$out/scaling.png"
set title "nops, 32-op batches: N client processes at once ($(nproc) CPUs, median of $runs runs)"
set xlabel "client processes"
set ylabel "aggregate M ops/s"
set y2label "aiod daemon CPU (% of one core)"
set logscale x 2
set xtics (1, 4, 16, 64)
set xrange [0.8:90]
set yrange [0:*]
set y2range [0:110]
set y2tics 0, 20, 100
set ytics nomirror
set key top left
set grid ytics
plot "$out/scaling.dat" using 1:2 with linespoints lw 2 pt 7 title "in-process io_uring", \
     "" using 1:3 with linespoints lw 2 pt 5 title "syscalls (getppid)", \
     "" using 1:4 with linespoints lw 2 pt 9 title "aiod", \
     "" using 1:5 axes x1y2 with linespoints lw 1 dt 2 pt 6 title "aiod daemon CPU (right)"
GNUPLOT
  echo "plot: $out/scaling.png"
fi
echo "results: $out (results.tsv, table.txt, table.md, raw.txt, machine.txt)"
