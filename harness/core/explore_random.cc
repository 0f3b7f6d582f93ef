// The explorer's seeded random walks (explore --strategy=random): every
// choice uniform among the runnable threads, each walk seeded from the
// search's generator.
#include <memory>

#include "harness/core/explore_search.h"
#include "harness/sched/choosers.h"

namespace pagerace::explore_internal {
namespace {

class RandomSearch : public SampledSearch {
 public:
  std::unique_ptr<sched::SerialChooser> Next(Rng* rng, const ExploreResult& result) override {
    return std::make_unique<sched::RandomChooser>(rng->Next());
  }
};

}  // namespace

std::unique_ptr<SampledSearch> NewRandomSearch() { return std::make_unique<RandomSearch>(); }

}  // namespace pagerace::explore_internal
