// The explorer's strict PCT (explore --strategy=pct; sched/choosers.h's
// PctChooser): n threads, d-1 priority change points over k steps, k
// measured first from the default schedule and kPctCalibrationWalks random
// walks (their reports are not PCT's and are not counted).
#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "harness/core/explore_search.h"
#include "harness/sched/choosers.h"

namespace pagerace::explore_internal {
namespace {

class PctSearch : public SampledSearch {
 public:
  absl::Status Validate(const ExploreOptions& options) const override {
    if (options.pct_depth < 1 || options.pct_depth > sched::kMaxPctDepth) {
      return absl::InvalidArgumentError(absl::StrCat("--pct-depth: want 1..", sched::kMaxPctDepth,
                                                     ", got ", options.pct_depth));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::optional<ScheduleRun>> Prepare(const RunFn& run, int threads,
                                                     const ExploreOptions& options, Rng* rng,
                                                     ExploreResult* result) override {
    // k: the most choices seen in the default schedule and a few random
    // walks.
    uint64_t k = 0;
    static const std::vector<int> kNoPicks;
    for (int i = 0; i <= kPctCalibrationWalks; ++i) {
      std::unique_ptr<sched::SerialChooser> chooser;
      if (i == 0) {
        chooser = std::make_unique<sched::PrefixChooser>(&kNoPicks);
      } else {
        chooser = std::make_unique<sched::RandomChooser>(rng->Next());
      }
      auto r = run(std::move(chooser));
      if (!r.ok()) return r.status();
      if (r->deadlocked) return std::optional<ScheduleRun>(*std::move(r));
      k = std::max<uint64_t>(k, r->choices.size());
    }
    result->pct = {threads, std::max<uint64_t>(k, 1), options.pct_depth};
    return std::optional<ScheduleRun>();
  }

  std::unique_ptr<sched::SerialChooser> Next(Rng* rng, const ExploreResult& result) override {
    return std::make_unique<sched::PctChooser>(result.pct, rng);
  }

  bool reports_max_steps() const override { return true; }
};

}  // namespace

std::unique_ptr<SampledSearch> NewPctSearch() { return std::make_unique<PctSearch>(); }

}  // namespace pagerace::explore_internal
