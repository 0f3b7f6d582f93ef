#include "harness/core/history.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "harness/check/root_cause.h"
#include "harness/core/explore.h"
#include "harness/core/scenario.h"
#include "harness/core/stress_driver.h"

// history/*.entry, as the build read them (CMakeLists.txt: history_catalog.cc).
namespace pagerace::history_catalog {
extern const char* const kFiles[];
extern const char* const kTexts[];
extern const int kCount;
}  // namespace pagerace::history_catalog

namespace pagerace {
namespace {

absl::Status Bad(absl::string_view file, int line, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("history/", file, ":", line, ": ", why));
}

// The schemes whose era the history table has a column for, oldest first.
constexpr const char* kEraSchemes[] = {"legacy", "locked", "modern"};

struct Search {
  ExploreResult result;
  absl::Status status;
};

// What a search runs: each era's plain model, with the entry's fix
// reverted, or with a later fix applied (ApplyFlags).
enum class Mode { kPlain, kReverted, kApplied };

// A later fix (no era holds it): its "reverted" search is the plain model
// and its "restored" one the model with the fix applied.
bool Later(const HistoryEntry& e) { return !EraHolds(KernelEra::kV5_15, InfoOf(e.fix)); }

Search RunSearch(const HistoryEntry& e, const std::string& scheme, const std::string& fs,
                 Mode mode, int bound) {
  RawFlags raw;
  raw.scheme = scheme;
  raw.fs = fs;
  if (mode == Mode::kReverted) raw.revert = InfoOf(e.fix).commit;
  if (mode == Mode::kApplied) {
    for (absl::string_view flag : absl::StrSplit(ApplyFlags(e.fix), ' ', absl::SkipEmpty())) {
      if (absl::ConsumePrefix(&flag, "--gup=")) raw.gup = std::string(flag);
      if (absl::ConsumePrefix(&flag, "--pin-writeback=")) raw.pin_writeback = std::string(flag);
    }
  }
  auto scenario = LoadScenario(e.scenario);
  if (!scenario.ok()) return {{}, scenario.status()};
  raw.workload = scenario->workload;
  auto config = ParseConfig(raw);
  if (!config.ok()) return {{}, config.status()};
  ExploreOptions o;
  o.max_preemptions = bound;
  auto r = Explore(*config, *scenario, o, nullptr);
  if (!r.ok()) return {{}, r.status()};
  return {*std::move(r), absl::OkStatus()};
}

// Fills `s` from a search: whether it showed `invariant` (data-losing as
// asked), else (invariant empty) any violation.
// `cause` (when not empty) must match too.
void Summarize(const ExploreResult& r, const HistoryEntry& e, const std::string& fs,
               const std::string& found, bool data_losing, const std::string& cause,
               const HistoryOptions& options, HistorySearch* s) {
  s->complete = r.complete;
  s->schedules = r.schedules;
  s->writable_during_writeback = r.writable_during_writeback_schedules;
  for (const ExploreViolation& v : r.violations) {
    const bool match = InvariantName(v.invariant) == found && v.data_losing == data_losing &&
                       (cause.empty() || RootCause::Unpack(v.cause).Id() == cause);
    if (!match) continue;
    if (!s->found || v.preemptions < s->preemptions) {
      s->found = true;
      s->preemptions = v.preemptions;
      s->cause = RootCause::Unpack(v.cause).Id();
      s->replay = absl::StrCat(options.binary, " --scheme=", s->scheme, " --fs=", fs,
                               s->reverted && !Later(e)
                                   ? absl::StrCat(" --revert=", InfoOf(e.fix).commit)
                                   : "",
                               " --scenario=", e.scenario, " --schedule=", v.schedule);
    }
    s->violating += v.schedules;
  }
}

}  // namespace

absl::StatusOr<HistoryEntry> ParseHistoryEntry(absl::string_view file, absl::string_view text) {
  HistoryEntry e;
  e.file = std::string(file);
  bool have_commit = false, have_found = false;
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++n;
    if (auto hash = line.find('#'); hash != absl::string_view::npos) line = line.substr(0, hash);
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    std::vector<absl::string_view> w = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    const absl::string_view key = w[0];
    if (w.size() < 2) return Bad(file, n, absl::StrCat("'", key, "' needs a value"));
    if (key == "commit") {
      auto f = FixByCommit(w[1]);
      if (!f.ok()) return Bad(file, n, f.status().message());
      e.fix = *f;
      have_commit = true;
    } else if (key == "schemes") {
      for (size_t i = 1; i < w.size(); ++i) e.schemes.emplace_back(w[i]);
    } else if (key == "fs") {
      e.fs = std::string(w[1]);
    } else if (key == "scenario") {
      e.scenario = std::string(absl::StripAsciiWhitespace(line.substr(key.size())));
    } else if (key == "preemptions") {
      if (!absl::SimpleAtoi(w[1], &e.preemptions) || e.preemptions < 0 || e.preemptions > 6) {
        return Bad(file, n, "preemptions is the fewest the reverted race needs, 0..6");
      }
    } else if (key == "relaxation") {
      if (w[1] != "yes" && w[1] != "no") return Bad(file, n, "relaxation is yes or no");
      e.relaxation = w[1] == "yes";
    } else if (key == "cause") {
      e.cause = std::string(w[1]);
    } else if (key == "tolerate") {
      e.tolerate.emplace_back(w[1]);
    } else if (key == "workload") {
      e.workload = std::string(w[1]);
    } else if (key == "before_bug") {
      for (size_t i = 1; i < w.size(); ++i) e.before_bug.emplace_back(w[i]);
    } else if (key == "era_fs") {
      if (w.size() != 3) return Bad(file, n, "era_fs SCHEME ADAPTER");
      e.era_fs[std::string(w[1])] = std::string(w[2]);
    } else if (absl::StartsWith(key, "found@")) {
      if (!InvariantByName(w[1]).ok()) return Bad(file, n, absl::StrCat("unknown invariant '", w[1], "'"));
      e.era_found[std::string(key.substr(6))] = std::string(w[1]);
    } else if (absl::StartsWith(key, "data_losing@")) {
      if (w[1] != "yes" && w[1] != "no") return Bad(file, n, "data_losing is yes or no");
      e.era_data_losing[std::string(key.substr(12))] = w[1] == "yes";
    } else if (key == "found") {
      if (!InvariantByName(w[1]).ok()) return Bad(file, n, absl::StrCat("unknown invariant '", w[1], "'"));
      e.found = std::string(w[1]);
      have_found = true;
    } else if (key == "data_losing") {
      if (w[1] != "yes" && w[1] != "no") return Bad(file, n, "data_losing is yes or no");
      e.data_losing = w[1] == "yes";
    } else {
      return Bad(file, n, absl::StrCat("unknown key '", key, "'"));
    }
  }
  if (!have_commit) return Bad(file, n, "no commit");
  if (!have_found) return Bad(file, n, "no found");
  if (e.relaxation && e.cause != "-") return Bad(file, n, "a relaxation's cause is -");
  if (e.schemes.empty() || e.fs.empty() || e.scenario.empty() || e.workload.empty() ||
      e.cause.empty() || e.preemptions < 0) {
    return Bad(file, n, "schemes, fs, scenario, workload, cause and preemptions are required");
  }
  return e;
}

absl::StatusOr<std::vector<HistoryEntry>> HistoryCatalog() {
  std::vector<HistoryEntry> out;
  for (int i = 0; i < history_catalog::kCount; ++i) {
    auto e = ParseHistoryEntry(history_catalog::kFiles[i], history_catalog::kTexts[i]);
    if (!e.ok()) return e.status();
    out.push_back(*std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const HistoryEntry& a, const HistoryEntry& b) {
    return a.fix < b.fix;  // fixes.def is in release order
  });
  return out;
}

absl::StatusOr<HistoryResult> RunHistory(const HistoryOptions& options,
                                         const std::atomic<bool>* interrupt) {
  auto catalog = HistoryCatalog();
  if (!catalog.ok()) return catalog.status();
  HistoryResult result;
  result.preemptions = options.preemptions;
  for (const std::string& c : options.only) {
    auto f = FixByCommit(c);
    if (!f.ok()) return absl::InvalidArgumentError(absl::StrCat("--only=", c, ": ", f.status().message()));
    if (std::none_of(catalog->begin(), catalog->end(),
                     [&](const HistoryEntry& e) { return e.fix == *f; })) {
      return absl::InvalidArgumentError(
          absl::StrCat("--only=", c, ": the catalog has no entry for it (history/*.entry)"));
    }
  }
  for (int i = 0; i < kNumFixes; ++i) {
    // A fix no era holds is not "not modeled": its race is every era's.
    const FixInfo& info = InfoOf(static_cast<Fix>(i));
    if (!info.modeled && EraHolds(KernelEra::kV5_15, info)) {
      result.unmodeled.push_back(static_cast<Fix>(i));
    }
  }
  result.ok = true;
  for (const HistoryEntry& e : *catalog) {
    // One search per (scheme, adapter, revert) of the entry: an era's plain
    // model is often a restored search already.
    std::map<std::tuple<std::string, std::string, Mode>, Search> searches;
    const int bound = options.preemptions == HistoryOptions::kNeeded ? std::max(e.preemptions, 1)
                                                                     : options.preemptions;
    auto search = [&](const std::string& scheme, const std::string& fs, Mode mode) -> const Search& {
      auto key = std::make_tuple(scheme, fs, mode);
      auto it = searches.find(key);
      if (it == searches.end()) {
        it = searches.emplace(key, RunSearch(e, scheme, fs, mode, bound)).first;
      }
      return it->second;
    };
    const bool later = Later(e);
    if (!options.only.empty() &&
        std::none_of(options.only.begin(), options.only.end(),
                     [&](const std::string& c) { return *FixByCommit(c) == e.fix; })) {
      continue;
    }
    if (interrupt && interrupt->load()) break;
    HistoryRow row;
    row.entry = e;
    row.bound = bound;
    row.ok = true;
    for (const std::string& scheme : e.schemes) {
      for (bool reverted : {true, false}) {
        HistorySearch s;
        s.scheme = scheme;
        s.reverted = reverted;
        s.relaxation = e.relaxation;
        const Search& r = search(scheme, e.fs,
                                 reverted ? (later ? Mode::kPlain : Mode::kReverted)
                                          : (later ? Mode::kApplied : Mode::kPlain));
        if (!r.status.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat("history/", e.file, " under ", scheme, ": ", r.status.message()));
        }
        if (e.relaxation) {
          // Both searches clean (the fix loses nothing, and no wait it took
          // out was needed); the restored one shows what the fix allows,
          // the reverted one does not.
          Summarize(r.result, e, e.fs, e.found, e.data_losing, "", options, &s);
          s.found = !r.result.violations.empty();
          if (s.found) s.cause = r.result.causes.empty()
                                     ? std::string()
                                     : RootCause::Unpack(r.result.causes.front().cause).Id();
          s.ok = s.complete && !s.found &&
                 (reverted ? s.writable_during_writeback == 0 : s.writable_during_writeback > 0);
        } else if (reverted) {
          Summarize(r.result, e, e.fs, e.found, e.data_losing, e.cause, options, &s);
          // Found, and at the fewest preemptions the entry says it needs
          // (a bound below that finds nothing, which is not ok either).
          s.ok = s.found && s.preemptions == e.preemptions;
        } else {
          // Restored: no violation at all, but for the causes the entry
          // tolerates.
          s.complete = r.result.complete;
          s.schedules = r.result.schedules;
          bool other = r.result.causes.empty() && !r.result.violations.empty();
          for (const ExploreCause& c : r.result.causes) {
            const std::string id = RootCause::Unpack(c.cause).Id();
            if (std::find(e.tolerate.begin(), e.tolerate.end(), id) == e.tolerate.end()) {
              other = true;
            } else {
              s.tolerated.push_back(id);
            }
          }
          s.found = other;
          s.ok = s.complete && !s.found;
        }
        row.ok &= s.ok;
        (reverted ? row.reverted : row.restored).push_back(std::move(s));
      }
    }
    // Era faithfulness: each era's plain model on the entry's adapter.
    // The fix's race, as the reverted search named it: its root cause,
    // unless that cause names no window (then the invariant alone).
    std::string fix_cause;
    for (const HistorySearch& s : row.reverted) {
      if (s.found && !absl::StartsWith(s.cause, "no_window/")) fix_cause = s.cause;
    }
    for (const char* scheme : kEraSchemes) {
      HistoryEra era;
      era.scheme = scheme;
      const KernelEra k = Scheme(scheme).make()->era();
      era.era = EraName(k);
      era.fs = e.fs_for(scheme);
      if (era.fs == "-") {
        // The filesystem is not in that release (`era_fs SCHEME -`): no
        // model of it to run, nothing to show.
        era.note = absl::StrCat("no ", e.fs.substr(0, e.fs.find(':')), " in ", era.era);
        era.ok = true;
        row.eras.push_back(std::move(era));
        continue;
      }
      era.holds_fix = EraHolds(k, InfoOf(e.fix));
      era.before_bug = std::find(e.before_bug.begin(), e.before_bug.end(), era.scheme) !=
                       e.before_bug.end();
      era.race_expected = !era.holds_fix && !era.before_bug;
      era.found = e.found;
      era.data_losing = e.data_losing;
      if (era.race_expected) {
        if (auto it = e.era_found.find(scheme); it != e.era_found.end()) era.found = it->second;
        if (auto it = e.era_data_losing.find(scheme); it != e.era_data_losing.end()) {
          era.data_losing = it->second;
        }
      }
      const Search& r = search(scheme, era.fs, Mode::kPlain);
      if (!r.status.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("history/", e.file, " era ", era.era, " (",
                                                       scheme, "/", era.fs, "): ", r.status.message()));
      }
      HistorySearch s;
      s.scheme = scheme;
      Summarize(r.result, e, era.fs, era.found, era.data_losing,
                era.race_expected ? "" : fix_cause, options, &s);
      era.ok = era.race_expected ? s.found : (s.complete && !s.found);
      era.search = std::move(s);
      row.ok &= era.ok;
      row.eras.push_back(std::move(era));
    }
    // Stress: the first scheme, jittered, the fix reverted, bounded in time
    // (a relaxation has no race to find).
    if (!e.relaxation) {
      RawFlags raw;
      raw.scheme = e.schemes.front();
      raw.fs = e.fs;
      raw.workload = e.workload;
      if (!later) raw.revert = InfoOf(e.fix).commit;  // a later fix: the plain model
      raw.sched = "jitter";
      raw.seed = "1";
      raw.duration = absl::StrCat(static_cast<int>(options.stress_seconds * 1000), "ms");
      raw.stop_on = e.found;
      auto config = ParseConfig(raw);
      if (!config.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("history/", e.file, " stress: ", config.status().message()));
      }
      // Only the fix's race counts (its root cause, where it has a window):
      // another race of the same invariant is not this entry's.
      const bool by_cause = !absl::StartsWith(e.cause, "no_window/");
      if (by_cause) config->stop_cause = e.cause;
      row.stress_scheme = raw.scheme;
      row.stress_seconds = options.stress_seconds;
      auto run = RunStress(*config, interrupt, {});
      if (!run.ok()) return run.status();
      if (run->deadlocked) {
        return absl::InternalError(absl::StrCat("history/", e.file, " stress: watchdog deadlock"));
      }
      for (const RaceGroup& g : run->races) {
        if (InvariantName(g.first.invariant) != e.found) continue;
        if (by_cause && RootCause::Unpack(g.first.cause).Id() != e.cause) continue;
        const double t = static_cast<double>(g.first.t_ns) / 1e9;
        if (!row.stress_first_s || t < *row.stress_first_s) row.stress_first_s = t;
      }
    }
    result.ok &= row.ok;
    result.rows.push_back(std::move(row));
  }
  return result;
}

}  // namespace pagerace
