#!/usr/bin/env bash
# Maintenance benchmark: forget + prune and check --read-data, comet against restic.
#
# Usage: benches/maintenance.sh DATASET_DIR SCRATCH_DIR [RUNS]
#   DATASET_DIR  pristine tree made by gen-dataset.sh generate (never modified; copied per run)
#   SCRATCH_DIR  working area (repositories, working copy, results); needs ~3x the dataset
#   RUNS         repetitions per tool (default 3); medians are reported
# Env:
#   TOOLS        subset of: comet restic (default: both)
#   COMET_AGENT  comet-agent binary (default: target/release/comet-agent of this checkout)
#   GEN          gen-dataset.sh (default: ../shared/bench/gen-dataset.sh next to this checkout)
#
# Per tool and run (untimed setup, then timed steps under GNU time: wall, user, sys, max RSS):
#   copy DATASET_DIR -> work; init; backup; 3 x (mutate round r; backup)  => 4 snapshots
#   prune  : drop all snapshots but the last and give the space back
#            restic: forget --keep-last 1 --prune
#            comet : forget --keep-last 1 --prune (phase 1: marks), then prune --grace 0
#                    (phase 2: deletes; in real use a day later). Both timed; the sum is reported.
#   check  : check --read-data (every pack downloaded and every blob verified)
# Repository size (du -sb) is taken before and after prune.
set -euo pipefail

if [ $# -lt 2 ]; then sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2; fi
DATA=$(cd "$1" && pwd)
mkdir -p "$2"
SCR=$(cd "$2" && pwd)
RUNS=${3:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
COMET=${COMET_AGENT:-$HERE/../target/release/comet-agent}
GEN=${GEN:-$HERE/../../shared/bench/gen-dataset.sh}
TOOLS=${TOOLS:-comet restic}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "GNU time (/usr/bin/time) is required" >&2; exit 1; }
[ -x "$COMET" ] || { echo "no comet-agent at $COMET (cargo build --release -p comet-agent)" >&2; exit 1; }

export RESTIC_PASSWORD=bench-password-not-secret COMET_PASSWORD=bench-password-not-secret
RES="$SCR/maintenance.tsv"
printf 'tool\trun\tstep\twall_s\tuser_s\tsys_s\tmaxrss_kib\trepo_bytes\n' > "$RES"

timed() { # tool run step cmd...
  local tool=$1 run=$2 step=$3; shift 3
  sync
  $TIME -f '%e %U %S %M' -o "$SCR/time.out" "$@" > "$SCR/log.$tool.$run.$step" 2>&1
  read -r wall user sys rss < "$SCR/time.out"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$run" "$step" "$wall" "$user" "$sys" "$rss" \
    "$(du -sb "$SCR/repo" | cut -f1)" >> "$RES"
}

for run in $(seq 1 "$RUNS"); do
  for tool in $TOOLS; do
    rm -rf "$SCR/repo" "$SCR/cache" "$SCR/work"
    cp -a "$DATA" "$SCR/work"
    cd "$SCR"
    case $tool in
      comet)
        export COMET_VAULT="$SCR/repo" COMET_CACHE_DIR="$SCR/cache"
        "$COMET" init -q
        "$COMET" backup -q work
        for r in 1 2 3; do "$GEN" mutate work "$r" >/dev/null; "$COMET" backup -q work; done
        printf '%s\t%s\tbefore\t0\t0\t0\t0\t%s\n' comet "$run" "$(du -sb "$SCR/repo" | cut -f1)" >> "$RES"
        timed comet "$run" forget-prune "$COMET" forget --keep-last 1 --prune --mark-write-limit 1s
        sleep 1.5
        timed comet "$run" prune-delete "$COMET" prune --grace 0 --clock-skew 0
        timed comet "$run" check-read-data "$COMET" check --read-data
        ;;
      restic)
        export RESTIC_REPOSITORY="$SCR/repo" RESTIC_CACHE_DIR="$SCR/cache"
        restic init -q
        restic backup -q --host bench work
        for r in 1 2 3; do "$GEN" mutate work "$r" >/dev/null; restic backup -q --host bench work; done
        printf '%s\t%s\tbefore\t0\t0\t0\t0\t%s\n' restic "$run" "$(du -sb "$SCR/repo" | cut -f1)" >> "$RES"
        timed restic "$run" forget-prune restic forget --keep-last 1 --prune
        timed restic "$run" check-read-data restic check --read-data
        ;;
    esac
  done
done
rm -rf "$SCR/work"

python3 - "$RES" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter='\t'))
def med(tool, step, col):
    v = [float(r[col]) for r in rows if r['tool'] == tool and r['step'] == step]
    return statistics.median(v) if v else None
print('| tool | step | wall s | user s | sys s | max RSS MiB | repo MiB after |')
print('|---|---|---|---|---|---|---|')
for tool in sorted({r['tool'] for r in rows}):
    print(f"| {tool} | repo before prune | | | | | {med(tool, 'before', 'repo_bytes') / 2**20:.1f} |")
    for step in ['forget-prune', 'prune-delete', 'check-read-data']:
        w = med(tool, step, 'wall_s')
        if w is None:
            continue
        print(f"| {tool} | {step} | {w:.2f} | {med(tool, step, 'user_s'):.2f} | {med(tool, step, 'sys_s'):.2f} | "
              f"{med(tool, step, 'maxrss_kib') / 1024:.0f} | {med(tool, step, 'repo_bytes') / 2**20:.1f} |")
PY
