"""Root causes of race reports, across many results: one row per cause id,
what the other schemes did with the cause's window, and the check that no
data-losing report is left without a cause.  Imported by scripts/reports and
scripts/compare, which run from this folder.

pagerace defines the causes (results/SCHEMA.md, "Root causes"): each race of
a result carries `root_cause` (an id, compared for equality only) and
`root_cause_title`; the result lists `root_causes` (per cause: fault path,
window, intruder, first broken invariant, `count` of every report under it,
symptoms, `first_race`) and `windows` (per fault-path window: times opened,
and times each intruding role acted on the page while it was open).  Results
written before that carry none of these: `has_causes` is false for them and
their callers group them as before.
"""


def has_causes(result):
    """True for a result written with root causes (even a clean one: its
    `windows` still say what the scheme did)."""
    return "root_causes" in result or any("root_cause" in r for r in result.get("races", []))


def result_causes(result):
    """{id: cause} of one result.  A race whose cause is missing from
    `root_causes` (check() names it) gets a cause made from its races: count
    their `count`s, symptoms by invariant and kind, no window."""
    causes = {c["id"]: dict(c) for c in result.get("root_causes", [])}
    listed = set(causes)
    for i, race in enumerate(result.get("races", [])):
        cid = race.get("root_cause")
        if not cid or cid in listed:
            continue
        c = causes.setdefault(cid, {
            "id": cid, "title": race.get("root_cause_title", cid), "fault_path": "",
            "window": "", "intruder": "", "invariant": race.get("invariant", ""),
            "data_losing": False, "count": 0, "symptoms": {}, "first_detected_s": None,
            "first_race": i})
        n = race.get("count", 1)
        c["count"] += n
        c["data_losing"] = c["data_losing"] or bool(race.get("data_losing"))
        sym = f"{race.get('invariant', '')} {race.get('kind', '')}"
        c["symptoms"][sym] = c["symptoms"].get(sym, 0) + n
        t = race.get("detected_at_s")
        if t is not None and (c["first_detected_s"] is None or t < c["first_detected_s"]):
            c["first_detected_s"] = t
    return causes


class Run:
    """One result of the input, with where it came from."""

    def __init__(self, path, index, result):
        self.path, self.index, self.result = path, index, result
        self.cfg = result.get("config", {})
        self.scheme = self.cfg.get("scheme", "?")
        self.causes = result_causes(result)

    def replay(self, race_index, exists):
        """`pagerace --replay=FILE:INDEX` when the result file is there (as
        written by --out), else the race's own command line."""
        if race_index is None:
            return None
        out = self.cfg.get("out") or self.path
        if exists(out):
            return f"pagerace --replay={out}:{race_index}"
        races = self.result.get("races", [])
        return races[race_index].get("replay") if 0 <= race_index < len(races) else None


def explore_results(doc):
    """The explore results (schema pagerace.explore/...) a document holds: an
    explore result itself, or a compare file's `explore` records (--explore)."""
    if doc.get("schema", "").startswith("pagerace.explore/"):
        return [doc]
    return [rec["result"] for rec in doc.get("explore") or [] if "result" in rec]


def explore_evidence(explores):
    """{cause id: evidence} from explore results: per cause the schedule with
    the fewest preemptions (then one that lost data under the cause, then the
    shortest story) as {"kind": "explore", scheme, fs, scenario, preemptions,
    schedule, replay, story, minimal}; `minimal` when it is the search's shrunk
    counterexample (`minimal`, whose root_cause matches), whose story is the
    shortest the explorer tells.  Results written before root causes carry
    none."""
    best = {}
    for r in explores:
        cfg = r.get("config", {})
        where = {"scheme": cfg.get("scheme", "?"), "fs": cfg.get("fs", "?"),
                 "scenario": cfg.get("scenario", "?")}
        cands = []
        for c in r.get("root_causes") or []:
            cands.append((c.get("id"), dict(where, kind="explore", minimal=False,
                                           preemptions=c.get("preemptions", 0),
                                           data_losing=bool(c.get("schedule_data_losing")),
                                           schedule=c.get("schedule"), replay=c.get("replay"),
                                           story=c.get("story") or [])))
        m = r.get("minimal")
        if isinstance(m, dict) and m.get("root_cause"):
            cands.append((m["root_cause"], dict(where, kind="explore", minimal=True,
                                               preemptions=m.get("preemptions", 0),
                                               data_losing=bool(m.get("data_losing")),
                                               schedule=m.get("schedule"), replay=m.get("replay"),
                                               story=m.get("story") or [])))
        for cid, ev in cands:
            key = (ev["preemptions"], not ev["data_losing"], not ev["minimal"], len(ev["story"]))
            if cid and (cid not in best or key < best[cid][0]):
                best[cid] = (key, ev)
    return {cid: ev for cid, (_, ev) in best.items()}


def window_stats(runs):
    """{scheme: {"runs": n, "windows": {(fault_path, window): {"opened": n,
    "entered": {role: n}}}}} summed over each scheme's runs."""
    out = {}
    for run in runs:
        s = out.setdefault(run.scheme, {"runs": 0, "windows": {}, "has_windows": False})
        s["runs"] += 1
        if "windows" in run.result:
            s["has_windows"] = True
        for w in run.result.get("windows", []):
            acc = s["windows"].setdefault((w.get("fault_path", ""), w.get("window", "")),
                                          {"opened": 0, "entered": {}})
            acc["opened"] += w.get("opened", 0)
            for role, n in (w.get("entered") or {}).items():
                acc["entered"][role] = acc["entered"].get(role, 0) + n
    return out


def cause_rows(runs, exists, signature_key, explored=None):
    """One row per root-cause id over `runs` (Run objects with causes):
    count summed from each result's `root_causes` (reports past the race
    table included), runs, schemes, adapters, workloads, merged symptoms,
    data_losing, the first detection and a replay command for it, the
    distinct race signatures under it (`signature_key(run, race)`),
    `cross_scheme` (see cross_scheme), and `evidence`: the explorer's
    (`explored`, from explore_evidence) where it found the cause, else the
    shortest recorded trace holding the window's opening (kind "trace":
    events from there to the report, and a replay), else None."""
    rows = {}
    for run in runs:
        for cid, c in run.causes.items():
            row = rows.setdefault(cid, {
                "root_cause": cid, "title": c.get("title") or cid,
                "fault_path": c.get("fault_path", ""), "window": c.get("window", ""),
                "intruder": c.get("intruder", ""), "invariant": c.get("invariant", ""),
                "data_losing": False, "count": 0, "runs": 0, "schemes": [], "fs": [],
                "workloads": [], "symptoms": {}, "first_detected_s": None, "replay": None,
                "signatures": set(), "_first": None, "_counts": {}})
            row["count"] += c.get("count", 0)
            row["runs"] += 1
            row["_counts"].setdefault(run.scheme, [0, 0])
            row["_counts"][run.scheme][0] += c.get("count", 0)
            row["_counts"][run.scheme][1] += 1
            row["data_losing"] = row["data_losing"] or bool(c.get("data_losing"))
            for field, value in (("schemes", run.scheme), ("fs", run.cfg.get("fs", "?")),
                                 ("workloads", run.cfg.get("workload", "?"))):
                if value not in row[field]:
                    row[field].append(value)
            for sym, n in (c.get("symptoms") or {}).items():
                row["symptoms"][sym] = row["symptoms"].get(sym, 0) + n
            # The first occurrence that names a race to replay: a cause seen
            # only past the race table (first_race null) has none there.
            t = c.get("first_detected_s")
            first = (t is None, t if t is not None else 0.0)
            if row["first_detected_s"] is None or (t is not None and t < row["first_detected_s"]):
                row["first_detected_s"] = t
            replay = run.replay(c.get("first_race"), exists)
            if replay and (row["_first"] is None or first < row["_first"]):
                row["_first"], row["replay"] = first, replay
            # The shortest recorded trace holding the window's opening.
            ev = c.get("evidence")
            if isinstance(ev, dict) and ev.get("kind") == "trace":
                cur = row.get("_trace")
                if cur is None or ev.get("events", 0) < cur["events"]:
                    row["_trace"] = {"kind": "trace", "events": ev.get("events", 0),
                                     "from": ev.get("from", ""),
                                     "scheme": run.scheme, "fs": run.cfg.get("fs", "?"),
                                     "replay": run.replay(ev.get("race"), exists)}
            # A stress race of the cause turned into an exact counterexample
            # (root_causes[].exact): the fewest preemptions, then one that
            # lost data, then the shortest story; else why none was found.
            x = c.get("exact")
            if isinstance(x, dict):
                if x.get("found"):
                    key = (x.get("preemptions", 0), not x.get("data_losing"),
                           len(x.get("story") or []))
                    cur = row.get("_exact")
                    if cur is None or not cur.get("found") or key < cur["_key"]:
                        rec = {k: x.get(k) for k in ("found", "scenario", "schedule", "preemptions",
                                                      "data_losing", "story", "replay",
                                                      "derived_from")}
                        out = run.cfg.get("out") or run.path
                        rec.update(_key=key, scheme=run.scheme, fs=run.cfg.get("fs", "?"),
                                   race_replay=(f"pagerace --replay={out}:{x.get('race')}"
                                                if exists(out) else None))
                        row["_exact"] = rec
                elif row.get("_exact") is None:
                    row["_exact"] = {"found": False, "why_not": x.get("why_not", ""),
                                     "scheme": run.scheme, "fs": run.cfg.get("fs", "?")}
        for race in run.result.get("races", []):
            if race.get("root_cause") in rows:
                rows[race["root_cause"]]["signatures"].add(signature_key(run, race))
    stats = window_stats(runs)
    out = []
    for row in rows.values():
        row["signatures"] = len(row["signatures"])
        row["cross_scheme"] = cross_scheme(row, stats)
        row["evidence"] = (explored or {}).get(row["root_cause"]) or row.get("_trace")
        row.pop("_trace", None)
        row["exact"] = row.pop("_exact", None)
        if row["exact"]:
            row["exact"].pop("_key", None)
        del row["_first"], row["_counts"]
        out.append(row)
    out.sort(key=lambda r: (not r["data_losing"], -r["runs"], -r["count"], r["root_cause"]))
    return out


def cross_scheme(row, stats):
    """What every scheme of the input other than the one the cause was found
    under (its first scheme) did with the cause's window, as records
    {scheme, runs, verdict, ...}; verdict is one of
      broke       the cause appears in that scheme's runs too (count, in_runs)
      clean       a run of it had the intruder act in the window (entered)
                  and no report has this cause
      never_entered  it opened the window (opened) and the intruder never acted
      never_opened   no run of it opened the window
      no_window   the cause has no window to compare (window ""): not seen
      no_stats    its results carry no window statistics: not seen
    """
    out = []
    key = (row["fault_path"], row["window"])
    for scheme, s in stats.items():
        if scheme == row["schemes"][0]:
            continue
        rec = {"scheme": scheme, "runs": s["runs"]}
        counts = row["_counts"].get(scheme)
        w = s["windows"].get(key)
        if counts:
            rec.update(verdict="broke", count=counts[0], in_runs=counts[1])
        elif not row["window"]:
            rec["verdict"] = "no_window"
        elif not s["has_windows"]:
            rec["verdict"] = "no_stats"
        elif not w or w["opened"] == 0:
            rec["verdict"] = "never_opened"
        else:
            entered = (w["entered"].get(row["intruder"], 0) if row["intruder"]
                       else sum(w["entered"].values()))
            rec.update(verdict="clean" if entered else "never_entered", opened=w["opened"],
                       entered=entered)
        out.append(rec)
    return out


def plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def cross_scheme_text(rec, intruder):
    """One indented line of the cross-scheme view."""
    runs = plural(rec["runs"], "run")
    v = rec["verdict"]
    if v == "broke":
        text = f"broke the same way ({plural(rec['count'], 'report')} in {plural(rec['in_runs'], 'run')})"
    elif v == "clean":
        by = f" by {intruder}" if intruder else ""
        text = (f"entered {plural(rec['entered'], 'time')}{by} and stayed clean"
                f" (opened {plural(rec['opened'], 'time')} in {runs})")
    elif v == "never_entered":
        text = f"entered 0 times (never; opened {plural(rec['opened'], 'time')} in {runs})"
    elif v == "never_opened":
        text = f"never opened ({runs})"
    elif v == "no_window":
        text = f"not seen ({runs}; no window to compare)"
    else:
        text = f"not seen ({runs}; no window statistics)"
    return f"    {rec['scheme']}: {text}"


def evidence_lines(ev):
    """The indented lines that show a cause's evidence."""
    if not ev:
        return ["    evidence: none recorded (no race's trace holds the window's opening)"]
    if ev["kind"] == "explore":
        what = "minimal counterexample" if ev.get("minimal") else "exhaustive search"
        lines = [f"    evidence: {what}, {ev['scheme']}/{ev['fs']} scenario {ev['scenario']}, "
                 f"{plural(ev['preemptions'], 'preemption')}: {ev.get('replay') or '-'}"]
        return lines + [f"      {line}" for line in ev.get("story", [])]
    return [f"    evidence: shortest recorded trace, {ev['scheme']}/{ev['fs']}: "
            f"{plural(ev['events'], 'event')} from {ev.get('from') or 'the window'} to the "
            f"report: {ev.get('replay') or '-'}"]


def exact_lines(x):
    """The indented lines that show a cause's stress race as an exact
    counterexample (none when no result of the input tried one)."""
    if not x:
        return []
    if not x.get("found"):
        return [f"    exact: none for {x['scheme']}/{x['fs']}'s race: {x.get('why_not') or '-'}"]
    scenario = (x.get("scenario") or "").replace("\n", "|")
    lines = [f"    exact: a stress race ({x['scheme']}/{x['fs']}, from "
             f"{x.get('derived_from') or 'its trace'}) as scenario '{scenario}', schedule "
             f"{x.get('schedule')}, {plural(x.get('preemptions', 0), 'preemption')}"
             f"{', data-losing' if x.get('data_losing') else ''}: {x.get('replay') or '-'}"]
    if x.get("race_replay"):
        lines.append(f"      replay (serial, exact): {x['race_replay']}")
    return lines + [f"      {line}" for line in x.get("story") or []]


def check(path, index, result):
    """Problems (strings) that lose a symptom in one result with causes:
    a data-losing race without a root_cause, or whose cause is missing from
    root_causes or not marked data_losing there; any race whose cause is
    missing; a cause counting fewer reports than its races in the table; data-
    losing reports with no data-losing cause.  [] for a result without causes
    (nothing to check)."""
    if not has_causes(result):
        return []
    where = f"{path}" + (f" run {index}" if index is not None else "")
    causes = {c.get("id"): c for c in result.get("root_causes", [])}
    problems, table = [], {}
    for i, race in enumerate(result.get("races", [])):
        cid = race.get("root_cause")
        losing = bool(race.get("data_losing"))
        what = (f"{where}: race {i} ({race.get('invariant', '?')} {race.get('kind', '?')}"
                f"{', data-losing' if losing else ''}, page {race.get('page', '?')})")
        if not cid:
            if losing:
                problems.append(f"{what} has no root_cause")
            continue
        table[cid] = table.get(cid, 0) + race.get("count", 1)
        if cid not in causes:
            problems.append(f"{what}: its root_cause {cid} is not in root_causes")
        elif losing and not causes[cid].get("data_losing"):
            problems.append(f"{what}: its root_cause {cid} is not marked data_losing")
    for cid, n in table.items():
        if cid in causes and causes[cid].get("count", 0) < n:
            problems.append(f"{where}: root cause {cid} counts {causes[cid].get('count', 0)} "
                            f"reports, fewer than its races' {n}")
    losing_reports = result.get("stats", {}).get("data_losing_reports", 0) or \
        sum(1 for r in result.get("races", []) if r.get("data_losing"))
    if losing_reports and not any(c.get("data_losing") for c in causes.values()):
        problems.append(f"{where}: {plural(losing_reports, 'data-losing report')} but no "
                        "data-losing root cause")
    return problems
