// pagerace: one stress run (DESIGN §10).
//
// Exit status: 0 clean, 1 races found, 2 bad usage or configuration (one
// line naming the problem, before any work), 3 harness failure.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <string_view>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "harness/core/config.h"
#include "harness/core/explore.h"
#include "harness/check/root_cause.h"
#include "harness/core/exact.h"
#include "harness/core/replay.h"
#include "harness/core/scenario.h"
#include "harness/run/result_json.h"
#include "harness/core/stress_driver.h"

// Every flag is a string, parsed by ParseConfig: Abseil's own parse errors
// exit 1 with a multi-line message, and bad input must exit 2 with one line.
// The choices in --help come from the registries (--list describes each).
ABSL_FLAG(std::string, scheme, "",
          "lock scheme (default legacy): " + pagerace::SchemeRegistry().Joined(" | "));
ABSL_FLAG(std::string, fs, "",
          "filesystem adapter (default nfs): " + pagerace::AdapterRegistry().Joined(" | "));
ABSL_FLAG(std::string, workload, "",
          "workload (default mixed): " + pagerace::WorkloadRegistry().Joined(" | "));
ABSL_FLAG(std::string, threads, "", "mmap worker threads (default 2)");
ABSL_FLAG(std::string, pwriters, "", "pwrite-path writer threads (default 1)");
ABSL_FLAG(std::string, pages, "", "pages in the file (default 64)");
ABSL_FLAG(std::string, mappings, "", "user mappings of the file (default 2)");
ABSL_FLAG(std::string, duration, "", "run time, e.g. 10s (default 10s; or --ops)");
ABSL_FLAG(std::string, ops, "", "total worker operations instead of --duration");
ABSL_FLAG(std::string, seed, "",
          "seed for every random choice (default 1); explore: of --strategy=random|pct");
ABSL_FLAG(std::string, sched, "", "schedule policy: off | jitter | ordered | pct (default off)");
ABSL_FLAG(std::string, jitter_max_us, "",
          "--sched=jitter: longest delay at a schedule point, in microseconds (default 50)");
ABSL_FLAG(std::string, pct_depth, "",
          "--sched=pct, or explore --strategy=pct: bug depth d, d-1 priority changes (default 3)");
ABSL_FLAG(std::string, order, "",
          "--sched=ordered: dependencies A<B,C<D between schedule points (a thread at B waits "
          "for A)");
ABSL_FLAG(std::string, replay, "",
          "re-run the race FILE[:INDEX] of a result JSON (exit 1: reproduced, 0: not); of an "
          "explore result: its violation's schedule, under the serial scheduler");
ABSL_FLAG(std::string, stop_on, "",
          "end the run at the first report of: race | data_losing | an invariant (I0..I8, "
          "ledger, watchdog, lockdep, fs); default: run the whole --duration/--ops");
ABSL_FLAG(std::string, gup, "",
          "--workload=dio: how the get_user_pages callers take pages: get | pin | longterm "
          "(default: the scheme's era: get for legacy/locked, pin for modern)");
ABSL_FLAG(std::string, pin_writeback, "",
          "what writeback and reclaim do with a pinned page: none (5.15) | v6.4 (reclaim keeps it) | "
          "skip | bounce (proposed pin-aware writeback) (default none)");
ABSL_FLAG(std::string, revert, "",
          "COMMIT[,COMMIT...]: run with these kernel fixes reverted, their code as before the "
          "commit (--list shows the fixes; refused where the scheme's release or the fs does not "
          "hold the fix)");
ABSL_FLAG(std::string, only, "",
          "history: COMMIT[,COMMIT...]: the catalog entries to run (default every one)");
ABSL_FLAG(std::string, out, "", "write the result JSON here");
ABSL_FLAG(std::string, trace_out, "",
          "write the run's and its races' event timelines here (Chrome trace format)");
ABSL_FLAG(bool, list, false, "list schemes, adapters and workloads, one line each, and exit");
ABSL_FLAG(std::string, scenario, "",
          "`pagerace explore`, or one serial run: a built-in scenario (`pagerace --list` shows "
          "them) or @FILE in the scenario text form");
ABSL_FLAG(std::string, schedule, "",
          "with --scenario: run this schedule (e.g. 0*7,1*3) under the serial scheduler");
ABSL_FLAG(std::string, preemptions, "",
          "explore, history: the most preemptions per schedule (default 2; explore also takes "
          "'all': one search with no bound); history also takes "
          "'needed': each entry at the preemptions its reverted race needs (at least 1)");
ABSL_FLAG(std::string, por, "",
          "explore --strategy=dfs: partial-order reduction: dpor (default: one schedule per class "
          "of schedules that differ only in the order of independent steps) | none (every "
          "schedule)");
ABSL_FLAG(std::string, strategy, "",
          "explore: search strategy: dfs (default: every schedule up to --preemptions, or one of "
          "each class of equivalent ones with --por=dpor) | random "
          "(seeded random walks) | pct (strict PCT, seeded)");
ABSL_FLAG(bool, minimize, true,
          "explore (dfs): shrink the first violation to a minimal counterexample and tell its "
          "story (--minimize=false: the search's verdict only)");
ABSL_FLAG(std::string, max_schedules, "",
          "explore: dfs: stop after this many runs (the result says it is incomplete; default no "
          "limit); random, pct: the schedules to run (default 1000)");
ABSL_FLAG(std::string, shard, "",
          "explore --strategy=dfs: run shard I/N of the search (e.g. 2/3); N processes with "
          "I=1..N together run it once (--merge adds their --out files up)");
ABSL_FLAG(std::string, exact, "",
          "stress: after the run, turn one race of each root cause into an exact "
          "counterexample: a scenario derived from its trace, explored until a schedule shows "
          "the same root cause, shrunk and told (on, the default | off)");
ABSL_FLAG(std::string, repeat, "",
          "--replay of a schedule (an explore violation, or a stress race's exact "
          "counterexample): run it this many times and count the reproductions (default 1)");
ABSL_FLAG(std::string, merge, "",
          "explore: add up dfs shards' result files A.json,B.json,... into one summary (and "
          "--out)");

namespace {

std::atomic<bool> g_interrupted{false};

void OnSigint(int) { g_interrupted.store(true); }

[[noreturn]] void Usage(const std::string& msg) {
  fprintf(stderr, "pagerace: %s\n", msg.c_str());
  exit(2);
}

// Rejects what Abseil would reject with exit 1: unknown flags, positional
// arguments and flags without a value.
void PrescanArgs(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") break;
    if (a.substr(0, 1) != "-" || a == "-") {
      Usage(absl::StrFormat("unexpected argument '%s' (flags are --name=value)", a));
    }
    std::string_view body = a.substr(a.substr(0, 2) == "--" ? 2 : 1);
    std::string_view name = body.substr(0, body.find('='));
    if (name == "list" || name == "help" || name == "helpfull" || name == "helpshort" || name == "version" ||
        name == "helppackage" || name == "only_check_args") {
      continue;
    }
    if (absl::FindCommandLineFlag(absl::string_view(name.data(), name.size())) == nullptr) {
      Usage(absl::StrFormat("unknown flag --%s (see --help)", name));
    }
    if (body.find('=') == std::string_view::npos) {
      Usage(absl::StrFormat("--%s needs a value (--%s=VALUE)", name, name));
    }
  }
}

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

// Prints one serial run of `picks` and returns the exit status.  A pick
// that cannot run makes the schedule infeasible here: that is an answer
// (exit 0), and the run's own reports, made after it left the schedule, are
// not the schedule's verdict.  `target`: an explore result's violation being
// replayed (exit 1: reproduced, 0: not).
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

}  // namespace

// `pagerace history`: the catalog of the kernel's fixes, each reverted and
// found, restored and clean, every era's plain model, and a stress column
// (harness/core/history.h).  Exit 0 when every entry holds, 1 when one does
// not, 2 on bad input.
int HistoryMain(const char* binary) {
  for (auto [f, v] : {std::pair{"scheme", absl::GetFlag(FLAGS_scheme)},
                      {"fs", absl::GetFlag(FLAGS_fs)},
                      {"scenario", absl::GetFlag(FLAGS_scenario)},
                      {"revert", absl::GetFlag(FLAGS_revert)},
                      {"replay", absl::GetFlag(FLAGS_replay)}}) {
    if (!v.empty()) {
      Usage(absl::StrFormat("--%s does not apply to `history` (each catalog entry names its own)", f));
    }
  }
  pagerace::HistoryOptions o;
  o.binary = binary;
  if (const std::string p = absl::GetFlag(FLAGS_preemptions); p == "needed") {
    o.preemptions = pagerace::HistoryOptions::kNeeded;
  } else if (!p.empty()) {
    if (!absl::SimpleAtoi(p, &o.preemptions) || o.preemptions < 0 || o.preemptions > 6) {
      Usage(absl::StrCat("--preemptions=", p, ": want an integer in [0, 6], or 'needed'"));
    }
  }
  if (const std::string d = absl::GetFlag(FLAGS_duration); !d.empty()) {
    absl::Duration dur;
    if (!absl::ParseDuration(d, &dur) || dur <= absl::ZeroDuration() || dur > absl::Minutes(10)) {
      Usage(absl::StrCat("--duration=", d, ": want the stress column's bound, e.g. 3s (at most 10m)"));
    }
    o.stress_seconds = absl::ToDoubleSeconds(dur);
  }
  for (absl::string_view c : absl::StrSplit(absl::GetFlag(FLAGS_only), ',', absl::SkipWhitespace())) {
    o.only.emplace_back(c);
  }
  const std::string out = absl::GetFlag(FLAGS_out);
  if (!out.empty()) {
    pagerace::RawFlags raw;
    raw.out = out;
    if (auto c = pagerace::ParseConfig(raw); !c.ok()) Usage(std::string(c.status().message()));
  }
  auto r = pagerace::RunHistory(o, &g_interrupted);
  if (!r.ok()) {
    if (absl::IsInvalidArgument(r.status())) Usage(std::string(r.status().message()));
    fprintf(stderr, "pagerace history: %s\n", std::string(r.status().message()).c_str());
    return 3;
  }
  fputs(pagerace::HistoryText(*r).c_str(), stdout);
  if (!out.empty()) {
    if (absl::Status s = pagerace::WriteHistoryFiles(*r, out); !s.ok()) {
      fprintf(stderr, "pagerace history: %s\n", std::string(s.message()).c_str());
      return 3;
    }
  }
  return r->ok ? 0 : 1;
}

int main(int argc, char** argv) {
  // --help shows this file's flags (Abseil's default matches the file name
  // against the program's, which "main.cc" never does).
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "harness/run/main.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "stress the page-fault / page_mkwrite / writeback protocol under a lock scheme.\n"
      "  pagerace --scheme=legacy --fs=nfs --duration=10s --seed=1 --sched=jitter --out=r.json");
  // Flag names are written with dashes (--trace-out); Abseil's use '_'.
  // `pagerace explore ...`: the subcommand is dropped before flag parsing.
  const bool explore = argc > 1 && std::string_view(argv[1]) == "explore";
  const bool history = argc > 1 && std::string_view(argv[1]) == "history";
  if (explore || history) {
    for (int i = 1; i + 1 < argc; ++i) argv[i] = argv[i + 1];
    --argc;
  }
  std::vector<std::string> renamed(argv, argv + argc);
  for (int i = 1; i < argc; ++i) {
    std::string& arg = renamed[i];
    if (arg == "--") break;
    const size_t eq = std::min(arg.find('='), arg.size());
    for (size_t k = 2; k < eq; ++k) {
      if (arg[k] == '-') arg[k] = '_';
    }
    argv[i] = renamed[i].data();
  }
  PrescanArgs(argc, argv);
  absl::ParseCommandLine(argc, argv);

  if (absl::GetFlag(FLAGS_list)) {
    fputs(pagerace::FormatRegistries().c_str(), stdout);
    return 0;
  }

  if (history) return HistoryMain(argv[0]);
  // A schedule to replay: an explore violation's, or a stress race's exact
  // counterexample (unless --sched asks for the stress replay).
  // A flag of the stress run (--sched, --duration, --seed, ...) asks for the
  // stress replay of the recorded configuration instead.
  bool stress_flags = false;
  for (const std::string& v : {absl::GetFlag(FLAGS_sched), absl::GetFlag(FLAGS_duration),
                               absl::GetFlag(FLAGS_ops), absl::GetFlag(FLAGS_seed),
                               absl::GetFlag(FLAGS_threads), absl::GetFlag(FLAGS_pwriters),
                               absl::GetFlag(FLAGS_pages), absl::GetFlag(FLAGS_mappings),
                               absl::GetFlag(FLAGS_workload), absl::GetFlag(FLAGS_order),
                               absl::GetFlag(FLAGS_stop_on), absl::GetFlag(FLAGS_out),
                               absl::GetFlag(FLAGS_trace_out)}) {
    stress_flags |= !v.empty();
  }
  if (const std::string spec = absl::GetFlag(FLAGS_replay);
      !explore && !spec.empty() &&
      (pagerace::IsExploreResult(spec) ||
       (!stress_flags && pagerace::HasExactCounterexample(spec)))) {
    return ScheduleReplayMain(spec, argv[0]);
  }
  if (explore || !absl::GetFlag(FLAGS_scenario).empty() || !absl::GetFlag(FLAGS_schedule).empty()) {
    return SerialMain(explore, argv[0]);
  }
  for (auto [f, v] : {std::pair{"preemptions", absl::GetFlag(FLAGS_preemptions)},
                      {"strategy", absl::GetFlag(FLAGS_strategy)},
                      {"max-schedules", absl::GetFlag(FLAGS_max_schedules)},
                      {"shard", absl::GetFlag(FLAGS_shard)},
                      {"merge", absl::GetFlag(FLAGS_merge)}}) {
    if (!v.empty()) Usage(absl::StrFormat("--%s applies to `pagerace explore` only", f));
  }

  pagerace::RawFlags raw;
  raw.scheme = absl::GetFlag(FLAGS_scheme);
  raw.fs = absl::GetFlag(FLAGS_fs);
  raw.workload = absl::GetFlag(FLAGS_workload);
  raw.threads = absl::GetFlag(FLAGS_threads);
  raw.pwriters = absl::GetFlag(FLAGS_pwriters);
  raw.pages = absl::GetFlag(FLAGS_pages);
  raw.mappings = absl::GetFlag(FLAGS_mappings);
  raw.duration = absl::GetFlag(FLAGS_duration);
  raw.ops = absl::GetFlag(FLAGS_ops);
  raw.seed = absl::GetFlag(FLAGS_seed);
  raw.sched = absl::GetFlag(FLAGS_sched);
  raw.out = absl::GetFlag(FLAGS_out);
  raw.order = absl::GetFlag(FLAGS_order);
  raw.trace_out = absl::GetFlag(FLAGS_trace_out);
  raw.pct_depth = absl::GetFlag(FLAGS_pct_depth);
  raw.jitter_max_us = absl::GetFlag(FLAGS_jitter_max_us);
  raw.stop_on = absl::GetFlag(FLAGS_stop_on);
  raw.gup = absl::GetFlag(FLAGS_gup);
  raw.pin_writeback = absl::GetFlag(FLAGS_pin_writeback);
  raw.revert = absl::GetFlag(FLAGS_revert);
  std::optional<pagerace::ReplayTarget> replay;
  if (const std::string spec = absl::GetFlag(FLAGS_replay); !spec.empty()) {
    auto t = pagerace::LoadReplay(spec);
    if (!t.ok()) Usage(std::string(t.status().message()));
    replay = *t;
    // The recorded run's flags, except those given here (a schedule, say).
    const pagerace::RawFlags& r = t->recorded;
    for (auto [mine, theirs] : {std::pair{&raw.scheme, &r.scheme}, {&raw.fs, &r.fs},
                                {&raw.workload, &r.workload}, {&raw.threads, &r.threads},
                                {&raw.pwriters, &r.pwriters}, {&raw.pages, &r.pages},
                                {&raw.mappings, &r.mappings}, {&raw.seed, &r.seed}}) {
      if (mine->empty()) *mine = *theirs;
    }
    // The recorded reverts hold for the recorded scheme and fs.
    if (raw.revert.empty() && raw.scheme == r.scheme && raw.fs == r.fs) raw.revert = r.revert;
    if (raw.sched.empty()) {
      raw.sched = r.sched;
      if (raw.order.empty()) raw.order = r.order;
      if (raw.pct_depth.empty()) raw.pct_depth = r.pct_depth;
      if (raw.jitter_max_us.empty()) raw.jitter_max_us = r.jitter_max_us;
    }
    if (raw.duration.empty() && raw.ops.empty()) {
      raw.duration = r.duration;
      raw.ops = r.ops;
    }
    if (raw.sched == "ordered" && raw.order.empty()) {
      // The points of the scheme the replay runs under (a not-present
      // fault's path is named by its era).
      std::string do_fault = "__do_fault";
      if (const auto* e = pagerace::SchemeRegistry().Find(raw.scheme)) {
        do_fault = e->make()->do_fault_name();
      }
      auto order = pagerace::DeriveOrder(t->race, do_fault);
      if (!order.ok()) Usage(std::string(order.status().message()));
      raw.order = *order;
      if (absl::StartsWith(raw.order, do_fault + ":")) {
        // The window needs the page PG_dirty when writeback passes it, and
        // dependencies between points cannot make the faulting page dirty.
        fprintf(stderr,
                "pagerace: note: a __do_fault window; the derived order cannot make its page "
                "dirty first, so it may not reproduce (try the jitter replay or --order)\n");
      }
    }
  }
  auto config = pagerace::ParseConfig(raw);
  if (!config.ok()) Usage(std::string(config.status().message()));
  config->binary = argv[0];
  bool exact = true;
  if (const std::string e = absl::GetFlag(FLAGS_exact); e == "off") {
    exact = false;
  } else if (!e.empty() && e != "on") {
    Usage(absl::StrCat("--exact=", e, ": want on or off"));
  }
  if (!absl::GetFlag(FLAGS_repeat).empty()) {
    Usage("--repeat applies to the replay of a schedule (an explore violation, or a stress "
          "race's exact counterexample) only");
  }
  if (replay) {
    config->stop_kind = replay->kind;
    config->stop_on_infeasible = true;
    printf("replay of %s:%d: %s (%s), recorded at %.4f s; %s\n", replay->file.c_str(),
           replay->index, pagerace::RaceKindName(replay->kind),
           pagerace::InvariantName(replay->invariant), replay->recorded_at_s,
           config->sched == pagerace::sched::Policy::kOrdered
               ? ("ordered: " + config->order).c_str()
               : pagerace::sched::PolicyName(config->sched));
  }

  struct sigaction sa = {};
  sa.sa_handler = OnSigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);

  const bool tty = isatty(STDERR_FILENO);
  auto progress = [tty](const pagerace::Progress& p) {
    if (!tty) return;
    std::string target = p.target_s > 0 ? absl::StrFormat("/%.0fs", p.target_s) : "";
    fprintf(stderr, "\r  %.1fs%s  ops %llu (%.0f/s)  faults %llu (%.0f/s)  races %llu   ",
            p.elapsed_s, target.c_str(), static_cast<unsigned long long>(p.ops),
            p.ops / p.elapsed_s, static_cast<unsigned long long>(p.faults),
            p.faults / p.elapsed_s, static_cast<unsigned long long>(p.races));
    fflush(stderr);
  };
  auto result = pagerace::RunStress(*config, &g_interrupted, progress);
  if (tty) fprintf(stderr, "\r\033[K");
  if (!result.ok()) {
    fprintf(stderr, "pagerace: harness failure: %s\n", std::string(result.status().message()).c_str());
    return 3;
  }
  // Each root cause's race as an exact counterexample (exact.h): after the
  // run, on the serial scheduler.  Not after a deadlock (its threads still
  // hold the machine's locks), an interrupt, or in a replay.
  if (exact && !replay && !result->deadlocked && !result->interrupted && !result->causes.empty()) {
    if (tty) fprintf(stderr, "  exact counterexamples for %zu root cause%s ...", result->causes.size(),
                     result->causes.size() == 1 ? "" : "s");
    result->exact = pagerace::DeriveExactForCauses(*result, pagerace::ExactOptions{});
    if (tty) fprintf(stderr, "\r\033[K");
  }
  fputs(pagerace::FormatSummary(*result).c_str(), stdout);
  if (!result->ordered_infeasible.empty()) {
    // The forced interleaving cannot happen under this scheme: the ordered
    // policy dropped the dependency (sched.h) and, in a replay, ended the run.
    printf("%s: infeasible under %s: dependency %s\n", replay ? "replay" : "ordered",
           config->scheme->name.c_str(), result->ordered_infeasible.c_str());
  }
  if (!result->ordered_outcomes.empty()) {
    // Every dependency's fate: "met" for all of them and no race means the
    // interleaving happened at its points and the scheme closed the window.
    printf("%s: dependencies under %s: %s\n", replay ? "replay" : "ordered",
           config->scheme->name.c_str(), result->ordered_outcomes.c_str());
  }
  bool reproduced = false;
  if (replay) {
    for (const pagerace::RaceGroup& g : result->races) {
      if (g.first.kind != replay->kind || g.first.invariant != replay->invariant) continue;
      reproduced = true;
      printf("replay: reproduced %s (%s) at %.4f s\n", pagerace::RaceKindName(replay->kind),
             pagerace::InvariantName(replay->invariant), g.first.t_ns / 1e9);
      break;
    }
    if (!reproduced) printf("replay: not reproduced\n");
  }
  if (!config->out.empty()) {
    if (absl::Status s = pagerace::WriteResultFile(*result, config->out); !s.ok()) {
      fprintf(stderr, "pagerace: harness failure: %s\n", std::string(s.message()).c_str());
      if (result->deadlocked) _exit(3);
      return 3;
    }
  }
  if (!config->trace_out.empty()) {
    if (absl::Status s = pagerace::WriteChromeTrace(*result, config->trace_out); !s.ok()) {
      fprintf(stderr, "pagerace: harness failure: %s\n", std::string(s.message()).c_str());
      if (result->deadlocked) _exit(3);
      return 3;
    }
  }
  if (result->deadlocked) {
    // Deadlocked threads still hold harness locks: no orderly teardown.
    fflush(stdout);
    fflush(stderr);
    _exit(1);
  }
  if (replay) return reproduced ? 1 : 0;
  return result->race_found() ? 1 : 0;
}
