// `pagerace history`.
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
#include "harness/core/history.h"
#include "harness/run/flags.h"

namespace pagerace::cli {

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

}  // namespace pagerace::cli
