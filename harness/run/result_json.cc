#include "harness/run/result_json.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "harness/base/thread_registry.h"

#ifndef PAGERACE_GIT_COMMIT
#define PAGERACE_GIT_COMMIT "unknown"
#endif

namespace pagerace {
namespace {

nlohmann::json RaceToJson(const RaceGroup& g, const RunConfig& config) {
  const RaceRecord& r = g.first;
  nlohmann::json trace = nlohmann::json::array();
  for (int i = 0; i < r.trace_len; ++i) {
    trace.push_back({{"t_ns", r.trace[i].t_ns},
                     {"tid", r.trace[i].tid},
                     {"thread", ThreadRole(r.trace[i].tid)},
                     {"event", EventName(r.trace[i].event)}});
  }
  nlohmann::json j = {
      {"kind", RaceKindName(r.kind)},
      {"invariant", InvariantName(r.invariant)},
      {"data_losing", r.data_losing},
      {"page", r.page},
      {"detected_at_s", static_cast<double>(r.t_ns) / 1e9},
      {"detected_by", ThreadRole(r.tid)},
      {"count", g.count},
      {"trace", trace},
      {"replay", ReplayCommand(config)},
  };
  if (r.detail[0]) j["detail"] = r.detail;
  if (r.kind == RaceKind::kLostWrite) {
    j["expected_stamp"] = absl::StrFormat("0x%016x", r.expected);
    j["found_stamp"] = absl::StrFormat("0x%016x", r.found);
  }
  return j;
}

std::string KernelRelease() {
  struct utsname u;
  if (uname(&u) != 0) return "unknown";
  return u.release;
}

std::string Rate(double n, double s) {
  if (s <= 0) return "0";
  double r = n / s;
  if (r >= 1e6) return absl::StrFormat("%.2fM", r / 1e6);
  if (r >= 1e3) return absl::StrFormat("%.1fk", r / 1e3);
  return absl::StrFormat("%.0f", r);
}

}  // namespace

nlohmann::json ResultToJson(const RunResult& res) {
  const RunConfig& c = res.config;
  nlohmann::json stats;
  for (int s = 0; s < static_cast<int>(Stat::kNumStats); ++s) {
    stats[StatName(static_cast<Stat>(s))] = res.stats[s];
  }
  stats["elapsed_s"] = res.elapsed_s;
  stats["fault_latency_ns"] = {{"p50", res.fault_p50_ns}, {"p99", res.fault_p99_ns}};
  stats["faults_per_s"] = res.elapsed_s > 0 ? res.stat(Stat::kFaults) / res.elapsed_s : 0.0;
  stats["jitter_delays"] = res.jitter_delays;
  stats["race_reports"] = res.race_reports;
  stats["data_losing_reports"] = res.data_losing_reports;
  stats["ungrouped_reports"] = res.ungrouped_reports;
  nlohmann::json races = nlohmann::json::array();
  for (const RaceGroup& g : res.races) races.push_back(RaceToJson(g, c));
  nlohmann::json config = {
      {"scheme", c.scheme},   {"fs", c.fs},          {"workload", c.workload},
      {"threads", c.threads}, {"pwriters", c.pwriters}, {"pages", c.pages},
      {"mappings", c.mappings}, {"seed", c.seed},
      {"sched", sched::PolicyName(c.sched)}, {"out", c.out},
  };
  if (c.sched == sched::Policy::kOrdered) config["order"] = c.order;
  if (c.ops) {
    config["ops"] = c.ops;
    config["duration"] = nullptr;
  } else {
    config["ops"] = nullptr;
    config["duration"] = DurationFlag(c.duration);
  }
  return {
      {"schema", kResultSchema},
      {"config", config},
      {"env",
       {{"kernel", KernelRelease()},
        {"cores", std::thread::hardware_concurrency()},
        {"page_size", sysconf(_SC_PAGESIZE)},
        {"git_commit", PAGERACE_GIT_COMMIT}}},
      {"stats", stats},
      {"races", races},
      {"interrupted", res.interrupted},
      {"deadlocked", res.deadlocked},
      {"verdict", res.race_found() ? "race" : "clean"},
  };
}

absl::Status WriteResultFile(const RunResult& result, const std::string& path) {
  const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  const std::string text = ResultToJson(result).dump(2) + "\n";
  FILE* f = fopen(tmp.c_str(), "w");
  if (!f) return absl::InternalError(absl::StrCat("cannot write ", tmp, ": ", strerror(errno)));
  bool ok = fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = (fflush(f) == 0) && ok;
  ok = (fsync(fileno(f)) == 0) && ok;
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", strerror(e)));
  }
  return absl::OkStatus();
}

std::string FormatSummary(const RunResult& res) {
  const RunConfig& c = res.config;
  const double s = res.elapsed_s;
  std::string out = absl::StrFormat(
      "pagerace: scheme=%s fs=%s workload=%s threads=%d pwriters=%d pages=%d mappings=%d "
      "seed=%d sched=%s%s\n",
      c.scheme, c.fs, c.workload, c.threads, c.pwriters, c.pages, c.mappings, c.seed,
      sched::PolicyName(c.sched), res.interrupted ? " (interrupted)" : "");
  absl::StrAppendFormat(
      &out, "  %.2f s: %d ops (%s/s), %d faults (%s/s; wp %d, nopage %d), mkwrite %d\n", s,
      res.stat(Stat::kOps), Rate(res.stat(Stat::kOps), s), res.stat(Stat::kFaults),
      Rate(res.stat(Stat::kFaults), s), res.stat(Stat::kFaultsWp), res.stat(Stat::kFaultsNopage),
      res.stat(Stat::kMkwriteCalls));
  absl::StrAppendFormat(&out,
                        "  writepage %d, pwrites %d, evictions %d; fault latency p50 %.1f us, "
                        "p99 %.1f us\n",
                        res.stat(Stat::kWritebacks), res.stat(Stat::kPwrites),
                        res.stat(Stat::kEvictions), res.fault_p50_ns / 1e3,
                        res.fault_p99_ns / 1e3);
  if (!res.race_found()) {
    absl::StrAppend(&out, "  races: none\n  verdict: clean\n");
    return out;
  }
  absl::StrAppendFormat(&out, "  races: %d reports (%d data-losing), %d distinct\n",
                        res.race_reports, res.data_losing_reports, res.races.size());
  int shown = 0;
  for (const RaceGroup& g : res.races) {
    if (++shown > 8) {
      absl::StrAppendFormat(&out, "    ... %d more in the result JSON\n", res.races.size() - 8);
      break;
    }
    const RaceRecord& r = g.first;
    absl::StrAppendFormat(&out, "    %-27s %-6s page %-4d first at %.4f s  x%d%s\n",
                          RaceKindName(r.kind), InvariantName(r.invariant), r.page,
                          r.t_ns / 1e9, g.count, r.data_losing ? "  DATA-LOSING" : "");
  }
  // The details of the groups shown, each once (a deadlock's says who waits
  // for whom).
  std::vector<std::string> details;
  for (size_t i = 0; i < res.races.size() && i < 8; ++i) {
    const RaceRecord& r = res.races[i].first;
    if (!r.detail[0]) continue;
    std::string line = absl::StrFormat("    %s: %s\n", RaceKindName(r.kind), r.detail);
    if (std::find(details.begin(), details.end(), line) != details.end()) continue;
    details.push_back(line);
    out += line;
  }
  absl::StrAppendFormat(&out, "  verdict: %s\n  replay: %s\n", res.deadlocked ? "deadlock" : "race",
                        ReplayCommand(c));
  return out;
}

}  // namespace pagerace
