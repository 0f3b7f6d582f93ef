// The explorer's sampling searches' driver (explore.h): the schedules drawn
// from a SampledSearch (explore_random.cc, explore_pct.cc), what each showed;
// and the merge of dfs shards.
#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "harness/base/clock.h"
#include "harness/base/rng.h"
#include "harness/core/explore.h"
#include "harness/core/explore_search.h"
#include "harness/sched/choosers.h"

namespace pagerace {
namespace explore_internal {
namespace {

// Records the violations `r` showed: one entry per kind/invariant/data_losing,
// counted once per schedule, keeping the schedule with the fewest
// preemptions (the first of those).
void NoteSampled(const ScheduleRun& r, ExploreResult* result) {
  std::set<std::tuple<RaceKind, Invariant, bool>> seen;
  for (const RaceGroup& g : r.races) {
    const RaceRecord& f = g.first;
    if (!seen.insert({f.kind, f.invariant, f.data_losing}).second) continue;
    auto it = std::find_if(result->violations.begin(), result->violations.end(),
                           [&](const ExploreViolation& v) {
                             return v.kind == f.kind && v.invariant == f.invariant &&
                                    v.data_losing == f.data_losing;
                           });
    if (it == result->violations.end()) {
      result->violations.emplace_back();
      it = result->violations.end() - 1;
      it->kind = f.kind;
      it->invariant = f.invariant;
      it->data_losing = f.data_losing;
    } else if (r.preemptions >= it->preemptions) {
      ++it->schedules;
      continue;
    }
    ++it->schedules;
    it->preemptions = r.preemptions;
    it->schedule = r.schedule();
    it->page = f.page;
    it->detail = f.detail;
    it->cause = f.cause;
  }
  NoteCauses(r, 0, 0, result);
}

// One run under `chooser`, which a deadlocked run keeps.
absl::StatusOr<ScheduleRun> RunOwned(const RunConfig& base, const Scenario& scenario,
                                     std::unique_ptr<sched::SerialChooser> chooser) {
  auto run = RunScheduleWith(base, scenario, chooser.get());
  if (run.ok() && run->deadlocked) (void)chooser.release();
  if (run.ok() && run->overflowed) {
    return absl::InternalError(
        absl::StrCat("harness bug: schedule ", run->schedule(), " overflowed the choice record"));
  }
  return run;
}

}  // namespace

absl::Status ExploreSampled(const RunConfig& base, const Scenario& scenario,
                            const ExploreOptions& options,
                            const std::function<void(const ExploreProgress&)>& on_progress,
                            ExploreResult* result) {
  std::unique_ptr<SampledSearch> search =
      options.strategy == ExploreStrategy::kPct ? NewPctSearch() : NewRandomSearch();
  const int n = static_cast<int>(scenario.threads.size());
  if (n < 1 || n > sched::kMaxSerialThreads) {
    return absl::InvalidArgumentError(absl::StrCat("scenario ", scenario.name, ": ", n, " threads"));
  }
  if (absl::Status s = search->Validate(options); !s.ok()) return s;
  const uint64_t budget = options.max_schedules ? options.max_schedules : kDefaultSampledSchedules;
  result->options.max_schedules = budget;
  const int64_t t0 = now_ns();
  auto elapsed = [t0] { return static_cast<double>(now_ns() - t0) / 1e9; };
  // Every draw of the search, the strategy's preparation included, comes
  // from here in a fixed order: the same seed runs the same schedules.
  Rng rng(options.seed);
  const SampledSearch::RunFn run = [&](std::unique_ptr<sched::SerialChooser> chooser) {
    auto r = RunOwned(base, scenario, std::move(chooser));
    if (r.ok()) ++result->executions;
    return r;
  };
  auto stop_at_deadlock = [result](const ScheduleRun& r) {
    result->deadlocked = true;
    NoteSampled(r, result);
  };

  auto prepared = search->Prepare(run, n, options, &rng, result);
  if (!prepared.ok()) return prepared.status();
  if (prepared->has_value()) {
    stop_at_deadlock(**prepared);
    return absl::OkStatus();
  }
  for (uint64_t i = 0; i < budget; ++i) {
    auto r = run(search->Next(&rng, *result));
    if (!r.ok()) return r.status();
    ++result->schedules;
    result->pct_max_steps = std::max<uint64_t>(result->pct_max_steps, r->choices.size());
    const size_t p = static_cast<size_t>(r->preemptions);
    while (result->bounds.size() <= p) {
      result->bounds.emplace_back();
      result->bounds.back().preemptions = static_cast<int>(result->bounds.size() - 1);
    }
    ++result->bounds[p].schedules;
    if (!r->races.empty()) ++result->violating_schedules;
    if (r->writable_during_writeback > 0) ++result->writable_during_writeback_schedules;
    if (r->deadlocked) {
      stop_at_deadlock(*r);
      break;
    }
    NoteSampled(*r, result);
    if (on_progress) {
      on_progress({r->preemptions, result->schedules, result->executions,
                   result->violations.size(), elapsed()});
    }
  }
  if (!search->reports_max_steps()) result->pct_max_steps = 0;
  return absl::OkStatus();
}

}  // namespace explore_internal

absl::StatusOr<ExploreResult> MergeShards(const std::vector<ExploreResult>& shards) {
  if (shards.empty()) return absl::InvalidArgumentError("--merge: no shard results");
  const ExploreResult& first = shards.front();
  ExploreResult out;
  out.config = first.config;
  out.scenario = first.scenario;
  out.options = first.options;
  out.options.shard_index = 0;
  out.complete = true;
  std::set<int> seen;
  for (const ExploreResult& s : shards) {
    const ExploreOptions& o = s.options;
    auto differs = [&](const char* what) {
      return absl::InvalidArgumentError(
          absl::StrCat("--merge: shard ", o.shard_index, "/", o.shard_count, " differs in ", what));
    };
    if (o.strategy != ExploreStrategy::kDfs) return differs("strategy (only dfs shards merge)");
    if (!s.merged_shards.empty()) return differs("kind: it is a merged result already");
    if (s.config.scheme != first.config.scheme) return differs("scheme");
    if (s.config.fs != first.config.fs) return differs("fs");
    if (!(s.config.reverts == first.config.reverts)) return differs("revert");
    if (s.config.pin_writeback != first.config.pin_writeback) return differs("pin-writeback");
    if (s.scenario.text != first.scenario.text) return differs("scenario");
    if (o.max_preemptions != first.options.max_preemptions) return differs("preemptions");
    if (o.por != first.options.por) return differs("por");
    if (o.max_schedules != first.options.max_schedules) return differs("max-schedules");
    if (o.shard_count != first.options.shard_count) return differs("shard count");
    if (o.shard_depth != first.options.shard_depth) return differs("shard depth");
    if (!seen.insert(o.shard_index).second) {
      return absl::InvalidArgumentError(absl::StrCat("--merge: shard ", o.shard_index, "/",
                                                     o.shard_count, " given twice"));
    }
    for (const ExploreBound& b : s.bounds) {
      auto at = std::find_if(out.bounds.begin(), out.bounds.end(),
                             [&](const ExploreBound& m) { return m.preemptions == b.preemptions; });
      if (at == out.bounds.end()) {
        out.bounds.emplace_back();
        out.bounds.back().preemptions = b.preemptions;
        std::sort(out.bounds.begin(), out.bounds.end(),
                  [](const ExploreBound& x, const ExploreBound& y) {
                    return x.preemptions < y.preemptions;
                  });
        at = std::find_if(out.bounds.begin(), out.bounds.end(),
                          [&](const ExploreBound& m) { return m.preemptions == b.preemptions; });
      }
      ExploreBound& m = *at;
      m.schedules += b.schedules;
      m.traces += b.traces;
      m.sleep_blocked += b.sleep_blocked;
      m.pruned += b.pruned;
      m.executions += b.executions;
      m.cut |= b.cut;
      m.elapsed_s = std::max(m.elapsed_s, b.elapsed_s);
    }
    out.complete_unbounded = (seen.size() == 1 ? true : out.complete_unbounded) && s.complete_unbounded;
    out.schedules += s.schedules;
    out.violating_schedules += s.violating_schedules;
    out.writable_during_writeback_schedules += s.writable_during_writeback_schedules;
    out.executions += s.executions;
    out.complete &= s.complete;
    out.deadlocked |= s.deadlocked;
    out.elapsed_s = std::max(out.elapsed_s, s.elapsed_s);
    for (const ExploreViolation& v : s.violations) {
      auto it = std::find_if(out.violations.begin(), out.violations.end(),
                             [&](const ExploreViolation& w) {
                               return w.kind == v.kind && w.invariant == v.invariant &&
                                      w.data_losing == v.data_losing;
                             });
      if (it == out.violations.end()) {
        out.violations.push_back(v);
        continue;
      }
      const uint64_t count = it->schedules + v.schedules;
      if (std::tie(v.preemptions, v.dfs_subtree, v.dfs_run) <
          std::tie(it->preemptions, it->dfs_subtree, it->dfs_run)) {
        *it = v;
      }
      it->schedules = count;
    }
    for (const ExploreCause& c : s.causes) {
      auto it = std::find_if(out.causes.begin(), out.causes.end(),
                             [&](const ExploreCause& d) { return d.cause == c.cause; });
      if (it == out.causes.end()) {
        out.causes.push_back(c);
        continue;
      }
      const uint64_t count = it->schedules + c.schedules;
      const uint64_t symptoms = it->symptoms | c.symptoms;
      const bool losing = it->data_losing || c.data_losing;
      if (std::make_tuple(c.preemptions, !c.schedule_data_losing, c.dfs_subtree, c.dfs_run) <
          std::make_tuple(it->preemptions, !it->schedule_data_losing, it->dfs_subtree,
                          it->dfs_run)) {
        *it = c;
      }
      it->schedules = count;
      it->symptoms = symptoms;
      it->data_losing = losing;
    }
  }
  out.complete &= seen.size() == static_cast<size_t>(first.options.shard_count);
  out.merged_shards.assign(seen.begin(), seen.end());
  // The order one run would have met them in.
  std::stable_sort(out.violations.begin(), out.violations.end(),
                   [](const ExploreViolation& a, const ExploreViolation& b) {
                     return std::tie(a.preemptions, a.dfs_subtree, a.dfs_run) <
                            std::tie(b.preemptions, b.dfs_subtree, b.dfs_run);
                   });
  // Causes stay in the order an unsharded run meets them: by their first
  // schedule's place in the search (each shard's list is in that order).
  std::stable_sort(out.causes.begin(), out.causes.end(),
                   [](const ExploreCause& a, const ExploreCause& b) {
                     return std::tie(a.preemptions, a.dfs_subtree, a.dfs_run) <
                            std::tie(b.preemptions, b.dfs_subtree, b.dfs_run);
                   });
  return out;
}

}  // namespace pagerace
