#include "harness/run/flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "harness/core/config.h"

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
