#!/usr/bin/env bash
# scripts/reports merges races by the signature pagerace writes into each race
# (races[].signature, results/SCHEMA.md), and still reads results written
# before that field existed (schema pagerace.result/1) by its old grouping.
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

# A fresh run: every row is one of the run's signatures, and every signature
# of the run is a row.
set +e
"$bin" --scheme=legacy --fs=nfs --sched=jitter --seed=1 --duration=2s --stop-on=race \
  --out="$tmp/run.json" >/dev/null 2>&1
rc=$?
set -e
[[ $rc == 1 ]] || { echo "FAIL: legacy run exited $rc, want 1 (race)"; exit 1; }
"$reports" "$tmp/run.json" --json "$tmp/run-rows.json" >/dev/null

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
assert {r["signature"] for r in rows} == sigs, (rows, sigs)
print("reports_test: ok")
PY
