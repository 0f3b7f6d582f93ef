#include "harness/run/cli.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "harness/core/config.h"
#include "harness/core/explore.h"
#include "harness/core/scenario.h"

namespace pagerace::cli {

std::atomic<bool> g_interrupted{false};

void OnSigint(int) { g_interrupted.store(true); }

[[noreturn]] void Usage(const std::string& msg) {
  fprintf(stderr, "pagerace: %s\n", msg.c_str());
  exit(2);
}

namespace {

std::string Builtins() {
  std::vector<std::string> names;
  for (const BuiltinScenario& b : BuiltinScenarios()) names.emplace_back(b.name);
  return absl::StrJoin(names, " | ");
}

// Wraps `text` at 78 columns, each line after the first indented by `indent`.
std::string Wrap(const std::string& text, size_t first_col, size_t indent) {
  std::string out;
  size_t col = first_col;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find(' ', i);
    if (j == std::string::npos) j = text.size();
    const std::string word = text.substr(i, j - i);
    if (col > indent && col + 1 + word.size() > 78) {
      out += "\n" + std::string(indent, ' ');
      col = indent;
    } else if (col > first_col || (col > indent && !out.empty())) {
      out += ' ';
      ++col;
    }
    out += word;
    col += word.size();
    i = j + 1;
  }
  return out;
}

}  // namespace

const std::vector<FlagHelp>& Flags() {
  static const std::vector<FlagHelp>* flags = new std::vector<FlagHelp>{
      {"scheme", "S",
       "lock scheme of the fault path: " + SchemeRegistry().Joined(" | ") +
           " (default legacy; pagerace --list says which kernel each models)"},
      {"fs", "F", "filesystem adapter: " + AdapterRegistry().Joined(" | ") + " (default nfs)"},
      {"workload", "W", "workload: " + WorkloadRegistry().Joined(" | ") + " (default mixed)"},
      {"threads", "N", "mmap worker threads (default 2)"},
      {"pwriters", "N", "pwrite-path writer threads (default 1)"},
      {"pages", "N", "pages in the file (default 64; pages x mappings within vm.max_map_count)"},
      {"mappings", "N", "user mappings of the file (default 2)"},
      {"duration", "D", "run time, e.g. 10s or 500ms (default 10s); history: its stress column's"},
      {"ops", "N", "total worker operations instead of --duration"},
      {"seed", "N",
       "seed of every random choice (default 1); explore: of --strategy=random or pct"},
      {"sched", "P",
       "schedule policy: off (the OS schedules) | jitter (seeded delays at schedule points) | "
       "ordered (with --order) | pct (default off)"},
      {"jitter-max-us", "N", "--sched=jitter: the longest delay at a point, in us (default 50)"},
      {"pct-depth", "D", "--sched=pct, explore --strategy=pct: the bug depth d (default 3)"},
      {"order", "A<B,...",
       "--sched=ordered: a thread reaching schedule point B waits until A was reached"},
      {"stop-on", "WHAT",
       "end the run at the first report of: race | data_losing | an invariant (I0..I9, ledger, "
       "watchdog, lockdep, fs) (default: the whole run)"},
      {"gup", "M",
       "--workload=dio, explore's dio scenario: get | pin | longterm (default: the scheme's "
       "era: get for legacy and locked, pin for modern)"},
      {"pin-writeback", "P",
       "writeback's and reclaim's answer to a pinned page: none (5.15) | v6.4 | skip | bounce "
       "(default none)"},
      {"revert", "COMMIT,...",
       "run with these kernel fixes reverted (pagerace --list shows them; refused where the "
       "scheme's release or the fs does not hold the fix)"},
      {"out", "FILE", "write the result JSON here (atomically)"},
      {"trace-out", "FILE", "write the run's and its races' timelines (Chrome trace format)"},
      {"exact", "on|off",
       "after the run, turn one race of each root cause into an exact counterexample: a "
       "scenario derived from its trace, explored until a schedule shows the same cause, "
       "shrunk and told (default on)"},
      {"replay", "FILE[:I]",
       "re-run race I of a result file (default: its first data-losing race): a stress "
       "race's exact counterexample under the serial scheduler, or with a stress flag "
       "(--sched, --duration, ...) the recorded run; an explore result's violation I: its "
       "schedule. Exit 1: reproduced, 0: not"},
      {"repeat", "N",
       "--replay of a schedule: run it N times and count the runs that reproduce it "
       "(default 1)"},
      {"scenario", "S",
       "a built-in scenario (" + Builtins() +
           "), @FILE, or text:LINE|LINE... in the scenario text form"},
      {"schedule", "P",
       "with --scenario and no subcommand: run this one schedule (e.g. 0*7,1*3) under the "
       "serial scheduler and tell its story"},
      {"preemptions", "K",
       "explore: the most preemptions per schedule (default 2; all: no bound); history: the "
       "same, or needed (each entry at what its race needs)"},
      {"por", "P",
       "partial-order reduction: dpor (default: one schedule of each class of schedules "
       "that differ only in the order of independent steps) | none (every schedule)"},
      {"strategy", "S",
       "dfs (default: every schedule up to the bound) | random (seeded random walks) | pct "
       "(strict PCT, seeded)"},
      {"minimize", "true|false",
       "shrink the first violation to a minimal counterexample and tell its story (default "
       "true)"},
      {"max-schedules", "N",
       "dfs: stop after N runs (the result says it is incomplete; default no limit); random, "
       "pct: the schedules to run (default 1000)"},
      {"shard", "I/N",
       "run shard I of N of the dfs search; --merge adds the N --out files up"},
      {"merge", "A.json,B.json,...", "add up dfs shards' result files into one summary"},
      {"only", "COMMIT,...", "the catalog entries to run (default every one)"},
      {"list", "",
       "list every scheme, mutant, adapter, workload, scenario and fix, one line each"},
  };
  return *flags;
}

const std::vector<Command>& Commands() {
  static const std::vector<Command>* commands = new std::vector<Command>{
      {"stress",
       "one stress run: worker threads store into a real mmap while writeback cleans the "
       "pages, under a lock scheme and a filesystem adapter; or the replay of a recorded race",
       "pagerace [stress] [--flag=value ...]",
       {"scheme", "fs", "workload", "threads", "pwriters", "pages", "mappings", "duration", "ops",
        "seed", "sched", "jitter-max-us", "pct-depth", "order", "stop-on", "gup",
        "pin-writeback", "revert", "out", "trace-out", "exact", "replay", "repeat", "scenario",
        "schedule", "list"},
       {"pagerace --scheme=legacy --fs=nfs --duration=10s --sched=jitter --out=r.json",
        "pagerace --replay=r.json --repeat=100",
        "pagerace --replay=r.json:3 --sched=ordered"},
       "Exit status: 0 clean, 1 races found (a replay: reproduced), 2 bad usage, 3 harness "
       "failure. `scripts/reports r.json` prints the root causes with their evidence."},
      {"explore",
       "every schedule of a small scenario up to a preemption bound, under the serial "
       "scheduler: violations, minimal counterexamples, root causes and their stories",
       "pagerace explore --scenario=S [--flag=value ...]",
       {"scheme", "fs", "scenario", "preemptions", "por", "strategy", "minimize",
        "max-schedules", "seed", "pct-depth", "shard", "merge", "gup", "pin-writeback", "revert",
        "out", "list"},
       {"pagerace explore --scheme=legacy --fs=nfs --scenario=seed",
        "pagerace explore --scheme=locked --fs=buffer --scenario=isize --preemptions=all",
        "pagerace explore --scenario='text:pages 1|mmap0: store 0 0|writeback: pass'"},
       "Exit status: 0 no violation, 1 violations, 2 bad usage, 3 harness failure. "
       "`pagerace --replay=OUT.json` replays a violation's schedule; "
       "`pagerace --scenario=S --schedule=P` runs one schedule."},
      {"history",
       "the kernel's own fixes as a benchmark: each fix reverted and its race found, restored "
       "and proven clean, every era's plain model, with a stress column",
       "pagerace history [--flag=value ...]",
       {"preemptions", "duration", "only", "out", "list"},
       {"pagerace history", "pagerace history --only=c3704ceb4ad0 --preemptions=needed"},
       "Exit status: 0 every entry holds, 1 one does not, 2 bad usage."},
      {"help", "a subcommand's flags and examples", "pagerace help [SUBCOMMAND]", {}, {}, ""},
  };
  return *commands;
}

const Command* FindCommand(const std::string& name) {
  for (const Command& c : Commands()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

std::string CommandHelp(const Command& c) {
  std::string out = absl::StrCat("pagerace ", c.name, ": ", Wrap(c.summary, 12 + strlen(c.name), 2),
                                 "\n\nusage: ", c.usage, "\n");
  if (!c.flags.empty()) out += "\nflags:\n";
  for (const char* name : c.flags) {
    for (const FlagHelp& f : Flags()) {
      if (std::string_view(f.name) != name) continue;
      const std::string head = f.value[0] ? absl::StrFormat("  --%s=%s", f.name, f.value)
                                          : absl::StrFormat("  --%s", f.name);
      out += head;
      if (head.size() < 26) {
        out += std::string(26 - head.size(), ' ') + Wrap(f.text, 26, 26) + "\n";
      } else {
        out += "\n" + std::string(26, ' ') + Wrap(f.text, 26, 26) + "\n";
      }
    }
  }
  if (!c.examples.empty()) out += "\nexamples:\n";
  for (const char* e : c.examples) out += absl::StrCat("  ", e, "\n");
  if (c.more[0]) out += "\n" + Wrap(c.more, 0, 0) + "\n";
  return out;
}

std::string TopHelp() {
  std::string out =
      "pagerace: a stress-test harness for the Linux page-fault / ->page_mkwrite / writeback "
      "protocol\n\nsubcommands:\n";
  for (const Command& c : Commands()) {
    out += absl::StrFormat("  %-9s %s\n", c.name, Wrap(c.summary, 12, 12));
  }
  out += "\n`pagerace help SUBCOMMAND` or `pagerace SUBCOMMAND --help`: its flags and examples. "
         "`pagerace --version`: the commit.\n\n";
  return out + CommandHelp(Commands().front());
}

std::vector<std::string> PrescanArgs(int argc, char** argv, const Command& command) {
  std::vector<std::string> given;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") break;
    if (a.substr(0, 1) != "-" || a == "-") {
      Usage(absl::StrFormat("unexpected argument '%s' (flags are --name=value)", a));
    }
    std::string_view body = a.substr(a.substr(0, 2) == "--" ? 2 : 1);
    std::string_view name = body.substr(0, body.find('='));
    if (name == "list") continue;
    if (absl::FindCommandLineFlag(absl::string_view(name.data(), name.size())) == nullptr) {
      std::string shown(name);
      for (char& ch : shown) ch = ch == '_' ? '-' : ch;
      Usage(absl::StrFormat("unknown flag --%s (pagerace help %s lists its flags)", shown,
                            command.name));
    }
    std::string dashed(name);
    for (char& ch : dashed) ch = ch == '_' ? '-' : ch;
    if (body.find('=') == std::string_view::npos) {
      Usage(absl::StrFormat("--%s needs a value (--%s=VALUE)", dashed, dashed));
    }
    bool takes = false;
    for (const char* f : command.flags) takes |= dashed == f;
    if (!takes) {
      std::vector<std::string> others;
      for (const Command& c : Commands()) {
        for (const char* f : c.flags) {
          if (dashed == f) others.emplace_back(c.name);
        }
      }
      Usage(absl::StrFormat("--%s does not apply to `pagerace %s`; only to: %s (pagerace help %s)",
                            dashed, command.name, absl::StrJoin(others, ", "), command.name));
    }
    given.push_back(dashed);
  }
  return given;
}

}  // namespace pagerace::cli
