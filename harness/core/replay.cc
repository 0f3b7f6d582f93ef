#include "harness/core/replay.h"

#include <fstream>
#include <set>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace pagerace {
namespace {

absl::Status Bad(const std::string& msg) { return absl::InvalidArgumentError(msg); }

std::string Str(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "";
  if (j[key].is_string()) return j[key].get<std::string>();
  return j[key].dump();
}

// The schedule point that marks the start (`first`) or the end of another
// thread's part of the interleaving, from its event there.
const char* OtherPoint(const std::string& thread, const std::string& event, bool first) {
  if (thread == "io") return first ? "end_io:begin" : "end_io:done";
  if (thread == "truncate") return first ? "truncate:begin" : "truncate:end";
  if (thread == "writeback" || thread == "fsync") {
    if (first) return "write_cache_pages:begin";
    if (event == "fs_metadata_retire") return "commit:end";
    return "write_cache_pages:end";
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<ReplayTarget> LoadReplay(const std::string& spec) {
  ReplayTarget t;
  t.file = spec;
  t.index = -1;
  if (auto colon = spec.rfind(':'); colon != std::string::npos) {
    int i;
    if (absl::SimpleAtoi(spec.substr(colon + 1), &i)) {
      t.file = spec.substr(0, colon);
      t.index = i;
    }
  }
  std::ifstream in(t.file);
  if (!in) return Bad(absl::StrCat("--replay: cannot read '", t.file, "'"));
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("config") ||
      !doc.contains("races") || !doc["races"].is_array()) {
    return Bad(absl::StrCat("--replay: '", t.file, "' is not a pagerace result"));
  }
  const nlohmann::json& races = doc["races"];
  if (races.empty()) return Bad(absl::StrCat("--replay: '", t.file, "' holds no race"));
  if (t.index < 0) {
    t.index = 0;
    for (size_t i = 0; i < races.size(); ++i) {
      if (races[i].value("data_losing", false)) {
        t.index = static_cast<int>(i);
        break;
      }
    }
  }
  if (t.index >= static_cast<int>(races.size())) {
    return Bad(absl::StrCat("--replay: '", t.file, "' has ", races.size(), " races, no index ",
                            t.index));
  }
  t.race = races[t.index];
  const std::string kind = Str(t.race, "kind"), inv = Str(t.race, "invariant");
  bool found_kind = false, found_inv = false;
  for (int k = 0; k < static_cast<int>(RaceKind::kNumKinds); ++k) {
    if (kind == RaceKindName(static_cast<RaceKind>(k))) {
      t.kind = static_cast<RaceKind>(k);
      found_kind = true;
    }
  }
  for (int i = 0; i <= static_cast<int>(Invariant::kFs); ++i) {
    if (inv == InvariantName(static_cast<Invariant>(i))) {
      t.invariant = static_cast<Invariant>(i);
      found_inv = true;
    }
  }
  if (!found_kind || !found_inv) {
    return Bad(absl::StrCat("--replay: race ", t.index, " has an unknown kind '", kind, "'"));
  }
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
  return t;
}

absl::StatusOr<std::string> DeriveOrder(const nlohmann::json& race) {
  struct Ev {
    std::string thread, event;
  };
  std::vector<Ev> ev;
  if (race.contains("trace") && race["trace"].is_array()) {
    for (const auto& e : race["trace"]) ev.push_back({Str(e, "thread"), Str(e, "event")});
  }
  static const std::set<std::string> kMkwriteReturn = {"page_mkwrite_return",
                                                       "page_mkwrite_return_locked"};
  // Latest first: the window closest to the report.
  for (int m = static_cast<int>(ev.size()) - 1; m >= 0; --m) {
    const bool after_mkwrite = kMkwriteReturn.count(ev[m].event) > 0;
    const bool after_pte = ev[m].event == "pte_mkwrite";
    if (!after_mkwrite && !after_pte) continue;
    const std::string& f = ev[m].thread;
    // The fault this event belongs to.
    std::string fault;
    for (int i = m; i >= 0 && fault.empty(); --i) {
      if (ev[i].thread == f &&
          (ev[i].event == "fault_write_wp" || ev[i].event == "fault_write_nopage")) {
        fault = ev[i].event;
      }
    }
    if (fault.empty()) continue;
    // F's next event, and the other threads' events before it.
    int n = m + 1;
    while (n < static_cast<int>(ev.size()) && ev[n].thread != f) ++n;
    if (n == m + 1 || n >= static_cast<int>(ev.size())) continue;
    const char* w_first = OtherPoint(ev[m + 1].thread, ev[m + 1].event, true);
    const char* w_last = OtherPoint(ev[n - 1].thread, ev[n - 1].event, false);
    if (!w_first || !w_last) continue;
    const bool wp = fault == "fault_write_wp";
    const char* a = nullptr;
    const char* b = nullptr;
    if (after_mkwrite) {
      a = wp ? "do_wp_page:after_mkwrite" : "__do_fault:after_mkwrite";
      // The window ends where F takes a lock the other side needs: do_wp_page
      // retakes the ptl (the page stays unlocked); __do_fault relocks the
      // page, and waiting any later would hold the page lock against the
      // writeback the window is for (a stall, not the race).
      b = wp ? "do_wp_page:before_ptl_relock" : "__do_fault:before_relock_page";
    } else if (!wp && ev[n].event == "set_page_dirty") {
      a = "__do_fault:before_ptl_lock";  // the pte is installed right after
      b = "__do_fault:before_set_page_dirty";
    } else if (wp && ev[n].event == "set_page_dirty") {
      a = "do_wp_page:after_pte_mkwrite";
      b = "do_wp_page:before_set_page_dirty";
    }
    if (!a) continue;
    return absl::StrCat(a, "<", w_first, ",", w_last, "<", b);
  }
  return Bad("--sched=ordered: no fault window with another thread inside it in this race's "
             "trace; give --order=A<B,...");
}

}  // namespace pagerace
