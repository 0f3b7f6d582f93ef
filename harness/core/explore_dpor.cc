// Dynamic partial-order reduction for the serial explorer (`--por=dpor`,
// issue 21).
//
// A run is a sequence of steps: what the picked thread does from one
// decision of the serial scheduler to the next (forced decisions included).
// Each step's reads and writes of shared objects are recorded where the
// state is (shared.h).  Two steps of different threads are dependent when
// they touch one object and one of them writes it; schedules that differ
// only in the order of adjacent independent steps end in the same state
// with the same reports, so one of them stands for all.
//
// The search is Flanagan and Godefroid's stateless DPOR (POPL 2005) over
// complete runs, with sleep sets:
//   - after each run, every pair of steps (i, j) of different threads that
//     are dependent and not ordered through other steps (a race; vector
//     clocks over the dependence and program order) asks for the order to
//     be tried the other way round: j's thread is added to the backtrack
//     set of the state before i, or, if it could not run there, every
//     thread that could;
//   - under a preemption bound that alone can miss schedules (a reversal
//     may cost a preemption that the bound forbids where a switch at an
//     earlier point would not): the thread is also added at the start of
//     the stretch of i's thread that contains i, where a switch is free, as
//     Coons, Musuvathi and McKinley's bounded partial-order reduction does
//     (OOPSLA 2013);
//   - sleep sets (Godefroid 1996): a thread already explored from a state,
//     whose step there is independent of the step taken instead, need not
//     be tried again until a dependent step has run.  A run whose every
//     runnable thread is asleep is cut short (sleep-set blocked).
// Backtracking is depth first, deepest state first, each state's untried
// backtrack threads within the bound in thread order.
//
// Sharded (explore.h), the choices above the split branch into every
// runnable thread, as plain DFS does, so that each shard's subtrees are
// searched whole by DPOR below the split.
#include <algorithm>
#include <array>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "harness/core/explore_search.h"

namespace pagerace::explore_internal {
namespace {

constexpr int kMaxThreads = sched::kMaxSerialThreads;
// Recorded accesses per run; past this a step counts as touching everything.
constexpr size_t kMaxAccesses = size_t{1} << 20;
constexpr size_t kMaxDecisions = size_t{1} << 16;

// A step's accesses: sorted, unique, each id << 1 | write.
struct Step {
  std::vector<uint64_t> acc;
  bool everything = false;
};

bool Dependent(const Step& a, const Step& b) {
  if (a.everything || b.everything) return true;
  size_t i = 0, j = 0;
  while (i < a.acc.size() && j < b.acc.size()) {
    const uint64_t x = a.acc[i] >> 1, y = b.acc[j] >> 1;
    if (x < y) {
      ++i;
    } else if (y < x) {
      ++j;
    } else {
      // Same object: dependent unless both only read it.  Entries of one
      // object are adjacent, the write last.
      bool wa = false, wb = false;
      while (i < a.acc.size() && (a.acc[i] >> 1) == x) wa |= a.acc[i++] & 1;
      while (j < b.acc.size() && (b.acc[j] >> 1) == x) wb |= b.acc[j++] & 1;
      if (wa || wb) return true;
    }
  }
  return false;
}

// Whether unsorted accesses [begin, end) depend on sorted `b`.
bool DependentRaw(const uint64_t* begin, const uint64_t* end, bool everything, const Step& b) {
  if (everything || b.everything) return true;
  for (const uint64_t* p = begin; p != end; ++p) {
    const uint64_t id = *p >> 1;
    auto it = std::lower_bound(b.acc.begin(), b.acc.end(), id << 1);
    for (; it != b.acc.end() && (*it >> 1) == id; ++it) {
      if ((*p & 1) || (*it & 1)) return true;
    }
  }
  return false;
}

// One run's chooser and recorder: follows `prefix` (a pick per decision,
// forced ones included), then takes the default pick unless its thread is
// asleep.  Runs with the run token held (in the SIGSEGV handler too): no
// allocation.
class DporRun final : public sched::SerialChooser,
                      public sched::DecisionObserver,
                      public AccessRecorder {
 public:
  struct Decision {
    uint32_t runnable = 0;
    int8_t me = -1;
    int8_t pick = -1;
    bool me_can_run = false;
    bool forced = false;
    uint32_t acc_begin = 0;  // the accesses of the step that ended here start at
    uint32_t acc_end = 0;
    bool everything = false;  // that step overflowed the record
    uint32_t sleep = 0;       // the sleep set here (past the prefix)
  };

  DporRun() {
    acc_.reserve(kMaxAccesses);
    decisions_.reserve(kMaxDecisions);
  }

  // `sleep` candidates for the state after the prefix's last step, each
  // with the step it took from the prefix's last state.
  void Prepare(const std::vector<int>* prefix, uint32_t sleep,
               const std::array<std::shared_ptr<const Step>, kMaxThreads>* sleep_steps, int bound) {
    // The buffers are kept from run to run (their capacity reserved once).
    acc_.clear();
    decisions_.clear();
    step_begin_ = 0;
    step_everything_ = false;
    filtered_ = 0;
    started_ = false;
    sleep_ = 0;
    preemptions_ = 0;
    blocked_at_ = -1;
    cut_ = false;
    overflowed_ = false;
    prefix_ = prefix;
    cand_sleep_ = sleep;
    sleep_steps_ = sleep_steps;
    bound_ = bound;
  }

  int Pick(size_t, uint32_t runnable, int current, bool current_can_run) override {
    const size_t d = decisions_.size();
    if (d < prefix_->size()) return (*prefix_)[d];
    Filter();
    const int def = sched::DefaultPick(runnable, current, current_can_run);
    if (blocked_at_ >= 0 || !(sleep_ & (1u << def))) return def;
    for (uint32_t left = runnable & ~sleep_; left; left &= left - 1) {
      const int t = __builtin_ctz(left);
      if (preemptions_ + PreemptionCost(current_can_run, current, t) <= bound_) return t;
      cut_ = true;  // a thread awake, but too dear for the bound
    }
    return def;  // every runnable thread asleep (or too dear): blocked
  }

  void OnDecision(int me, uint32_t runnable, bool me_can_run, int pick, bool forced) override {
    const size_t d = decisions_.size();
    if (d >= prefix_->size()) Filter();
    if (d == decisions_.capacity()) {
      overflowed_ = true;
      return;
    }
    Decision x;
    x.runnable = runnable;
    x.me = static_cast<int8_t>(me);
    x.pick = static_cast<int8_t>(pick);
    x.me_can_run = me_can_run;
    x.forced = forced;
    x.acc_begin = step_begin_;
    x.acc_end = static_cast<uint32_t>(acc_.size());
    x.everything = step_everything_;
    x.sleep = sleep_;
    decisions_.push_back(x);
    step_begin_ = x.acc_end;
    step_everything_ = false;
    if (pick >= 0 && !forced && me_can_run && pick != me) ++preemptions_;
    if (pick >= 0 && d >= prefix_->size() && blocked_at_ < 0 && (sleep_ & (1u << pick))) {
      blocked_at_ = static_cast<int64_t>(d);
    }
  }

  void Note(SharedId id, bool write) override {
    // Only the steps of the run's threads (not their registration before
    // they attach, nor their teardown after they finish).
    if (sched::internal::CurrentSerialIndex() < 0) return;
    if (id == kEverything) {
      step_everything_ = true;
      return;
    }
    if (acc_.size() == acc_.capacity()) {
      step_everything_ = true;
      return;
    }
    acc_.push_back(uint64_t{id} << 1 | (write ? 1 : 0));
  }

  const std::vector<Decision>& decisions() const { return decisions_; }
  const std::vector<uint64_t>& accesses() const { return acc_; }
  int64_t blocked_at() const { return blocked_at_; }
  // The run was blocked where the bound, not the sleep set, left no thread.
  bool cut() const { return cut_; }
  bool overflowed() const { return overflowed_; }

 private:
  // Wakes the sleepers the accesses recorded since the last call depend
  // on.  The first step past the prefix is the prefix's last pick's: the
  // candidates fall asleep when it is independent of theirs.
  void Filter() {
    const size_t d = decisions_.size();
    if (!started_) {
      if (d < prefix_->size()) return;
      // The first step past the prefix is the one from its last state.
      started_ = true;
      sleep_ = cand_sleep_;
      filtered_ = decisions_.empty() ? 0 : decisions_.back().acc_end;
    }
    const uint64_t* begin = acc_.data() + filtered_;
    const uint64_t* end = acc_.data() + acc_.size();
    for (uint32_t left = sleep_; left; left &= left - 1) {
      const int q = __builtin_ctz(left);
      const Step* s = (*sleep_steps_)[static_cast<size_t>(q)].get();
      if (!s || DependentRaw(begin, end, step_everything_, *s)) sleep_ &= ~(1u << q);
    }
    filtered_ = acc_.size();
  }

  const std::vector<int>* prefix_ = nullptr;
  uint32_t cand_sleep_ = 0;
  const std::array<std::shared_ptr<const Step>, kMaxThreads>* sleep_steps_ = nullptr;
  int bound_ = 0;
  // Token holder only.
  std::vector<uint64_t> acc_;
  std::vector<Decision> decisions_;
  uint32_t step_begin_ = 0;
  bool step_everything_ = false;
  size_t filtered_ = 0;
  bool started_ = false;
  uint32_t sleep_ = 0;
  int preemptions_ = 0;
  int64_t blocked_at_ = -1;
  bool cut_ = false;
  bool overflowed_ = false;
};

// A state of the current path: the decision there and what was explored.
struct Node {
  uint32_t enabled = 0;
  int8_t current = -1;
  bool current_can_run = false;
  bool forced = false;
  int8_t pick = -1;            // the path's thread from here
  int choice_depth = 0;        // choices (unforced decisions) above
  int preemptions_before = 0;  // on the path above
  uint32_t backtrack = 0;
  uint32_t done = 0;
  uint32_t sleep = 0;
  // Explored threads whose subtree from here the bound cut somewhere.
  uint32_t child_cut = 0;
  // The step each thread took from here (explored, or asleep: the step it
  // took where it fell asleep, the same one).
  std::array<std::shared_ptr<const Step>, kMaxThreads> steps;
  // The path's step from here: its vector clock and place in its thread.
  std::vector<uint32_t> clock;
  uint32_t pos = 0;
};

// The bound cut something below state `k`: every subtree above it that
// holds it is marked.
void MarkCut(std::vector<Node>* path, size_t k) {
  for (size_t a = 0; a < k && a < path->size(); ++a) (*path)[a].child_cut |= 1u << (*path)[a].pick;
}

class DporSearch final : public BoundedSearch {
 public:
  absl::StatusOr<SearchStats> Run(const SearchEnv& env, int bound) override {
    const ExploreOptions& options = *env.options;
    const bool sharded = options.shard_count > 1;
    const int split = options.shard_depth;
    SearchStats stats;
    std::vector<Node> path;
    std::vector<int> prefix;  // a pick per decision
    uint32_t cand_sleep = 0;
    std::array<std::shared_ptr<const Step>, kMaxThreads> cand_steps{};
    const int threads = static_cast<int>(env.scenario->threads.size());
    for (;;) {
      // The choices the prefix fixes: the backtrack node's (its last) and
      // those above it.
      const int prefix_choices =
          prefix.empty() ? 0 : path[prefix.size() - 1].choice_depth + !path[prefix.size() - 1].forced;
      const ShardSubtrees::Place at = subtrees_.Next(static_cast<size_t>(prefix_choices), options);
      const uint64_t subtree = at.subtree, subtree_run = at.run;
      const bool mine = at.mine;

      if (!rec_) rec_ = std::make_unique<DporRun>();
      DporRun* rec = rec_.get();
      rec->Prepare(&prefix, cand_sleep, &cand_steps, bound);
      auto run = env.run(rec, RunRecording{rec, rec});
      if (!run.ok()) return run.status();
      ++stats.executions;
      if (run->overflowed || rec->overflowed() || run->infeasible_at >= 0) {
        return absl::InternalError(absl::StrCat("harness bug: schedule ", run->schedule(),
                                                " overflowed its record or was not replayed"));
      }
      if (run->deadlocked) {
        (void)rec_.release();  // the blocked threads keep it
        env.visit(*run, mine, false, subtree, subtree_run);
        stats.stopped = true;
        return stats;
      }
      const auto& ds = rec->decisions();
      // The replayed prefix must be the path's.
      for (size_t d = 0; d < prefix.size(); ++d) {
        if (d >= ds.size() || ds[d].pick != prefix[d] || ds[d].runnable != path[d].enabled) {
          return absl::InternalError(absl::StrCat("harness bug: schedule ", run->schedule(),
                                                  " did not replay decision ", d));
        }
      }
      const bool blocked = rec->blocked_at() >= 0;
      // The path's new states: the decisions past the prefix with a pick,
      // up to where a sleep set blocked the run.
      size_t last = 0;  // decisions with a pick
      while (last < ds.size() && ds[last].pick >= 0) ++last;
      const size_t keep = blocked ? static_cast<size_t>(rec->blocked_at()) : last;
      const size_t m = prefix.empty() ? 0 : prefix.size() - 1;  // the backtrack node
      path.resize(std::min(path.size(), m + 1));
      for (size_t d = path.size(); d < keep; ++d) {
        Node n;
        n.enabled = ds[d].runnable;
        n.current = ds[d].me;
        n.current_can_run = ds[d].me_can_run;
        n.forced = ds[d].forced;
        n.pick = ds[d].pick;
        if (d > 0) {
          const Node& up = path[d - 1];
          n.choice_depth = up.choice_depth + !up.forced;
          n.preemptions_before =
              up.preemptions_before +
              (!up.forced ? PreemptionCost(up.current_can_run, up.current, up.pick) : 0);
        }
        n.done = 1u << n.pick;
        n.sleep = d == 0 ? 0 : ds[d].sleep;
        for (uint32_t left = n.sleep; left; left &= left - 1) {
          const int q = __builtin_ctz(left);
          // Every sleeper fell asleep at the first state past the prefix.
          n.steps[static_cast<size_t>(q)] = cand_steps[static_cast<size_t>(q)];
        }
        if (sharded && n.choice_depth < split) n.backtrack = n.enabled;  // full branching above the split
        path.push_back(std::move(n));
      }
      // Every step of the kept path, from the run's record (the prefix's
      // steps are the same as before: the run replayed them).
      const size_t steps = std::min(keep, path.size());
      const std::vector<uint64_t>& acc = rec->accesses();
      for (size_t k = m; k < steps; ++k) {
        auto s = std::make_shared<Step>();
        // The step from decision k ends at decision k + 1.
        const auto& end = ds[k + 1];
        s->acc.assign(acc.begin() + end.acc_begin, acc.begin() + end.acc_end);
        std::sort(s->acc.begin(), s->acc.end());
        s->acc.erase(std::unique(s->acc.begin(), s->acc.end()), s->acc.end());
        s->everything = end.everything;
        path[k].steps[static_cast<size_t>(path[k].pick)] = std::move(s);
      }
      AddBacktracks(&path, m, steps, threads);
      if (rec->cut()) {
        stats.cut = true;
        MarkCut(&path, keep);
      }

      const bool counted = mine && !blocked;
      if (counted) ++stats.traces;
      if (blocked) ++stats.sleep_blocked;
      if (!env.visit(*run, mine, counted, subtree, subtree_run)) {
        stats.stopped = true;
        break;
      }
      // Another shard's subtree: only its first schedule is run here.
      if (!mine) {
        while (!path.empty() && path.back().choice_depth >= split) path.pop_back();
      }
      // Backtrack: the deepest state with an untried thread within the bound.
      bool found = false;
      while (!path.empty() && !found) {
        Node& n = path.back();
        uint32_t left = n.backtrack & n.enabled & ~n.done & ~n.sleep;
        while (left) {
          const int t = __builtin_ctz(left);
          left &= left - 1;
          n.done |= 1u << t;
          if (n.preemptions_before + PreemptionCost(n.current_can_run, n.current, t) <= bound) {
            n.pick = static_cast<int8_t>(t);
            found = true;
            break;
          }
          stats.cut = true;
          MarkCut(&path, path.size() - 1);
        }
        if (found) break;
        // Within the bound, what plain DFS would have tried here and DPOR
        // did not.
        for (uint32_t rest = n.enabled & ~n.done; rest; rest &= rest - 1) {
          const int t = __builtin_ctz(rest);
          if (n.preemptions_before + PreemptionCost(n.current_can_run, n.current, t) <= bound) {
            ++stats.pruned;
          }
        }
        path.pop_back();
      }
      if (!found) break;  // this bound is covered
      // The next run: the path's picks, then the new one; the threads
      // explored before it here (and those asleep here) sleep from the
      // next state on while independent of the new step.
      Node& n = path.back();
      prefix.clear();
      for (const Node& x : path) prefix.push_back(x.pick);
      // A thread explored here sleeps only if the bound cut nothing in its
      // subtree: only then did that subtree hold every schedule that begins
      // with its step (Godefroid's argument), and so a schedule here that
      // reorders its step later is one it already ran.  Under a bound that
      // subtree may have left out a schedule that costs more preemptions
      // there than its equivalent costs here.
      cand_sleep = (n.sleep | (n.done & ~n.child_cut)) & ~(1u << n.pick);
      cand_steps = n.steps;
      for (uint32_t left = cand_sleep; left; left &= left - 1) {
        const int q = __builtin_ctz(left);
        if (!cand_steps[static_cast<size_t>(q)]) cand_sleep &= ~(1u << q);
      }
      if (sharded && n.choice_depth < split) cand_sleep = 0;  // full branching above the split
    }
    return stats;
  }

 private:
  // Races among the path's steps [0, steps) that involve a step at or after
  // `from` (the earlier ones were analyzed by earlier runs), each asking
  // for its reversal (see the file comment).
  static void AddBacktracks(std::vector<Node>* path_ptr, size_t from, size_t steps, int threads) {
    std::vector<Node>& path = *path_ptr;
    const auto T = static_cast<size_t>(threads);
    std::vector<int64_t> prev_of_thread(T, -1);
    std::vector<uint32_t> count(T, 0);
    for (size_t k = 0; k < steps; ++k) {
      const auto t = static_cast<size_t>(path[k].pick);
      if (k >= from) {
        path[k].pos = count[t];
        std::vector<uint32_t> clock(T, 0);
        if (prev_of_thread[t] >= 0) clock = path[static_cast<size_t>(prev_of_thread[t])].clock;
        const Step& sk = *path[k].steps[t];
        std::vector<size_t> deps;
        for (size_t x = 0; x < k; ++x) {
          const auto tx = static_cast<size_t>(path[x].pick);
          if (tx == t) continue;
          if (!Dependent(*path[x].steps[tx], sk)) continue;
          deps.push_back(x);
          for (size_t i = 0; i < T; ++i) clock[i] = std::max(clock[i], path[x].clock[i]);
        }
        clock[t] = path[k].pos + 1;
        path[k].clock = std::move(clock);
        // i races k unless another predecessor of k already follows i.
        for (size_t i : deps) {
          const auto ti = static_cast<size_t>(path[i].pick);
          const uint32_t need = path[i].pos + 1;
          bool ordered = prev_of_thread[t] >= 0 &&
                         path[static_cast<size_t>(prev_of_thread[t])].clock[ti] >= need;
          for (size_t y : deps) {
            if (!ordered && y != i && path[y].clock[ti] >= need) ordered = true;
          }
          if (ordered) continue;
          Reverse(&path, i, static_cast<int>(t));
        }
      }
      prev_of_thread[t] = static_cast<int64_t>(k);
      ++count[t];
    }
  }

  // Asks for thread q before the step at `i`: at i and at the start of i's
  // thread's stretch (bounded POR).
  static void Reverse(std::vector<Node>* path, size_t i, int q) {
    size_t b = i;
    while (b > 0 && (*path)[b - 1].pick == (*path)[i].pick) --b;
    for (size_t at : {i, b}) {
      Node& n = (*path)[at];
      if (n.enabled & (1u << q)) {
        n.backtrack |= 1u << q;
      } else {
        n.backtrack |= n.enabled;
      }
    }
  }

  ShardSubtrees subtrees_;  // across bounds
  std::unique_ptr<DporRun> rec_;  // one run's record, reused
};

}  // namespace

std::unique_ptr<BoundedSearch> NewDporSearch() { return std::make_unique<DporSearch>(); }

}  // namespace pagerace::explore_internal
