#include "harness/run/result_json.h"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_join.h"
#include "harness/base/thread_registry.h"
#include "harness/check/race_signature.h"
#include "harness/check/root_cause.h"
#include "harness/run/build_info.h"

namespace pagerace {
std::string ScenarioSpec(const Scenario& s);
std::string GupFlags(const RunConfig& c);

namespace {

// A stress race turned into an exact counterexample (exact.h), under its
// root cause: the shrunk scenario, the schedule and its story, and a
// command that runs that schedule; or why none was found.
nlohmann::json ExactToJson(const ExactCounterexample& x, const RunConfig& c) {
  if (!x.found) {
    return {{"found", false}, {"race", x.race >= 0 ? nlohmann::json(x.race) : nlohmann::json()},
            {"why_not", x.why_not}, {"candidates", x.candidates}, {"runs", x.executions},
            {"elapsed_s", x.elapsed_s}};
  }
  std::string text = x.scenario.text;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return {{"found", true},
          {"race", x.race},
          {"derived_from", x.anchor},
          {"derived_scenario", x.derived_text},
          {"scenario", text},
          {"schedule", x.schedule},
          {"preemptions", x.preemptions},
          {"data_losing", x.data_losing},
          {"kind", RaceKindName(x.kind)},
          {"invariant", InvariantName(x.invariant)},
          {"story", x.story},
          {"candidates", x.candidates},
          {"runs", x.executions},
          {"elapsed_s", x.elapsed_s},
          {"replay", absl::StrFormat("%s --scheme=%s --fs=%s%s --scenario=%s --schedule=%s",
                                     c.binary.empty() ? "pagerace" : c.binary, c.scheme->name,
                                     c.fs->name, GupFlags(c), ScenarioSpec(x.scenario),
                                     x.schedule)}};
}

nlohmann::json RaceToJson(const RaceGroup& g, const RunResult& res) {
  const RunConfig& config = res.config;
  const RaceRecord& r = g.first;
  nlohmann::json trace = nlohmann::json::array();
  for (int i = 0; i < r.trace_len; ++i) {
    trace.push_back({{"t_ns", r.trace[i].t_ns},
                     {"tid", r.trace[i].tid},
                     {"thread", res.role_of(r.trace[i].tid)},
                     {"event", EventName(r.trace[i].event)}});
  }
  const RaceSignature sig = SignatureOf(r);
  nlohmann::json sig_events = nlohmann::json::array();
  for (Event e : sig.events) sig_events.push_back(EventName(e));
  nlohmann::json j = {
      {"kind", RaceKindName(r.kind)},
      {"invariant", InvariantName(r.invariant)},
      {"data_losing", r.data_losing},
      {"page", r.page},
      {"detected_at_s", static_cast<double>(r.t_ns) / 1e9},
      {"detected_by", res.role_of(r.tid)},
      {"count", g.count},
      {"signature", sig.hex},
      {"signature_events", sig_events},
      {"root_cause", RootCause::Unpack(r.cause).Id()},
      {"root_cause_title", RootCause::Unpack(r.cause).Title()},
      {"trace", trace},
      {"replay", ReplayCommand(config)},
  };
  if (r.detail[0]) j["detail"] = r.detail;
  if (r.kind == RaceKind::kLostWrite) {
    j["expected_stamp"] = absl::StrFormat("0x%016x", r.expected);
    j["found_stamp"] = absl::StrFormat("0x%016x", r.found);
  }
  return j;
}

std::string KernelRelease() {
  struct utsname u;
  if (uname(&u) != 0) return "unknown";
  return u.release;
}

std::string Rate(double n, double s) {
  if (s <= 0) return "0";
  double r = n / s;
  if (r >= 1e6) return absl::StrFormat("%.2fM", r / 1e6);
  if (r >= 1e3) return absl::StrFormat("%.1fk", r / 1e3);
  return absl::StrFormat("%.0f", r);
}

}  // namespace

// The most basic invariant a cause broke: the first of the chain a lost
// dirty state runs down (the pte and metadata invariants, then writepage,
// counters and fs, then the lost bytes) among its symptoms.
const char* PrimaryInvariant(const CauseTracker::CauseCount& cc) {
  static constexpr Invariant kOrder[] = {Invariant::kI1, Invariant::kI2, Invariant::kI5,
                                         Invariant::kI6, Invariant::kI9, Invariant::kI7,
                                         Invariant::kI3, Invariant::kI8, Invariant::kI10,
                                         Invariant::kI4, Invariant::kFs,  Invariant::kI0,
                                         Invariant::kLedger};
  for (Invariant inv : kOrder) {
    for (int k = 0; k < kNumRaceKinds; ++k) {
      if (cc.by_kind[k] && RaceKindInvariant(static_cast<RaceKind>(k)) == inv) return InvariantName(inv);
    }
  }
  for (int k = 0; k < kNumRaceKinds; ++k) {
    if (cc.by_kind[k]) return InvariantName(RaceKindInvariant(static_cast<RaceKind>(k)));
  }
  return "";
}

nlohmann::json ResultToJson(const RunResult& res) {
  const RunConfig& c = res.config;
  nlohmann::json stats;
  for (int s = 0; s < static_cast<int>(Stat::kNumStats); ++s) {
    stats[StatName(static_cast<Stat>(s))] = res.stats[s];
  }
  stats["elapsed_s"] = res.elapsed_s;
  stats["fault_latency_ns"] = {{"p50", res.fault_p50_ns}, {"p99", res.fault_p99_ns}};
  stats["faults_per_s"] = res.elapsed_s > 0 ? res.stat(Stat::kFaults) / res.elapsed_s : 0.0;
  stats["jitter_delays"] = res.jitter_delays;
  stats["race_reports"] = res.race_reports;
  stats["data_losing_reports"] = res.data_losing_reports;
  stats["ungrouped_reports"] = res.ungrouped_reports;
  nlohmann::json races = nlohmann::json::array();
  for (const RaceGroup& g : res.races) races.push_back(RaceToJson(g, res));
  nlohmann::json causes = nlohmann::json::array();
  for (const CauseTracker::CauseCount& cc : res.causes) {
    const RootCause rc = RootCause::Unpack(cc.cause);
    nlohmann::json symptoms = nlohmann::json::object();
    for (int k = 0; k < kNumRaceKinds; ++k) {
      if (!cc.by_kind[k]) continue;
      const auto kind = static_cast<RaceKind>(k);
      symptoms[absl::StrCat(InvariantName(RaceKindInvariant(kind)), " ", RaceKindName(kind))] =
          cc.by_kind[k];
    }
    nlohmann::json first_race = nullptr;
    nlohmann::json first_s = nullptr;
    for (size_t i = 0; i < res.races.size(); ++i) {
      if (res.races[i].first.cause != cc.cause) continue;
      if (first_s.is_null() || res.races[i].first.t_ns / 1e9 < first_s.get<double>()) {
        first_race = i;
        first_s = res.races[i].first.t_ns / 1e9;
      }
    }
    // The cause's best recorded evidence: of its races whose trace holds the
    // window's opening (or the transition), the one with the fewest events
    // from there to the report.
    nlohmann::json evidence = nullptr;
    int best = -1;
    for (size_t i = 0; i < res.races.size(); ++i) {
      const RaceRecord& race = res.races[i].first;
      if (race.cause != cc.cause || rc.window == FaultWindow::kNone) continue;
      std::vector<Event> events;
      for (int k = 0; k < race.trace_len; ++k) events.push_back(race.trace[k].event);
      const int k = CauseStartIndex(events, race.cause);
      if (k < 0) continue;
      const int after = race.trace_len - k;
      if (best < 0 || after < best) {
        best = after;
        evidence = {{"kind", "trace"}, {"race", i}, {"events", after},
                    {"from", EventName(events[k])}};
      }
    }
    causes.push_back({{"id", rc.Id()},
                      {"title", rc.Title()},
                      {"fault_path", FaultPathName(rc.path)},
                      {"window", rc.window == FaultWindow::kNone ? "" : FaultWindowName(rc.window)},
                      {"intruder", rc.intruder == RootCause::kNoIntruder
                                       ? ""
                                       : RoleKindName(static_cast<RoleKind>(rc.intruder))},
                      {"invariant", PrimaryInvariant(cc)},
                      {"data_losing", cc.data_losing},
                      {"count", cc.count},
                      {"symptoms", symptoms},
                      {"first_detected_s", first_s},
                      {"first_race", first_race},
                      {"evidence", evidence}});
    for (const ExactCounterexample& x : res.exact) {
      if (x.cause == cc.cause) causes.back()["exact"] = ExactToJson(x, c);
    }
  }
  nlohmann::json windows = nlohmann::json::array();
  for (const CauseTracker::WindowCount& w : res.windows) {
    nlohmann::json entered = nlohmann::json::object();
    for (int r = 0; r < kNumRoleKinds; ++r) {
      if (w.entered[r]) entered[RoleKindName(static_cast<RoleKind>(r))] = w.entered[r];
    }
    windows.push_back({{"fault_path", FaultPathName(w.path)},
                       {"window", FaultWindowName(w.window)},
                       {"text", FaultWindowText(w.window)},
                       {"opened", w.opened},
                       {"entered", entered}});
  }
  nlohmann::json config = {
      {"scheme", c.scheme->name}, {"fs", c.fs->name}, {"workload", c.workload->name},
      {"threads", c.threads}, {"pwriters", c.pwriters}, {"pages", c.pages},
      {"mappings", c.mappings}, {"seed", c.seed},
      {"sched", sched::PolicyName(c.sched)}, {"out", c.out},
  };
  if (c.sched == sched::Policy::kOrdered) config["order"] = c.order;
  if (!c.stop_on.empty()) config["stop_on"] = c.stop_on;
  if (!c.reverts.empty()) config["revert"] = c.reverts.Joined();
  if (WorkloadHasGup(*c.workload)) {
    config["gup"] = GupModeName(c.gup);
    config["pin_writeback"] = PinWritebackName(c.pin_writeback);
  }
  if (c.sched == sched::Policy::kJitter) config["jitter_max_us"] = c.jitter_max_us;
  if (c.sched == sched::Policy::kPct) {
    config["pct_depth"] = c.pct_depth;
    stats["pct"] = {{"n", res.pct.n},
                    {"k", res.pct.k},
                    {"d", res.pct.d},
                    {"steps", res.pct.steps},
                    {"lower_bound", res.pct.bound()},
                    {"note", "bound of strict PCT for a bug of depth d; approximated here"}};
  }
  if (c.ops) {
    config["ops"] = c.ops;
    config["duration"] = nullptr;
  } else {
    config["ops"] = nullptr;
    config["duration"] = DurationFlag(c.duration);
  }
  return {
      {"schema", kResultSchema},
      {"config", config},
      {"env",
       {{"kernel", KernelRelease()},
        {"cores", std::thread::hardware_concurrency()},
        {"page_size", sysconf(_SC_PAGESIZE)},
        {"git_commit", std::string(kGitCommit)}}},
      {"stats", stats},
      {"notes", GupNotes(c, static_cast<uint64_t>(res.stat(Stat::kGupRefused)))},
      {"races", races},
      {"root_causes", causes},
      {"windows", windows},
      {"interrupted", res.interrupted},
      {"deadlocked", res.deadlocked},
      {"verdict", res.race_found() ? "race" : "clean"},
  };
}

namespace {

// Writes `text` to a temporary file next to `path` and renames it over.  A
// target that exists and is not a regular file (/dev/null, /dev/stdout, a
// FIFO) is written in place: renaming over it would replace the device node.
absl::Status WriteFileAtomic(const std::string& path, const std::string& text) {
  struct stat st;
  const bool in_place = stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
  const std::string target = in_place ? path : absl::StrCat(path, ".tmp.", getpid());
  FILE* f = fopen(target.c_str(), "w");
  if (!f) return absl::InternalError(absl::StrCat("cannot write ", target, ": ", strerror(errno)));
  bool ok = fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = (fflush(f) == 0) && ok;
  if (!in_place) ok = (fsync(fileno(f)) == 0) && ok;  // a device or FIFO cannot fsync
  ok = (fclose(f) == 0) && ok;
  if (!ok || (!in_place && rename(target.c_str(), path.c_str()) != 0)) {
    const int e = errno;
    if (!in_place) unlink(target.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", strerror(e)));
  }
  return absl::OkStatus();
}

struct PageEvent {
  uint64_t page;
  TraceEntry e;
};

// One process of the Chrome trace: a track per thread, the page lock held as
// a span ("X"), a root-cause window (window_open .. window_close, named
// `window_name`) as a span, every other event an instant ("i"), named as in
// reports.
void AppendTimeline(nlohmann::json* out, const RunResult& res, int pid, const std::string& name,
                    std::vector<PageEvent> events, const std::string& window_name) {
  std::sort(events.begin(), events.end(),
            [](const PageEvent& a, const PageEvent& b) { return a.e.t_ns < b.e.t_ns; });
  out->push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", pid}, {"tid", 0},
                  {"ts", 0}, {"args", {{"name", name}}}});
  std::set<uint32_t> tids;
  std::map<std::pair<uint32_t, uint64_t>, int64_t> held;  // (tid, page) -> since
  const int64_t last = events.empty() ? 0 : events.back().e.t_ns;
  auto us = [](int64_t ns) { return static_cast<double>(ns) / 1e3; };
  auto span = [&](uint32_t tid, uint64_t page, int64_t from, int64_t to, bool open) {
    nlohmann::json j = {{"name", absl::StrCat("page ", page, " locked")},
                        {"cat", "page_lock"}, {"ph", "X"}, {"pid", pid}, {"tid", tid},
                        {"ts", us(from)}, {"dur", us(to - from)}, {"args", {{"page", page}}}};
    if (open) j["args"]["still_held"] = true;
    out->push_back(std::move(j));
  };
  std::map<std::pair<uint32_t, uint64_t>, int64_t> windows;  // (tid, page) -> opened
  auto window_span = [&](uint32_t tid, uint64_t page, int64_t from, int64_t to, bool open) {
    nlohmann::json j = {{"name", window_name}, {"cat", "root_cause_window"}, {"ph", "X"},
                        {"pid", pid}, {"tid", tid}, {"ts", us(from)}, {"dur", us(to - from)},
                        {"args", {{"page", page}}}};
    if (open) j["args"]["still_open"] = true;
    out->push_back(std::move(j));
  };
  for (const PageEvent& pe : events) {
    const TraceEntry& e = pe.e;
    tids.insert(e.tid);
    if (e.event == Event::kWindowOpen) {
      windows[{e.tid, pe.page}] = e.t_ns;
    } else if (e.event == Event::kWindowClose) {
      auto it = windows.find({e.tid, pe.page});
      if (it == windows.end()) continue;  // opened before the trace's window
      window_span(e.tid, pe.page, it->second, e.t_ns, false);
      windows.erase(it);
    } else if (e.event == Event::kLockPage) {
      held[{e.tid, pe.page}] = e.t_ns;
    } else if (e.event == Event::kUnlockPage) {
      auto it = held.find({e.tid, pe.page});
      if (it == held.end()) {
        // A lock handed to a write's completion (hand_off_page_lock) is
        // released on another thread: the span stays on the taker's track.
        it = std::find_if(held.begin(), held.end(),
                          [&](const auto& h) { return h.first.second == pe.page; });
      }
      if (it == held.end()) continue;  // taken before the trace's window
      span(it->first.first, pe.page, it->second, e.t_ns, false);
      held.erase(it);
    } else {
      out->push_back({{"name", EventName(e.event)}, {"cat", "page"}, {"ph", "i"}, {"s", "t"},
                      {"pid", pid}, {"tid", e.tid}, {"ts", us(e.t_ns)},
                      {"args", {{"page", pe.page}}}});
    }
  }
  for (const auto& [key, since] : held) span(key.first, key.second, since, last, true);
  for (const auto& [key, since] : windows) window_span(key.first, key.second, since, last, true);
  for (uint32_t tid : tids) {
    out->push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"ts", 0},
                    {"args", {{"name", res.role_of(tid)}}}});
  }
}

}  // namespace

absl::Status WriteChromeTrace(const RunResult& res, const std::string& path) {
  nlohmann::json events = nlohmann::json::array();
  const RunConfig& c = res.config;
  std::vector<PageEvent> run;
  for (const auto& [page, trace] : res.page_traces) {
    for (const TraceEntry& e : trace) run.push_back({page, e});
  }
  AppendTimeline(&events, res, 1,
                 absl::StrCat("run: ", c.scheme->name, " ", c.fs->name, " ", c.workload->name, " seed ", c.seed,
                              " (each page's last events)"),
                 std::move(run), "fault window (root cause)");
  for (size_t i = 0; i < res.races.size(); ++i) {
    const RaceRecord& r = res.races[i].first;
    std::vector<PageEvent> race;
    for (int k = 0; k < r.trace_len; ++k) race.push_back({r.page, r.trace[k]});
    AppendTimeline(&events, res, 100 + static_cast<int>(i),
                   absl::StrCat("race ", i, ": ", RaceKindName(r.kind), " ",
                                InvariantName(r.invariant), " page ", r.page,
                                r.data_losing ? " (data-losing)" : ""),
                   std::move(race), RootCause::Unpack(r.cause).window == FaultWindow::kNone
                                        ? std::string("fault window")
                                        : RootCause::Unpack(r.cause).Title());
  }
  nlohmann::json doc = {{"traceEvents", events}, {"displayTimeUnit", "ns"}};
  return WriteFileAtomic(path, doc.dump() + "\n");
}

absl::Status WriteResultFile(const RunResult& result, const std::string& path) {
  return WriteFileAtomic(path, ResultToJson(result).dump(2) + "\n");
}

std::string FormatSummary(const RunResult& res) {
  const RunConfig& c = res.config;
  const double s = res.elapsed_s;
  std::string out = absl::StrFormat(
      "pagerace: scheme=%s fs=%s workload=%s threads=%d pwriters=%d pages=%d mappings=%d "
      "seed=%d sched=%s%s\n",
      c.scheme->name, c.fs->name, c.workload->name, c.threads, c.pwriters, c.pages, c.mappings, c.seed,
      sched::PolicyName(c.sched), res.interrupted ? " (interrupted)" : "");
  absl::StrAppendFormat(
      &out, "  %.2f s: %d ops (%s/s), %d faults (%s/s; wp %d, nopage %d), mkwrite %d\n", s,
      res.stat(Stat::kOps), Rate(res.stat(Stat::kOps), s), res.stat(Stat::kFaults),
      Rate(res.stat(Stat::kFaults), s), res.stat(Stat::kFaultsWp), res.stat(Stat::kFaultsNopage),
      res.stat(Stat::kMkwriteCalls));
  absl::StrAppendFormat(&out,
                        "  writepage %d, pwrites %d, evictions %d; fault latency p50 %.1f us, "
                        "p99 %.1f us\n",
                        res.stat(Stat::kWritebacks), res.stat(Stat::kPwrites),
                        res.stat(Stat::kEvictions), res.fault_p50_ns / 1e3,
                        res.fault_p99_ns / 1e3);
  if (WorkloadHasGup(*c.workload)) {
    absl::StrAppendFormat(&out, "  gup=%s pin-writeback=%s: %d pins, writeback skipped %d, bounced %d, reclaim kept %d\n",
                          GupModeName(c.gup), PinWritebackName(c.pin_writeback),
                          res.stat(Stat::kGupPins), res.stat(Stat::kPinnedSkipped),
                          res.stat(Stat::kPinnedBounced), res.stat(Stat::kPinnedKept));
  }
  for (const std::string& note : GupNotes(c, static_cast<uint64_t>(res.stat(Stat::kGupRefused)))) {
    absl::StrAppendFormat(&out, "  note: %s\n", note);
  }
  if (c.sched == sched::Policy::kPct) {
    absl::StrAppendFormat(&out,
                          "  pct: n=%d threads, k=%d steps, d=%d (%d steps taken): strict PCT "
                          "finds a depth-%d bug with p >= %.3g per run\n",
                          res.pct.n, res.pct.k, res.pct.d, res.pct.steps, res.pct.d,
                          res.pct.bound());
  }
  if (!res.race_found()) {
    absl::StrAppend(&out, "  races: none\n  verdict: clean\n");
    return out;
  }
  absl::StrAppendFormat(&out, "  races: %d reports (%d data-losing), %d distinct\n",
                        res.race_reports, res.data_losing_reports, res.races.size());
  int shown = 0;
  for (const RaceGroup& g : res.races) {
    if (++shown > 8) {
      absl::StrAppendFormat(&out, "    ... %d more in the result JSON\n", res.races.size() - 8);
      break;
    }
    const RaceRecord& r = g.first;
    absl::StrAppendFormat(&out, "    %-27s %-6s page %-4d first at %.4f s  x%d%s\n",
                          RaceKindName(r.kind), InvariantName(r.invariant), r.page,
                          r.t_ns / 1e9, g.count, r.data_losing ? "  DATA-LOSING" : "");
  }
  // One line per root cause: what made the reports above (and those past
  // the table), with every symptom it led to.
  absl::StrAppendFormat(&out, "  root causes: %d\n", res.causes.size());
  for (const CauseTracker::CauseCount& cc : res.causes) {
    std::string symptoms;
    for (int k = 0; k < kNumRaceKinds; ++k) {
      if (!cc.by_kind[k]) continue;
      absl::StrAppendFormat(&symptoms, "%s%s x%d", symptoms.empty() ? "" : ", ",
                            InvariantName(RaceKindInvariant(static_cast<RaceKind>(k))), cc.by_kind[k]);
    }
    absl::StrAppendFormat(&out, "    %6dx %s [%s]%s\n", cc.count, RootCause::Unpack(cc.cause).Title(),
                          symptoms, cc.data_losing ? "  DATA-LOSING" : "");
    // Its race as an exact counterexample (exact.h): the shrunk scenario,
    // the schedule, and the command that runs it.
    for (const ExactCounterexample& x : res.exact) {
      if (x.cause != cc.cause) continue;
      if (!x.found) {
        absl::StrAppendFormat(&out, "            exact: none: %s\n", x.why_not);
        continue;
      }
      std::string text = x.scenario.text;
      while (!text.empty() && text.back() == '\n') text.pop_back();
      absl::StrAppendFormat(
          &out, "            exact (race %d, %d preemption%s%s): %s\n", x.race, x.preemptions,
          x.preemptions == 1 ? "" : "s", x.data_losing ? ", data-losing" : "",
          ExactToJson(x, c).at("replay").get<std::string>());
    }
  }
  // The details of the groups shown, each once (a deadlock's says who waits
  // for whom).
  std::vector<std::string> details;
  for (size_t i = 0; i < res.races.size() && i < 8; ++i) {
    const RaceRecord& r = res.races[i].first;
    if (!r.detail[0]) continue;
    std::string line = absl::StrFormat("    %s: %s\n", RaceKindName(r.kind), r.detail);
    if (std::find(details.begin(), details.end(), line) != details.end()) continue;
    details.push_back(line);
    out += line;
  }
  absl::StrAppendFormat(&out, "  verdict: %s\n  replay: %s\n", res.deadlocked ? "deadlock" : "race",
                        ReplayCommand(c));
  return out;
}

// How `--scenario` names `s` for a replay: its built-in name when it is one
// unchanged, else its text inline (shell-quoted).
std::string ScenarioSpec(const Scenario& s) {
  for (const BuiltinScenario& b : BuiltinScenarios()) {
    if (s.name == b.name && s.text == b.text) return s.name;
  }
  std::string text = FormatScenario(s);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return absl::StrCat("'text:", absl::StrReplaceAll(text, {{"\n", "|"}}), "'");
}

// --gup, --pin-writeback and --revert as given (ConfigCommand's words).
std::string GupFlags(const RunConfig& c) {
  std::string out;
  if (c.gup_given) absl::StrAppend(&out, " --gup=", GupModeName(c.gup));
  if (c.pin_writeback != PinWriteback::kNone) {
    absl::StrAppend(&out, " --pin-writeback=", PinWritebackName(c.pin_writeback));
  }
  if (!c.reverts.empty()) absl::StrAppend(&out, " --revert=", c.reverts.Joined());
  return out;
}

std::string ScheduleReplay(const ExploreResult& r, const Scenario& s, const std::string& schedule) {
  return absl::StrFormat("%s --scheme=%s --fs=%s%s --scenario=%s --schedule=%s",
                         r.config.binary.empty() ? "pagerace" : r.config.binary, r.config.scheme->name,
                         r.config.fs->name, GupFlags(r.config), ScenarioSpec(s), schedule);
}

nlohmann::json ExploreToJson(const ExploreResult& r) {
  const bool dfs = r.options.strategy == ExploreStrategy::kDfs;
  nlohmann::json bounds = nlohmann::json::array();
  for (const ExploreBound& b : r.bounds) {
    bounds.push_back({{"preemptions", b.preemptions}, {"schedules", b.schedules},
                      {"elapsed_s", b.elapsed_s}, {"traces", b.traces},
                      {"sleep_blocked", b.sleep_blocked}, {"pruned", b.pruned}, {"cut", b.cut},
                      {"executions", b.executions}});
  }
  nlohmann::json violations = nlohmann::json::array();
  for (const ExploreViolation& v : r.violations) {
    violations.push_back({{"kind", RaceKindName(v.kind)},
                          {"invariant", InvariantName(v.invariant)},
                          {"data_losing", v.data_losing},
                          {"preemptions", v.preemptions},
                          {"schedule", v.schedule},
                          {"page", v.page},
                          {"detail", v.detail},
                          {"schedules", v.schedules},
                          {"deterministic", v.deterministic},
                          {"nondeterminism", v.nondeterminism},
                          {"root_cause", RootCause::Unpack(v.cause).Id()},
                          {"root_cause_title", RootCause::Unpack(v.cause).Title()},
                          {"replay", ScheduleReplay(r, r.scenario, v.schedule)}});
    if (dfs) {
      violations.back()["dfs_order"] = {v.dfs_subtree, v.dfs_run};
    } else {
      violations.back()["rate"] = r.schedules ? static_cast<double>(v.schedules) / r.schedules : 0.0;
    }
  }
  nlohmann::json minimal = nullptr;
  if (r.has_minimal) {
    const MinimalCounterexample& m = r.minimal;
    minimal = {{"kind", RaceKindName(m.violation.kind)},
               {"invariant", InvariantName(m.violation.invariant)},
               {"data_losing", m.violation.data_losing},
               {"preemptions", m.violation.preemptions},
               {"schedule", m.schedule},
               {"scenario_text", m.scenario.text},
               {"ops", m.ops},
               {"original_ops", m.original_ops},
               {"candidates", m.candidates},
               {"story", m.story},
               {"root_cause", RootCause::Unpack(m.violation.cause).Id()},
               {"root_cause_title", RootCause::Unpack(m.violation.cause).Title()},
               {"replay", ScheduleReplay(r, m.scenario, m.schedule)}};
  }
  nlohmann::json config = {{"scheme", r.config.scheme->name},
                            {"fs", r.config.fs->name},
                            {"scenario", r.scenario.name},
                            {"scenario_text", r.scenario.text},
                            {"strategy", ExploreStrategyName(r.options.strategy)},
                            {"max_preemptions", r.options.max_preemptions},
                            {"max_schedules", r.options.max_schedules},
                            {"por", ExplorePorName(r.options.por)}};
  if (r.config.gup_given) config["gup"] = GupModeName(r.config.gup);
  if (r.config.pin_writeback != PinWriteback::kNone) {
    config["pin_writeback"] = PinWritebackName(r.config.pin_writeback);
  }
  if (!r.config.reverts.empty()) config["revert"] = r.config.reverts.Joined();
  if (dfs) {
    config["seed"] = nullptr;
    config["shard"] = r.options.shard_count > 1 && r.options.shard_index > 0
                          ? nlohmann::json(absl::StrCat(r.options.shard_index, "/",
                                                        r.options.shard_count))
                          : nlohmann::json(nullptr);
    config["shard_count"] = r.options.shard_count;
    config["shard_depth"] = r.options.shard_depth;
  } else {
    config["max_preemptions"] = nullptr;
    config["seed"] = r.options.seed;
    config["shard"] = nullptr;
  }
  nlohmann::json causes = nlohmann::json::array();
  for (const ExploreCause& c : r.causes) {
    const RootCause rc = RootCause::Unpack(c.cause);
    nlohmann::json symptoms = nlohmann::json::array();
    for (int k = 0; k < kNumRaceKinds; ++k) {
      if (!(c.symptoms >> k & 1)) continue;
      const auto kind = static_cast<RaceKind>(k);
      symptoms.push_back(absl::StrCat(InvariantName(RaceKindInvariant(kind)), " ", RaceKindName(kind)));
    }
    causes.push_back({{"id", rc.Id()},
                      {"title", rc.Title()},
                      {"code", c.cause},
                      {"data_losing", c.data_losing},
                      {"preemptions", c.preemptions},
                      {"schedule", c.schedule},
                      {"schedule_data_losing", c.schedule_data_losing},
                      {"schedules", c.schedules},
                      {"symptoms", symptoms},
                      {"replay", ScheduleReplay(r, r.scenario, c.schedule)},
                      {"story", c.story}});
    if (dfs) causes.back()["dfs_order"] = {c.dfs_subtree, c.dfs_run};
  }
  nlohmann::json j = {{"schema", kExploreSchema},
          {"config", config},
          {"bounds", bounds},
          {"schedules", r.schedules},
          {"executions", r.executions},
          {"complete", r.complete},
          {"complete_unbounded", r.complete_unbounded},
          {"deadlocked", r.deadlocked},
          {"elapsed_s", r.elapsed_s},
          {"schedules_per_s", r.schedules_per_s()},
          {"violations", violations},
          {"root_causes", causes},
          {"nondeterministic", r.nondeterministic},
          {"minimal", minimal},
          {"verdict", r.violations.empty() ? "clean" : "violations"}};
  j["violating_schedules"] = r.violating_schedules;
  j["writable_during_writeback_schedules"] = r.writable_during_writeback_schedules;
  if (!dfs) j["observed_rate"] = r.observed_rate();
  if (r.options.strategy == ExploreStrategy::kPct) {
    j["pct"] = {{"n", r.pct.n},
                {"k", r.pct.k},
                {"d", r.pct.d},
                {"bound", r.pct.bound()},
                {"k_from", absl::StrFormat("the most choices of the default schedule and %d "
                                           "random walks",
                                           kPctCalibrationWalks)},
                {"max_steps", r.pct_max_steps}};
  }
  if (!r.merged_shards.empty()) j["merged_shards"] = r.merged_shards;
  return j;
}

absl::StatusOr<ExploreResult> ExploreFromJson(const nlohmann::json& j) {
  auto bad = [](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("not a dfs shard's ", kExploreSchema,
                                                   " result: ", why));
  };
  try {
    if (j.at("schema") != kExploreSchema) return bad("schema");
    const nlohmann::json& c = j.at("config");
    ExploreResult r;
    const std::string strategy = c.at("strategy").get<std::string>();
    auto st = ExploreStrategyByName(strategy);
    if (!st.ok() || *st != ExploreStrategy::kDfs) return bad("strategy " + strategy);
    const SchemeEntry* scheme = SchemeRegistry().Find(c.at("scheme").get<std::string>());
    const AdapterEntry* fs = AdapterRegistry().Find(c.at("fs").get<std::string>());
    if (!scheme || !fs) return bad("unknown scheme or fs");
    r.config.scheme = scheme;
    r.config.fs = fs;
    if (c.contains("gup")) {
      const std::optional<GupMode> g = GupModeByName(c.at("gup").get<std::string>());
      if (!g) return bad("gup");
      r.config.gup = *g;
      r.config.gup_given = true;
    }
    if (c.contains("pin_writeback")) {
      const std::optional<PinWriteback> p = PinWritebackByName(c.at("pin_writeback").get<std::string>());
      if (!p) return bad("pin_writeback");
      r.config.pin_writeback = *p;
    }
    if (c.contains("revert")) {
      auto reverts = ParseReverts(c.at("revert").get<std::string>(), *scheme, *fs);
      if (!reverts.ok()) return bad("revert");
      r.config.reverts = *reverts;
    }
    auto scenario = ParseScenario(c.at("scenario_text").get<std::string>(),
                                  c.at("scenario").get<std::string>());
    if (!scenario.ok()) return bad(std::string(scenario.status().message()));
    r.scenario = *scenario;
    r.options.max_preemptions = c.at("max_preemptions").get<int>();
    auto por = ExplorePorByName(c.value("por", std::string("none")));
    if (!por.ok()) return bad("por");
    r.options.por = *por;
    r.options.max_schedules = c.at("max_schedules").get<uint64_t>();
    r.options.shard_count = c.value("shard_count", 1);
    r.options.shard_depth = c.value("shard_depth", kDefaultShardDepth);
    r.options.shard_index = 1;
    if (c.contains("shard") && c.at("shard").is_string()) {
      const std::string shard = c.at("shard").get<std::string>();
      if (sscanf(shard.c_str(), "%d/", &r.options.shard_index) != 1) return bad("shard " + shard);
    }
    for (const nlohmann::json& b : j.at("bounds")) {
      ExploreBound eb;
      eb.preemptions = b.at("preemptions").get<int>();
      eb.schedules = b.at("schedules").get<uint64_t>();
      eb.elapsed_s = b.at("elapsed_s").get<double>();
      eb.traces = b.value("traces", uint64_t{0});
      eb.sleep_blocked = b.value("sleep_blocked", uint64_t{0});
      eb.pruned = b.value("pruned", uint64_t{0});
      eb.cut = b.value("cut", false);
      eb.executions = b.value("executions", uint64_t{0});
      r.bounds.push_back(eb);
    }
    r.schedules = j.at("schedules").get<uint64_t>();
    r.violating_schedules = j.value("violating_schedules", uint64_t{0});
    r.writable_during_writeback_schedules =
        j.value("writable_during_writeback_schedules", uint64_t{0});
    r.executions = j.at("executions").get<uint64_t>();
    r.complete = j.at("complete").get<bool>();
    r.complete_unbounded = j.value("complete_unbounded", false);
    r.deadlocked = j.at("deadlocked").get<bool>();
    r.elapsed_s = j.at("elapsed_s").get<double>();
    if (j.contains("merged_shards")) r.merged_shards = j.at("merged_shards").get<std::vector<int>>();
    for (const nlohmann::json& x : j.at("violations")) {
      ExploreViolation v;
      auto kind = RaceKindByName(x.at("kind").get<std::string>());
      auto inv = InvariantByName(x.at("invariant").get<std::string>());
      if (!kind.ok() || !inv.ok()) return bad("unknown violation kind or invariant");
      v.kind = *kind;
      v.invariant = *inv;
      v.data_losing = x.at("data_losing").get<bool>();
      v.preemptions = x.at("preemptions").get<int>();
      v.schedule = x.at("schedule").get<std::string>();
      v.page = x.at("page").get<uint64_t>();
      v.detail = x.at("detail").get<std::string>();
      v.schedules = x.at("schedules").get<uint64_t>();
      v.deterministic = x.at("deterministic").get<bool>();
      const nlohmann::json& order = x.at("dfs_order");
      v.dfs_subtree = order.at(0).get<uint64_t>();
      v.dfs_run = order.at(1).get<uint64_t>();
      // Root causes came with issue 12: an older result's violations have none.
      v.cause = 0;
      r.violations.push_back(std::move(v));
    }
    if (j.contains("root_causes")) {
      for (const nlohmann::json& x : j.at("root_causes")) {
        ExploreCause ec;
        ec.cause = x.at("code").get<uint32_t>();
        ec.data_losing = x.at("data_losing").get<bool>();
        ec.preemptions = x.at("preemptions").get<int>();
        ec.schedule = x.at("schedule").get<std::string>();
        ec.schedule_data_losing = x.at("schedule_data_losing").get<bool>();
        ec.schedules = x.at("schedules").get<uint64_t>();
        for (const nlohmann::json& sym : x.at("symptoms")) {
          const std::string name = sym.get<std::string>();
          const size_t space = name.find(' ');
          auto kind = RaceKindByName(space == std::string::npos ? name : name.substr(space + 1));
          if (!kind.ok()) return bad("unknown root-cause symptom " + name);
          ec.symptoms |= uint64_t{1} << static_cast<int>(*kind);
        }
        const nlohmann::json& order = x.at("dfs_order");
        ec.dfs_subtree = order.at(0).get<uint64_t>();
        ec.dfs_run = order.at(1).get<uint64_t>();
        ec.story = x.at("story").get<std::vector<std::string>>();
        r.causes.push_back(std::move(ec));
      }
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    // nlohmann's typed accessors throw on a missing or mistyped field; it
    // stops here, as a Status.
    return bad(e.what());
  }
}

absl::Status WriteExploreFile(const ExploreResult& result, const std::string& path) {
  return WriteFileAtomic(path, ExploreToJson(result).dump(2) + "\n");
}

std::string FormatExploreSummary(const ExploreResult& r) {
  const bool dfs = r.options.strategy == ExploreStrategy::kDfs;
  std::string how;
  if (dfs) {
    how = absl::StrFormat("strategy=dfs por=%s preemptions%s", ExplorePorName(r.options.por),
                          r.options.max_preemptions == kAllPreemptions
                              ? "=all"
                              : absl::StrCat("<=", r.options.max_preemptions));
    if (!r.merged_shards.empty()) {
      absl::StrAppendFormat(&how, " merged shards %s of %d", absl::StrJoin(r.merged_shards, ","),
                            r.options.shard_count);
    } else if (r.options.shard_count > 1) {
      absl::StrAppendFormat(&how, " shard %d/%d", r.options.shard_index, r.options.shard_count);
    }
  } else {
    how = absl::StrFormat("strategy=%s seed=%d schedules=%d", ExploreStrategyName(r.options.strategy),
                          r.options.seed, r.options.max_schedules);
  }
  const std::string gup =
      r.scenario.gup_threads() > 0
          ? absl::StrCat(" gup=", GupModeName(r.config.gup), " pin-writeback=",
                         PinWritebackName(r.config.pin_writeback))
          : "";
  std::string out = absl::StrFormat("pagerace explore: scheme=%s fs=%s%s scenario=%s %s\n",
                                    r.config.scheme->name, r.config.fs->name, gup, r.scenario.name,
                                    how);
  std::string histogram;  // random, pct: preemptions:schedules
  for (const ExploreBound& b : r.bounds) {
    if (dfs && r.options.por == ExplorePor::kDpor) {
      const std::string bound =
          b.preemptions == kAllPreemptions
              ? std::string("no bound")
              : absl::StrFormat("<=%d preemption%s", b.preemptions, b.preemptions == 1 ? "" : "s");
      const std::string exactly =
          b.preemptions == kAllPreemptions
              ? std::string()
              : absl::StrFormat(" (%d with exactly %d)", b.schedules, b.preemptions);
      absl::StrAppendFormat(&out,
                            "  %s: %d traces%s, %d alternatives pruned, %d sleep-set blocked, %d "
                            "runs in %.2f s\n",
                            bound, b.traces, exactly, b.pruned, b.sleep_blocked, b.executions,
                            b.elapsed_s);
    } else if (dfs && b.preemptions == kAllPreemptions) {
      absl::StrAppendFormat(&out, "  no bound: %d schedules in %.2f s\n", b.schedules, b.elapsed_s);
    } else if (dfs) {
      absl::StrAppendFormat(&out, "  %d preemption%s: %d schedules in %.2f s\n", b.preemptions,
                            b.preemptions == 1 ? "" : "s", b.schedules, b.elapsed_s);
    } else if (b.schedules > 0) {
      absl::StrAppendFormat(&histogram, " %d:%d", b.preemptions, b.schedules);
    }
  }
  if (!histogram.empty()) {
    absl::StrAppend(&out, "  schedules by preemptions (preemptions:schedules):", histogram, "\n");
  }
  std::string coverage;
  const char* equivalent = r.options.por == ExplorePor::kDpor ? " (or an equivalent)" : "";
  if (r.complete && r.complete_unbounded && !r.bounds.empty()) {
    coverage = absl::StrFormat(
        "every schedule covered%s, at any number of preemptions%s%s", equivalent,
        r.bounds.back().preemptions == kAllPreemptions
            ? ""
            : absl::StrFormat(" (bound %d cut nothing)", r.bounds.back().preemptions),
        r.options.shard_count > 1 && r.merged_shards.empty() ? " in this shard's subtrees" : "");
  } else if (r.complete) {
    coverage = absl::StrFormat("every schedule%s up to %d preemptions covered%s", equivalent,
                               r.options.max_preemptions,
                               r.options.shard_count > 1 && r.merged_shards.empty()
                                   ? " in this shard's subtrees"
                                   : "");
  } else if (r.deadlocked) {
    coverage = "stopped at a deadlock";
  } else if (!dfs) {
    coverage = "sampled: never complete";
  } else if (!r.merged_shards.empty() &&
             r.merged_shards.size() != static_cast<size_t>(r.options.shard_count)) {
    coverage = "shards missing: incomplete";
  } else {
    coverage = "stopped by --max-schedules: incomplete";
  }
  absl::StrAppendFormat(&out, "  %d schedules (%d runs) in %.2f s, %.0f runs/s; %s\n", r.schedules,
                        r.executions, r.elapsed_s, r.schedules_per_s(), coverage);
  if (r.options.strategy == ExploreStrategy::kPct) {
    absl::StrAppendFormat(&out,
                          "  pct: n=%d threads, k=%d steps (the most choices of the default "
                          "schedule and %d random walks; PCT's runs made at most %d), d=%d: "
                          "strict PCT finds a depth-%d bug with p >= 1/(n k^(d-1)) = %.3g per "
                          "schedule\n",
                          r.pct.n, r.pct.k, kPctCalibrationWalks, r.pct_max_steps, r.pct.d,
                          r.pct.d, r.pct.bound());
  }
  if (!dfs) {
    absl::StrAppendFormat(&out, "  observed: %d of %d schedules showed a violation (rate %.3g)\n",
                          r.violating_schedules, r.schedules, r.observed_rate());
  } else if (!r.violations.empty()) {
    absl::StrAppendFormat(&out, "  %d of %d schedules showed a violation\n", r.violating_schedules,
                          r.schedules);
  }
  if (r.violations.empty()) {
    absl::StrAppend(&out, "  violations: none\n  verdict: clean\n");
    return out;
  }
  absl::StrAppendFormat(&out, "  violations: %d distinct\n", r.violations.size());
  for (const ExploreViolation& v : r.violations) {
    absl::StrAppendFormat(&out, "    %s (%s)%s: %d preemption%s, %d schedules%s%s; schedule %s\n",
                          RaceKindName(v.kind), InvariantName(v.invariant),
                          v.data_losing ? " data-losing" : "", v.preemptions,
                          v.preemptions == 1 ? "" : "s", v.schedules,
                          dfs ? ""
                              : absl::StrFormat(" (rate %.3g)",
                                                r.schedules ? static_cast<double>(v.schedules) /
                                                                  r.schedules
                                                            : 0.0),
                          r.deadlocked ? "" : (v.deterministic ? ", replays identically" : ", NOT DETERMINISTIC"),
                          v.schedule);
    if (!v.detail.empty()) absl::StrAppendFormat(&out, "      %s\n", v.detail);
    if (!v.nondeterminism.empty()) {
      absl::StrAppendFormat(&out, "      uncontrolled nondeterminism in the model: %s\n", v.nondeterminism);
    }
  }
  absl::StrAppendFormat(&out, "  root causes: %d\n", r.causes.size());
  for (const ExploreCause& c : r.causes) {
    absl::StrAppendFormat(&out, "    %s%s: %d preemption%s, %d schedules; schedule %s\n",
                          RootCause::Unpack(c.cause).Title(), c.data_losing ? " (data-losing)" : "",
                          c.preemptions, c.preemptions == 1 ? "" : "s", c.schedules, c.schedule);
  }
  if (r.has_minimal) {
    const MinimalCounterexample& m = r.minimal;
    absl::StrAppendFormat(&out,
                          "  minimal counterexample: %s (%s)%s, %d preemption%s, %d ops (from %d; %d "
                          "smaller scenarios tried)\n",
                          RaceKindName(m.violation.kind), InvariantName(m.violation.invariant),
                          m.violation.data_losing ? " data-losing" : "", m.violation.preemptions,
                          m.violation.preemptions == 1 ? "" : "s", m.ops, m.original_ops, m.candidates);
    for (const std::string& line : m.story) absl::StrAppendFormat(&out, "    %s\n", line);
    absl::StrAppendFormat(&out, "    replay: %s\n", ScheduleReplay(r, m.scenario, m.schedule));
  }
  absl::StrAppend(&out, "  verdict: violations\n");
  return out;
}

}  // namespace pagerace

namespace pagerace {
namespace {

nlohmann::json SearchJson(const HistorySearch& s) {
  nlohmann::json j = {{"scheme", s.scheme},   {"reverted", s.reverted},
                      {"complete", s.complete}, {"found", s.found},
                      {"schedules", s.schedules}, {"ok", s.ok}};
  if (s.found) {
    j["preemptions"] = s.preemptions;
    j["violating_schedules"] = s.violating;
    j["root_cause"] = s.cause;
    j["replay"] = s.replay;
  }
  if (!s.tolerated.empty()) j["tolerated"] = s.tolerated;
  j["writable_during_writeback_schedules"] = s.writable_during_writeback;
  return j;
}

// "found (1 preemption, 12 schedules)" / "clean (766, complete)".
// want_preemptions: a reverted search's, the fewest its entry says the race
// needs (-1: not checked).
std::string SearchCell(const HistorySearch& s, bool want_found, int want_preemptions = -1) {
  std::string out;
  if (s.relaxation) {
    out = absl::StrCat(s.found ? absl::StrCat("violation (", s.cause, ")")
                               : absl::StrCat("clean (", s.schedules,
                                              s.complete ? ", complete)" : ", INCOMPLETE)"),
                       "; a store during writeback in ", s.writable_during_writeback,
                       " schedule", s.writable_during_writeback == 1 ? "" : "s");
    if (!s.ok) absl::StrAppend(&out, want_found ? " ✗ want none" : " ✗ want some, and clean");
    return out;
  }
  if (s.found) {
    out = absl::StrCat("found (", s.preemptions, " preemption", s.preemptions == 1 ? "" : "s", ", ",
                       s.violating, " schedule", s.violating == 1 ? "" : "s", ")");
  } else {
    out = absl::StrCat("clean (", s.schedules, s.complete ? ", complete)" : ", INCOMPLETE)");
    if (!s.tolerated.empty()) {
      absl::StrAppend(&out, " but for the era's own ", absl::StrJoin(s.tolerated, ", "),
                      " (tolerated)");
    }
  }
  if (!s.ok) {
    if (want_found && s.found && want_preemptions >= 0 && s.preemptions != want_preemptions) {
      absl::StrAppend(&out, " ✗ the entry says ", want_preemptions);
    } else {
      absl::StrAppend(&out, want_found ? " ✗ want found" : " ✗ want clean");
    }
  }
  return out;
}

// "I2 found (predates)", "no I1 (has fix)"; the adapter when it is the
// era's own variant.
std::string EraCell(const HistoryEra& e, const std::string& entry_fs, bool relaxation) {
  if (!e.search) return e.note.empty() ? "n/a" : e.note;
  std::string out = e.search->found ? absl::StrCat(e.found, " found") : absl::StrCat("no ", e.found);
  absl::StrAppend(&out, e.holds_fix    ? " (has fix)"
                       : e.before_bug ? (relaxation ? " (before the wait it relaxed)" : " (before the bug)")
                                      : " (predates)");
  if (e.fs != entry_fs) absl::StrAppend(&out, " on ", e.fs);
  if (!e.ok) absl::StrAppend(&out, e.race_expected ? " ✗ want the race" : " ✗ want none");
  return out;
}

// A fix later than every modeled era: its "reverted" searches are the plain
// model, its "restored" ones the model with ApplyFlags.
bool LaterFix(const HistoryEntry& e) { return !EraHolds(KernelEra::kV5_15, InfoOf(e.fix)); }

// "modern", or for a later fix "modern (plain: no era has it)" /
// "modern with --gup=pin --pin-writeback=v6.4".
std::string SearchLabel(const HistoryEntry& e, const HistorySearch& s) {
  if (!LaterFix(e)) return s.scheme;
  return s.reverted ? absl::StrCat(s.scheme, " (plain: no era has it)")
                    : absl::StrCat(s.scheme, " with ", ApplyFlags(e.fix));
}

// "I0 data-losing"; for a relaxation, what it must keep.
std::string ExpectText(const HistoryEntry& e) {
  if (e.relaxation) return absl::StrCat("a relaxation, clean (no ", e.found, ")");
  return absl::StrCat(e.found, e.data_losing ? " data-losing" : "");
}

std::string BoundText(const HistoryResult& result) {
  if (result.preemptions == HistoryOptions::kNeeded) {
    return "each entry at the preemptions its reverted race needs (at least 1)";
  }
  return absl::StrCat("at most ", result.preemptions, " preemption",
                      result.preemptions == 1 ? "" : "s");
}

std::string StressCell(const HistoryRow& r) {
  if (r.entry.relaxation) return "n/a (a relaxation: no race to find)";
  if (LaterFix(r.entry)) {
    return r.stress_first_s
               ? absl::StrFormat("%s (plain): %s at %.3f s", r.stress_scheme, r.entry.found,
                                 *r.stress_first_s)
               : absl::StrFormat("%s (plain): not found in %g s", r.stress_scheme, r.stress_seconds);
  }
  if (r.stress_first_s) {
    return absl::StrFormat("%s: %s at %.3f s", r.stress_scheme, r.entry.found, *r.stress_first_s);
  }
  return absl::StrFormat("%s: not found in %g s", r.stress_scheme, r.stress_seconds);
}

}  // namespace

nlohmann::json HistoryToJson(const HistoryResult& result) {
  nlohmann::json rows = nlohmann::json::array();
  for (const HistoryRow& r : result.rows) {
    const FixInfo& f = InfoOf(r.entry.fix);
    nlohmann::json reverted = nlohmann::json::array(), restored = nlohmann::json::array(),
                   eras = nlohmann::json::array();
    for (const HistorySearch& s : r.reverted) reverted.push_back(SearchJson(s));
    for (const HistorySearch& s : r.restored) restored.push_back(SearchJson(s));
    for (const HistoryEra& e : r.eras) {
      nlohmann::json j = {{"scheme", e.scheme}, {"era", e.era}, {"fs", e.fs},
                          {"holds_fix", e.holds_fix}, {"before_bug", e.before_bug},
                          {"race_expected", e.race_expected},
                          {"invariant", e.found}, {"data_losing", e.data_losing}, {"ok", e.ok}};
      if (e.search) j["search"] = SearchJson(*e.search);
      if (!e.note.empty()) j["note"] = e.note;
      eras.push_back(j);
    }
    nlohmann::json stress = {{"scheme", r.stress_scheme}, {"workload", r.entry.workload},
                             {"seconds", r.stress_seconds}, {"sched", "jitter"}, {"seed", 1}};
    stress["first_report_s"] = r.stress_first_s ? nlohmann::json(*r.stress_first_s) : nlohmann::json();
    rows.push_back({{"commit", f.commit},
                    {"preemptions", r.bound},
                    {"title", f.title},
                    {"release", ReleaseName(f)},
                    {"confirmed", f.confirmed},
                    {"entry", r.entry.file},
                    {"relaxation", r.entry.relaxation},
                    {"later", LaterFix(r.entry)},
                    {"applied_by", ApplyFlags(r.entry.fix)},
                    {"fs", r.entry.fs},
                    {"scenario", r.entry.scenario},
                    {"expected", {{"invariant", r.entry.found}, {"data_losing", r.entry.data_losing},
                                  {"root_cause", r.entry.cause},
                                  {"preemptions", r.entry.preemptions}}},
                    {"reverted", reverted},
                    {"restored", restored},
                    {"eras", eras},
                    {"stress", stress},
                    {"ok", r.ok}});
  }
  nlohmann::json unmodeled = nlohmann::json::array();
  for (Fix f : result.unmodeled) {
    unmodeled.push_back({{"commit", InfoOf(f).commit}, {"release", ReleaseName(InfoOf(f))},
                         {"title", InfoOf(f).title}});
  }
  const nlohmann::json bound = result.preemptions == HistoryOptions::kNeeded
                                   ? nlohmann::json("needed")
                                   : nlohmann::json(result.preemptions);
  return {{"schema", "pagerace.history/1"}, {"preemptions", bound},
          {"entries", rows}, {"not_modeled", unmodeled}, {"ok", result.ok}};
}

std::string HistoryMarkdown(const HistoryResult& result) {
  std::string out = absl::StrCat(
      "| fix | release | fs | expected | reverted | restored | v2.6.29 | v2.6.30 | 5.15 | stress (reverted, jitter) |\n"
      "|---|---|---|---|---|---|---|---|---|---|\n");
  for (const HistoryRow& r : result.rows) {
    const FixInfo& f = InfoOf(r.entry.fix);
    std::string rev, res;
    for (const HistorySearch& s : r.reverted) {
      absl::StrAppend(&rev, rev.empty() ? "" : "<br>", SearchLabel(r.entry, s), ": ",
                      SearchCell(s, true, r.entry.preemptions));
    }
    for (const HistorySearch& s : r.restored) {
      absl::StrAppend(&res, res.empty() ? "" : "<br>", SearchLabel(r.entry, s), ": ",
                      SearchCell(s, false),
                      result.preemptions == HistoryOptions::kNeeded
                          ? absl::StrCat(" at ≤", r.bound)
                          : "");
    }
    std::string eras[3];
    for (size_t i = 0; i < r.eras.size() && i < 3; ++i) eras[i] = EraCell(r.eras[i], r.entry.fs, r.entry.relaxation);
    absl::StrAppend(&out, "| `", f.commit, "` ", f.title, " | ", ReleaseName(f), " | ", r.entry.fs,
                    "@", r.entry.scenario, " | ", ExpectText(r.entry),
                    " | ", rev, " | ", res, " | ", eras[0], " | ", eras[1], " | ", eras[2], " | ",
                    StressCell(r), " |\n");
  }
  absl::StrAppend(&out, "\nBound: ", BoundText(result), ". ",
                  result.ok ? "Every entry holds." : "**Some entry does not hold.**", "\n");
  if (!result.unmodeled.empty()) {
    absl::StrAppend(&out, "\nNot modeled yet (no switch, no entry):");
    for (Fix f : result.unmodeled) {
      absl::StrAppend(&out, " `", InfoOf(f).commit, "` (", ReleaseName(InfoOf(f)), ")");
    }
    absl::StrAppend(&out, ".\n");
  }
  return out;
}

std::string HistoryText(const HistoryResult& result) {
  std::string out = absl::StrFormat("pagerace history: %d entries, %s\n", result.rows.size(),
                                    BoundText(result));
  for (const HistoryRow& r : result.rows) {
    const FixInfo& f = InfoOf(r.entry.fix);
    absl::StrAppendFormat(&out, "%s %s  %s (%s) on %s@%s, expect %s\n", r.ok ? "ok  " : "FAIL",
                          f.commit, f.title, ReleaseName(f), r.entry.fs, r.entry.scenario,
                          ExpectText(r.entry));
    if (result.preemptions == HistoryOptions::kNeeded) {
      absl::StrAppendFormat(&out, "    bound: %d preemption%s\n", r.bound, r.bound == 1 ? "" : "s");
    }
    for (const HistorySearch& s : r.reverted) {
      absl::StrAppendFormat(&out, "    %s under %-7s %s%s\n",
                            LaterFix(r.entry) ? "without it" : "reverted", SearchLabel(r.entry, s),
                            SearchCell(s, true, r.entry.preemptions),
                            s.found && !s.relaxation ? absl::StrCat("; cause ", s.cause) : "");
      if (s.found && !s.relaxation) absl::StrAppendFormat(&out, "      replay: %s\n", s.replay);
    }
    for (const HistorySearch& s : r.restored) {
      absl::StrAppendFormat(&out, "    %s under %-7s %s\n",
                            LaterFix(r.entry) ? "applied" : "restored", SearchLabel(r.entry, s),
                            SearchCell(s, false));
    }
    std::string eras;
    for (const HistoryEra& e : r.eras) {
      absl::StrAppend(&eras, eras.empty() ? "" : ", ", e.era, " ", EraCell(e, r.entry.fs, r.entry.relaxation));
    }
    absl::StrAppendFormat(&out, "    eras: %s\n    stress: %s\n", eras, StressCell(r));
  }
  if (!result.unmodeled.empty()) {
    absl::StrAppendFormat(&out, "  not modeled yet: %d fixes (pagerace --list)\n", result.unmodeled.size());
  }
  absl::StrAppend(&out, "  verdict: ", result.ok ? "every entry holds" : "some entry does not hold", "\n");
  return out;
}

absl::Status WriteHistoryFiles(const HistoryResult& result, const std::string& path) {
  std::string md = path;
  if (absl::EndsWith(md, ".json")) md.resize(md.size() - 5);
  md += ".md";
  if (absl::Status s = WriteFileAtomic(path, HistoryToJson(result).dump(2) + "\n"); !s.ok()) return s;
  return WriteFileAtomic(md, HistoryMarkdown(result));
}

}  // namespace pagerace
