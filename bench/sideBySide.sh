#!/usr/bin/env bash
# Builds of playtally side by side, interleaved round by round on the same data (machines here are
# shared and noisy: only ratios measured in one run mean anything). For each build and round:
# top50 cold on a week of logs, top50 again with the newest day's partial removed (one day to
# parse, the week to merge), kpis cold on a KPI landing folder; then the charts and KPI files of
# every build are compared with the first build's, byte for byte.
#
#   bench/sideBySide.sh DATA ROUNDS name=path/to/dist/bin/playtally.js [name=... ...]
#
# DATA holds logs/ (e.g. `playtally generate --out DATA/logs --days 7 --rows 5000000`) and kpi/
# (`playtally generate kpi-dataset --out DATA/kpi --days 1 --streams 5000000`). Another build
# (a commit before a change): `git worktree add /tmp/base REV`, link node_modules into it,
# `npx tsc -p tsconfig.build.json` there. Prints one line per build and round, then the medians.
set -euo pipefail
data=$1 rounds=$2
shift 2
names=() clis=()
for spec in "$@"; do names+=("${spec%%=*}"); clis+=("${spec#*=}"); done
work=$(mktemp -d /tmp/playtally-side-by-side.XXXXXX)
trap 'rm -rf "$work"' EXIT
seconds() { local s e; s=$(date +%s.%N); "$@"; e=$(date +%s.%N); echo "$e - $s" | bc; }
for round in $(seq 1 "$rounds"); do
  for i in "${!names[@]}"; do
    name=${names[$i]} cli=${clis[$i]} out="$work/charts-${names[$i]}"
    rm -rf "$out"
    cold=$(seconds node "$cli" top50 --logs "$data/logs" --out "$out" -q)
    newest=$(ls "$out"/.playtally/partials/*.ptp | sort | tail -1)
    rm -f "$newest"
    incremental=$(seconds node "$cli" top50 --logs "$data/logs" --out "$out" -q)
    rm -rf "$work/kpis-$name" "$work/landing"
    cp -r "$data/kpi" "$work/landing"
    kpis=$(seconds node "$cli" kpis --landing "$work/landing" --out "$work/kpis-$name" --no-archive -q)
    echo "$name round=$round cold=$cold incremental=$incremental kpis=$kpis load=$(cut -d' ' -f1 /proc/loadavg)"
  done
done | tee "$work/times"
echo "medians of $rounds rounds (s):"
for name in "${names[@]}"; do
  for what in cold incremental kpis; do
    grep "^$name " "$work/times" | sed -n "s/.* $what=\([0-9.]*\).*/\1/p" | sort -n |
      awk -v n="$name" -v w="$what" '{v[NR]=$1} END {printf "  %s %s %.2f\n", n, w, v[int((NR+1)/2)]}'
  done
done
first=${names[0]}
for name in "${names[@]:1}"; do
  for f in "$work/charts-$first"/*_top50_*.txt "$work/kpis-$first"/*.csv; do
    other=${f/-$first\//-$name\/}
    cmp -s "$f" "$other" || echo "DIFFERENT: $name $(basename "$f")"
  done
  echo "$name: charts and KPI files compared with $first"
done
