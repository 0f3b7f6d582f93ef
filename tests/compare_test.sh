#!/usr/bin/env bash
# scripts/compare: bad usage exits 2 with one line; a matrix run in two
# shards and merged gives the same table rows (cells, runs) as the matrix run
# whole, and verdict columns: locked never loses data on nfs@mixed, and
# legacy loses it in at least one of its two runs (each stops at its first
# loss, else at 4 s: how soon a jittered run meets the window depends on the
# machine's load, so which seeds lose is not compared between runs); with
# --explore 1 (scripts/run uses 2; 1 keeps the test short under TSan), the
# exhaustive column: locked/nfs@mixed (the seed scenario) has no violating
# schedule and the search is complete, legacy's has some.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cmp=("$root/scripts/compare" --bin "$bin" --out-dir "$tmp")
m=(--schemes legacy,locked --cells nfs@mixed --seeds 1-2 --duration 4s --stop-on data_losing --jobs 2
   --explore 1)

usage() {
  local want="$1"; shift
  set +e; out="$("${cmp[@]}" "$@" 2>&1 >/dev/null)"; rc=$?; set -e
  [[ $rc == 2 ]] || { echo "FAIL: $* exited $rc, want 2"; exit 1; }
  [[ $(printf '%s\n' "$out" | wc -l) == 1 ]] || { echo "FAIL: $*: not one line: $out"; exit 1; }
  [[ "$out" == *"$want"* ]] || { echo "FAIL: $*: '$out' does not name '$want'"; exit 1; }
}
usage "--shard" "${m[@]}" --shard 3/2
usage "--seeds" "${m[@]}" --seeds x
usage "unknown scheme" --schemes bogus --cells nfs@mixed --seeds 1
usage "unknown adapter" --schemes legacy --cells bogus@mixed --seeds 1
usage "ADAPTER@WORKLOAD" --schemes legacy --cells nfs --seeds 1
usage "--stop-on" "${m[@]}" --stop-on soon
usage "--sched" "${m[@]}" --sched sometimes
usage "--explore" "${m[@]}" --explore x
usage "--explore" "${m[@]}" --explore 9

"${cmp[@]}" "${m[@]}" >/dev/null
"${cmp[@]}" "${m[@]}" --shard 1/2 >/dev/null
"${cmp[@]}" "${m[@]}" --shard 2/2 >/dev/null
usage "missing" --merge "$tmp"/*-shard-1-of-2.json
"${cmp[@]}" --merge "$tmp"/*-shard-1-of-2.json "$tmp"/*-shard-2-of-2.json >/dev/null
/usr/bin/python3 - "$tmp" <<'PY'
import glob, json, sys
full = [json.load(open(p)) for p in sorted(glob.glob(sys.argv[1] + "/compare-*.json"))
        if "shard" not in p]
assert len(full) == 2, [p for p in glob.glob(sys.argv[1] + "/*")]
whole, merged = (d for d in full)  # either order: compare the tables
key = lambda d: [(r["scheme"], r["fs"], r["workload"], r["runs"], r["errors"], r["deadlocks"])
                 for r in d["table"]]
assert key(whole) == key(merged), (key(whole), key(merged))
for d in (whole, merged):
    rows = {r["scheme"]: r for r in d["table"]}
    assert rows["legacy"]["losing_runs"] >= 1 and rows["locked"]["losing_runs"] == 0, rows
assert sorted((r["scheme"], r["seed"]) for r in merged["runs"]) == \
       sorted((r["scheme"], r["seed"]) for r in whole["runs"])
# The explore column, whole and merged alike.
ex = lambda d: [(r["scheme"], r["explore"]["status"], r["explore"]["schedules"],
                 r["explore"]["complete"], r["explore"]["violations"]) for r in d["table"]]
assert ex(whole) == ex(merged), (ex(whole), ex(merged))
e = rows["locked"]["explore"]
assert e["status"] == "ok" and e["complete"] is True and e["preemptions"] == 1, e
assert e["violating_schedules"] == 0 and e["violations"] == 0 and e["schedules"] > 0, e
e = rows["legacy"]["explore"]
assert e["complete"] is True and e["data_losing"] and e["violating_schedules"] > 0, e
md = open(sorted(glob.glob(sys.argv[1] + "/compare-*.md"))[0]).read()
head = md.splitlines()[0]
assert "| ≤1 preemptions |" in head, head
locked = next(l for l in md.splitlines() if l.startswith("| locked | nfs | mixed |"))
assert "| 0 violating of %d schedules (complete) |" % rows["locked"]["explore"]["schedules"] in locked, locked
print("compare_test: ok", key(whole), ex(whole))
PY

# A workload whose scenario the binary may not have (truncate): the cell
# shows "no scenario" or the search's line, and the comparison still ends.
"${cmp[@]}" --schemes locked --cells nfs@truncate --seeds 1 --duration 300ms --jobs 1 \
  --explore 0 --out-dir "$tmp/trunc" >/dev/null
/usr/bin/python3 - "$tmp/trunc" <<'PY'
import glob, json, re, sys
doc = json.load(open(glob.glob(sys.argv[1] + "/compare-*.json")[0]))
e = doc["table"][0]["explore"]
assert e["scenario"] == "truncate" and e["status"] in ("no scenario", "ok"), e
line = open(glob.glob(sys.argv[1] + "/compare-*.md")[0]).read().splitlines()[2]
assert "| no scenario |" in line or re.search(r"\| ≈?\d+ violating of \d+ schedules \((in)?complete\)", line), line
print("compare_test: explore", e["status"])
PY

# scripts/reports over the compare files: one line per root cause (or, for
# results written before causes, per distinct race), each with a replay
# command; the locked runs contribute none.
out="$("$root/scripts/reports" "$tmp"/compare-*-shard-*.json)"
if head -1 <<<"$out" | grep -q "root causes\? in 4 runs"; then
  # Cause lines, each followed by its cross-scheme lines (indented, no replay).
  grep -E "^ *[0-9]+x in " <<<"$out" | grep -v -q "replay: " && { echo "FAIL: a line without replay"; exit 1; }
  grep -q "legacy/nfs" <<<"$out" && ! grep -q "locked/nfs" <<<"$out" || { echo "FAIL: reports"; exit 1; }
  "$root/scripts/reports" --check "$tmp"/compare-*-shard-*.json >/dev/null ||
    { echo "FAIL: reports --check"; exit 1; }
else
  head -1 <<<"$out" | grep -q "distinct races in 4 runs" || { echo "FAIL: reports: $out"; exit 1; }
  tail -n +2 <<<"$out" | grep -v -q "replay: " && { echo "FAIL: a line without replay"; exit 1; }
  grep -q "legacy/nfs" <<<"$out" && ! grep -q "locked/nfs" <<<"$out" || { echo "FAIL: reports"; exit 1; }
  # ... merged by the signature each race of the results carries.
  tail -n +2 <<<"$out" | grep -E -v -q "\[[0-9a-f]{16}: " && { echo "FAIL: a line without signature"; exit 1; }
fi
set +e; "$root/scripts/reports" /nonexistent.json 2>/dev/null; rc=$?; set -e
[[ $rc == 2 ]] || { echo "FAIL: reports on a missing file exited $rc"; exit 1; }
echo "compare_test: reports ok"

# scripts/scaling: one row per layout and count; totals are the sums of the
# runs' faults/s; bad usage exits 2 with one line.
"$root/scripts/scaling" --bin "$bin" --counts 1,2 --duration 300ms --out "$tmp/scaling.json" >/dev/null 2>&1
python3 - "$tmp/scaling.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
rows = [(r["layout"], r["processes"], r["threads_per_process"], r["runs"]) for r in doc["rows"]]
assert rows == [("threads", 1, 1, 1), ("threads", 1, 2, 1), ("processes", 2, 1, 2)], rows
assert all(r["faults_per_s"] > 0 and r["runs_with_races"] == 0 for r in doc["rows"]), doc["rows"]
print("compare_test: scaling ok")
PY
for bad in "--counts 0" "--duration banana" "--scheme bogus" "--out $tmp"; do
  set +e; out="$("$root/scripts/scaling" --bin "$bin" $bad 2>&1 >/dev/null)"; rc=$?; set -e
  [[ $rc == 2 && $(printf '%s\n' "$out" | wc -l) == 1 ]] ||
    { echo "FAIL: scaling $bad exited $rc: $out"; exit 1; }
done
echo "compare_test: scaling usage ok"
