// `pagerace [stress]`: one stress run, or the stress replay of a recorded
// race (--replay with a stress flag, or a race without an exact
// counterexample).
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

int StressMain(const char* binary) {
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
  config->binary = binary;
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

}  // namespace pagerace::cli
