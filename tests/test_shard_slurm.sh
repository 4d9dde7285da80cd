#!/usr/bin/env bash
# test_shard_slurm.sh — a real single-host Slurm cluster from Debian's packages (munge,
# slurmctld, slurmd; the configuration, key, sockets, spool and logs in a temporary folder,
# ports picked free): `sbatch --wait --array=0-3` runs `aesthete score --out` over a WebDataset
# of 8 tars built from the fixture images, then checks that the 4 tasks wrote disjoint shards
# whose union is every sample exactly once, that `merge` equals a single-process `rank`, and
# that a task killed with SIGKILL mid-shard and submitted again completes its part without
# duplicates. Exits 77 with the reason when the packages are missing or the daemons do not
# come up (scripts/setup.sh --slurm installs them).
source "$(dirname "$0")/support/shard_lib.sh"
skip() { echo "test_shard_slurm: SKIPPED: $1"; exit 77; }
for b in munged mungekey slurmctld slurmd sbatch sinfo; do
  command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || skip "$b is not installed (apt-get install munge slurmctld slurmd slurm-client)"
done
export PATH="$PATH:/usr/sbin"
[ "$(id -u)" -eq 0 ] || skip "the daemons of this test run as root (SlurmUser=root)"
command -v python3 >/dev/null || skip "python3 is not installed (ports)"

c="$tmp/cluster"
mkdir -p "$c"/{state,spool,run} && chmod 700 "$c"
pids=()
stop() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap stop EXIT
mungekey -c -k "$c/munge.key" -f >/dev/null 2>&1 || skip "mungekey cannot make a key"
munged -F -f --key-file="$c/munge.key" --socket="$c/munge.sock" --pid-file="$c/munged.pid" \
  --log-file="$c/munged.log" --seed-file="$c/munged.seed" 2>>"$c/munged.log" &
pids+=($!)
for _ in $(seq 50); do [ -S "$c/munge.sock" ] && break; sleep 0.1; done
[ -S "$c/munge.sock" ] || skip "munged did not start: $(tail -1 "$c/munged.log")"

read -r p1 p2 <<<"$(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1", 0)) for x in s]
print(*[x.getsockname()[1] for x in s])')"
cpus=$(nproc)
cat >"$c/slurm.conf" <<CONF
ClusterName=aetest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$p1
SlurmdPort=$p2
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$c/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$c/state
SlurmdSpoolDir=$c/spool
SlurmctldPidFile=$c/slurmctld.pid
SlurmdPidFile=$c/slurmd.pid
SlurmctldLogFile=$c/slurmctld.log
SlurmdLogFile=$c/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$c/slurm.conf"
slurmctld -D -f "$SLURM_CONF" >>"$c/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -N localhost -f "$SLURM_CONF" >>"$c/slurmd.out" 2>&1 &
pids+=($!)
up=""
for _ in $(seq 150); do
  state="$(sinfo -h -N -o %t 2>/dev/null | head -1)"
  case "$state" in idle*|mix*|alloc*) up=1; break ;; esac
  sleep 0.2
done
[ -n "$up" ] || skip "slurmctld/slurmd did not come up (node state '${state:-none}'): $(tail -1 "$c/slurmctld.log" 2>/dev/null) / $(tail -1 "$c/slurmd.log" 2>/dev/null)"
echo "test_shard_slurm: cluster up (ports $p1, $p2)"

# the WebDataset: 8 tars of 3 samples (the 8 fixture photos three times, keys distinct); tar 5
# holds big photos, so that a task is still inside it when killed
make_samples "$tmp/s"
cd "$tmp" || exit 1
mkdir w
k=0
for t in 0 1 2 3 4 5 6 7; do
  for j in 0 1 2; do
    f=$(ls s/*.jpg s/*.png s/*.gif | sed -n "$(((k % 8) + 1))p")
    [ $t -eq 5 ] && f="$fixtures/images/photo_sunset_12mp_progressive.jpg"
    cp "$f" "w/$(printf %06d $k).${f##*.}"
    k=$((k + 1))
  done
done
for t in 0 1 2 3 4 5 6 7; do
  (cd w && tar cf "../data-$t.tar" $(printf '%06d.* ' $((3 * t)) $((3 * t + 1)) $((3 * t + 2))))
done
for j in 6 7 8 9 10 11 12 13; do cp "$fixtures/images/photo_sunset_12mp_progressive.jpg" "w/big$j.jpg"; done
(cd w && tar rf ../data-5.tar big*.jpg) # 11 large photos in tar 5: seconds of work
n_samples=$(for t in data-*.tar; do tar tf "$t"; done | wc -l)
expect_eq "the WebDataset: 8 tars, 32 samples" "$n_samples" 32
cat >job.sh <<JOB
#!/bin/bash
# one array task: its part of the 8 tars
if [ "\${MODE:-}" = kill ] && [ "\$SLURM_ARRAY_TASK_ID" = 2 ]; then
  "$cli" score --model "$model" --no-cache --verbose --out "$tmp/run" 'data-{0..7}.tar' &
  pid=\$!
  while [ ! -e "$tmp/run/manifest/4.json" ]; do sleep 0.02; done
  sleep 0.05
  kill -9 \$pid
  wait \$pid
  echo "killed: \$?"
  exit 0
fi
exec "$cli" score --model "$model" --no-cache --verbose --out "$tmp/run" 'data-{0..7}.tar'
JOB
chmod +x job.sh
sbatch --wait --array=0-3 --chdir="$tmp" --output="$tmp/task-%a.log" -N1 -n1 job.sh >sbatch.out 2>&1
expect_eq "sbatch --wait --array=0-3: exit status" "$?" 0
for a in 0 1 2 3; do
  expect_eq "task $a wrote its 2 shards" "$(tail -1 task-$a.log)" "aesthete: 2 shards written, 0 complete already, 0 failed inputs"
done
keys() { cat run/scores/*.jsonl | sed 's/.*"__key__": "\([^"]*\)", "__url__": "\([^"]*\)".*/\2#\1/'; }
expect_eq "every sample once" "$(keys | sort | uniq -d | wc -l)|$(keys | wc -l)" "0|$n_samples"
expect_eq "the 4 tasks' manifests: 8 shards" "$(ls run/manifest | tr '\n' ' ')" "0.json 1.json 2.json 3.json 4.json 5.json 6.json 7.json "
single="$(run rank --format jsonl 'data-{0..7}.tar' 2>/dev/null | sed 's/.*"input": "\([^"]*\)", "score": \([^,]*\),.*/\1 \2/')"
merged="$("$cli" merge run 2>/dev/null | sed 's/.*"__key__": "\([^"]*\)", "__url__": "\([^"]*\)", "score": \([^,]*\),.*/\2#\1 \3/')"
expect_eq "merge equals a single-process rank" "$merged" "$single"

# the array again with task 2 (tars 4 and 5) killed by SIGKILL inside tar 5, then the array
# submitted once more (a preempted task requeued): what is complete is skipped, the rest done
rm -rf run
sbatch --wait --array=0-3 --export=ALL,MODE=kill --chdir="$tmp" --output="$tmp/kill-%a.log" job.sh >/dev/null 2>&1
expect_eq "task 2 was killed" "$(grep -c 'killed: 137' kill-2.log)" 1
expect_eq "killed inside tar 5: shard 4 complete, 5 not" "$(ls run/manifest | tr '\n' ' ')" "0.json 1.json 2.json 3.json 4.json 6.json 7.json "
"$cli" merge run >/dev/null 2>merge.err
code=$?
# killed before its renames (missing) or between them and the manifest (incomplete): never whole
case "$(head -1 merge.err)" in
  "aesthete: warning: run: shard 5 of 8 is missing (not written yet): left out" | \
  "aesthete: warning: run: shard 5 is incomplete (no manifest, or its files changed): left out") ok ;;
  *) fail "merge does not leave shard 5 out: $(head -1 merge.err)" ;;
esac
expect_eq "merge: exit status 1, 7 shards merged" "$code|$(grep -c '^aesthete: 7 shards (1 incomplete or missing' merge.err)" "1|1"
sbatch --wait --array=0-3 --chdir="$tmp" --output="$tmp/resubmit-%a.log" job.sh >/dev/null 2>&1
expect_eq "resubmitted: exit status" "$?" 0
expect_eq "resubmitted: task 2 does the unfinished shard only" "$(tail -1 resubmit-2.log)" "aesthete: 1 shards written, 1 complete already, 0 failed inputs"
expect_eq "resubmitted: task 0 skips its shards" "$(tail -1 resubmit-0.log)" "aesthete: 0 shards written, 2 complete already, 0 failed inputs"
expect_eq "after the resubmit: every sample once" "$(keys | sort | uniq -d | wc -l)|$(keys | wc -l)" "0|$n_samples"
merged="$("$cli" merge run 2>/dev/null | sed 's/.*"__key__": "\([^"]*\)", "__url__": "\([^"]*\)", "score": \([^,]*\),.*/\2#\1 \3/')"
expect_eq "merge equals a single-process rank after the resubmit" "$merged" "$single"
finish
