#!/usr/bin/env bash
# test_faults.sh — faults survived, nothing lost (issue 12, part 2), through the CLI as a user
# meets them: the embedding cache read-only (a read-only mount as root; a 0444 file in a 0555
# folder as an unprivileged user), locked by another process past the busy timeout (30 s; a
# write lock, then a lock that blocks readers too), a WAL from another file beside it; and a
# full disk (a small tmpfs) under the cache and the kept banks, `bank build -o`, `cull
# --write-xmp` and a run folder (`score --out`). Each checks the results against a clean run,
# the one-line messages and the exit status. Needs root for the mounts; a part that cannot run
# says why, and the test exits 77 when none could.
source "$(dirname "$0")/support/shard_lib.sh"
cd "$tmp" || exit 1
chmod 755 "$tmp" # the unprivileged user's part reads below here
ran=0
mounts=()
cleanup() {
  for m in "${mounts[@]}"; do umount "$m" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT

mkdir img
for f in photo_boats.jpg photo_rocket.jpg photo_ladybird.jpg; do cp "$fixtures/images/$f" img/; done
rank() { "$cli" rank -m "$model" -f jsonl --verbose "$@"; }
rank --no-cache img >ref3.jsonl 2>/dev/null
cp "$fixtures/images/photo_landscape.jpg" img/
rank --no-cache img >ref4.jsonl 2>/dev/null
rm img/photo_landscape.jpg
expect_eq "reference: 3 rows" "$(wc -l <ref3.jsonl)" 3
# a cache of the three images
fill_cache() { mkdir -p "$(dirname "$1")" && rank --cache "$1" img >/dev/null 2>&1; }

# ---- 1. read-only ----
fill_cache c/cache.sqlite3
mkdir ro
if [ "$(id -u)" = 0 ] && mount --bind c ro 2>/dev/null && mounts+=("$tmp/ro") && mount -o remount,ro,bind ro 2>/dev/null; then
  ran=1
  rank --cache ro/cache.sqlite3 img >out.jsonl 2>err
  expect_eq "read-only mount: exit status" "$?" 0
  expect_eq "read-only mount: results" "$(cat out.jsonl)" "$(cat ref3.jsonl)"
  expect_eq "read-only mount: messages" "$(cat err)" "aesthete: 3 inputs: 0 encoded, 3 from the cache, 0 failed
aesthete: warning: ro/cache.sqlite3: the embedding cache is read-only here (Read-only file system); its embeddings are used, new ones are not kept"
  umount ro
else
  echo "read-only mount: skipped (needs root and mount --bind)"
fi
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  ran=1
  as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
  mkdir u && chown nobody u
  as_nobody "$cli" rank -m "$model" --cache u/cache.sqlite3 img >/dev/null 2>&1
  chmod 0444 u/cache.sqlite3 && chmod 0555 u
  cp "$fixtures/images/photo_landscape.jpg" img/
  as_nobody "$cli" rank -m "$model" -f jsonl --verbose --cache u/cache.sqlite3 img >out.jsonl 2>err
  expect_eq "read-only file and folder: exit status" "$?" 0
  expect_eq "read-only file and folder: results" "$(cat out.jsonl)" "$(cat ref4.jsonl)"
  expect_eq "read-only file and folder: messages" "$(cat err)" "aesthete: 4 inputs: 1 encoded, 3 from the cache, 0 failed
aesthete: warning: u/cache.sqlite3: the embedding cache is read-only here (Permission denied); its embeddings are used, new ones are not kept"
  expect_eq "read-only file and folder: nothing written" "$(ls -A u)" "banks
cache.sqlite3"
  rm img/photo_landscape.jpg
else
  echo "read-only as another user: skipped (needs root and setpriv)"
fi

# ---- 2. locked by another process past the busy timeout (30 s): both at once ----
if command -v sqlite3 >/dev/null; then
  ran=1
  fill_cache lw/cache.sqlite3
  fill_cache lr/cache.sqlite3
  cp "$fixtures/images/photo_landscape.jpg" img/
  mkfifo fw fr
  sqlite3 lw/cache.sqlite3 <fw >/dev/null & hw=$!
  sqlite3 lr/cache.sqlite3 <fr >/dev/null & hr=$!
  exec 3>fw 4>fr
  echo "BEGIN EXCLUSIVE; DELETE FROM embeddings WHERE 0; SELECT 'held';" >&3 # writers wait
  echo "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; DELETE FROM embeddings WHERE 0;" >&4 # readers too
  sleep 1
  t0=$SECONDS
  rank --cache lw/cache.sqlite3 img >outw.jsonl 2>errw & pw=$!
  rank --cache lr/cache.sqlite3 img >outr.jsonl 2>errr & pr=$!
  wait $pw; sw=$?
  wait $pr; sr=$?
  took=$((SECONDS - t0))
  echo "COMMIT;" >&3; echo "COMMIT;" >&4
  exec 3>&- 4>&-
  wait $hw $hr
  expect_eq "write lock: exit status" "$sw" 0
  expect_eq "write lock: results" "$(cat outw.jsonl)" "$(cat ref4.jsonl)"
  expect_eq "write lock: messages" "$(cat errw)" "aesthete: 4 inputs: 1 encoded, 3 from the cache, 0 failed
aesthete: warning: lw/cache.sqlite3: cannot store embeddings (locking for a write: database is locked); results are computed but not kept for the rest of this run"
  expect_eq "read lock: exit status" "$sr" 0
  expect_eq "read lock: results" "$(cat outr.jsonl)" "$(cat ref4.jsonl)"
  expect_eq "read lock: messages" "$(cat errr)" "aesthete: warning: lr/cache.sqlite3: reading: database is locked (continuing without the cache)
aesthete: 4 inputs: 4 encoded, 0 from the cache, 0 failed"
  # the delay is the busy timeout, once: 30 s, not once per image
  expect_eq "locks: waited the busy timeout once (30-40 s, took $took s)" "$((took >= 29 && took <= 40))" 1
  echo "locks: both runs finished in $took s"
  rm img/photo_landscape.jpg
else
  echo "locks: skipped (the sqlite3 command is not installed)"
fi

# ---- 3. a WAL from another file beside the cache ----
if command -v sqlite3 >/dev/null; then
  ran=1
  fill_cache w/cache.sqlite3
  # another database (a copy) whose rows hold each other's embeddings: its WAL, never
  # checkpointed, copied beside the cache
  cp w/cache.sqlite3 other.sqlite3
  sqlite3 other.sqlite3 >/dev/null <<'SQL'
PRAGMA wal_autocheckpoint=0;
CREATE TEMP TABLE k AS SELECT key, vec, row_number() OVER (ORDER BY key) AS i FROM embeddings;
UPDATE embeddings SET vec = (SELECT k2.vec FROM k k1 JOIN k k2 ON k2.i = k1.i % (SELECT count(*) FROM k) + 1
                             WHERE k1.key = embeddings.key);
.shell cp other.sqlite3-wal w/cache.sqlite3-wal
SQL
  expect_eq "foreign WAL: in place" "$([ -s w/cache.sqlite3-wal ] && echo yes)" yes
  rank --cache w/cache.sqlite3 img >out.jsonl 2>err
  expect_eq "foreign WAL: exit status" "$?" 0
  expect_eq "foreign WAL: results" "$(cat out.jsonl)" "$(cat ref3.jsonl)"
  expect_eq "foreign WAL: messages" "$(cat err)" "aesthete: 3 inputs: 3 encoded, 0 from the cache, 0 failed
aesthete: warning: w/cache.sqlite3: a stored embedding failed its check (edited, damaged, or from another file); computed again, never used"
  rank --cache w/cache.sqlite3 img >out.jsonl 2>err
  expect_eq "foreign WAL: the rows were replaced" "$(cat err)" "aesthete: 3 inputs: 0 encoded, 3 from the cache, 0 failed"
  expect_eq "foreign WAL: results again" "$(cat out.jsonl)" "$(cat ref3.jsonl)"
  # the WAL of an unrelated database: its pages replace the cache's; rebuilt, results right
  sqlite3 unrelated.sqlite3 >/dev/null <<'SQL'
PRAGMA journal_mode=WAL;
PRAGMA wal_autocheckpoint=0;
CREATE TABLE t(x);
WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 500) INSERT INTO t SELECT randomblob(100) FROM r;
.shell cp unrelated.sqlite3-wal w/cache.sqlite3-wal
SQL
  rank --cache w/cache.sqlite3 img >out.jsonl 2>err
  expect_eq "unrelated WAL: exit status" "$?" 0
  expect_eq "unrelated WAL: results" "$(cat out.jsonl)" "$(cat ref3.jsonl)"
  expect_eq "unrelated WAL: messages" "$(cat err)" "aesthete: 3 inputs: 3 encoded, 0 from the cache, 0 failed"
else
  echo "foreign WAL: skipped (the sqlite3 command is not installed)"
fi

# ---- 4. a full disk ----
mkdir full
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=2m tmpfs full 2>/dev/null; then
  ran=1
  mounts+=("$tmp/full")
  # fill FREE: leave FREE bytes of the tmpfs (0: all of it)
  fill() { rm -f full/fill; local a; a=$(df -B1 --output=avail full | tail -1); head -c $((a - $1)) /dev/zero >full/fill 2>/dev/null; }
  no_temporaries() { expect_eq "$1: no temporary file left" "$(find full -name '*.tmp*' | wc -l)" 0; }

  # bank build -o: the old bank stays
  "$cli" bank build -m "$model" -o full/x.bank >/dev/null 2>&1
  cp full/x.bank old.bank
  fill 0
  "$cli" bank build -m "$model" --positive lovely -o full/x.bank >/dev/null 2>err
  expect_eq "bank build -o: exit status" "$?" 2
  expect_eq "bank build -o: message" "$(cat err)" "aesthete: full/x.bank: cannot write: No space left on device"
  expect_eq "bank build -o: the old bank intact" "$(cmp old.bank full/x.bank && echo same)" same
  no_temporaries "bank build -o"

  # the cache and the kept banks on a full disk: scoring goes on, results right, the
  # cache's rows and the bank kept before all there (the cache's own writes on a full disk:
  # test_cache's test_full_disk)
  rm -f full/fill
  fill_cache full/cc/cache.sqlite3
  cp "$fixtures/images/photo_landscape.jpg" img/
  rank --no-cache --positive lovely img >ref_lovely.jsonl 2>/dev/null
  fill 0
  rank --cache full/cc/cache.sqlite3 --positive lovely img >out.jsonl 2>err
  expect_eq "cache on a full disk: exit status" "$?" 0
  expect_eq "cache on a full disk: results" "$(cat out.jsonl)" "$(cat ref_lovely.jsonl)"
  # SQLite cannot make the cache's -shm on a full disk: the cache is left out, with a warning
  expect_eq "cache on a full disk: messages" "$(cat err)" "aesthete: warning: full/cc/cache.sqlite3: reading: disk I/O error (continuing without the cache)
aesthete: 4 inputs: 4 encoded, 0 from the cache, 0 failed"
  expect_eq "cache on a full disk: the bank kept before" "$(ls full/cc/banks | wc -l)" 1
  command -v sqlite3 >/dev/null && expect_eq "cache on a full disk: its rows" "$(sqlite3 'file:full/cc/cache.sqlite3?immutable=1' 'SELECT count(*) FROM embeddings' 2>&1)" 3
  no_temporaries "cache on a full disk"
  rm img/photo_landscape.jpg
  rm -rf full/cc

  # cull --write-xmp: sidecars that cannot be written are named, the others go on, the old
  # sidecars stay
  rm -f full/fill
  mkdir full/shoot && cp img/*.jpg "$fixtures/images/photo_landscape.jpg" full/shoot/
  "$cli" cull -m "$model" --no-cache --write-xmp full/shoot >/dev/null 2>&1
  mkdir xmp_old && cp full/shoot/*.xmp xmp_old/
  fill 0
  "$cli" cull -m "$model" --no-cache --write-xmp --stars 1,2,3,4 full/shoot >/dev/null 2>err
  expect_eq "cull --write-xmp: exit status" "$?" 1
  expect_eq "cull --write-xmp: messages" "$(cat err)" "aesthete: full/shoot/photo_boats.xmp: cannot write: No space left on device
aesthete: full/shoot/photo_rocket.xmp: cannot write: No space left on device
aesthete: XMP sidecars: 0 created, 0 updated, 2 unchanged, 2 failed"
  expect_eq "cull --write-xmp: the old sidecars intact" "$(for f in xmp_old/*; do cmp -s "$f" "full/shoot/${f#xmp_old/}" || echo "$f"; done)" ""
  no_temporaries "cull --write-xmp"
  rm -rf full/shoot

  # a run folder (score --out): a shard redone on a full disk fails with the file named;
  # the rerun does not take it for complete and then equals a clean run
  rm -f full/fill
  make_samples s
  make_tar d0.tar s 000000 000001
  make_tar d1.tar s 000002 000003
  run score --out clean --keep json d0.tar d1.tar 2>/dev/null
  run score --out full/run --keep json d0.tar d1.tar 2>/dev/null
  make_tar d1.tar s 000002 000003 000004 # changed: shard 1 is redone
  run score --out clean --keep json d0.tar d1.tar 2>/dev/null
  fill 0 # (the old manifest, removed first, frees a page)
  run score --out full/run --keep json d0.tar d1.tar 2>err
  expect_eq "score --out: exit status" "$?" 2
  expect_has "score --out: message" "$(cat err)" "aesthete: full/run/"
  expect_has "score --out: the cause" "$(cat err)" ": cannot write: No space left on device"
  expect_eq "score --out: one line" "$(wc -l <err)" 1
  no_temporaries "score --out"
  # the redone shard: the old one whole (its manifest's sizes are its files'), or no manifest
  # at all (a failure among the commits: never complete with a mix of old and new files)
  expect_eq "score --out: shard 1 whole or without a manifest" "$(python3 -c '
import json, os, sys
m = "full/run/manifest/1.json"
if not os.path.exists(m): print("no manifest"); sys.exit()
files = json.load(open(m))["files"]
print("whole" if all(os.path.getsize("full/run/" + f) == n for f, n in files.items()) else "mixed")')" \
    "$( [ -f full/run/manifest/1.json ] && echo whole || echo "no manifest")"
  rm -f full/fill
  run score --out full/run --keep json --verbose d0.tar d1.tar 2>err
  expect_eq "score --out rerun: exit status" "$?" 0
  expect_has "score --out rerun: shard 1 redone" "$(cat err)" "1 shards written, 1 complete already"
  expect_eq "score --out rerun: equal to a clean run" "$(diff -r clean full/run && echo same)" same
  umount full
else
  echo "full disk: skipped (needs root to mount a small tmpfs)"
fi

[ "$ran" = 1 ] || { echo "test_faults: SKIPPED: needs root (mounts, another user) or the sqlite3 command"; exit 77; }
finish
