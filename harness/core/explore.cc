#include "harness/core/explore.h"

#include <algorithm>
#include <memory>
#include <condition_variable>
#include <functional>
#include <mutex>
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
#include "harness/core/explore_search.h"
#include "harness/core/machine.h"
#include "harness/mm/filemap.h"
#include "harness/mm/invalidate.h"
#include "harness/mm/migrate.h"
#include "harness/mm/page.h"
#include "harness/mm/recovery.h"
#include "harness/mm/writeback.h"
#include "harness/mm/mremap.h"
#include "harness/mm/zap.h"
#include "harness/sched/sched.h"

namespace pagerace {
namespace {

// Far more choices than a scenario of kMaxOps ops per thread makes.
constexpr size_t kMaxChoices = 1 << 16;
// --preemptions=all: a bound no schedule reaches.
constexpr int kNoBound = 1 << 20;
// Runs per candidate scenario while shrinking.
constexpr uint64_t kMinimizeRuns = 5000;

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
  // The writer's first slot at or after byte op.offset (its last if none).
  const auto w = static_cast<uint32_t>(writer);
  uint32_t k = 0;
  while (k + 1 < ledger.owned_slots(w) && ledger.owned_slot(w, k) * sizeof(uint64_t) < op.offset) {
    ++k;
  }
  const uint32_t slot = ledger.owned_slot(w, k);
  switch (op.kind) {
    case ScenarioOp::kStore:
      m.workload().StoreOp(writer, op.vma, op.page, slot, seq);
      break;
    case ScenarioOp::kWrite: {
      auto* addr = reinterpret_cast<uint64_t*>(mm.mmu().user_addr(op.vma, op.page)) + slot;
      const uint64_t stamp = Ledger::Stamp(static_cast<uint32_t>(writer), ++*seq);
      CountStat(Stat::kOps);
      const pte_t before = mm.mmu().pte(op.vma, op.page).val.load(std::memory_order_acquire);
      if (guarded_store(addr, stamp)) {
        NoteStaleTlbStore(mm, op.vma, op.page, before);
        ledger.expected(op.page, slot) = stamp;
      }
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
      do_fsync(mm);
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
    case ScenarioOp::kTruncate:
      m.workload().TruncateTo(static_cast<int64_t>(op.page * mm.page_size() + op.offset));
      break;
    case ScenarioOp::kEnospc:
      mm.a_ops().InjectMkwriteFailures(op.one_in);
      break;
    case ScenarioOp::kDio:
      m.workload().GupOp(writer, op.vma, op.page, slot, seq, /*paced=*/false);
      break;
    case ScenarioOp::kZap:
      madvise_dontneed(mm, op.vma, op.page);
      break;
    case ScenarioOp::kStrip:
      pagevec_strip(mm, op.page);
      break;
    case ScenarioOp::kCommit:
      mm.a_ops().fs_flush(op.page);
      break;
    case ScenarioOp::kDrop:
      invalidate_mapping_page(mm, op.page);
      break;
    case ScenarioOp::kInvalidate:
      invalidate_inode_pages2_page(mm, op.page);
      break;
    case ScenarioOp::kMigrate:
      migrate_page_one(mm, op.page);
      break;
    case ScenarioOp::kMremap:
      move_page_pte(mm, op.vma, op.to_vma, op.page);
      break;
    case ScenarioOp::kPunch:
      m.workload().PunchRange(op.page, op.npages);
      break;
  }
}

// The total-order log of one serial run (explore.h's LogEntry), fed by the
// Machine's tracer.  Entries are appended by whichever thread records: the
// setup's before the run, one participant at a time during it (the run
// token orders them), the driver's after it.  Capacity is reserved up front:
// appending never allocates (the SIGSEGV handler appends).
class SerialLog : public TraceSink {
 public:
  static constexpr size_t kCapacity = 4096;  // 96 KiB: below malloc's mmap threshold
  SerialLog() { entries_.reserve(kCapacity); }

  void set_phase(LogEntry::Phase phase, const sched::SerialRun* run) {
    phase_ = phase;
    run_ = run;
  }
  void OnEvent(uint64_t index, Event e) override {
    Append(index, false, static_cast<uint16_t>(e), 0, false);
  }
  void OnReport(uint64_t index, int kind, int invariant, bool data_losing) override {
    Append(index, true, static_cast<uint16_t>(kind), static_cast<uint8_t>(invariant), data_losing);
  }
  // A window event keeps its window in `invariant` (LogEntry).
  void OnWindowEvent(uint64_t index, Event e, int window) override {
    Append(index, false, static_cast<uint16_t>(e), static_cast<uint8_t>(window), false);
  }
  std::vector<LogEntry>& entries() { return entries_; }
  bool overflowed() const { return overflowed_; }

 private:
  void Append(uint64_t index, bool report, uint16_t what, uint8_t invariant, bool data_losing) {
    if (entries_.size() == kCapacity) {
      overflowed_ = true;
      return;
    }
    LogEntry e;
    e.phase = phase_;
    if (phase_ == LogEntry::kRun) {
      e.thread = static_cast<int8_t>(sched::internal::CurrentSerialIndex());
      e.step = static_cast<uint32_t>(run_->num_choices());
    }
    e.page = index;
    e.report = report;
    e.what = what;
    e.invariant = invariant;
    e.data_losing = data_losing;
    entries_.push_back(e);
  }

  // Written by the driver between phases (no participant runs then).
  LogEntry::Phase phase_ = LogEntry::kSetup;
  const sched::SerialRun* run_ = nullptr;
  // Appended to by one thread at a time (see the class comment).
  std::vector<LogEntry> entries_;
  bool overflowed_ = false;
};

// A scenario thread: one op a step, then done.
class ScenarioRole : public Role {
 public:
  ScenarioRole(Machine* m, const ScenarioThread* t, int writer, uint64_t* seq,
               const std::function<void(MmContext&)>* hook)
      : m_(m), t_(t), writer_(writer), seq_(seq), hook_(hook) {}
  RoleId id() const override { return t_->role; }
  bool user_access() const override { return t_->role.kind == RoleKind::kMmap; }
  bool bounded() const override { return true; }
  Step step() override {
    if (next_ >= t_->ops.size()) return Step::kDone;
    if (*hook_) (*hook_)(m_->mm());
    RunOp(*m_, t_->ops[next_++], writer_, seq_);
    return next_ < t_->ops.size() ? Step::kMore : Step::kDone;
  }

 private:
  Machine* const m_;
  const ScenarioThread* const t_;
  const int writer_;
  uint64_t* const seq_;
  const std::function<void(MmContext&)>* const hook_;
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

// Threads kept from schedule to schedule (issue 21): each schedule's
// scenario threads run on parked workers rather than on threads made for
// it, which cost more than a small schedule's faults.  A worker runs one
// job at a time; Join parks it again.  A worker whose job never ends (its
// run deadlocked, its thread blocked for good) is abandoned, not reused.
class WorkerPool {
 public:
  struct Worker {
    std::mutex mu;
    std::condition_variable cv;
    std::function<void()> job;  // guarded by mu
    bool has_job = false;       // guarded by mu
    bool done = false;          // guarded by mu
    std::thread thread;
  };

  Worker* Start(std::function<void()> job) {
    Worker* w = nullptr;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!idle_.empty()) {
        w = idle_.back();
        idle_.pop_back();
      }
    }
    if (!w) {
      w = new Worker;  // lives as long as its thread (never freed)
      w->thread = std::thread(&WorkerPool::Loop, w);
      w->thread.detach();
    }
    {
      std::lock_guard<std::mutex> l(w->mu);
      w->job = std::move(job);
      w->has_job = true;
      w->done = false;
    }
    w->cv.notify_all();
    return w;
  }

  void Join(Worker* w) {
    {
      std::unique_lock<std::mutex> l(w->mu);
      w->cv.wait(l, [w] { return w->done; });
      w->job = nullptr;
    }
    std::lock_guard<std::mutex> l(mu_);
    idle_.push_back(w);
  }

 private:
  static void Loop(Worker* w) {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> l(w->mu);
        w->cv.wait(l, [w] { return w->has_job; });
        w->has_job = false;
        job = w->job;
      }
      job();
      {
        std::lock_guard<std::mutex> l(w->mu);
        w->done = true;
      }
      w->cv.notify_all();
    }
  }

  std::mutex mu_;
  std::vector<Worker*> idle_;  // guarded by mu_
};

WorkerPool& Workers() {
  static WorkerPool* pool = new WorkerPool;  // never destroyed: its threads outlive main
  return *pool;
}

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
  } else if (f.lock_kind == LockKind::kRwSem) {
    // An rwsem records no owner (its readers are a count).
    held = ", held by another thread (an rwsem names no holder)";
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
      } else if (f.lock_kind == LockKind::kFsLock || f.lock_kind == LockKind::kRwSem) {
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

// The dfs strategy: one search per bound, bound 0 up (explore_search.h),
// each run's reports noted (`note`) and counted into `result`.
absl::Status SearchBounds(const RunConfig& base, const Scenario& scenario,
                          const ExploreOptions& options,
                          const std::function<void(const ExploreProgress&)>& on_progress,
                          const std::function<void(const ScheduleRun&)>& note,
                          const std::function<double()>& elapsed, ExploreResult* result) {
  using namespace explore_internal;
  std::unique_ptr<BoundedSearch> search =
      options.por == ExplorePor::kDpor ? NewDporSearch() : NewDfsSearch();
  bool out_of_budget = false;
  const bool all = options.max_preemptions == kAllPreemptions;
  int bound = 0;
  ExploreBound eb;
  SearchEnv env;
  env.base = &base;
  env.scenario = &scenario;
  env.options = &options;
  env.run = [&](sched::SerialChooser* chooser, const RunRecording& recording) {
    return RunScheduleWith(base, scenario, chooser, options.op_hook, recording);
  };
  env.visit = [&](const ScheduleRun& r, bool noted, bool counted, uint64_t subtree,
                  uint64_t subtree_run) {
    ++result->executions;
    const size_t known = result->violations.size();
    if (counted && (all || r.preemptions == bound)) {  // all: no bound to count them by
      ++eb.schedules;
      ++result->schedules;
    }
    if (noted || r.deadlocked) {
      // A deadlock in another shard's subtree ends this search too: say why.
      if (noted && !r.races.empty()) ++result->violating_schedules;
      if (noted && r.writable_during_writeback > 0) ++result->writable_during_writeback_schedules;
      note(r);
      NoteCauses(r, subtree, subtree_run, result);
    }
    for (size_t i = known; i < result->violations.size(); ++i) {
      result->violations[i].dfs_subtree = subtree;
      result->violations[i].dfs_run = subtree_run;
    }
    if (r.deadlocked) {
      result->deadlocked = true;
      return false;
    }
    if (on_progress) {
      on_progress({all ? kAllPreemptions : bound, result->schedules, result->executions, result->violations.size(),
                   elapsed()});
    }
    if (options.max_schedules && result->executions >= options.max_schedules) {
      out_of_budget = true;
      return false;
    }
    return true;
  };
  // --preemptions=all: one search with no bound (a bound no schedule
  // reaches), so that no sleep set is given up for it (explore_dpor.cc);
  // its violations carry the preemptions of the schedules it met, the
  // fewest among them but not proven the fewest possible.
  const int first = all ? kNoBound : 0;
  const int last = all ? kNoBound : options.max_preemptions;
  for (bound = first; bound <= last; ++bound) {
    eb = ExploreBound{};
    eb.preemptions = all ? kAllPreemptions : bound;
    const double bound_t0 = elapsed();
    auto stats = search->Run(env, bound);
    if (!stats.ok()) return stats.status();
    eb.elapsed_s = elapsed() - bound_t0;
    eb.traces = stats->traces;
    eb.sleep_blocked = stats->sleep_blocked;
    eb.pruned = stats->pruned;
    eb.cut = stats->cut;
    eb.executions = stats->executions;
    result->bounds.push_back(eb);
    if (stats->stopped) break;
    // Nothing left out for the bound: this search covered every schedule,
    // and a larger bound's would repeat it.
    if (!stats->cut) {
      result->complete_unbounded = true;
      break;
    }
  }
  result->complete = !out_of_budget && !result->deadlocked && (!all || result->complete_unbounded);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RunConfig> ScenarioConfig(const RunConfig& base, const Scenario& scenario) {
  RunConfig c = base;
  c.pages = scenario.pages;
  c.mappings = scenario.mappings;
  // Ledger writers: the mmap threads (the setup stores as mmap0), then the
  // gup threads, then the pwriters.
  c.threads = std::max(1, scenario.mmap_threads()) + scenario.gup_threads();
  // The setup pwrites as pwrite0: a scenario with a setup pwrite and no
  // pwrite thread still has that writer.
  const bool setup_pwrites =
      std::any_of(scenario.setup.begin(), scenario.setup.end(),
                  [](const ScenarioOp& op) { return op.kind == ScenarioOp::kPwrite; });
  c.pwriters = std::max(scenario.pwrite_threads(), setup_pwrites ? 1 : 0);
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
  const bool punches = [&] {
    for (const ScenarioThread& t : scenario.threads) {
      for (const ScenarioOp& op : t.ops) if (op.kind == ScenarioOp::kPunch) return true;
    }
    for (const ScenarioOp& op : scenario.setup) if (op.kind == ScenarioOp::kPunch) return true;
    return false;
  }();
  if (punches) {
    if (const std::string why = c.fs->make()->punch_hole_refusal(); !why.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("scenario ", scenario.name,
                                                     " punches a hole, and --fs=", c.fs->name, ": ", why));
    }
  }
  c.sched = sched::Policy::kSerial;
  c.ops = 0;
  return c;
}

absl::StatusOr<ScheduleRun> RunSchedule(const RunConfig& base, const Scenario& scenario,
                                        const std::vector<int>& picks,
                                        const std::function<void(MmContext&)>& op_hook) {
  auto chooser = std::make_unique<sched::PrefixChooser>(&picks);
  auto out = RunScheduleWith(base, scenario, chooser.get(), op_hook);
  if (out.ok() && out->deadlocked) (void)chooser.release();  // the blocked run keeps it
  return out;
}

absl::StatusOr<ScheduleRun> RunScheduleWith(const RunConfig& base, const Scenario& scenario,
                                            sched::SerialChooser* chooser,
                                            const std::function<void(MmContext&)>& op_hook,
                                            const RunRecording& recording) {
  auto config = ScenarioConfig(base, scenario);
  if (!config.ok()) return config.status();
  sched::Reset();
  ResetThreadRegistry();
  ResetLockOrder();
  // Every run numbers the Machine's objects alike (shared.h).
  ResetSharedIds();
  auto created = Machine::Create(*config);
  if (!created.ok()) return created.status();
  std::unique_ptr<Machine> machine = *std::move(created);
  Machine& m = *machine;
  const int mmaps = config->threads;
  std::string inversion;  // the first lock-order inversion seen
  uint64_t faults = 0;
  Writers writers;
  writers.seq.assign(static_cast<size_t>(config->threads + config->pwriters), 0);
  // Never freed while a deadlocked run's threads may still record into it.
  auto log = std::make_unique<SerialLog>();
  m.mm().tracer().set_sink(log.get());

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
    faults += stats.v[static_cast<int>(Stat::kFaults)].load(std::memory_order_relaxed);
  }

  const int n = static_cast<int>(scenario.threads.size());
  auto run = std::make_unique<sched::SerialRun>(n, chooser, kMaxChoices, recording.observer);
  log->set_phase(LogEntry::kRun, run.get());
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
    if (t.role.kind == RoleKind::kGup) writer = std::max(1, scenario.mmap_threads()) + t.role.index;
    if (t.role.kind == RoleKind::kPwrite) writer = mmaps + t.role.index;
    roles.push_back(std::make_unique<ScenarioRole>(
        &m, &t, writer, &writers.seq[static_cast<size_t>(writer)], &op_hook));
  }

  sched::Options so;
  so.policy = sched::Policy::kSerial;
  sched::Configure(so);
  std::vector<WorkerPool::Worker*> threads;
  for (int i = 0; i < n; ++i) {
    threads.push_back(Workers().Start([r = run.get(), role = roles[static_cast<size_t>(i)].get(), i,
                                       st = stats[static_cast<size_t>(i)].get(), &inversion] {
      RunThread(r, role, i, st, &inversion);
    }));
  }
  // Only the scenario's threads' steps are recorded: one runs at a time,
  // and the driver waits meanwhile.
  if (recording.recorder) SetAccessRecorder(recording.recorder);
  run->Start();
  const bool finished = run->Wait();
  if (recording.recorder) SetAccessRecorder(nullptr);

  ScheduleRun out;
  out.choices.assign(run->choices(), run->choices() + run->num_choices());
  for (const sched::SerialChoice& c : out.choices) out.picks.push_back(c.pick);
  out.preemptions = CountPreemptions(out.choices);
  out.overflowed = run->overflowed();
  out.infeasible_at = run->infeasible_at();
  out.vocabulary.page_mkwrite = m.mm().a_ops().page_mkwrite_name();
  out.vocabulary.metadata = m.mm().a_ops().metadata_name();
  out.vocabulary.do_fault = m.mm().scheme().do_fault_name();
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
      oracle.Report(RaceKind::kLockOrderInversion, Invariant::kLockOrder, 0, 0, 0,
                    inversion.c_str());
    }
    oracle.Report(RaceKind::kDeadlock, Invariant::kWatchdog, page, 0, 0, who.c_str());
    out.race_reports = oracle.total();
    out.data_losing_reports = oracle.data_losing_total();
    out.races = oracle.Groups();
    // The blocked threads never record again; the reports above went in
    // with the run's phase.
    out.log = log->entries();
    out.log_overflowed = log->overflowed();
    (void)log.release();
    sched::Reset();
    // The workers stay blocked in the run: abandoned (never parked again).
    (void)machine.release();
    (void)run.release();
    for (auto& r : roles) (void)r.release();
    for (auto& s : stats) (void)s.release();
    return out;
  }
  for (WorkerPool::Worker* w : threads) Workers().Join(w);
  for (const auto& st : stats) {
    faults += st->v[static_cast<int>(Stat::kFaults)].load(std::memory_order_relaxed);
    out.writable_during_writeback +=
        st->v[static_cast<int>(Stat::kWritableDuringWriteback)].load(std::memory_order_relaxed);
  }
  out.faults = faults;
  sched::Reset();
  log->set_phase(LogEntry::kFinal, nullptr);
  {
    ThreadStats main_stats;
    ScopedThread main_reg(RoleName(RoleKind::kMain), /*user_access=*/false, &main_stats);
    if (!inversion.empty()) {
      oracle.Report(RaceKind::kLockOrderInversion, Invariant::kLockOrder, 0, 0, 0,
                    inversion.c_str());
    }
    // No I/O thread is left: the sync completes I/O inline.
    sync_mapping(m.mm(), /*drain=*/true);
    m.FinalChecks();
  }
  m.mm().tracer().set_sink(nullptr);
  out.race_reports = oracle.total();
  out.data_losing_reports = oracle.data_losing_total();
  out.races = oracle.Groups();
  out.log = std::move(log->entries());
  out.log_overflowed = log->overflowed();
  return out;
}

const char* ExploreStrategyName(ExploreStrategy s) {
  switch (s) {
    case ExploreStrategy::kDfs:
      return "dfs";
    case ExploreStrategy::kRandom:
      return "random";
    case ExploreStrategy::kPct:
      return "pct";
  }
  return "?";
}

const char* ExplorePorName(ExplorePor p) {
  switch (p) {
    case ExplorePor::kDpor:
      return "dpor";
    case ExplorePor::kNone:
      return "none";
  }
  return "?";
}

absl::StatusOr<ExplorePor> ExplorePorByName(absl::string_view name) {
  for (ExplorePor p : {ExplorePor::kDpor, ExplorePor::kNone}) {
    if (name == ExplorePorName(p)) return p;
  }
  return absl::InvalidArgumentError(absl::StrCat("--por: want dpor | none, got '", name, "'"));
}

absl::StatusOr<ExploreStrategy> ExploreStrategyByName(absl::string_view name) {
  for (ExploreStrategy s : {ExploreStrategy::kDfs, ExploreStrategy::kRandom, ExploreStrategy::kPct}) {
    if (name == ExploreStrategyName(s)) return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--strategy: want dfs | random | pct, got '", name, "'"));
}

absl::StatusOr<ExploreResult> Explore(
    const RunConfig& base, const Scenario& scenario, const ExploreOptions& options,
    const std::function<void(const ExploreProgress&)>& on_progress) {
  ExploreResult result;
  auto config = ScenarioConfig(base, scenario);
  if (!config.ok()) return config.status();
  const bool dfs = options.strategy == ExploreStrategy::kDfs;
  if (options.shard_count < 1 || options.shard_index < 1 ||
      options.shard_index > options.shard_count || options.shard_depth < 1 ||
      (!dfs && options.shard_count > 1)) {
    return absl::InvalidArgumentError(absl::StrCat("bad shard ", options.shard_index, "/",
                                                   options.shard_count, " (depth ",
                                                   options.shard_depth, ") for ",
                                                   ExploreStrategyName(options.strategy)));
  }
  result.config = *config;
  result.scenario = scenario;
  result.options = options;
  const int64_t t0 = now_ns();
  auto elapsed = [t0] { return static_cast<double>(now_ns() - t0) / 1e9; };

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
        // A later bound's search (dpor) may meet it with fewer preemptions
        // than the schedule first seen: the fewest are its evidence.
        if (r.preemptions < it->preemptions) {
          it->preemptions = r.preemptions;
          it->schedule = r.schedule();
          it->page = f.page;
          it->detail = f.detail;
          it->cause = f.cause;
        }
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
      v.cause = f.cause;
      result.violations.push_back(std::move(v));
    }
  };

  if (!dfs) {
    absl::Status s = explore_internal::ExploreSampled(base, scenario, options, on_progress, &result);
    if (!s.ok()) return s;
  }
  if (dfs) {
    absl::Status s = SearchBounds(base, scenario, options, on_progress, note, elapsed, &result);
    if (!s.ok()) return s;
  }


  // The determinism check: each violation's schedule, run again; the runs'
  // choices, total-order logs and reports must be the same.  A difference
  // is uncontrolled nondeterminism in the model (a value no schedule
  // fixes), reported, never smoothed over.
  if (!result.deadlocked) {
    for (ExploreViolation& v : result.violations) {
      if (options.determinism_runs <= 0) break;
      auto picks = sched::ParseSchedule(v.schedule);
      if (!picks.ok()) return picks.status();
      auto first = RunSchedule(base, scenario, *picks, options.op_hook);
      if (!first.ok()) return first.status();
      v.deterministic = !first->deadlocked;
      if (first->deadlocked) v.nondeterminism = "the re-run deadlocked";
      for (int i = 0; i < options.determinism_runs && v.deterministic; ++i) {
        auto again = RunSchedule(base, scenario, *picks, options.op_hook);
        if (!again.ok()) return again.status();
        v.nondeterminism = FirstDifference(*first, *again);
        v.deterministic = v.nondeterminism.empty();
        if (!v.deterministic) {
          v.nondeterminism = absl::StrCat("two runs of schedule ", v.schedule, ": ", v.nondeterminism);
        }
      }
      if (!v.deterministic) result.nondeterministic = true;
    }
  }

  // Each cause's evidence: its schedule, told.
  if (!result.deadlocked) {
    for (ExploreCause& c : result.causes) {
      auto picks = sched::ParseSchedule(c.schedule);
      if (!picks.ok()) return picks.status();
      auto run = RunSchedule(base, scenario, *picks, options.op_hook);
      if (!run.ok()) return run.status();
      c.story = TellStory(scenario, *run);
    }
  }

  // The minimal counterexample: the first data-losing violation (else the
  // first), shrunk.  Only a deterministic one: a shrink judged by runs that
  // do not repeat proves nothing.  dfs only: its violations carry the
  // fewest preemptions, which bound the shrinking searches; a random walk's
  // may carry many.
  if (options.minimize && options.strategy == ExploreStrategy::kDfs && !result.deadlocked &&
      !result.violations.empty() && !result.nondeterministic) {
    const ExploreViolation* pick = &result.violations.front();
    for (const ExploreViolation& v : result.violations) {
      if (v.data_losing && (!pick->data_losing || v.preemptions < pick->preemptions)) pick = &v;
    }
    auto minimal = Minimize(base, scenario, *pick, kMinimizeRuns);
    if (!minimal.ok()) return minimal.status();
    result.minimal = *std::move(minimal);
    result.has_minimal = true;
  }
  result.elapsed_s = elapsed();
  return result;
}

namespace explore_internal {

void NoteCauses(const ScheduleRun& r, uint64_t subtree, uint64_t run, ExploreResult* result) {
  std::vector<size_t> seen;  // indices into result->causes met in this run
  for (const RaceGroup& g : r.races) {
    const RaceRecord& f = g.first;
    auto it = std::find_if(result->causes.begin(), result->causes.end(),
                           [&](const ExploreCause& c) { return c.cause == f.cause; });
    const auto i = static_cast<size_t>(it - result->causes.begin());
    if (it == result->causes.end()) {
      ExploreCause c;
      c.cause = f.cause;
      c.preemptions = r.preemptions;
      c.schedule = r.schedule();
      c.dfs_subtree = subtree;
      c.dfs_run = run;
      result->causes.push_back(std::move(c));
    }
    ExploreCause& c = result->causes[i];
    // The evidence: the fewest preemptions (a sampling strategy may meet a
    // cause again with fewer), then a schedule that lost data under it.
    if (r.preemptions < c.preemptions ||
        (r.preemptions == c.preemptions && f.data_losing && !c.schedule_data_losing)) {
      c.preemptions = r.preemptions;
      c.schedule = r.schedule();
      c.schedule_data_losing = f.data_losing;
      c.dfs_subtree = subtree;
      c.dfs_run = run;
    }
    c.data_losing |= f.data_losing;
    c.symptoms |= uint64_t{1} << static_cast<int>(f.kind);
    if (std::find(seen.begin(), seen.end(), i) == seen.end()) {
      seen.push_back(i);
      ++c.schedules;
    }
  }
}

}  // namespace explore_internal

namespace {

int CountOps(const Scenario& s) {
  int n = static_cast<int>(s.setup.size());
  for (const ScenarioThread& t : s.threads) n += static_cast<int>(t.ops.size());
  return n;
}

// Smaller scenarios than `s`, the largest cuts first: a whole thread, one
// op of a thread, one setup op, then fewer pages and mappings.
std::vector<Scenario> ShrinkCandidates(const Scenario& s) {
  std::vector<Scenario> out;
  for (size_t t = 0; t < s.threads.size(); ++t) {
    if (s.threads[t].role.kind == RoleKind::kIo) continue;
    Scenario c = s;
    c.threads.erase(c.threads.begin() + static_cast<long>(t));
    out.push_back(std::move(c));
  }
  for (size_t t = 0; t < s.threads.size(); ++t) {
    for (size_t o = 0; o < s.threads[t].ops.size(); ++o) {
      Scenario c = s;
      auto& ops = c.threads[t].ops;
      ops.erase(ops.begin() + static_cast<long>(o));
      out.push_back(std::move(c));
    }
  }
  for (size_t o = 0; o < s.setup.size(); ++o) {
    Scenario c = s;
    c.setup.erase(c.setup.begin() + static_cast<long>(o));
    out.push_back(std::move(c));
  }
  uint64_t max_page = 0;
  int max_vma = 0;
  auto see = [&](const ScenarioOp& op) {
    max_page = std::max(max_page, op.page);
    max_vma = std::max(max_vma, op.vma);
  };
  for (const ScenarioOp& op : s.setup) see(op);
  for (const ScenarioThread& t : s.threads) {
    for (const ScenarioOp& op : t.ops) see(op);
  }
  if (s.pages > max_page + 1) {
    Scenario c = s;
    c.pages = max_page + 1;
    out.push_back(std::move(c));
  }
  if (s.mappings > max_vma + 1) {
    Scenario c = s;
    c.mappings = max_vma + 1;
    out.push_back(std::move(c));
  }
  // Each candidate must still be a scenario the parser accepts (threads,
  // ops in range): round-trip it through the text form.
  std::vector<Scenario> valid;
  for (Scenario& c : out) {
    auto parsed = ParseScenario(FormatScenario(c), s.name);
    if (parsed.ok() && parsed->threads.size() == c.threads.size()) valid.push_back(*std::move(parsed));
  }
  return valid;
}

bool SameViolation(const ExploreViolation& a, const ExploreViolation& b) {
  return a.kind == b.kind && a.invariant == b.invariant && a.data_losing == b.data_losing;
}

}  // namespace

namespace {

// Shrinks `scenario` greedily while `keeps` finds, in a bounded search of the
// smaller scenario, the violation to keep (the first smaller scenario that
// keeps it is taken, and the cuts start over from it), then runs the kept
// violation's schedule once more for its shortest form and its story.
absl::StatusOr<MinimalCounterexample> ShrinkWhile(
    const RunConfig& base, const Scenario& scenario, const ExploreViolation& violation,
    uint64_t max_runs,
    const std::function<const ExploreViolation*(const ExploreResult&)>& keeps) {
  MinimalCounterexample m;
  m.violation = violation;
  m.scenario = scenario;
  m.original_ops = CountOps(scenario);
  ExploreOptions o;
  o.max_preemptions = violation.preemptions;
  o.max_schedules = max_runs;
  o.determinism_runs = 0;
  o.minimize = false;
  bool any = false;
  for (bool shrunk = true; shrunk;) {
    shrunk = false;
    for (Scenario& c : ShrinkCandidates(m.scenario)) {
      auto config = ScenarioConfig(base, c);
      if (!config.ok()) continue;  // e.g. a workload the cut no longer fits
      ++m.candidates;
      auto r = Explore(base, c, o, {});
      if (!r.ok()) return r.status();
      const ExploreViolation* kept = keeps(*r);
      if (kept == nullptr) continue;
      m.violation = *kept;
      m.scenario = std::move(c);
      shrunk = any = true;
      break;
    }
  }
  if (any) m.scenario.text = FormatScenario(m.scenario);
  m.ops = CountOps(m.scenario);
  auto picks = sched::ParseSchedule(m.violation.schedule);
  if (!picks.ok()) return picks.status();
  auto run = RunSchedule(base, m.scenario, *picks);
  if (!run.ok()) return run.status();
  m.schedule = run->short_schedule();
  m.story = TellStory(m.scenario, *run);
  return m;
}

}  // namespace

absl::StatusOr<MinimalCounterexample> Minimize(const RunConfig& base, const Scenario& scenario,
                                               const ExploreViolation& violation,
                                               uint64_t max_runs) {
  return ShrinkWhile(base, scenario, violation, max_runs,
                     [&](const ExploreResult& r) -> const ExploreViolation* {
                       for (const ExploreViolation& v : r.violations) {
                         if (SameViolation(v, violation)) return &v;
                       }
                       return nullptr;
                     });
}

const ExploreViolation* ViolationOfCause(const ExploreResult& r, uint32_t cause, bool data_losing) {
  const ExploreViolation* best = nullptr;
  for (const ExploreViolation& v : r.violations) {
    if (v.cause != cause || (data_losing && !v.data_losing)) continue;
    if (best == nullptr || v.preemptions < best->preemptions ||
        (v.preemptions == best->preemptions && v.data_losing && !best->data_losing)) {
      best = &v;
    }
  }
  return best;
}

absl::StatusOr<MinimalCounterexample> MinimizeCause(const RunConfig& base,
                                                    const Scenario& scenario,
                                                    const ExploreViolation& violation,
                                                    uint64_t max_runs) {
  return ShrinkWhile(base, scenario, violation, max_runs, [&](const ExploreResult& r) {
    return ViolationOfCause(r, violation.cause, violation.data_losing);
  });
}

}  // namespace pagerace
