// The command line's flags, one set for every subcommand (harness/run/cli.h
// says which subcommand takes which).  Defined in flags.cc; the subcommands'
// files read them.  Names are written with dashes (--trace-out); Abseil's
// use '_' (main.cc renames them before parsing).
#ifndef PAGERACE_HARNESS_RUN_FLAGS_H_
#define PAGERACE_HARNESS_RUN_FLAGS_H_

#include <string>

#include "absl/flags/declare.h"

ABSL_DECLARE_FLAG(std::string, scheme);
ABSL_DECLARE_FLAG(std::string, fs);
ABSL_DECLARE_FLAG(std::string, workload);
ABSL_DECLARE_FLAG(std::string, threads);
ABSL_DECLARE_FLAG(std::string, pwriters);
ABSL_DECLARE_FLAG(std::string, pages);
ABSL_DECLARE_FLAG(std::string, mappings);
ABSL_DECLARE_FLAG(std::string, duration);
ABSL_DECLARE_FLAG(std::string, ops);
ABSL_DECLARE_FLAG(std::string, seed);
ABSL_DECLARE_FLAG(std::string, sched);
ABSL_DECLARE_FLAG(std::string, jitter_max_us);
ABSL_DECLARE_FLAG(std::string, pct_depth);
ABSL_DECLARE_FLAG(std::string, order);
ABSL_DECLARE_FLAG(std::string, replay);
ABSL_DECLARE_FLAG(std::string, stop_on);
ABSL_DECLARE_FLAG(std::string, gup);
ABSL_DECLARE_FLAG(std::string, pin_writeback);
ABSL_DECLARE_FLAG(std::string, revert);
ABSL_DECLARE_FLAG(std::string, only);
ABSL_DECLARE_FLAG(std::string, out);
ABSL_DECLARE_FLAG(std::string, trace_out);
ABSL_DECLARE_FLAG(bool, list);
ABSL_DECLARE_FLAG(std::string, scenario);
ABSL_DECLARE_FLAG(std::string, schedule);
ABSL_DECLARE_FLAG(std::string, preemptions);
ABSL_DECLARE_FLAG(std::string, por);
ABSL_DECLARE_FLAG(std::string, strategy);
ABSL_DECLARE_FLAG(bool, minimize);
ABSL_DECLARE_FLAG(std::string, max_schedules);
ABSL_DECLARE_FLAG(std::string, shard);
ABSL_DECLARE_FLAG(std::string, exact);
ABSL_DECLARE_FLAG(std::string, repeat);
ABSL_DECLARE_FLAG(std::string, merge);

#endif  // PAGERACE_HARNESS_RUN_FLAGS_H_
