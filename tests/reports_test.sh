#!/usr/bin/env bash
# scripts/reports merges races by the root cause pagerace writes into each
# race (races[].root_cause, results/SCHEMA.md "Root causes"): one row per
# cause id, counted from each result's root_causes (reports past the race
# table too), with what the other schemes did with the cause's window; --check
# fails a result whose data-losing race has no cause row.  Results without
# causes keep the grouping by the signature pagerace writes into each race
# (races[].signature), and results written before that field existed (schema
# pagerace.result/1) the script's old grouping.  scripts/compare --merge of a
# compare file with causes adds a per-cause table.
#   tests/reports_test.sh PAGERACE_BINARY
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$1"
fx="$root/tests/fixtures"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
reports="$root/scripts/reports"

# Old format: no signature field; the two races differ only in what the old
# grouping ignores (thread numbers, a lock wait), so they are one row.
"$reports" "$fx/result-v1.json" --json "$tmp/v1.json" >/dev/null
# New format: grouped by the field, whatever the traces say.
"$reports" "$fx/result-v2.json" --json "$tmp/v2.json" >/dev/null
# Both at once: each keeps its own grouping.
"$reports" "$fx/result-v1.json" "$fx/result-v2.json" --json "$tmp/both.json" >/dev/null

# Root causes (tests/fixtures/compare-v3.json: legacy, locked and a mutant on
# nfs@mixed; result-v3.json: a second legacy run with a cause seen only past
# its race table and a cause with no window).
"$reports" "$fx/compare-v3.json" "$fx/result-v3.json" --json "$tmp/v3.json" >"$tmp/v3.txt"
# Old and new at once: causes for the new, signatures for the old.
"$reports" "$fx/result-v1.json" "$fx/result-v3.json" --json "$tmp/mix.json" >"$tmp/mix.txt"
# FILE:INDEX replay commands when the result file is where config.out says.
python3 - "$fx" "$tmp" <<'PY'
import json, sys
fx, d = sys.argv[1:]
doc = json.load(open(f"{fx}/compare-v3.json"))
legacy = doc["runs"][0]["result"]
legacy["config"]["out"] = f"{d}/legacy.json"
json.dump(legacy, open(f"{d}/legacy.json", "w"))
# --check's failures: a data-losing race without a cause; a cause missing
# from root_causes; a data-losing report with no data-losing cause.
bad = json.loads(json.dumps(legacy))
del bad["races"][2]["root_cause"]
json.dump(bad, open(f"{d}/bad-nocause.json", "w"))
bad = json.loads(json.dumps(legacy))
bad["root_causes"] = [c for c in bad["root_causes"] if c["id"].startswith("do_wp_page")]
json.dump(bad, open(f"{d}/bad-missing.json", "w"))
bad = json.loads(json.dumps(legacy))
bad["races"] = []
for c in bad["root_causes"]:
    c["data_losing"] = False
json.dump(bad, open(f"{d}/bad-notlosing.json", "w"))
PY
"$reports" "$tmp/legacy.json" --json "$tmp/legacy-rows.json" >/dev/null
"$reports" --check "$fx"/*.json >"$tmp/check.txt"
grep -q "^check: 4 result(s) with root causes, 2 without (not checked): ok$" "$tmp/check.txt" ||
  { echo "FAIL: --check on the fixtures: $(cat "$tmp/check.txt")"; exit 1; }
for bad in nocause:"race 2 (I5 pte_after_truncate, data-losing, page 9) has no root_cause" \
           missing:"race 2 (I5 pte_after_truncate, data-losing, page 9): its root_cause __do_fault/mkwrite_to_pte/truncate/I5 is not in root_causes" \
           notlosing:"41 data-losing reports but no data-losing root cause"; do
  set +e; err="$("$reports" --check "$tmp/bad-${bad%%:*}.json" 2>&1 >/dev/null)"; rc=$?; set -e
  [[ $rc == 1 && "$err" == *"${bad#*:}"* ]] ||
    { echo "FAIL: --check bad-${bad%%:*}: exit $rc, '$err', want 1 and '${bad#*:}'"; exit 1; }
done
python3 - "$fx" "$tmp" <<'PY'
import json, re, sys
fx, d = sys.argv[1:]
rows = json.load(open(f"{d}/v3.json"))
causes = [r for r in rows if "root_cause" in r]
A = "do_wp_page/mkwrite_to_set_page_dirty/writeback/I2"
B = "__do_fault/mkwrite_to_pte/truncate/I5"
C = "//io/I4"
# One row per cause id, no signature rows: every race of these results has one.
assert [r["root_cause"] for r in rows] == [A, B, C], rows
by = {r["root_cause"]: r for r in rows}
# Counts are root_causes[].count summed (40 + 7 + 12), not the race table's
# (3 + 2 + 5): reports past the table count.
assert (by[A]["count"], by[A]["runs"], by[B]["count"], by[C]["count"]) == (59, 3, 1, 2), rows
assert by[A]["schemes"] == ["legacy", "mutant:unlock_before_set_page_dirty"], by[A]
assert by[A]["symptoms"] == {"I2 dirty_without_metadata": 57, "I0 lost_dirty": 2}, by[A]
assert by[A]["data_losing"] and by[B]["data_losing"] and not by[C]["data_losing"], rows
assert by[A]["signatures"] == 3 and by[A]["first_detected_s"] == 0.015, by[A]
# No symptom lost: every data-losing race of the inputs has its cause as a
# row, and each result with a data-losing race a data-losing cause row.
inputs = [r["result"] for r in json.load(open(f"{fx}/compare-v3.json"))["runs"]] + \
    [json.load(open(f"{fx}/result-v3.json"))]
for res in inputs:
    for race in res["races"]:
        assert not race["data_losing"] or by[race["root_cause"]]["data_losing"], race
    if any(race["data_losing"] for race in res["races"]):
        assert any(by[c["id"]]["data_losing"] for c in res["root_causes"]), res["config"]
verdicts = lambda r: {x["scheme"]: x["verdict"] for x in r["cross_scheme"]}
assert verdicts(by[A]) == {"locked": "never_entered",
                           "mutant:unlock_before_set_page_dirty": "broke"}, by[A]
assert verdicts(by[B]) == {"locked": "clean",
                           "mutant:unlock_before_set_page_dirty": "never_opened"}, by[B]
assert set(verdicts(by[C]).values()) == {"no_window"}, by[C]
text = open(f"{d}/v3.txt").read().splitlines()
assert text[0] == "3 root causes in 4 runs (5 distinct race signatures)", text[0]
lines = "\n".join(text)
for want in ["    locked: entered 0 times (never; opened 480 times in 1 run)\n"
             "    mutant:unlock_before_set_page_dirty: broke the same way (7 reports in 1 run)",
             "    locked: entered 2 times by truncate and stayed clean (opened 100 times in 1 run)\n"
             "    mutant:unlock_before_set_page_dirty: never opened (1 run)",
             "    locked: not seen (1 run; no window to compare)"]:
    assert want in lines, (want, lines)
assert sum(1 for l in text if re.match(r" *\d+x in ", l)) == 3, text
mix = json.load(open(f"{d}/mix.json"))
assert [r.get("root_cause", "sig") for r in mix] == [A, C, "sig"], mix
assert mix[2]["count"] == 5 and mix[2]["signature"] is None, mix[2]
assert mix[0]["replay"] is None, mix[0]  # A's only race is past result-v3's table
mixt = open(f"{d}/mix.txt").read().splitlines()
assert mixt[0] == "2 root causes in 1 run (1 distinct race signature)", mixt
assert "1 distinct race without a root cause (1 run written before root causes)" in mixt, mixt
leg = {r["root_cause"]: r for r in json.load(open(f"{d}/legacy-rows.json"))}
assert leg[A]["replay"] == f"pagerace --replay={d}/legacy.json:0", leg[A]
assert leg[B]["replay"] == f"pagerace --replay={d}/legacy.json:2", leg[B]
print("reports_test: causes ok")
PY

# scripts/compare on the same runs: a "root causes" column (distinct causes
# per scheme x cell) and one row per cause with its reports per scheme.
mkdir "$tmp/cmp"
"$root/scripts/compare" --merge "$fx/compare-v3.json" --out-dir "$tmp/cmp" >/dev/null 2>&1
python3 - "$tmp/cmp" <<'PY'
import glob, json, sys
d = sys.argv[1]
doc = json.load(open(glob.glob(f"{d}/compare-*.json")[0]))
assert [r["root_causes"] for r in doc["table"]] == [2, 0, 1], doc["table"]
assert [(c["id"], c["counts"]) for c in doc["causes"]] == [
    ("do_wp_page/mkwrite_to_set_page_dirty/writeback/I2",
     {"legacy": 40, "mutant:unlock_before_set_page_dirty": 7}),
    ("__do_fault/mkwrite_to_pte/truncate/I5", {"legacy": 1})], doc["causes"]
md = open(glob.glob(f"{d}/compare-*.md")[0]).read().splitlines()
assert md[0].endswith("| deadlocks | root causes |"), md[0]
assert md[6] == "| root cause | title | legacy | locked | mutant:unlock_before_set_page_dirty |", md
assert md[8].startswith("| `do_wp_page/mkwrite_to_set_page_dirty/writeback/I2` | do_wp_page: ") and \
    md[8].endswith(" **data-losing** | 40 | – | 7 |"), md[8]
print("reports_test: compare causes ok")
PY

# A fresh run: every row is one of the run's root causes (or, before pagerace
# wrote causes, signatures), and every cause (signature) of the run is a row.
set +e
"$bin" --scheme=legacy --fs=nfs --sched=jitter --seed=1 --duration=2s --stop-on=race \
  --out="$tmp/run.json" >/dev/null 2>&1
rc=$?
set -e
[[ $rc == 1 ]] || { echo "FAIL: legacy run exited $rc, want 1 (race)"; exit 1; }
"$reports" "$tmp/run.json" --json "$tmp/run-rows.json" >/dev/null
"$reports" --check "$tmp/run.json" >/dev/null || { echo "FAIL: --check on a fresh run"; exit 1; }
# A cause's best evidence: the explorer's story where an explore result of the
# input found it (here: the seed scenario, searched and shrunk), else the
# shortest recorded trace holding the window's opening.  A run that goes on
# past its first race (the seed's window is legacy's main cause on nfs).
set +e
"$bin" --scheme=legacy --fs=nfs --sched=jitter --seed=1 --duration=2s --out="$tmp/run2.json" \
  >/dev/null 2>&1
rc=$?
set -e
[[ $rc == 1 ]] || { echo "FAIL: legacy run exited $rc, want 1 (race)"; exit 1; }
"$reports" "$tmp/run2.json" --json "$tmp/run2-rows.json" >"$tmp/run2-rows.txt"
# The first 60 of its 147 schedules (the seed window's first violation comes
# before the 50th): the evidence is the shrunk violation, not the search's
# verdict, and the whole search costs half a minute under TSan.
set +e
"$bin" explore --scheme=legacy --fs=nfs --scenario=seed --preemptions=1 --max_schedules=60 \
  --out="$tmp/explore.json" >/dev/null 2>&1
rc=$?
set -e
[[ $rc == 1 ]] || { echo "FAIL: legacy explore exited $rc, want 1 (violations)"; exit 1; }
"$reports" "$tmp/run2.json" "$tmp/explore.json" --json "$tmp/ev-rows.json" >"$tmp/ev-rows.txt"
python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
W = "do_wp_page/mkwrite_to_set_page_dirty/writeback"
run = json.load(open(f"{d}/run2.json"))
ex = json.load(open(f"{d}/explore.json"))
# The run's own evidence: the shortest trace holding the window's opening.
evs = {c["id"]: c["evidence"] for c in run["root_causes"]}
assert evs.get(W), evs
ev = evs[W]
race = run["races"][ev["race"]]
assert race["root_cause"] == W and ev["from"] == "window_open", ev
assert race["trace"][-ev["events"]]["event"] == "window_open", (ev, race["trace"])
# The cause starts at the last opening before the intruder's entry (the
# last opening when no entry was kept): a later opening is another fault's.
def start(trace):
    ev_names = [e["event"] for e in trace]
    end = max([i for i, n in enumerate(ev_names) if n == "window_entered"], default=len(ev_names))
    opens = [i for i, n in enumerate(ev_names[:end]) if n == "window_open"]
    return opens[-1] if opens else None
assert all(ev["events"] <= len(r["trace"]) - start(r["trace"])
           for r in run["races"] if r["root_cause"] == W and start(r["trace"]) is not None), ev
rows = {r["root_cause"]: r for r in json.load(open(f"{d}/run2-rows.json")) if "root_cause" in r}
assert rows[W]["evidence"]["kind"] == "trace" and rows[W]["evidence"]["events"] == ev["events"], rows[W]
assert rows[W]["evidence"]["replay"], rows[W]
txt = open(f"{d}/run2-rows.txt").read()
assert f"    evidence: shortest recorded trace, legacy/nfs: {ev['events']} events from window_open" in txt, txt
# The run turned a race of the cause into an exact counterexample: reports
# prints its scenario, schedule, command and story.
x = [c for c in run["root_causes"] if c["id"] == W][0]["exact"]
assert x["found"], x
assert rows[W]["exact"]["schedule"] == x["schedule"] and rows[W]["exact"]["story"] == x["story"], rows[W]
assert rows[W]["exact"]["race_replay"] == f"pagerace --replay={d}/run2.json:{x['race']}", rows[W]["exact"]
assert "    exact: a stress race (legacy/nfs, from " in txt and f"schedule {x['schedule']}" in txt, txt
assert f"      {x['story'][0]}" in txt, txt
# With the explore result: the shrunk counterexample's story.
assert ex["minimal"]["root_cause"] == W, ex["minimal"]
assert [c["id"] for c in ex["root_causes"]] == [W], ex["root_causes"]
rows = {r["root_cause"]: r for r in json.load(open(f"{d}/ev-rows.json")) if "root_cause" in r}
e = rows[W]["evidence"]
assert e["kind"] == "explore" and e["minimal"] and e["preemptions"] == 1, e
assert e["story"] == ex["minimal"]["story"] and e["replay"] == ex["minimal"]["replay"], e
txt = open(f"{d}/ev-rows.txt").read()
assert "    evidence: minimal counterexample, legacy/nfs scenario seed, 1 preemption: " in txt, txt
assert "      1. mmap0: " in txt and "[enters the window" in txt, txt
print("reports_test: evidence ok")
PY

python3 - "$tmp" <<'PY'
import json, re, sys
d = sys.argv[1]
load = lambda n: json.load(open(f"{d}/{n}"))
v1 = load("v1.json")
assert len(v1) == 1 and v1[0]["signature"] is None and v1[0]["count"] == 5, v1
assert v1[0]["events"] == ["io:fs_metadata_retire", "mmap:pte_mkwrite..set_page_dirty"], v1
v2 = load("v2.json")
assert sorted((r["signature"], r["count"]) for r in v2) == \
    [("00000000000000aa", 5), ("00000000000000bb", 4)], v2
assert all(len(r["events"]) == 6 for r in v2), v2
both = load("both.json")
assert sorted((r["signature"] or "", r["count"]) for r in both) == \
    [("", 5), ("00000000000000aa", 5), ("00000000000000bb", 4)], both
run = json.load(open(f"{d}/run.json"))
assert run["schema"] == "pagerace.result/2", run["schema"]
sigs = {r["signature"] for r in run["races"]}
assert sigs and all(re.fullmatch(r"[0-9a-f]{16}", s) for s in sigs), sigs
assert all(len(r["signature_events"]) == min(6, len(r["trace"])) for r in run["races"])
rows = load("run-rows.json")
if "root_causes" in run:
    ids = {c["id"] for c in run["root_causes"]}
    assert {r["root_cause"] for r in rows if "root_cause" in r} == ids, (rows, ids)
    assert {r["root_cause"] for r in run["races"] if r.get("root_cause")} <= ids, run["races"]
    assert sum(r["count"] for r in rows if "root_cause" in r) == \
        sum(c["count"] for c in run["root_causes"]), rows
    assert {r["signature"] for r in rows if "signature" in r} == \
        {r["signature"] for r in run["races"] if not r.get("root_cause")}, rows
else:  # written before pagerace gave races a root cause
    assert {r["signature"] for r in rows} == sigs, (rows, sigs)
print("reports_test: ok")
PY
