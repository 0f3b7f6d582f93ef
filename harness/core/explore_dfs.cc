// Plain depth-first search with a preemption bound (`--por=none`): every
// schedule with at most `bound` preemptions, each run once, the deepest
// untried choice first.  A bound's search counts the schedules with exactly
// `bound` preemptions (the smaller bounds' were counted by their searches).
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "harness/core/explore_search.h"

namespace pagerace::explore_internal {
namespace {

// One level of the search tree: a choice of the current path.
struct Node {
  sched::SerialChoice choice;  // runnable, current, pick of the path's run
  uint32_t tried = 0;          // picks already explored from here
  int preemptions_before = 0;  // on the path above this choice
};

class DfsSearch final : public BoundedSearch {
 public:
  absl::StatusOr<SearchStats> Run(const SearchEnv& env, int bound) override {
    const ExploreOptions& options = *env.options;
    const size_t split = static_cast<size_t>(options.shard_depth);
    SearchStats stats;
    std::vector<Node> stack;
    std::vector<int> prefix;
    for (;;) {
      const ShardSubtrees::Place at = subtrees_.Next(prefix.size(), options);
      const uint64_t subtree = at.subtree, subtree_run = at.run;
      const bool mine = at.mine;
      auto picks = std::make_unique<std::vector<int>>(prefix);
      auto chooser = std::make_unique<sched::PrefixChooser>(picks.get());
      auto run = env.run(chooser.get(), RunRecording{});
      if (!run.ok()) return run.status();
      if (run->deadlocked) {  // the blocked threads keep the chooser
        (void)picks.release();
        (void)chooser.release();
      }
      ++stats.executions;
      if (run->overflowed || run->infeasible_at >= 0) {
        return absl::InternalError(absl::StrCat(
            "harness bug: schedule ", run->schedule(),
            run->overflowed ? " overflowed the choice record" : " was not replayed as chosen"));
      }
      // The path below the prefix is new: extend the tree with it.
      for (size_t j = stack.size(); j < run->choices.size(); ++j) {
        Node node;
        node.choice = run->choices[j];
        node.tried = 1u << node.choice.pick;
        node.preemptions_before =
            j == 0 ? 0 : stack[j - 1].preemptions_before + stack[j - 1].choice.preemption();
        stack.push_back(node);
      }
      // With no bound (--preemptions=all), every schedule is this search's.
      const bool counted =
          mine && (run->preemptions == bound || options.max_preemptions == kAllPreemptions);
      if (counted) ++stats.traces;
      if (!env.visit(*run, counted, counted, subtree, subtree_run)) {
        stats.stopped = true;
        break;
      }
      // Another shard's subtree: only its first schedule is run here.
      if (!mine && stack.size() > split) stack.resize(split);
      // Backtrack: the deepest choice with an untried pick within the bound.
      bool found = false;
      while (!stack.empty() && !found) {
        Node& node = stack.back();
        uint32_t left = node.choice.runnable & ~node.tried;
        while (left) {
          const int t = __builtin_ctz(left);
          left &= left - 1;
          node.tried |= 1u << t;
          if (node.preemptions_before +
                  PreemptionCost(node.choice.current_can_run, node.choice.current, t) <=
              bound) {
            node.choice.pick = static_cast<int8_t>(t);
            found = true;
            break;
          }
          stats.cut = true;
        }
        if (!found) stack.pop_back();
      }
      if (!found) break;  // this bound is covered
      prefix.clear();
      for (const Node& node : stack) prefix.push_back(node.choice.pick);
    }
    return stats;
  }

 private:
  ShardSubtrees subtrees_;  // across bounds
};

}  // namespace

std::unique_ptr<BoundedSearch> NewDfsSearch() { return std::make_unique<DfsSearch>(); }

}  // namespace pagerace::explore_internal
