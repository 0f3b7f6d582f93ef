// `pagerace explore`, one serial run (`pagerace --scenario=S --schedule=P`),
// `explore --merge`, and the serial replay of a schedule (an explore
// violation's, or a stress race's exact counterexample).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "harness/check/root_cause.h"
#include "harness/core/config.h"
#include "harness/core/exact.h"
#include "harness/core/explore.h"
#include "harness/core/replay.h"
#include "harness/core/scenario.h"
#include "harness/core/stress_driver.h"
#include "harness/run/cli.h"
#include "harness/run/result_json.h"
#include "nlohmann/json.hpp"
#include "harness/run/flags.h"

namespace pagerace::cli {
namespace {

// `pagerace explore --merge=A.json,B.json,...`: dfs shards added up into one
// summary (and --out), as one unsharded run would have printed it.
int MergeMain() {
  for (auto [name, value] : {std::pair{"scheme", absl::GetFlag(FLAGS_scheme)},
                             {"fs", absl::GetFlag(FLAGS_fs)},
                             {"scenario", absl::GetFlag(FLAGS_scenario)},
                             {"strategy", absl::GetFlag(FLAGS_strategy)},
                             {"preemptions", absl::GetFlag(FLAGS_preemptions)},
                             {"max-schedules", absl::GetFlag(FLAGS_max_schedules)},
                             {"shard", absl::GetFlag(FLAGS_shard)},
                             {"seed", absl::GetFlag(FLAGS_seed)},
                             {"pct-depth", absl::GetFlag(FLAGS_pct_depth)}}) {
    if (!value.empty()) {
      Usage(absl::StrFormat("--%s does not apply to --merge (the shards' files fix it)", name));
    }
  }
  std::vector<pagerace::ExploreResult> shards;
  for (absl::string_view file : absl::StrSplit(absl::GetFlag(FLAGS_merge), ',')) {
    const std::string path(file);
    std::ifstream in(path);
    if (path.empty() || !in) Usage(absl::StrFormat("--merge: cannot read '%s'", path));
    const nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) Usage(absl::StrFormat("--merge: '%s' is not JSON", path));
    auto r = pagerace::ExploreFromJson(doc);
    if (!r.ok()) Usage(absl::StrFormat("--merge: '%s': %s", path, r.status().message()));
    shards.push_back(*std::move(r));
  }
  auto merged = pagerace::MergeShards(shards);
  if (!merged.ok()) Usage(std::string(merged.status().message()));
  fputs(pagerace::FormatExploreSummary(*merged).c_str(), stdout);
  if (const std::string out = absl::GetFlag(FLAGS_out); !out.empty()) {
    if (absl::Status s = pagerace::WriteExploreFile(*merged, out); !s.ok()) {
      fprintf(stderr, "pagerace: harness failure: %s\n", std::string(s.message()).c_str());
      return 3;
    }
  }
  return merged->violations.empty() ? 0 : 1;
}

// Whether `run` shows the replay's target: an explore violation's kind and
// invariant, or a stress race's root cause (its exact counterexample).
bool Reproduces(const pagerace::ScheduleRun& run, const pagerace::ScheduleReplayTarget& target) {
  if (run.infeasible_at >= 0) return false;
  for (const pagerace::RaceGroup& g : run.races) {
    if (!target.cause.empty()) {
      if (pagerace::RootCause::Unpack(g.first.cause).Id() == target.cause &&
          (!target.data_losing || g.first.data_losing)) {
        return true;
      }
    } else if (g.first.kind == target.kind && g.first.invariant == target.invariant &&
               g.first.data_losing == target.data_losing) {
      return true;
    }
  }
  return false;
}

// Prints one serial run of `picks` and returns the exit status.  A pick
// that cannot run makes the schedule infeasible here: that is an answer
// (exit 0), and the run's own reports, made after it left the schedule, are
// not the schedule's verdict.  `target`: an explore result's violation being
// replayed (exit 1: reproduced, 0: not).
int ReportScheduleRun(const pagerace::RunConfig& config, const pagerace::Scenario& scenario,
                      const std::vector<int>& picks, const pagerace::ScheduleRun& run,
                      const std::optional<pagerace::ScheduleReplayTarget>& target,
                      const std::string& repeat_line = "") {
  const std::string wanted = pagerace::sched::FormatSchedule(picks);
  printf("pagerace: scheme=%s fs=%s scenario=%s schedule=%s\n", config.scheme->name.c_str(),
         config.fs->name.c_str(), scenario.name.c_str(), wanted.c_str());
  if (run.infeasible_at >= 0) {
    const pagerace::InfeasiblePick& f = run.infeasible;
    printf("pagerace: schedule %s is infeasible under %s at step %lld: %s (the schedule was "
           "found under another scheme or configuration)\n",
           wanted.c_str(), config.scheme->name.c_str(), static_cast<long long>(f.step),
           f.message.c_str());
    printf("  infeasible at step %lld (steps are the schedule's choices, from 1): the run went "
           "on with default picks, its reports are not the schedule's\n",
           static_cast<long long>(f.step));
  }
  printf("  %zu choices, %d preemption%s%s\n", run.choices.size(), run.preemptions,
         run.preemptions == 1 ? "" : "s", run.deadlocked ? "; deadlocked" : "");
  for (const pagerace::RaceGroup& g : run.races) {
    printf("  %s (%s)%s page %llu%s%s\n", pagerace::RaceKindName(g.first.kind),
           pagerace::InvariantName(g.first.invariant), g.first.data_losing ? " data-losing" : "",
           static_cast<unsigned long long>(g.first.page), g.first.detail[0] ? ": " : "",
           g.first.detail);
  }
  if (run.infeasible_at < 0) {
    // The run in kernel terms, step by step.
    for (const std::string& line : pagerace::TellStory(scenario, run)) printf("    %s\n", line.c_str());
  }
  bool reproduced = false;
  if (run.infeasible_at >= 0) {
    printf("  verdict: infeasible\n");
  } else {
    printf("  verdict: %s\n", run.races.empty() ? "clean" : "violations");
    if (target) reproduced = Reproduces(run, *target);
  }
  if (target && !target->cause.empty()) {
    printf("replay: %s %s%s\n", reproduced ? "reproduced" : "not reproduced", target->cause.c_str(),
           target->data_losing ? " data-losing" : "");
  } else if (target) {
    printf("replay: %s %s (%s)%s\n", reproduced ? "reproduced" : "not reproduced",
           pagerace::RaceKindName(target->kind), pagerace::InvariantName(target->invariant),
           target->data_losing ? " data-losing" : "");
  }
  if (!repeat_line.empty()) printf("%s\n", repeat_line.c_str());
  fflush(stdout);
  // A deadlock's threads still hold harness locks: no orderly teardown.  An
  // infeasible schedule is an answer (0) even if the default picks after it
  // deadlocked: the deadlock is reported above, as the run's.
  const int rc = run.infeasible_at >= 0 ? 0
                 : target               ? (reproduced ? 1 : 0)
                                        : (run.races.empty() ? 0 : 1);
  if (run.deadlocked) _exit(rc);
  return rc;
}

}  // namespace

// `pagerace explore` and `pagerace --scenario=S [--schedule=P]`: the serial
// scheduler's two commands.  Flags of the stress run do not apply.
int SerialMain(bool explore, const char* binary) {
  for (auto [name, value] : {std::pair{"workload", absl::GetFlag(FLAGS_workload)},
                             {"threads", absl::GetFlag(FLAGS_threads)},
                             {"pwriters", absl::GetFlag(FLAGS_pwriters)},
                             {"pages", absl::GetFlag(FLAGS_pages)},
                             {"mappings", absl::GetFlag(FLAGS_mappings)},
                             {"duration", absl::GetFlag(FLAGS_duration)},
                             {"ops", absl::GetFlag(FLAGS_ops)},
                             {"sched", absl::GetFlag(FLAGS_sched)},
                             {"order", absl::GetFlag(FLAGS_order)},
                             {"replay", absl::GetFlag(FLAGS_replay)},
                             {"stop-on", absl::GetFlag(FLAGS_stop_on)},
                             {"trace-out", absl::GetFlag(FLAGS_trace_out)}}) {
    if (!value.empty()) {
      Usage(absl::StrFormat("--%s does not apply to %s (the scenario fixes the run)", name,
                            explore ? "explore" : "a scenario run"));
    }
  }
  if (!explore) {
    for (auto [name, value] : {std::pair{"preemptions", absl::GetFlag(FLAGS_preemptions)},
                               {"strategy", absl::GetFlag(FLAGS_strategy)},
                               {"max-schedules", absl::GetFlag(FLAGS_max_schedules)},
                               {"shard", absl::GetFlag(FLAGS_shard)},
                               {"merge", absl::GetFlag(FLAGS_merge)},
                               {"seed", absl::GetFlag(FLAGS_seed)},
                               {"pct-depth", absl::GetFlag(FLAGS_pct_depth)}}) {
      if (!value.empty()) Usage(absl::StrFormat("--%s applies to `pagerace explore` only", name));
    }
  } else if (!absl::GetFlag(FLAGS_schedule).empty()) {
    Usage("--schedule replays one schedule: drop `explore`");
  } else if (!absl::GetFlag(FLAGS_merge).empty()) {
    return MergeMain();
  }
  const std::string spec = absl::GetFlag(FLAGS_scenario).empty() ? "seed" : absl::GetFlag(FLAGS_scenario);
  auto scenario = pagerace::LoadScenario(spec);
  if (!scenario.ok()) Usage(std::string(scenario.status().message()));
  pagerace::RawFlags raw;
  raw.scheme = absl::GetFlag(FLAGS_scheme);
  raw.fs = absl::GetFlag(FLAGS_fs);
  // get_user_pages' mode and the pin-aware writeback answer apply to a
  // scenario with gup threads (its workload, dio, is checked for them).
  raw.workload = scenario->workload;
  raw.gup = absl::GetFlag(FLAGS_gup);
  raw.pin_writeback = absl::GetFlag(FLAGS_pin_writeback);
  raw.revert = absl::GetFlag(FLAGS_revert);
  for (auto [name, value] : {std::pair{"gup", raw.gup}, {"pin-writeback", raw.pin_writeback}}) {
    if (!value.empty() && scenario->gup_threads() == 0) {
      Usage(absl::StrFormat("--%s=%s: scenario %s has no gup threads (want --scenario=dio, or gupN: "
                            "dio ops)",
                            name, value, scenario->name));
    }
  }
  auto config = pagerace::ParseConfig(raw);
  if (!config.ok()) Usage(std::string(config.status().message()));
  config->binary = binary;
  if (auto c = pagerace::ScenarioConfig(*config, *scenario); !c.ok()) {
    Usage(std::string(c.status().message()));
  }
  const std::string out = absl::GetFlag(FLAGS_out);

  if (!explore) {
    auto picks = pagerace::sched::ParseSchedule(absl::GetFlag(FLAGS_schedule));
    if (!picks.ok()) Usage(absl::StrCat("--schedule: ", picks.status().message()));
    auto run = pagerace::RunSchedule(*config, *scenario, *picks);
    if (!run.ok()) {
      fprintf(stderr, "pagerace: harness failure: %s\n", std::string(run.status().message()).c_str());
      return 3;
    }
    return ReportScheduleRun(*config, *scenario, *picks, *run, std::nullopt);
  }

  pagerace::ExploreOptions options;
  options.minimize = absl::GetFlag(FLAGS_minimize);
  if (const std::string st = absl::GetFlag(FLAGS_strategy); !st.empty()) {
    auto s = pagerace::ExploreStrategyByName(st);
    if (!s.ok()) Usage(std::string(s.status().message()));
    options.strategy = *s;
  }
  const bool dfs = options.strategy == pagerace::ExploreStrategy::kDfs;
  const bool pct = options.strategy == pagerace::ExploreStrategy::kPct;
  if (const std::string v = absl::GetFlag(FLAGS_por); !v.empty()) {
    if (!dfs) Usage("--por applies to --strategy=dfs");
    auto p = pagerace::ExplorePorByName(v);
    if (!p.ok()) Usage(std::string(p.status().message()));
    options.por = *p;
  }
  if (dfs) {
    for (auto [name, value] : {std::pair{"seed", absl::GetFlag(FLAGS_seed)},
                               {"pct-depth", absl::GetFlag(FLAGS_pct_depth)}}) {
      if (!value.empty()) Usage(absl::StrFormat("--%s applies to --strategy=random|pct", name));
    }
  } else {
    if (!absl::GetFlag(FLAGS_preemptions).empty()) {
      Usage("--preemptions bounds --strategy=dfs (random and pct take --max-schedules)");
    }
    if (!absl::GetFlag(FLAGS_shard).empty()) {
      Usage("--shard splits --strategy=dfs's tree (shard random or pct by --seed)");
    }
    if (!pct && !absl::GetFlag(FLAGS_pct_depth).empty()) {
      Usage("--pct-depth applies to --strategy=pct");
    }
  }
  if (const std::string v = absl::GetFlag(FLAGS_seed); !v.empty()) {
    if (!absl::SimpleAtoi(v, &options.seed)) {
      Usage(absl::StrFormat("--seed: want an unsigned integer, got '%s'", v));
    }
  }
  if (const std::string v = absl::GetFlag(FLAGS_pct_depth); !v.empty()) {
    if (!absl::SimpleAtoi(v, &options.pct_depth) || options.pct_depth < 1 ||
        options.pct_depth > pagerace::sched::kMaxPctDepth) {
      Usage(absl::StrFormat("--pct-depth: want 1..%d, got '%s'", pagerace::sched::kMaxPctDepth, v));
    }
  }
  if (const std::string v = absl::GetFlag(FLAGS_shard); !v.empty()) {
    const size_t slash = v.find('/');
    if (slash == std::string::npos ||
        !absl::SimpleAtoi(v.substr(0, slash), &options.shard_index) ||
        !absl::SimpleAtoi(v.substr(slash + 1), &options.shard_count) || options.shard_count < 1 ||
        options.shard_count > 4096 || options.shard_index < 1 ||
        options.shard_index > options.shard_count) {
      Usage(absl::StrFormat("--shard: want I/N with 1 <= I <= N <= 4096, got '%s'", v));
    }
  }
  if (const std::string p = absl::GetFlag(FLAGS_preemptions); p == "all") {
    options.max_preemptions = pagerace::kAllPreemptions;
  } else if (!p.empty()) {
    if (!absl::SimpleAtoi(p, &options.max_preemptions) || options.max_preemptions < 0 ||
        options.max_preemptions > 8) {
      Usage(absl::StrFormat("--preemptions: want 0..8 or all, got '%s'", p));
    }
  }
  if (const std::string m = absl::GetFlag(FLAGS_max_schedules); !m.empty()) {
    if (!absl::SimpleAtoi(m, &options.max_schedules) || options.max_schedules == 0) {
      Usage(absl::StrFormat("--max-schedules: want a positive count, got '%s'", m));
    }
  } else if (!dfs) {
    options.max_schedules = pagerace::kDefaultSampledSchedules;
  }
  const bool tty = isatty(STDERR_FILENO);
  double last = -1;
  auto progress = [tty, &last](const pagerace::ExploreProgress& p) {
    if (!tty || p.elapsed_s - last < 0.5) return;
    last = p.elapsed_s;
    fprintf(stderr, "\r  %.1fs  preemptions %d  schedules %llu  runs %llu (%.0f/s)  violations %zu   ",
            p.elapsed_s, p.bound, static_cast<unsigned long long>(p.schedules),
            static_cast<unsigned long long>(p.executions), p.executions / std::max(p.elapsed_s, 1e-9),
            p.violations);
    fflush(stderr);
  };
  auto result = pagerace::Explore(*config, *scenario, options, progress);
  if (tty) fprintf(stderr, "\r\033[K");
  if (!result.ok()) {
    fprintf(stderr, "pagerace: harness failure: %s\n", std::string(result.status().message()).c_str());
    return 3;
  }
  fputs(pagerace::FormatExploreSummary(*result).c_str(), stdout);
  if (!out.empty()) {
    if (absl::Status s = pagerace::WriteExploreFile(*result, out); !s.ok()) {
      fprintf(stderr, "pagerace: harness failure: %s\n", std::string(s.message()).c_str());
      if (result->deadlocked) _exit(3);
      return 3;
    }
  }
  fflush(stdout);
  fflush(stderr);
  if (result->deadlocked) _exit(1);  // the deadlocked threads still hold harness locks
  return result->violations.empty() ? 0 : 1;
}

// `pagerace --replay=X.json[:I]` of an explore result: the violation's
// schedule, exactly, under the serial scheduler (replay.h); --scheme/--fs
// replace the recorded ones (the distinguishing-schedule replay).
int ScheduleReplayMain(const std::string& spec, const char* binary) {
  auto t = pagerace::LoadScheduleReplay(spec);
  if (!t.ok()) Usage(std::string(t.status().message()));
  for (auto [name, value] : {std::pair{"workload", absl::GetFlag(FLAGS_workload)},
                             {"threads", absl::GetFlag(FLAGS_threads)},
                             {"pwriters", absl::GetFlag(FLAGS_pwriters)},
                             {"pages", absl::GetFlag(FLAGS_pages)},
                             {"mappings", absl::GetFlag(FLAGS_mappings)},
                             {"duration", absl::GetFlag(FLAGS_duration)},
                             {"ops", absl::GetFlag(FLAGS_ops)},
                             {"seed", absl::GetFlag(FLAGS_seed)},
                             {"sched", absl::GetFlag(FLAGS_sched)},
                             {"order", absl::GetFlag(FLAGS_order)},
                             {"stop-on", absl::GetFlag(FLAGS_stop_on)},
                             {"out", absl::GetFlag(FLAGS_out)},
                             {"trace-out", absl::GetFlag(FLAGS_trace_out)},
                             {"scenario", absl::GetFlag(FLAGS_scenario)},
                             {"schedule", absl::GetFlag(FLAGS_schedule)},
                             {"preemptions", absl::GetFlag(FLAGS_preemptions)},
                             {"strategy", absl::GetFlag(FLAGS_strategy)},
                             {"max-schedules", absl::GetFlag(FLAGS_max_schedules)}}) {
    if (!value.empty()) {
      Usage(absl::StrFormat(
          "--%s does not apply to the replay of an explore result (its scenario and schedule "
          "fix the run; --scheme, --fs, --gup, --pin-writeback and --revert may change)",
          name));
    }
  }
  pagerace::RawFlags raw;
  raw.scheme = absl::GetFlag(FLAGS_scheme).empty() ? t->scheme : absl::GetFlag(FLAGS_scheme);
  raw.fs = absl::GetFlag(FLAGS_fs).empty() ? t->fs : absl::GetFlag(FLAGS_fs);
  raw.workload = t->scenario.workload;
  raw.gup = absl::GetFlag(FLAGS_gup).empty() ? t->gup : absl::GetFlag(FLAGS_gup);
  raw.pin_writeback =
      absl::GetFlag(FLAGS_pin_writeback).empty() ? t->pin_writeback : absl::GetFlag(FLAGS_pin_writeback);
  // The recorded reverts hold for the recorded scheme and fs; under others,
  // only those given here.
  raw.revert = absl::GetFlag(FLAGS_revert);
  if (raw.revert.empty() && raw.scheme == t->scheme && raw.fs == t->fs) raw.revert = t->revert;
  auto config = pagerace::ParseConfig(raw);
  if (!config.ok()) Usage(std::string(config.status().message()));
  config->binary = binary;
  if (auto c = pagerace::ScenarioConfig(*config, t->scenario); !c.ok()) {
    Usage(std::string(c.status().message()));
  }
  auto picks = pagerace::sched::ParseSchedule(t->schedule);
  if (!picks.ok()) Usage(absl::StrCat("--replay: the violation's schedule: ", picks.status().message()));
  int repeat = 1;
  if (const std::string r = absl::GetFlag(FLAGS_repeat); !r.empty()) {
    if (!absl::SimpleAtoi(r, &repeat) || repeat < 1 || repeat > 100000) {
      Usage(absl::StrCat("--repeat=", r, ": want a count of runs in [1, 100000]"));
    }
  }
  if (!t->cause.empty()) {
    std::string text = t->scenario.text;
    while (!text.empty() && text.back() == '\n') text.pop_back();
    printf("replay of %s:%d: root cause %s%s, the exact counterexample derived from race %d of "
           "the stress run: scenario '%s', schedule %s (%d preemption%s) found under scheme=%s "
           "fs=%s; serial\n",
           t->file.c_str(), t->index, t->cause.c_str(), t->data_losing ? " (data-losing)" : "",
           t->race, absl::StrReplaceAll(text, {{"\n", "|"}}).c_str(), t->schedule.c_str(),
           t->preemptions, t->preemptions == 1 ? "" : "s", t->scheme.c_str(), t->fs.c_str());
  } else {
    printf("replay of %s:%d: %s (%s)%s, schedule %s (%d preemption%s) found under scheme=%s fs=%s; "
           "serial\n",
           t->file.c_str(), t->index, pagerace::RaceKindName(t->kind),
           pagerace::InvariantName(t->invariant), t->data_losing ? " data-losing" : "",
           t->schedule.c_str(), t->preemptions, t->preemptions == 1 ? "" : "s", t->scheme.c_str(),
           t->fs.c_str());
  }
  auto run = pagerace::RunSchedule(*config, t->scenario, *picks);
  if (!run.ok()) {
    fprintf(stderr, "pagerace: harness failure: %s\n", std::string(run.status().message()).c_str());
    return 3;
  }
  // --repeat: the schedule again, each run compared with the first
  // (choices, total-order log, reports), and its reproductions counted.
  std::string repeat_line;
  if (repeat > 1 && !run->deadlocked) {
    int reproduced = Reproduces(*run, *t) ? 1 : 0, identical = 1;
    std::string first_difference;
    for (int i = 1; i < repeat; ++i) {
      auto again = pagerace::RunSchedule(*config, t->scenario, *picks);
      if (!again.ok()) {
        fprintf(stderr, "pagerace: harness failure: %s\n", std::string(again.status().message()).c_str());
        return 3;
      }
      if (again->deadlocked) {
        first_difference = "a run deadlocked";
        break;
      }
      reproduced += Reproduces(*again, *t) ? 1 : 0;
      const std::string d = pagerace::FirstDifference(*run, *again);
      if (d.empty()) {
        ++identical;
      } else if (first_difference.empty()) {
        first_difference = d;
      }
    }
    repeat_line = absl::StrFormat("replay: %d/%d runs reproduced it; %d/%d identical to the first%s%s",
                                  reproduced, repeat, identical, repeat,
                                  first_difference.empty() ? "" : ": ", first_difference);
  }
  return ReportScheduleRun(*config, t->scenario, *picks, *run, *t, repeat_line);
}

}  // namespace pagerace::cli
