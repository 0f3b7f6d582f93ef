// The result JSON (results/SCHEMA.md, schema "pagerace.result/2").
#ifndef PAGERACE_HARNESS_RUN_RESULT_JSON_H_
#define PAGERACE_HARNESS_RUN_RESULT_JSON_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "harness/core/explore.h"
#include "harness/core/history.h"
#include "harness/core/stress_driver.h"

namespace pagerace {

inline constexpr char kResultSchema[] = "pagerace.result/2";

nlohmann::json ResultToJson(const RunResult& result);
// Writes atomically: a temporary file beside `path`, then rename.
absl::Status WriteResultFile(const RunResult& result, const std::string& path);
// The run's timeline in the Chrome trace event format (opens in Perfetto):
// process 1 holds every page's last events, process 100+i race i's trace;
// a track per thread, page lock holds as spans, other events as instants.
absl::Status WriteChromeTrace(const RunResult& result, const std::string& path);
// The human summary printed at the end of a run.
std::string FormatSummary(const RunResult& result);

// `pagerace explore` (schema "pagerace.explore/1", results/SCHEMA.md).
inline constexpr char kExploreSchema[] = "pagerace.explore/1";
nlohmann::json ExploreToJson(const ExploreResult& result);
absl::Status WriteExploreFile(const ExploreResult& result, const std::string& path);

// `pagerace history` (harness/core/history.h): schema pagerace.history/1,
// and the same table as Markdown (results/reference/history.md,
// docs/history.md's table) and as the text the command prints.
nlohmann::json HistoryToJson(const HistoryResult& result);
std::string HistoryMarkdown(const HistoryResult& result);
std::string HistoryText(const HistoryResult& result);
// Writes FILE (JSON) and, beside it, FILE with ".json" replaced by ".md"
// (or ".md" appended), each atomically.
absl::Status WriteHistoryFiles(const HistoryResult& result, const std::string& path);
std::string FormatExploreSummary(const ExploreResult& result);
// A dfs shard's (or a merged) result read back, for MergeShards:
// InvalidArgument (one line) on anything else.
absl::StatusOr<ExploreResult> ExploreFromJson(const nlohmann::json& j);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_RUN_RESULT_JSON_H_
