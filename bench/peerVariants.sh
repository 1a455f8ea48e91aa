#!/usr/bin/env bash
# Variants of a benchmark peer (or any commands) side by side, interleaved round by round, each
# a fresh process: median wall time and peak RSS per variant, and its output files compared byte
# for byte with a reference folder. How the DuckDB peers were tuned (docs/BENCHMARKS.md).
#
#   bench/peerVariants.sh ROUNDS REFERENCE 'name=command with {out} ...' ['name=...' ...]
#
# {out} in a command is replaced by a fresh folder for that variant; every file of REFERENCE
# (e.g. playtally's own output for the same input) whose name is in {out} must be equal to it
# (the chart peer writes country.txt and user.txt: compared with *_top50_*.txt by kind).
# Before each run the 1-minute load average must be below $MAX_LOAD (default 1.3): on a shared
# machine a run waits for a quiet minute.
set -euo pipefail
rounds=$1 reference=$2
shift 2
work=$(mktemp -d /tmp/playtally-peer-variants.XXXXXX)
trap 'rm -rf "$work"' EXIT
quiet() { while awk -v m="${MAX_LOAD:-1.3}" '{exit !($1 >= m)}' /proc/loadavg; do sleep 20; done; }
for round in $(seq 1 "$rounds"); do
  for spec in "$@"; do
    name=${spec%%=*} command=${spec#*=} out="$work/$name"
    rm -rf "$out" && mkdir -p "$out"
    quiet
    load=$(cut -d' ' -f1 /proc/loadavg)
    s=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$work/rss" bash -c "${command//\{out\}/$out}" >/dev/null
    e=$(date +%s.%N)
    echo "$name round=$round wall=$(echo "$e - $s" | bc) rss_mb=$(($(cat "$work/rss") / 1024)) load=$load"
    for f in "$out"/*; do
      base=$(basename "$f")
      case $base in
        country.txt) ref=$(ls "$reference"/country_top50_*.txt) ;;
        user.txt) ref=$(ls "$reference"/user_top50_*.txt) ;;
        *) ref="$reference/$base" ;;
      esac
      [ -f "$ref" ] || continue
      cmp -s "$f" "$ref" || echo "DIFFERENT: $name $base"
    done
  done
done | tee "$work/times"
echo "medians of $rounds rounds:"
for spec in "$@"; do
  name=${spec%%=*}
  wall=$(grep "^$name " "$work/times" | sed -n 's/.* wall=\([0-9.]*\).*/\1/p' | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  rss=$(grep "^$name " "$work/times" | sed -n 's/.* rss_mb=\([0-9]*\).*/\1/p' | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
  printf '  %s wall %.1f s, peak RSS %s MB\n' "$name" "$wall" "$rss"
done
