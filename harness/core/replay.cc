#include "harness/core/replay.h"

#include <cstdint>
#include <fstream>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "harness/base/thread_roles.h"
#include "harness/check/race_kind.h"
#include "harness/check/trace.h"
#include "harness/sched/sched.h"

namespace pagerace {
namespace {

absl::Status Bad(const std::string& msg) { return absl::InvalidArgumentError(msg); }

std::string Str(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "";
  if (j[key].is_string()) return j[key].get<std::string>();
  return j[key].dump();
}

// The schedule point that marks the start (`first`) or the end of another
// thread's part of the interleaving, from its role and its event there.
std::optional<sched::Point> OtherPoint(const absl::StatusOr<RoleId>& role,
                                       std::optional<Event> event, bool first) {
  if (!role.ok()) return std::nullopt;
  switch (role->kind) {
    case RoleKind::kIo:
      return first ? sched::kEndIoBegin : sched::kEndIoDone;
    case RoleKind::kTruncate:
      return first ? sched::kTruncateBegin : sched::kTruncateEnd;
    case RoleKind::kWriteback:
    case RoleKind::kFsync:
      if (first) return sched::kWriteCachePagesBegin;
      if (event == Event::kMetadataRetire) return sched::kCommitEnd;
      return sched::kWriteCachePagesEnd;
    default:
      return std::nullopt;
  }
}

}  // namespace

namespace {

// "FILE[:INDEX]" (index -1: none given).
void SplitSpec(const std::string& spec, std::string* file, int* index) {
  *file = spec;
  *index = -1;
  if (auto colon = spec.rfind(':'); colon != std::string::npos) {
    int i;
    if (absl::SimpleAtoi(spec.substr(colon + 1), &i)) {
      *file = spec.substr(0, colon);
      *index = i;
    }
  }
}

// The file's JSON (discarded when unreadable or not JSON).
nlohmann::json ReadJson(const std::string& file, bool* readable) {
  std::ifstream in(file);
  *readable = static_cast<bool>(in);
  if (!in) return nlohmann::json(nlohmann::json::value_t::discarded);
  return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
}

// Without an index: the first data-losing entry, else the first.
int PickIndex(const nlohmann::json& entries, int index) {
  if (index >= 0) return index;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].value("data_losing", false)) return static_cast<int>(i);
  }
  return 0;
}

constexpr const char* kExploreSchema = "pagerace.explore/1";

}  // namespace

bool IsExploreResult(const std::string& spec) {
  std::string file;
  int index;
  SplitSpec(spec, &file, &index);
  bool readable;
  const nlohmann::json doc = ReadJson(file, &readable);
  return !doc.is_discarded() && doc.is_object() && doc.value("schema", "") == kExploreSchema;
}

namespace {

// What a schedule replay keeps of the recorded run's configuration: the
// scheme, the fs and the flags that change the model (--gup,
// --pin-writeback, --revert).
void RecordedScheduleConfig(const nlohmann::json& c, ScheduleReplayTarget* t) {
  t->scheme = Str(c, "scheme");
  t->fs = Str(c, "fs");
  t->gup = Str(c, "gup");
  t->pin_writeback = Str(c, "pin_writeback");
  t->revert = Str(c, "revert");
}

// The exact counterexample of race `index` (PickIndex) of a stress result,
// or null.
const nlohmann::json* ExactOf(const nlohmann::json& doc, int* index) {
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("races") ||
      !doc["races"].is_array() || doc["races"].empty() || !doc.contains("root_causes") ||
      !doc["root_causes"].is_array()) {
    return nullptr;
  }
  const nlohmann::json& races = doc["races"];
  *index = PickIndex(races, *index);
  if (*index >= static_cast<int>(races.size())) return nullptr;
  const std::string cause = Str(races[*index], "root_cause");
  for (const nlohmann::json& c : doc["root_causes"]) {
    if (Str(c, "id") != cause || !c.contains("exact") || !c["exact"].is_object()) continue;
    if (c["exact"].value("found", false)) return &c["exact"];
  }
  return nullptr;
}

}  // namespace

bool HasExactCounterexample(const std::string& spec) {
  std::string file;
  int index;
  SplitSpec(spec, &file, &index);
  bool readable;
  const nlohmann::json doc = ReadJson(file, &readable);
  return ExactOf(doc, &index) != nullptr;
}

absl::StatusOr<ScheduleReplayTarget> LoadScheduleReplay(const std::string& spec) {
  ScheduleReplayTarget t;
  SplitSpec(spec, &t.file, &t.index);
  bool readable;
  const nlohmann::json doc = ReadJson(t.file, &readable);
  if (!readable) return Bad(absl::StrCat("--replay: cannot read '", t.file, "'"));
  if (const nlohmann::json* x = ExactOf(doc, &t.index); x != nullptr) {
    const std::string kind = Str(*x, "kind"), inv = Str(*x, "invariant");
    auto k = RaceKindByName(kind);
    auto i = InvariantByName(inv);
    if (!k.ok() || !i.ok()) {
      return Bad(absl::StrCat("--replay: race ", t.index, "'s exact counterexample has an unknown "
                              "kind or invariant '", kind, "' '", inv, "'"));
    }
    t.kind = *k;
    t.invariant = *i;
    t.data_losing = x->value("data_losing", false);
    t.preemptions = x->value("preemptions", 0);
    t.schedule = Str(*x, "schedule");
    t.race = x->value("race", -1);
    t.cause = Str(doc["races"][t.index], "root_cause");
    RecordedScheduleConfig(doc["config"], &t);
    auto scenario = ParseScenario(Str(*x, "scenario"), "derived");
    if (!scenario.ok()) {
      return Bad(absl::StrCat("--replay: race ", t.index, "'s exact counterexample: ",
                              scenario.status().message()));
    }
    t.scenario = *std::move(scenario);
    return t;
  }
  if (doc.is_discarded() || !doc.is_object() || doc.value("schema", "") != kExploreSchema ||
      !doc.contains("config") || !doc["config"].is_object() || !doc.contains("violations") ||
      !doc["violations"].is_array()) {
    return Bad(absl::StrCat("--replay: '", t.file, "' is not a pagerace explore result"));
  }
  const nlohmann::json& vs = doc["violations"];
  if (vs.empty()) return Bad(absl::StrCat("--replay: '", t.file, "' holds no violation"));
  t.index = PickIndex(vs, t.index);
  if (t.index >= static_cast<int>(vs.size())) {
    return Bad(absl::StrCat("--replay: '", t.file, "' has ", vs.size(), " violations, no index ",
                            t.index));
  }
  const nlohmann::json& v = vs[t.index];
  const std::string kind = Str(v, "kind"), inv = Str(v, "invariant");
  auto k = RaceKindByName(kind);
  if (!k.ok()) {
    return Bad(absl::StrCat("--replay: violation ", t.index, " has an unknown kind '", kind, "'"));
  }
  auto i = InvariantByName(inv);
  if (!i.ok()) {
    return Bad(absl::StrCat("--replay: violation ", t.index, " has an unknown invariant '", inv,
                            "'"));
  }
  t.kind = *k;
  t.invariant = *i;
  t.data_losing = v.value("data_losing", false);
  t.preemptions = v.value("preemptions", 0);
  t.schedule = Str(v, "schedule");
  const nlohmann::json& c = doc["config"];
  RecordedScheduleConfig(c, &t);
  const std::string name = Str(c, "scenario");
  auto scenario = ParseScenario(Str(c, "scenario_text"), name);
  if (!scenario.ok()) {
    return Bad(absl::StrCat("--replay: '", t.file, "': its scenario: ", scenario.status().message()));
  }
  t.scenario = *std::move(scenario);
  return t;
}

absl::StatusOr<ReplayTarget> LoadReplay(const std::string& spec) {
  ReplayTarget t;
  SplitSpec(spec, &t.file, &t.index);
  bool readable;
  nlohmann::json doc = ReadJson(t.file, &readable);
  if (!readable) return Bad(absl::StrCat("--replay: cannot read '", t.file, "'"));
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("config") ||
      !doc.contains("races") || !doc["races"].is_array()) {
    return Bad(absl::StrCat("--replay: '", t.file, "' is not a pagerace result"));
  }
  const nlohmann::json& races = doc["races"];
  if (races.empty()) return Bad(absl::StrCat("--replay: '", t.file, "' holds no race"));
  t.index = PickIndex(races, t.index);
  if (t.index >= static_cast<int>(races.size())) {
    return Bad(absl::StrCat("--replay: '", t.file, "' has ", races.size(), " races, no index ",
                            t.index));
  }
  t.race = races[t.index];
  const std::string kind = Str(t.race, "kind"), inv = Str(t.race, "invariant");
  auto k = RaceKindByName(kind);
  if (!k.ok()) {
    return Bad(absl::StrCat("--replay: race ", t.index, " has an unknown kind '", kind, "'"));
  }
  auto i = InvariantByName(inv);
  if (!i.ok()) {
    return Bad(absl::StrCat("--replay: race ", t.index, " has an unknown invariant '", inv, "'"));
  }
  t.kind = *k;
  t.invariant = *i;
  t.recorded_at_s = t.race.value("detected_at_s", 0.0);
  const nlohmann::json& c = doc["config"];
  RawFlags& r = t.recorded;
  r.scheme = Str(c, "scheme");
  r.fs = Str(c, "fs");
  r.workload = Str(c, "workload");
  r.threads = Str(c, "threads");
  r.pwriters = Str(c, "pwriters");
  r.pages = Str(c, "pages");
  r.mappings = Str(c, "mappings");
  r.seed = Str(c, "seed");
  r.sched = Str(c, "sched");
  r.order = Str(c, "order");
  r.pct_depth = Str(c, "pct_depth");
  r.jitter_max_us = Str(c, "jitter_max_us");
  r.duration = Str(c, "duration");
  r.ops = Str(c, "ops");
  r.revert = Str(c, "revert");
  return t;
}

absl::StatusOr<std::string> DeriveOrder(const nlohmann::json& race, absl::string_view do_fault) {
  // A trace entry as the table lookups read it: a name missing from the
  // tables (a result written by another version) is no role / no event.
  struct Ev {
    absl::StatusOr<RoleId> role;
    std::string thread;
    std::optional<Event> event;
  };
  std::vector<Ev> ev;
  if (race.contains("trace") && race["trace"].is_array()) {
    for (const auto& e : race["trace"]) {
      const std::string thread = Str(e, "thread");
      auto event = EventByName(Str(e, "event"));
      // Window events (root_cause.h) mark the model's own bookkeeping, not a
      // step of any kernel path: the derivation reads the steps around them.
      if (event.ok() && (*event == Event::kWindowOpen || *event == Event::kWindowClose ||
                         *event == Event::kWindowEntered || *event == Event::kWindowTransition)) {
        continue;
      }
      ev.push_back({ParseRole(thread), thread,
                    event.ok() ? std::optional<Event>(*event) : std::nullopt});
    }
  }
  // Latest first: the window closest to the report.
  for (int m = static_cast<int>(ev.size()) - 1; m >= 0; --m) {
    const bool after_mkwrite = ev[m].event == Event::kPageMkwriteReturn ||
                               ev[m].event == Event::kPageMkwriteReturnLocked;
    const bool after_pte = ev[m].event == Event::kPteMkwrite;
    if (!after_mkwrite && !after_pte) continue;
    const std::string& f = ev[m].thread;
    // The fault this event belongs to.
    std::optional<Event> fault;
    for (int i = m; i >= 0 && !fault; --i) {
      if (ev[i].thread == f &&
          (ev[i].event == Event::kFaultWriteWp || ev[i].event == Event::kFaultWriteNopage)) {
        fault = ev[i].event;
      }
    }
    if (!fault) continue;
    // F's next event, and the other threads' events before it.
    int n = m + 1;
    while (n < static_cast<int>(ev.size()) && ev[n].thread != f) ++n;
    if (n == m + 1 || n >= static_cast<int>(ev.size())) continue;
    const auto w_first = OtherPoint(ev[m + 1].role, ev[m + 1].event, true);
    const auto w_last = OtherPoint(ev[n - 1].role, ev[n - 1].event, false);
    if (!w_first || !w_last) continue;
    const bool wp = fault == Event::kFaultWriteWp;
    // The not-present path's points carry its era's function name.
    auto nopage = [do_fault](const char* where) -> std::optional<sched::Point> {
      auto p = sched::PointByName(absl::StrCat(do_fault, ":", where));
      return p.ok() ? std::optional<sched::Point>(*p) : std::nullopt;
    };
    std::optional<sched::Point> a, b;
    if (after_mkwrite) {
      a = wp ? std::optional<sched::Point>(sched::kDoWpPageAfterMkwrite) : nopage("after_mkwrite");
      // The window ends where F takes a lock the other side needs: do_wp_page
      // retakes the ptl (the page stays unlocked); the not-present path
      // relocks the page, and waiting any later would hold the page lock
      // against the writeback the window is for (a stall, not the race).
      b = wp ? std::optional<sched::Point>(sched::kDoWpPageBeforePtlRelock)
             : nopage("before_relock_page");
    } else if (!wp && ev[n].event == Event::kSetPageDirty) {
      a = nopage("before_ptl_lock");  // the pte is installed right after
      b = nopage("before_set_page_dirty");
    } else if (wp && ev[n].event == Event::kSetPageDirty) {
      a = sched::kDoWpPageAfterPteMkwrite;
      b = sched::kDoWpPageBeforeSetPageDirty;
    }
    if (!a || !b) continue;
    // The trace is the race's page's: an I/O completion that closes the
    // window is that page's, not whichever page's I/O completes first.
    std::string last = sched::PointName(*w_last);
    if (*w_last == sched::kEndIoDone && race.contains("page") &&
        race["page"].is_number_integer() && race["page"].get<int64_t>() >= 0 &&
        race["page"].get<int64_t>() <= INT32_MAX) {
      absl::StrAppend(&last, "@", race["page"].get<int64_t>());
    }
    return absl::StrCat(sched::PointName(*a), "<", sched::PointName(*w_first), ",", last, "<",
                        sched::PointName(*b));
  }
  return Bad("--sched=ordered: no fault window with another thread inside it in this race's "
             "trace; give --order=A<B,...");
}

}  // namespace pagerace
