// pagerace: the command line (harness/run/cli.h): the subcommand, its help,
// its flags, then its run (cmd_stress.cc, cmd_explore.cc, cmd_history.cc).
//
// Exit status: 0 clean, 1 races found, 2 bad usage or configuration (one
// line naming the problem, before any work), 3 harness failure.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "harness/core/config.h"
#include "harness/core/replay.h"
#include "harness/run/build_info.h"
#include "harness/run/cli.h"
#include "harness/run/flags.h"

namespace cli = pagerace::cli;

int main(int argc, char** argv) {
  // The subcommand: the first argument when it is not a flag (stress when
  // there is none).
  std::string name = "stress";
  if (argc > 1 && argv[1][0] != '-') {
    name = argv[1];
    for (int i = 1; i + 1 < argc; ++i) argv[i] = argv[i + 1];
    --argc;
    if (cli::FindCommand(name) == nullptr) {
      std::vector<std::string> names;
      for (const cli::Command& c : cli::Commands()) names.emplace_back(c.name);
      std::string list;
      for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
      cli::Usage("unknown subcommand '" + name + "' (" + list + "; pagerace help)");
    }
  }
  const cli::Command& command = *cli::FindCommand(name);
  if (name == "help") {
    if (argc == 1) {
      fputs(cli::TopHelp().c_str(), stdout);
      return 0;
    }
    const cli::Command* c = cli::FindCommand(argv[1]);
    if (c == nullptr) cli::Usage(std::string("help: unknown subcommand '") + argv[1] + "'");
    if (argc > 2) cli::Usage("help takes one subcommand and no flags (pagerace help explore)");
    fputs(cli::CommandHelp(*c).c_str(), stdout);
    return 0;
  }
  // --help, -h and --version anywhere: the subcommand's help, the commit.
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--") break;
    if (a == "--help" || a == "-h" || a == "--helpfull" || a == "--helpshort") {
      fputs((argc > 1 && name == "stress" && i == 1 && argc == 2 ? cli::TopHelp()
                                                                  : cli::CommandHelp(command))
                .c_str(),
            stdout);
      return 0;
    }
    if (a == "--version") {
      printf("pagerace %s\n", pagerace::kGitCommit);
      return 0;
    }
  }
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
  cli::PrescanArgs(argc, argv, command);
  absl::ParseCommandLine(argc, argv);

  if (absl::GetFlag(FLAGS_list)) {
    fputs(pagerace::FormatRegistries().c_str(), stdout);
    return 0;
  }
  if (name == "history") return cli::HistoryMain(argv[0]);
  if (name == "explore") return cli::SerialMain(/*explore=*/true, argv[0]);

  // A schedule to replay: an explore violation's, or a stress race's exact
  // counterexample.  A flag of the stress run (--sched, --duration, --seed,
  // ...) asks for the stress replay of the recorded configuration instead.
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
      !spec.empty() && (pagerace::IsExploreResult(spec) ||
                        (!stress_flags && pagerace::HasExactCounterexample(spec)))) {
    return cli::ScheduleReplayMain(spec, argv[0]);
  }
  if (!absl::GetFlag(FLAGS_scenario).empty() || !absl::GetFlag(FLAGS_schedule).empty()) {
    return cli::SerialMain(/*explore=*/false, argv[0]);
  }
  return cli::StressMain(argv[0]);
}
