#include "harness/core/exact.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "harness/check/root_cause.h"
#include "harness/core/config.h"
#include "harness/core/explore.h"
#include "harness/core/stress_driver.h"
#include "workloads/mixed.h"

namespace pagerace {
namespace {

using TraceEvent = StressRace::Event;

constexpr uint64_t kShrinkRuns = 5000;
// i_size inside the `isize` workload's last page.  The trace does not hold
// i_size; the workload draws a slot-aligned offset in the page, of which
// 1 KiB (a block boundary of a 1 KiB-block disk) is one.
constexpr uint32_t kEofBytes = 1024;
// A store past that EOF (still inside the smallest page size, 4 KiB).
constexpr uint32_t kPastEofBytes = 3072;

// One op a thread's recorded events stand for, with the trace index it
// starts at.
struct DerivedOp {
  size_t start = 0;
  RoleId role;
  ScenarioOp::Kind kind = ScenarioOp::kStore;
  Event first = Event::kFaultRead;  // mmap ops: the op's first fault
};

// The ops of every thread in `trace`, in trace order of their starts.
//   mmap: a read fault and the write fault after it are one store (its
//   read-back load, then the store); a write-protect fault alone is a store;
//   a write fault on a not-present pte is a `write` (no load before it).
//   A read fault that no write fault follows is a store too: the trace ends
//   at the report, often between a store's two faults.
std::vector<DerivedOp> DeriveOps(const std::vector<TraceEvent>& trace) {
  std::vector<DerivedOp> ops;
  std::map<std::pair<int, int>, int> pending_read;  // role -> index into ops
  auto key = [](RoleId r) { return std::pair{static_cast<int>(r.kind), r.index}; };
  for (size_t i = 0; i < trace.size(); ++i) {
    const RoleId role = trace[i].role;
    const Event e = trace[i].event;
    auto add = [&](ScenarioOp::Kind kind) {
      ops.push_back({i, role, kind, e});
      return static_cast<int>(ops.size() - 1);
    };
    switch (role.kind) {
      case RoleKind::kMmap:
        if (e == Event::kFaultRead) {
          pending_read[key(role)] = add(ScenarioOp::kStore);
        } else if (e == Event::kFaultWriteWp) {
          auto it = pending_read.find(key(role));
          if (it != pending_read.end()) {
            pending_read.erase(it);  // the store that read fault began
          } else {
            add(ScenarioOp::kStore);
          }
        } else if (e == Event::kFaultWriteNopage) {
          pending_read.erase(key(role));
          add(ScenarioOp::kWrite);
        }
        break;
      case RoleKind::kGup:
        if (e == Event::kGupTake) add(ScenarioOp::kDio);
        break;
      case RoleKind::kPwrite:
        if (e == Event::kWriteBegin) add(ScenarioOp::kPwrite);
        break;
      case RoleKind::kWriteback:
        if (e == Event::kClearPageDirtyForIo) add(ScenarioOp::kPass);
        break;
      case RoleKind::kFsync:
        if (e == Event::kFsyncCall) add(ScenarioOp::kSync);
        break;
      case RoleKind::kReclaim:
        if (e == Event::kPageout || e == Event::kEvict) add(ScenarioOp::kReclaim);
        if (e == Event::kMigratePage) add(ScenarioOp::kMigrate);
        if (e == Event::kInvalidatePage || e == Event::kInvalidateBusy) add(ScenarioOp::kInvalidate);
        break;
      case RoleKind::kTruncate:
        // A shrink cutting the page, a growth (the transition past a
        // writable EOF page is recorded by the growing thread), a punch.
        if (e == Event::kTruncate) add(ScenarioOp::kTruncate);
        if (e == Event::kWindowTransition || e == Event::kGrowWithoutPageLock) {
          ops.push_back({i, role, ScenarioOp::kTruncate, Event::kWindowTransition});
        }
        if (e == Event::kPunchFreeBlocks) add(ScenarioOp::kPunch);
        break;
      case RoleKind::kSnapshot:
        add(ScenarioOp::kSnapshot);
        break;
      default:
        break;
    }
  }
  return ops;
}

bool IsFaultOp(const DerivedOp& op) {
  return op.role.kind == RoleKind::kMmap || op.role.kind == RoleKind::kGup;
}

// Where the race's cause starts in its trace (CauseStartIndex).
int CauseEventIndex(const StressRace& race) {
  std::vector<Event> events;
  for (const TraceEvent& e : race.trace) events.push_back(e.event);
  return CauseStartIndex(events, race.cause);
}

// The fault ops a candidate may start from, best first: the op of the
// window's holder whose fault opened it (for a transition: the last fault
// op before it), then each fault op before that.
std::vector<size_t> Anchors(const StressRace& race, const std::vector<DerivedOp>& ops) {
  const std::vector<TraceEvent>& trace = race.trace;
  const int c = CauseEventIndex(race);
  std::vector<size_t> fault_ops;
  for (size_t k = 0; k < ops.size(); ++k) {
    if (IsFaultOp(ops[k]) && (c < 0 || static_cast<int>(ops[k].start) <= c)) fault_ops.push_back(k);
  }
  std::vector<size_t> out;
  if (c >= 0 && trace[c].event == Event::kWindowOpen &&
      (trace[c].role.kind == RoleKind::kMmap || trace[c].role.kind == RoleKind::kGup)) {
    for (auto it = fault_ops.rbegin(); it != fault_ops.rend(); ++it) {
      if (ops[*it].role == trace[c].role) {
        out.push_back(*it);
        break;
      }
    }
  }
  for (auto it = fault_ops.rbegin(); it != fault_ops.rend(); ++it) {
    if (std::find(out.begin(), out.end(), *it) == out.end() &&
        (out.empty() || *it < out.front())) {
      out.push_back(*it);
    }
  }
  return out;
}

std::string OneLine(const std::string& text) {
  return absl::StrJoin(absl::StrSplit(text, '\n', absl::SkipEmpty()), "|");
}

}  // namespace

std::vector<std::pair<Scenario, std::string>> RaceScenarios(const RunConfig& config,
                                                            const StressRace& race) {
  std::vector<std::pair<Scenario, std::string>> out;
  const std::vector<DerivedOp> ops = DeriveOps(race.trace);
  const std::vector<size_t> anchors = Anchors(race, ops);
  // EOF moving inside the last page: the workload's own knob, not its name.
  MixedOptions shaped;
  if (config.workload->shape) config.workload->shape(&shaped);
  const bool isize = shaped.isize;
  // The page keeps its place relative to EOF: the file's last page stays
  // the last (page 1 of 2) when EOF or a truncation is in play.
  const bool truncates = std::any_of(ops.begin(), ops.end(), [](const DerivedOp& op) {
    return op.kind == ScenarioOp::kTruncate || op.kind == ScenarioOp::kPunch;
  });
  const bool eof_page = isize && race.page + 1 == config.pages;
  const uint64_t p = (eof_page || truncates) ? 1 : 0;
  const std::string page = absl::StrCat(p);
  const int mappings = std::max(1, std::min(config.mappings, 2));

  // The thread that entered the window (or made the transition): with the
  // window's holder, the core of the race.
  std::optional<RoleId> intruder;
  {
    const int c = CauseEventIndex(race);
    const bool transition = RootCause::Unpack(race.cause).intruder == RootCause::kNoIntruder;
    for (size_t i = c < 0 ? 0 : static_cast<size_t>(c); i < race.trace.size(); ++i) {
      const Event e = race.trace[i].event;
      if (transition ? e == Event::kWindowTransition : e == Event::kWindowEntered) {
        intruder = race.trace[i].role;
      }
    }
  }
  for (size_t pass = 0; pass < 2 * std::min<size_t>(anchors.size(), 2); ++pass) {
    // First the core (the holder's ops and the intruder's), then every
    // thread that touched the page, from each anchor in turn.
    const size_t a = pass / 2;
    const bool core = pass % 2 == 0;
    if (core && !intruder) continue;
    const DerivedOp& anchor = ops[anchors[a]];
    // Threads renumbered by first appearance from the anchor on, so the
    // scenario's threads are mmap0, mmap1, ... whatever the run called them.
    std::map<std::pair<int, int>, int> renumber;
    std::map<int, int> next_index;
    std::map<std::pair<int, int>, std::vector<std::string>> thread_ops;
    std::vector<std::pair<int, int>> order;
    auto mapping_of = [&](int index) { return index % mappings; };
    for (size_t k = anchors[a]; k < ops.size(); ++k) {
      const DerivedOp& op = ops[k];
      if (op.start < anchor.start) continue;
      if (core && !(op.role == anchor.role) && !(op.role == *intruder)) continue;
      const auto key = std::pair{static_cast<int>(op.role.kind), op.role.index};
      if (!renumber.count(key)) renumber[key] = next_index[key.first]++;
      const int idx = renumber[key];
      const auto nkey = std::pair{key.first, idx};
      if (!thread_ops.count(nkey)) order.push_back(nkey);
      std::string text;
      switch (op.kind) {
        case ScenarioOp::kStore:
          text = absl::StrCat("store ", page, " ", mapping_of(idx));
          break;
        case ScenarioOp::kWrite:
          text = absl::StrCat("write ", page, " ", mapping_of(idx));
          break;
        case ScenarioOp::kDio:
          text = absl::StrCat("dio ", page, " ", mapping_of(idx));
          break;
        case ScenarioOp::kPwrite:
          text = absl::StrCat("pwrite ", page);
          break;
        case ScenarioOp::kPass:
          text = "pass";
          break;
        case ScenarioOp::kSync:
          text = "sync";
          break;
        case ScenarioOp::kReclaim:
          text = absl::StrCat("reclaim ", page);
          break;
        case ScenarioOp::kMigrate:
          text = absl::StrCat("migrate ", page);
          break;
        case ScenarioOp::kInvalidate:
          text = absl::StrCat("invalidate ", page);
          break;
        case ScenarioOp::kPunch:
          text = absl::StrCat("punch ", page);
          break;
        case ScenarioOp::kSnapshot:
          text = "snapshot";
          break;
        case ScenarioOp::kTruncate:
          text = op.first == Event::kWindowTransition
                     ? "truncate 2"  // growth to the whole file
                     : (eof_page ? absl::StrCat("truncate 1 ", kEofBytes) : "truncate 1");
          break;
        default:
          continue;
      }
      thread_ops[nkey].push_back(text);
    }
    // A writeback thread with no pass recorded after the anchor still
    // needs none; but a window entered by writeback needs its pass, which
    // the anchor's span holds.  The page's state when the anchor's fault
    // came:
    const int anchor_vma = mapping_of(renumber[{static_cast<int>(anchor.role.kind), anchor.role.index}]);
    std::vector<std::string> setups;
    const std::string eof = eof_page ? absl::StrCat("truncate 1 ", kEofBytes, "; ") : "";
    if (anchor.first == Event::kFaultWriteWp) {
      // Cached, clean, mapped read-only where the fault came.
      setups.push_back(absl::StrCat(eof, "store ", page, " ", anchor_vma, "; writeback"));
    } else {
      setups.push_back(eof.empty() ? "" : eof.substr(0, eof.size() - 2));
      // Written back and evicted: read in again by the fault.
      setups.push_back(absl::StrCat(eof, "store ", page, " ", anchor_vma, "; writeback; reclaim ", page));
    }
    for (const std::string& setup : setups) {
      for (bool wider : {false, true}) {
        std::vector<std::string> lines;
        lines.push_back(absl::StrCat("pages 2"));
        lines.push_back(absl::StrCat("mappings ", mappings));
        lines.push_back(absl::StrCat("workload ", config.workload->name));
        if (!setup.empty()) lines.push_back(absl::StrCat("setup: ", setup));
        // Threads in role order (the text form's index order).
        std::vector<std::pair<int, int>> sorted = order;
        std::sort(sorted.begin(), sorted.end());
        bool has_mmap = false, has_writeback = false;
        for (const auto& key : sorted) {
          std::vector<std::string> t = thread_ops[key];
          const auto kind = static_cast<RoleKind>(key.first);
          if (kind == RoleKind::kMmap) {
            has_mmap = true;
            if (wider) {
              t.push_back(eof_page ? absl::StrCat("store ", page, " ", mapping_of(key.second), " @",
                                                  kPastEofBytes)
                                   : absl::StrCat("store ", page, " ", mapping_of(key.second)));
            }
          }
          if (kind == RoleKind::kWriteback) {
            has_writeback = true;
            if (wider) t.push_back("pass");
          }
          lines.push_back(absl::StrCat(RoleName(kind, key.second), ": ", absl::StrJoin(t, "; ")));
        }
        if (wider && !has_writeback) lines.push_back("writeback: pass");
        if (!has_mmap) continue;
        const std::string text = absl::StrJoin(lines, "\n") + "\n";
        auto s = ParseScenario(text, "derived");
        if (!s.ok()) continue;
        if (!ScenarioConfig(config, *s).ok()) continue;
        const bool dup = std::any_of(out.begin(), out.end(),
                                     [&](const auto& c) { return c.first.text == s->text; });
        if (dup) continue;
        out.emplace_back(*std::move(s),
                         absl::StrFormat("%s's %s (trace event %d of %d)", RoleName(anchor.role),
                                         EventName(anchor.first), anchor.start + 1,
                                         race.trace.size()));
      }
    }
  }
  return out;
}

ExactCounterexample DeriveExact(const RunConfig& config, const StressRace& race,
                                const ExactOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  ExactCounterexample x;
  x.cause = race.cause;
  x.race = race.index;
  const std::string cause_id = RootCause::Unpack(race.cause).Id();
  RunConfig base = config;
  base.out.clear();
  base.trace_out.clear();
  base.stop_on.clear();
  base.stop_at_first_race = false;
  base.stop_invariant.reset();
  base.stop_needs_losing = false;
  base.stop_cause.clear();
  base.stop_kind.reset();
  base.stop_on_infeasible = false;
  base.order.clear();
  base.deps.clear();
  auto finish = [&] {
    x.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return x;
  };
  if (RootCause::Unpack(race.cause).window == FaultWindow::kNone) {
    x.why_not = absl::StrCat("its cause ", cause_id,
                             " has no fault window: the trace holds no opening to start from");
    return finish();
  }
  const auto candidates = RaceScenarios(base, race);
  if (candidates.empty()) {
    x.why_not = "its trace holds no fault on its page (the ring kept only later events)";
    return finish();
  }
  ExploreOptions o;
  o.por = ExplorePor::kDpor;
  o.max_preemptions = options.max_preemptions;
  o.max_schedules = options.max_schedules;
  o.determinism_runs = 2;
  o.minimize = false;
  std::optional<std::pair<size_t, ExploreViolation>> best;  // candidate, violation
  std::vector<std::string> tried;
  for (size_t i = 0; i < candidates.size() && x.candidates < options.max_candidates &&
                     x.executions < options.max_runs;
       ++i) {
    const Scenario& s = candidates[i].first;
    ++x.candidates;
    // Bound by bound: most windows need one preemption, and a search at
    // bound b repeats the smaller bounds' schedules, which are few.
    const ExploreViolation* v = nullptr;
    absl::StatusOr<ExploreResult> r;
    for (int b = 0; b <= options.max_preemptions; ++b) {
      o.max_preemptions = b;
      r = Explore(base, s, o, {});
      if (!r.ok()) break;
      x.executions += r->executions;
      v = ViolationOfCause(*r, race.cause, race.data_losing);
      if (v == nullptr && race.data_losing && !best) v = ViolationOfCause(*r, race.cause, false);
      if (v != nullptr && (v->data_losing || !race.data_losing)) break;
    }
    if (!r.ok()) {
      tried.push_back(absl::StrCat("'", OneLine(s.text), "': ", r.status().message()));
      continue;
    }
    if (v != nullptr && v->deterministic) {
      if (!best || (v->data_losing && !best->second.data_losing)) best.emplace(i, *v);
      if (v->data_losing || !race.data_losing) break;
    }
    if (v == nullptr) tried.push_back(absl::StrCat("'", OneLine(s.text), "'"));
  }
  if (!best) {
    x.why_not = absl::StrFormat(
        "no scenario derived from its trace showed %s within %d preemption%s (%d of %d tried, "
        "%d runs: %s)",
        cause_id, options.max_preemptions, options.max_preemptions == 1 ? "" : "s", x.candidates,
        candidates.size(), x.executions, absl::StrJoin(tried, ", "));
    return finish();
  }
  const Scenario& found = candidates[best->first].first;
  x.derived_text = found.text;
  x.anchor = candidates[best->first].second;
  auto m = MinimizeCause(base, found, best->second, kShrinkRuns);
  if (!m.ok()) {
    x.why_not = absl::StrCat("shrinking it failed: ", m.status().message());
    return finish();
  }
  x.found = true;
  x.scenario = m->scenario;
  x.scenario.name = "derived";
  x.schedule = m->schedule;
  x.preemptions = m->violation.preemptions;
  x.data_losing = m->violation.data_losing;
  x.kind = m->violation.kind;
  x.invariant = m->violation.invariant;
  x.story = m->story;
  return finish();
}

std::vector<StressRace> StressRaces(const RunResult& result) {
  std::vector<StressRace> out;
  for (size_t i = 0; i < result.races.size(); ++i) {
    const RaceRecord& r = result.races[i].first;
    StressRace s;
    s.index = static_cast<int>(i);
    s.page = r.page;
    s.cause = r.cause;
    for (const CauseTracker::CauseCount& c : result.causes) {
      if (c.cause == r.cause) s.data_losing = c.data_losing;
    }
    for (int k = 0; k < r.trace_len; ++k) {
      auto role = ParseRole(result.role_of(r.trace[k].tid));
      if (!role.ok()) continue;
      s.trace.push_back({*role, r.trace[k].event});
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<ExactCounterexample> DeriveExactForCauses(const RunResult& result,
                                                      const ExactOptions& options) {
  const std::vector<StressRace> races = StressRaces(result);
  std::vector<ExactCounterexample> out;
  for (const CauseTracker::CauseCount& c : result.causes) {
    // The race whose trace holds the window's opening (or transition) with
    // the fewest events after it, as the result's evidence; else the first.
    const StressRace* pick = nullptr;
    int best = -1;
    for (const StressRace& r : races) {
      if (r.cause != c.cause) continue;
      if (pick == nullptr) pick = &r;
      const int e = CauseEventIndex(r);
      if (e < 0) continue;
      const int after = static_cast<int>(r.trace.size()) - e;
      if (best < 0 || after < best) {
        best = after;
        pick = &r;
      }
    }
    if (pick == nullptr) {
      ExactCounterexample x;
      x.cause = c.cause;
      x.why_not = "none of its reports is in the race table (the table was full)";
      out.push_back(std::move(x));
      continue;
    }
    out.push_back(DeriveExact(result.config, *pick, options));
  }
  return out;
}

}  // namespace pagerace
