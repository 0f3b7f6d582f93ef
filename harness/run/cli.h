// The command line: its subcommands, each with the flags it takes, its help
// and its run (cmd_*.cc), and what they share (one-line usage errors, the
// interrupt flag).
//
//   pagerace [stress] [--flag=value ...]   one stress run (the default)
//   pagerace explore  [--flag=value ...]   every schedule of a scenario
//   pagerace history  [--flag=value ...]   the kernel's fixes, reverted and restored
//   pagerace help [SUBCOMMAND]             a subcommand's flags and examples
//   pagerace --version                     the commit it was built from
//
// Exit status: 0 clean, 1 races found (or reproduced), 2 bad usage or
// configuration (one line naming the problem, before any work), 3 harness
// failure.
#ifndef PAGERACE_HARNESS_RUN_CLI_H_
#define PAGERACE_HARNESS_RUN_CLI_H_

#include <atomic>
#include <string>
#include <vector>

namespace pagerace::cli {

// Set by SIGINT: a stress run stops early and reports what it has.
extern std::atomic<bool> g_interrupted;
void OnSigint(int);

// "pagerace: MSG" on stderr, exit 2.
[[noreturn]] void Usage(const std::string& msg);

// One flag as the help prints it.
struct FlagHelp {
  const char* name;    // as written: "trace-out"
  const char* value;   // "FILE", "S", "N" ...
  std::string text;    // what it does, its choices and its default
};

struct Command {
  const char* name;     // "stress", "explore", "history", "help"
  const char* summary;  // one line
  const char* usage;    // "pagerace explore --scenario=S [flags]"
  std::vector<const char*> flags;     // the flags it takes (names as written)
  std::vector<const char*> examples;  // command lines
  const char* more;     // a paragraph after the flags ("" if none)
};

// Every subcommand, the default (stress) first.
const std::vector<Command>& Commands();
const Command* FindCommand(const std::string& name);
// Every flag's help, the choices read from the registries.
const std::vector<FlagHelp>& Flags();
// The help of one subcommand: summary, usage, its flags only, examples.
std::string CommandHelp(const Command& c);
// `pagerace --help` and `pagerace help`: the subcommands, then stress's help.
std::string TopHelp();

// Rejects what Abseil would reject with exit 1 (unknown flags, positional
// arguments, flags without a value) and a flag `command` does not take, each
// with one line; returns the flags given (names with dashes).
std::vector<std::string> PrescanArgs(int argc, char** argv, const Command& command);

int StressMain(const char* binary);
int SerialMain(bool explore, const char* binary);
int ScheduleReplayMain(const std::string& spec, const char* binary);
int HistoryMain(const char* binary);

}  // namespace pagerace::cli

#endif  // PAGERACE_HARNESS_RUN_CLI_H_
