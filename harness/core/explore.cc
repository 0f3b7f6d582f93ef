#include "harness/core/explore.h"

#include <algorithm>
#include <memory>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "harness/base/clock.h"
#include "harness/base/lock_wait.h"
#include "harness/base/role.h"
#include "harness/base/stats.h"
#include "harness/base/thread_registry.h"
#include "harness/check/watchdog.h"
#include "harness/core/machine.h"
#include "harness/mm/filemap.h"
#include "harness/mm/page.h"
#include "harness/mm/recovery.h"
#include "harness/mm/writeback.h"
#include "harness/sched/sched.h"

namespace pagerace {
namespace {

// Far more choices than a scenario of kMaxOps ops per thread makes.
constexpr size_t kMaxChoices = 1 << 16;

// What the scenario's threads share with the driver: the per-writer stamp
// sequences (each touched by its writer's thread only, or by the setup
// before any thread starts).
struct Writers {
  std::vector<uint64_t> seq;
};

// Runs one scenario op.  `writer` is the ledger writer of the calling
// thread (mmap i: i; pwrite p: mmap threads + p).
void RunOp(Machine& m, const ScenarioOp& op, int writer, uint64_t* seq) {
  MmContext& mm = m.mm();
  Ledger& ledger = m.ledger();
  const uint32_t slot = ledger.owned_slot(static_cast<uint32_t>(writer), 0);
  switch (op.kind) {
    case ScenarioOp::kStore:
      m.workload().StoreOp(writer, op.vma, op.page, slot, seq);
      break;
    case ScenarioOp::kWrite: {
      auto* addr = reinterpret_cast<uint64_t*>(mm.mmu().user_addr(op.vma, op.page)) + slot;
      const uint64_t stamp = Ledger::Stamp(static_cast<uint32_t>(writer), ++*seq);
      CountStat(Stat::kOps);
      if (guarded_store(addr, stamp)) ledger.expected(op.page, slot) = stamp;
      break;
    }
    case ScenarioOp::kLoad: {
      const auto* addr = reinterpret_cast<const uint64_t*>(mm.mmu().user_addr(op.vma, op.page)) + slot;
      uint64_t v;
      guarded_load(addr, &v);
      break;
    }
    case ScenarioOp::kPwrite: {
      const uint64_t stamp = Ledger::Stamp(static_cast<uint32_t>(writer), ++*seq);
      if (generic_perform_write(mm, op.page, slot, stamp)) ledger.expected(op.page, slot) = stamp;
      break;
    }
    case ScenarioOp::kPass: {
      WritebackControl wbc;
      write_cache_pages(mm, wbc);
      mm.a_ops().commit();
      break;
    }
    case ScenarioOp::kSync:
      sync_mapping(mm, /*drain=*/false);
      break;
    case ScenarioOp::kReclaim:
      shrink_page(mm, op.page);
      break;
    case ScenarioOp::kSnapshot:
      mm.a_ops().background_step();
      break;
    case ScenarioOp::kWriteback: {
      WritebackControl wbc;
      write_cache_pages(mm, wbc);
      mm.io().Drain();
      mm.a_ops().commit();
      break;
    }
  }
}

// A scenario thread: one op a step, then done.
class ScenarioRole : public Role {
 public:
  ScenarioRole(Machine* m, const ScenarioThread* t, int writer, uint64_t* seq)
      : m_(m), t_(t), writer_(writer), seq_(seq) {}
  RoleId id() const override { return t_->role; }
  bool user_access() const override { return t_->role.kind == RoleKind::kMmap; }
  bool bounded() const override { return true; }
  Step step() override {
    if (next_ >= t_->ops.size()) return Step::kDone;
    RunOp(*m_, t_->ops[next_++], writer_, seq_);
    return next_ < t_->ops.size() ? Step::kMore : Step::kDone;
  }

 private:
  Machine* const m_;
  const ScenarioThread* const t_;
  const int writer_;
  uint64_t* const seq_;
  size_t next_ = 0;  // owned by the role's thread
};

// I/O completion under the serial scheduler: completes what is queued; with
// nothing queued, waits until something is submitted or every other thread
// has finished, and then finishes once the queue is empty.
class SerialIoRole : public Role {
 public:
  SerialIoRole(MmContext* mm, sched::SerialRun* run, int index)
      : mm_(mm), run_(run), index_(index) {}
  RoleId id() const override { return {RoleKind::kIo, 0}; }
  StopPhase stop_phase() const override { return StopPhase::kIo; }
  Step step() override {
    seen_ = mm_->io().events();
    if (mm_->io().Drain() > 0) return Step::kMore;
    if (run_->OthersExited(index_)) return Step::kDone;
    run_->WaitUntil(&Ready, this);
    return Step::kMore;
  }

 private:
  // Evaluated by the deciding thread: reads only.
  static bool Ready(const void* arg) {
    const auto* self = static_cast<const SerialIoRole*>(arg);
    return self->mm_->io().events() != self->seen_ || self->run_->OthersExited(self->index_);
  }

  MmContext* const mm_;
  sched::SerialRun* const run_;
  const int index_;
  uint32_t seen_ = 0;  // written by the role's thread, read under the token
};

// `inversion`: the first lock-order inversion, named while the thread that
// made it is still registered (written with the run token held).
void RunThread(sched::SerialRun* run, Role* role, int index, ThreadStats* stats,
               std::string* inversion) {
  ScopedThread reg(role->name(), role->user_access(), stats);
  run->Attach(index);
  role->start();
  while (role->step() == Role::Step::kMore) run->Yield();
  role->stop();
  if (inversion->empty()) *inversion = LockOrderInversion();
  run->Detach();
}

// "mmap0 waits for the lock of page 0 held by writeback; io waits for I/O".
std::string DescribeDeadlock(Machine& m, const sched::SerialRun& run, uint64_t* page) {
  MmContext& mm = m.mm();
  std::string out = DescribeLockWaits(
      [&mm](uint64_t index) { return mm.page_lock_owner(index); },
      page);
  const std::vector<LockWait> waits = CurrentLockWaits();
  for (const sched::SerialWaiter& w : run.Waiters()) {
    if (std::any_of(waits.begin(), waits.end(), [&](const LockWait& l) { return l.tid == w.tid; })) {
      continue;
    }
    absl::StrAppend(&out, out.empty() ? "" : "; ", ThreadRole(w.tid),
                    w.on_lock ? " waits on a page bit (wait_on_page_locked/_writeback)"
                              : " waits for I/O to complete or threads to finish");
  }
  return absl::StrCat("no thread can run: ", out);
}

// The story of the first infeasible pick, in the roles' names.
InfeasiblePick DescribeInfeasible(const sched::SerialInfeasibility& f,
                                  const std::vector<std::unique_ptr<Role>>& roles) {
  using F = sched::SerialInfeasibility;
  InfeasiblePick p;
  p.step = f.at + 1;
  p.thread = f.thread;
  const auto name = [&roles](int i) {
    return i >= 0 && i < static_cast<int>(roles.size()) ? roles[static_cast<size_t>(i)]->name()
                                                        : std::string();
  };
  p.thread_name = name(f.thread);
  p.holder = f.holder_io ? -1 : f.holder;
  p.holder_name = f.holder_io ? "the write in flight (I/O)" : name(f.holder);
  p.since_step = f.since;
  const std::string since = f.since < 0    ? ""
                            : f.since == 0 ? " since before step 1"
                                           : absl::StrCat(" since step ", f.since);
  std::string held;
  if (f.holder_io) {
    held = f.holder >= 0 ? absl::StrCat(", held by the write in flight (I/O), to which ",
                                        name(f.holder), " handed it (taken", since, ")")
                         : ", held by the write in flight (I/O)";
  } else if (f.holder >= 0) {
    held = absl::StrCat(", held by ", p.holder_name, since);
  } else {
    held = ", held by a thread not named (taken before the scenario's threads ran)";
  }
  switch (f.why) {
    case F::kNone:
      return InfeasiblePick{};
    case F::kNoSuchThread:
      p.why = "no such thread";
      p.message = absl::StrCat("the scenario has no thread ", f.thread, " (it has ",
                               roles.size(), ")");
      break;
    case F::kFinished:
      p.why = "finished";
      p.message = absl::StrCat(p.thread_name, " (thread ", f.thread, ") has already finished");
      break;
    case F::kWaiting:
      p.why = "waiting";
      p.message = absl::StrCat(p.thread_name,
                               " waits for I/O to complete or the other threads to finish");
      break;
    case F::kBlockedOnWord:
      if (f.lock_kind == LockKind::kPage) {
        p.why = "lock";
        p.lock = absl::StrCat("the lock of page ", f.lock_what);
      } else if (f.lock_kind == LockKind::kFsLock) {
        p.why = "lock";
        p.lock = f.lock_name ? f.lock_name : "an fs lock";
      }
      if (!p.lock.empty()) {
        p.message = absl::StrCat(p.thread_name, " cannot take ", p.lock, held);
      } else if (f.mask == PG_locked) {
        p.why = "page bit";
        p.lock = "PG_locked of a page";
        p.message = absl::StrCat(p.thread_name,
                                 " waits for a page lock to be released (wait_on_page_locked)", held);
      } else if (f.mask == PG_writeback) {
        p.why = "page bit";
        p.lock = "PG_writeback of a page";
        p.message = absl::StrCat(p.thread_name,
                                 " waits for a page's writeback to end (wait_on_page_writeback)");
      } else {
        p.why = "word";
        p.message = absl::StrCat(p.thread_name, " is blocked on a harness lock the run does not name",
                                 f.holder >= 0 ? held : "");
      }
      break;
  }
  return p;
}

int CountPreemptions(const std::vector<sched::SerialChoice>& choices) {
  int n = 0;
  for (const sched::SerialChoice& c : choices) n += c.preemption();
  return n;
}

}  // namespace

absl::StatusOr<RunConfig> ScenarioConfig(const RunConfig& base, const Scenario& scenario) {
  RunConfig c = base;
  c.pages = scenario.pages;
  c.mappings = scenario.mappings;
  c.threads = std::max(1, scenario.mmap_threads());  // setup stores as mmap0
  c.pwriters = scenario.pwrite_threads();
  const WorkloadEntry* w = WorkloadRegistry().Find(scenario.workload);
  if (!w) {
    return absl::InvalidArgumentError(absl::StrCat("scenario ", scenario.name, ": unknown workload '",
                                                   scenario.workload, "'"));
  }
  c.workload = w;
  if (c.workload->needs_page_mkwrite && !c.fs->make()->has_page_mkwrite()) {
    return absl::InvalidArgumentError(absl::StrCat("scenario ", scenario.name, ": workload ",
                                                   c.workload->name, " needs ->page_mkwrite"));
  }
  c.sched = sched::Policy::kSerial;
  c.ops = 0;
  return c;
}

absl::StatusOr<ScheduleRun> RunSchedule(const RunConfig& base, const Scenario& scenario,
                                        const std::vector<int>& picks) {
  auto config = ScenarioConfig(base, scenario);
  if (!config.ok()) return config.status();
  sched::Reset();
  ResetThreadRegistry();
  ResetLockOrder();
  auto created = Machine::Create(*config);
  if (!created.ok()) return created.status();
  std::unique_ptr<Machine> machine = *std::move(created);
  Machine& m = *machine;
  const int mmaps = config->threads;
  std::string inversion;  // the first lock-order inversion seen
  Writers writers;
  writers.seq.assign(static_cast<size_t>(config->threads + config->pwriters), 0);

  {
    // The setup stores as mmap0 and pwrites as pwrite0.
    ThreadStats stats;
    ScopedThread setup("setup", /*user_access=*/true, &stats);
    for (const ScenarioOp& op : scenario.setup) {
      const int writer = op.kind == ScenarioOp::kPwrite ? mmaps : 0;
      RunOp(m, op, writer, &writers.seq[static_cast<size_t>(writer)]);
    }
    // Named now, while the setup's thread still holds its id.
    inversion = LockOrderInversion();
  }

  const int n = static_cast<int>(scenario.threads.size());
  auto chooser = std::make_unique<sched::PrefixChooser>(&picks);
  auto run = std::make_unique<sched::SerialRun>(n, chooser.get(), kMaxChoices);
  std::vector<std::unique_ptr<Role>> roles;
  std::vector<std::unique_ptr<ThreadStats>> stats;
  for (int i = 0; i < n; ++i) {
    const ScenarioThread& t = scenario.threads[static_cast<size_t>(i)];
    stats.push_back(std::make_unique<ThreadStats>());
    if (t.role.kind == RoleKind::kIo) {
      roles.push_back(std::make_unique<SerialIoRole>(&m.mm(), run.get(), i));
      continue;
    }
    int writer = 0;
    if (t.role.kind == RoleKind::kMmap) writer = t.role.index;
    if (t.role.kind == RoleKind::kPwrite) writer = mmaps + t.role.index;
    roles.push_back(std::make_unique<ScenarioRole>(&m, &t, writer,
                                                   &writers.seq[static_cast<size_t>(writer)]));
  }

  sched::Options so;
  so.policy = sched::Policy::kSerial;
  sched::Configure(so);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back(RunThread, run.get(), roles[static_cast<size_t>(i)].get(), i,
                         stats[static_cast<size_t>(i)].get(), &inversion);
  }
  run->Start();
  const bool finished = run->Wait();

  ScheduleRun out;
  out.choices.assign(run->choices(), run->choices() + run->num_choices());
  for (const sched::SerialChoice& c : out.choices) out.picks.push_back(c.pick);
  out.preemptions = CountPreemptions(out.choices);
  out.overflowed = run->overflowed();
  out.infeasible_at = run->infeasible_at();
  if (out.infeasible_at >= 0) out.infeasible = DescribeInfeasible(run->infeasibility(), roles);
  Oracle& oracle = m.mm().oracle();
  if (!finished) {
    // No thread can run.  They stay blocked on the run token: their run,
    // roles and Machine are left to them (never freed), and the policy is
    // switched off for whatever runs next.
    out.deadlocked = true;
    uint64_t page = 0;
    const std::string who = DescribeDeadlock(m, *run, &page);
    if (inversion.empty()) inversion = LockOrderInversion();
    if (!inversion.empty()) {
      oracle.Report(RaceKind::kLockOrderInversion, Invariant::kLockOrder, 0, false, 0, 0,
                    inversion.c_str());
    }
    oracle.Report(RaceKind::kDeadlock, Invariant::kWatchdog, page, false, 0, 0, who.c_str());
    out.race_reports = oracle.total();
    out.data_losing_reports = oracle.data_losing_total();
    out.races = oracle.Groups();
    sched::Reset();
    for (std::thread& t : threads) t.detach();
    (void)machine.release();
    (void)run.release();
    (void)chooser.release();
    for (auto& r : roles) (void)r.release();
    for (auto& s : stats) (void)s.release();
    return out;
  }
  for (std::thread& t : threads) t.join();
  sched::Reset();
  {
    ThreadStats main_stats;
    ScopedThread main_reg(RoleName(RoleKind::kMain), /*user_access=*/false, &main_stats);
    if (!inversion.empty()) {
      oracle.Report(RaceKind::kLockOrderInversion, Invariant::kLockOrder, 0, false, 0, 0,
                    inversion.c_str());
    }
    // No I/O thread is left: the sync completes I/O inline.
    sync_mapping(m.mm(), /*drain=*/true);
    m.FinalChecks();
  }
  out.race_reports = oracle.total();
  out.data_losing_reports = oracle.data_losing_total();
  out.races = oracle.Groups();
  return out;
}

namespace {

// One level of the search tree: a choice of the current path.
struct Node {
  sched::SerialChoice choice;  // runnable, current, pick of the path's run
  uint32_t tried = 0;          // picks already explored from here
  int preemptions_before = 0;  // on the path above this choice
};

// The cost of picking `t` at `c`: 1 if it preempts a thread that could go on.
int Cost(const sched::SerialChoice& c, int t) { return c.current_can_run && t != c.current; }

bool SameReports(const ScheduleRun& a, const ScheduleRun& b) {
  if (a.races.size() != b.races.size()) return false;
  for (size_t i = 0; i < a.races.size(); ++i) {
    const RaceRecord& x = a.races[i].first;
    const RaceRecord& y = b.races[i].first;
    if (x.kind != y.kind || x.invariant != y.invariant || x.data_losing != y.data_losing ||
        x.page != y.page || a.races[i].count != b.races[i].count) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<ExploreResult> Explore(
    const RunConfig& base, const Scenario& scenario, const ExploreOptions& options,
    const std::function<void(const ExploreProgress&)>& on_progress) {
  ExploreResult result;
  auto config = ScenarioConfig(base, scenario);
  if (!config.ok()) return config.status();
  result.config = *config;
  result.scenario = scenario;
  result.options = options;
  const int64_t t0 = now_ns();
  auto elapsed = [t0] { return static_cast<double>(now_ns() - t0) / 1e9; };
  bool out_of_budget = false;

  auto note = [&](const ScheduleRun& r) {
    for (const RaceGroup& g : r.races) {
      const RaceRecord& f = g.first;
      auto it = std::find_if(result.violations.begin(), result.violations.end(),
                             [&](const ExploreViolation& v) {
                               return v.kind == f.kind && v.invariant == f.invariant &&
                                      v.data_losing == f.data_losing;
                             });
      if (it != result.violations.end()) {
        ++it->schedules;
        continue;
      }
      ExploreViolation v;
      v.kind = f.kind;
      v.invariant = f.invariant;
      v.data_losing = f.data_losing;
      v.preemptions = r.preemptions;
      v.schedule = r.schedule();
      v.page = f.page;
      v.detail = f.detail;
      v.schedules = 1;
      result.violations.push_back(std::move(v));
    }
  };

  for (int bound = 0; bound <= options.max_preemptions && !out_of_budget && !result.deadlocked;
       ++bound) {
    ExploreBound eb;
    eb.preemptions = bound;
    const double bound_t0 = elapsed();
    std::vector<Node> stack;
    std::vector<int> prefix;
    for (;;) {
      auto run = RunSchedule(base, scenario, prefix);
      if (!run.ok()) return run.status();
      ++result.executions;
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
      if (run->preemptions == bound) {
        ++eb.schedules;
        ++result.schedules;
        note(*run);
      }
      if (run->deadlocked) {
        result.deadlocked = true;
        break;
      }
      if (on_progress) {
        on_progress({bound, result.schedules, result.executions, result.violations.size(),
                     elapsed()});
      }
      if (options.max_schedules && result.executions >= options.max_schedules) {
        out_of_budget = true;
        break;
      }
      // Backtrack: the deepest choice with an untried pick within the bound.
      bool found = false;
      while (!stack.empty() && !found) {
        Node& node = stack.back();
        uint32_t left = node.choice.runnable & ~node.tried;
        while (left) {
          const int t = __builtin_ctz(left);
          left &= left - 1;
          node.tried |= 1u << t;
          if (node.preemptions_before + Cost(node.choice, t) <= bound) {
            node.choice.pick = static_cast<int8_t>(t);
            found = true;
            break;
          }
        }
        if (!found) stack.pop_back();
      }
      if (!found) break;  // this bound is covered
      prefix.clear();
      for (const Node& node : stack) prefix.push_back(node.choice.pick);
    }
    eb.elapsed_s = elapsed() - bound_t0;
    result.bounds.push_back(eb);
  }
  result.complete = !out_of_budget && !result.deadlocked;

  // The determinism check: each violation's schedule, run again.
  if (!result.deadlocked) {
    for (ExploreViolation& v : result.violations) {
      auto picks = sched::ParseSchedule(v.schedule);
      if (!picks.ok()) return picks.status();
      auto first = RunSchedule(base, scenario, *picks);
      if (!first.ok()) return first.status();
      v.deterministic = !first->deadlocked;
      for (int i = 0; i < options.determinism_runs && v.deterministic; ++i) {
        auto again = RunSchedule(base, scenario, *picks);
        if (!again.ok()) return again.status();
        v.deterministic = !again->deadlocked && again->choices == first->choices &&
                          SameReports(*again, *first);
      }
    }
  }
  result.elapsed_s = elapsed();
  return result;
}

}  // namespace pagerace
