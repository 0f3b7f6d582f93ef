// pagerace: one stress run (DESIGN §10).
//
// Exit status: 0 clean, 1 races found, 2 bad usage or configuration (one
// line naming the problem, before any work), 3 harness failure.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
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
#include "harness/core/config.h"
#include "harness/core/replay.h"
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
ABSL_FLAG(std::string, seed, "", "seed for every random choice (default 1)");
ABSL_FLAG(std::string, sched, "", "schedule policy: off | jitter | ordered | pct (default off)");
ABSL_FLAG(std::string, jitter_max_us, "",
          "--sched=jitter: longest delay at a schedule point, in microseconds (default 50)");
ABSL_FLAG(std::string, pct_depth, "", "--sched=pct: bug depth d, d-1 priority changes (default 3)");
ABSL_FLAG(std::string, order, "",
          "--sched=ordered: dependencies A<B,C<D between schedule points (a thread at B waits "
          "for A)");
ABSL_FLAG(std::string, replay, "",
          "re-run the race FILE[:INDEX] of a result JSON (exit 1: reproduced, 0: not)");
ABSL_FLAG(std::string, stop_on, "",
          "end the run at the first report of: race | data_losing | an invariant (I0..I7, "
          "ledger, watchdog, lockdep, fs); default: run the whole --duration/--ops");
ABSL_FLAG(std::string, out, "", "write the result JSON here");
ABSL_FLAG(std::string, trace_out, "",
          "write the run's and its races' event timelines here (Chrome trace format)");
ABSL_FLAG(bool, list, false, "list schemes, adapters and workloads, one line each, and exit");

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

}  // namespace

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
  if (replay) {
    config->stop_kind = replay->kind;
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
  fputs(pagerace::FormatSummary(*result).c_str(), stdout);
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
