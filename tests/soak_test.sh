#!/usr/bin/env bash
# One long pagerace run and the verdict it must reach (ctest label `soak`,
# excluded from the default test run and CI; run with
# `ctest --preset release -L soak -j$(nproc)`).
#   soak_test.sh PAGERACE clean       ARGS...  exit 0, no race, faults counted
#   soak_test.sh PAGERACE losing      ARGS...  exit 1, a data_losing race
#   soak_test.sh PAGERACE trips:X     ARGS...  exit 1, a race of invariant or kind X
#   soak_test.sh PAGERACE keeps:X     ARGS...  exit 1, a race of X, none data-losing
# The result JSON and the summary are kept in $PAGERACE_SOAK_DIR when set.
# A combination pagerace refuses as a configuration (exit 2, e.g. a workload
# that needs ->page_mkwrite on an adapter without one) is skipped: exit 77.
set -uo pipefail
bin="$1"; want="$2"; shift 2
dir="${PAGERACE_SOAK_DIR:-$(mktemp -d)}"
[[ -n "${PAGERACE_SOAK_DIR:-}" ]] || trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir"
out="$dir/soak-$(printf '%s' "$want $*" | tr -c 'A-Za-z0-9=_.-' '_').json"
"$bin" "$@" --out="$out" 2>"$dir/stderr"
rc=$?
cat "$dir/stderr" >&2
if ((rc == 2)); then
  echo "soak skipped: pagerace refuses this configuration"
  exit 77
fi
python3 - "$out" "$want" "$rc" <<'PY'
import json, sys
path, want, rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = json.load(open(path))
races = r["races"]
def fail(msg):
    print(f"soak FAIL ({want}): exit {rc}, {msg}")
    sys.exit(1)
if want == "clean":
    if rc != 0 or races:
        fail(f"{len(races)} race signature(s): " +
             ", ".join(f"{x['kind']} {x['invariant']}" for x in races[:5]))
    if r["stats"]["faults"] == 0:
        fail("no faults: the run exercised nothing")
elif want == "losing":
    first = [x for x in races if x["data_losing"]]
    if rc != 1 or not first:
        fail("no data_losing race")
    print(f"soak: first data-losing race at {min(x['detected_at_s'] for x in first):.4f} s")
elif want.startswith("trips:"):
    inv = want.split(":", 1)[1]
    hit = [x for x in races if inv in (x["invariant"], x["kind"])]
    if rc != 1 or not hit:
        fail(f"no {inv} race (saw: {sorted({x['invariant'] for x in races})})")
    print(f"soak: first {inv} at {min(x['detected_at_s'] for x in hit):.4f} s")
elif want.startswith("keeps:"):
    inv = want.split(":", 1)[1]
    hit = [x for x in races if inv in (x["invariant"], x["kind"])]
    if rc != 1 or not hit:
        fail(f"no {inv} race (saw: {sorted({x['invariant'] for x in races})})")
    losing = [x for x in races if x["data_losing"]]
    if losing:
        fail("data-losing: " + ", ".join(f"{x['kind']} {x['invariant']}" for x in losing[:5]))
    print(f"soak: {len(hit)} {inv} signature(s), nothing lost")
else:
    fail(f"unknown expectation '{want}'")
print(f"soak ok ({want}): {r['stats']['faults']} faults in {r['stats']['elapsed_s']:.1f} s")
PY
