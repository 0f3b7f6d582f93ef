#!/usr/bin/env python3
"""Prints the index of each race in a pagerace result whose trace holds the
seed's window itself: an mmap thread's ->page_mkwrite returns, the writeback
thread writes the page, then that mmap thread makes the pte writable (the
window the ordered replay's derivation forces; other races, e.g. reclaim's
unmap inside the window, or __do_fault's, are left out).

    seed_window_races.py RESULT.json [--data-losing]
"""
import json
import sys


def seed_window(race):
    ev = [(e["event"], e["thread"]) for e in race["trace"]]
    if any(e == "fault_write_nopage" for e, _ in ev):
        return False
    for a, (e, t) in enumerate(ev):
        if not e.startswith("page_mkwrite_return") or not t.startswith("mmap"):
            continue
        rest = ev[a + 1:]
        end = next((b for b, (e2, t2) in enumerate(rest) if t2 == t and e2 == "pte_mkwrite"), None)
        if end is not None and ("writepage", "writeback") in rest[:end]:
            return True
    return False


def main():
    losing_only = "--data-losing" in sys.argv[2:]
    try:
        races = json.load(open(sys.argv[1]))["races"]
    except (OSError, ValueError, KeyError):
        races = []
    for i, x in enumerate(races):
        if (x["data_losing"] or not losing_only) and seed_window(x):
            print(i)


if __name__ == "__main__":
    main()
