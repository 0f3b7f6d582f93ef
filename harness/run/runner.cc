#include "harness/run/runner.h"

#include <time.h>

#include <memory>
#include <thread>

#include "fs_adapters/adapters.h"
#include "absl/strings/str_cat.h"
#include "harness/base/clock.h"
#include "harness/base/lock_wait.h"
#include "harness/base/thread_registry.h"
#include "harness/mm/mm_context.h"
#include "harness/mm/writeback.h"
#include "workloads/mixed.h"

namespace pagerace {
namespace {

constexpr int64_t kAuditIntervalNs = 10'000'000;
// The deadlock watchdog: no progress for this long while threads wait on
// locks is a deadlock.
constexpr int64_t kWatchdogNs = 2'000'000'000;
constexpr int64_t kWritebackIdleNs = 1'000'000;
// enospc workload: one ->page_mkwrite in this many fails.
constexpr uint32_t kEnospcOneIn = 16;

// The background flusher: write_cache_pages passes over the dirty pages,
// COMMIT, and the I0-I2 auditor every kAuditIntervalNs.
void WritebackThread(MmContext* mm, ThreadStats* stats, const std::atomic<bool>* stop) {
  ScopedThread reg("writeback", /*user_access=*/false, stats);
  WritebackControl wbc;
  int64_t last_audit = now_ns();
  while (!stop->load(std::memory_order_relaxed)) {
    const uint32_t ev = mm->mapping().dirty_events().load(std::memory_order_acquire);
    WritebackPass pass = write_cache_pages(*mm, wbc);
    mm->a_ops().commit();
    if (now_ns() - last_audit > kAuditIntervalNs) {
      mm->audit_all();
      last_audit = now_ns();
    }
    if (pass.written == 0) {
      futex_wait_for(&mm->mapping().dirty_events(), ev, kWritebackIdleNs);
    }
  }
}

void IoThread(MmContext* mm, ThreadStats* stats, const std::atomic<bool>* stop) {
  ScopedThread reg("io", /*user_access=*/false, stats);
  mm->io().Run(stop);
}

void Nap(int64_t ns) {
  struct timespec ts = {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  nanosleep(&ts, nullptr);
}

// The filesystem's own activity (ceph: snapshots), paced so that it happens
// often relative to faults (pacing, not synchronisation).
constexpr int64_t kBackgroundPauseNs = 1'000'000;
void BackgroundThread(MmContext* mm, ThreadStats* stats, const std::atomic<bool>* stop) {
  ScopedThread reg(mm->a_ops().background_role(), /*user_access=*/false, stats);
  while (!stop->load(std::memory_order_relaxed)) {
    mm->a_ops().background_step();
    Nap(kBackgroundPauseNs);
  }
}

// "mmap0 waits for page 12 (held by writeback); writeback waits for journal
// (held by mmap0)".
std::string DescribeLockWaits(MmContext* mm, uint64_t* first_page) {
  std::string out;
  *first_page = 0;
  bool have_page = false;
  for (const LockWait& w : CurrentLockWaits()) {
    std::string what;
    uint32_t owner = 0;
    if (w.kind == LockKind::kPage) {
      what = absl::StrCat("the lock of page ", w.what);
      if (Page* p = mm->mapping().find_get_page(w.what)) {
        owner = p->lock_owner.load(std::memory_order_acquire);
        put_page(p);
      }
      if (!have_page) *first_page = w.what;
      have_page = true;
    } else {
      const auto* m = reinterpret_cast<const OwnedMutex*>(w.what);
      what = m->name();
      owner = m->owner();
    }
    absl::StrAppend(&out, out.empty() ? "" : "; ", ThreadRole(w.tid), " waits for ", what,
                    " held by ", owner ? ThreadRole(owner) : std::string("?"));
  }
  return out;
}

}  // namespace

absl::StatusOr<RunResult> RunStress(const RunConfig& config, const std::atomic<bool>* interrupt,
                                    const std::function<void(const Progress&)>& on_progress) {
  RunResult result;
  result.config = config;
  ResetThreadRegistry();
  ResetLockOrder();

  auto scheme = MakeScheme(config.scheme);
  if (!scheme.ok()) return scheme.status();
  auto adapter = MakeAdapter(config.fs);
  if (!adapter.ok()) return adapter.status();
  MmOptions mo;
  mo.pages = config.pages;
  mo.mappings = config.mappings;
  auto mm_or = MmContext::Create(mo, scheme->get(), adapter->get());
  if (!mm_or.ok()) return mm_or.status();
  MmContext* mm = mm_or->get();

  const int writers = config.threads + config.pwriters;
  // State the run's threads share lives on the heap: after a deadlock the
  // stuck threads are left behind and must not outlive it.
  struct Shared {
    Shared(uint64_t pages, uint32_t slots, uint32_t writers) : ledger(pages, slots, writers) {}
    Ledger ledger;
    std::unique_ptr<MixedWorkload> workload;
    std::atomic<bool> stop_workers{false}, stop_writeback{false}, stop_io{false};
    std::atomic<int> workers_done{0};
  };
  auto shared = std::make_unique<Shared>(
      config.pages, static_cast<uint32_t>(mm->page_size() / sizeof(uint64_t)),
      static_cast<uint32_t>(writers));
  Ledger& ledger = shared->ledger;
  if (config.workload == "enospc") (*adapter)->InjectMkwriteFailures(kEnospcOneIn);
  if (config.workload == "isize") (*adapter)->FillDisk();
  MixedOptions wo;
  wo.threads = config.threads;
  wo.pwriters = config.pwriters;
  wo.seed = config.seed;
  if (config.ops) wo.ops_per_writer = std::max<uint64_t>(1, config.ops / writers);
  wo.truncate = config.workload == "truncate";
  wo.isize = config.workload == "isize";
  wo.fsync = config.workload == "fsync";
  if (config.workload == "hot") wo.hot_pages = 4;
  shared->workload = std::make_unique<MixedWorkload>(mm, &ledger, wo);
  MixedWorkload& workload = *shared->workload;

  sched::Options so;
  so.policy = config.sched;
  so.seed = config.seed;
  so.deps = config.deps;
  so.pct_depth = static_cast<uint32_t>(config.pct_depth);
  so.jitter_max_us = static_cast<uint32_t>(config.jitter_max_us);
  sched::Configure(so);

  ScopedThread main_reg("main", /*user_access=*/false);
  // --trace-out: page lock holds go into the per-page traces too.
  static MmContext* traced_mm = nullptr;
  if (!config.trace_out.empty()) {
    traced_mm = mm;
    SetPageLockHook([](const Page* page, bool locked) {
      if (page->index < traced_mm->pages()) {
        traced_mm->trace(page->index, locked ? Event::kLockPage : Event::kUnlockPage);
      }
    });
  }
  // One stats block per thread; the main thread's collects the final sync.
  std::vector<std::unique_ptr<ThreadStats>> stats;
  auto new_stats = [&stats] {
    stats.push_back(std::make_unique<ThreadStats>());
    return stats.back().get();
  };
  current_thread().stats = new_stats();

  std::atomic<bool>& stop_workers = shared->stop_workers;
  std::atomic<bool>& stop_writeback = shared->stop_writeback;
  std::atomic<bool>& stop_io = shared->stop_io;
  std::atomic<int>& workers_done = shared->workers_done;
  std::vector<std::thread> workers;
  std::thread io(IoThread, mm, new_stats(), &stop_io);
  std::thread wb(WritebackThread, mm, new_stats(), &stop_writeback);
  std::thread reclaim([&, st = new_stats()] { workload.Reclaimer(st, &stop_workers); });
  std::thread background;
  if (mm->a_ops().background_role()) {
    background = std::thread(BackgroundThread, mm, new_stats(), &stop_workers);
  }
  std::thread truncator;
  if (wo.truncate || wo.isize) {
    truncator = std::thread([&, st = new_stats()] { workload.Truncator(st, &stop_workers); });
  } else if (wo.fsync) {
    truncator = std::thread([&, st = new_stats()] { workload.Fsyncer(st, &stop_workers); });
  }
  const int64_t t0 = now_ns();
  for (int p = 0; p < config.pwriters; ++p) {
    workers.emplace_back([&, p, st = new_stats()] {
      workload.PwriteWorker(p, st, &stop_workers);
      workers_done.fetch_add(1);
    });
  }
  for (int w = 0; w < config.threads; ++w) {
    workers.emplace_back([&, w, st = new_stats()] {
      workload.MmapWorker(w, st, &stop_workers);
      workers_done.fetch_add(1);
    });
  }

  auto sum = [&stats](Stat s) {
    uint64_t n = 0;
    for (auto& st : stats) n += st->v[static_cast<int>(s)].load(std::memory_order_relaxed);
    return n;
  };
  const double target_s = config.ops ? 0 : absl::ToDoubleSeconds(config.duration);
  int64_t last_progress = t0;
  uint64_t progress_mark = 0;
  int64_t progress_at = t0;
  bool inversion_reported = false;
  for (;;) {
    Nap(20'000'000);
    const int64_t now = now_ns();
    const double elapsed = static_cast<double>(now - t0) / 1e9;
    if (interrupt && interrupt->load()) {
      result.interrupted = true;
      break;
    }
    if (config.ops ? workers_done.load() == writers : elapsed >= target_s) break;
    if (config.stop_kind && mm->oracle().count(*config.stop_kind) > 0) break;
    if (config.stop_at_first_race && mm->oracle().total() > 0 &&
        (!config.stop_invariant || mm->oracle().count(*config.stop_invariant) > 0) &&
        (!config.stop_needs_losing || mm->oracle().data_losing_total() > 0)) {
      break;
    }
    if (!inversion_reported) {
      if (std::string inv = LockOrderInversion(); !inv.empty()) {
        mm->oracle().Report(RaceKind::kLockOrderInversion, Invariant::kLockOrder, 0, false, 0, 0,
                            inv.c_str());
        inversion_reported = true;
      }
    }
    const uint64_t progress = sum(Stat::kOps) + sum(Stat::kFaults) + sum(Stat::kWritebacks);
    if (progress != progress_mark) {
      progress_mark = progress;
      progress_at = now;
    } else if (now - progress_at > kWatchdogNs && !CurrentLockWaits().empty()) {
      uint64_t page;
      const std::string who = DescribeLockWaits(mm, &page);
      mm->oracle().Report(RaceKind::kDeadlock, Invariant::kWatchdog, page, false, 0, 0,
                          who.c_str());
      result.deadlocked = true;
      break;
    }
    if (on_progress && now - last_progress >= 500'000'000) {
      last_progress = now;
      on_progress({elapsed, target_s, sum(Stat::kOps), sum(Stat::kFaults), mm->oracle().total()});
    }
  }
  if (result.deadlocked) {
    // Threads stuck on locks cannot be joined and their machine cannot be
    // torn down: leave both, report, and let the caller _exit.
    stop_workers.store(true);
    for (auto& t : workers) t.detach();
    reclaim.detach();
    if (truncator.joinable()) truncator.detach();
    if (background.joinable()) background.detach();
    wb.detach();
    io.detach();
    result.elapsed_s = static_cast<double>(now_ns() - t0) / 1e9;
    for (int s = 0; s < static_cast<int>(Stat::kNumStats); ++s) {
      result.stats[s] = sum(static_cast<Stat>(s));
    }
    result.race_reports = mm->oracle().total();
    result.data_losing_reports = mm->oracle().data_losing_total();
    result.races = mm->oracle().Groups();
    (void)shared.release();
    (void)mm_or->release();
    (void)adapter->release();
    (void)scheme->release();
    new std::vector<std::unique_ptr<ThreadStats>>(std::move(stats));  // leaked with the threads
    return result;
  }
  stop_workers.store(true);
  sched::Release();  // a worker in an ordered wait for a point that never came
  for (auto& t : workers) t.join();
  reclaim.join();
  if (truncator.joinable()) truncator.join();
  if (background.joinable()) background.join();
  result.elapsed_s = static_cast<double>(now_ns() - t0) / 1e9;
  stop_writeback.store(true);
  mm->mapping().dirty_events().fetch_add(1);
  futex_wake_all(&mm->mapping().dirty_events());
  wb.join();
  // The final sync runs unperturbed.
  result.pct = sched::Pct();
  sched::Reset();
  sync_mapping(*mm, /*drain=*/false);
  stop_io.store(true);
  mm->io().Kick();
  io.join();
  mm->audit_all();
  workload.CheckLedger();

  for (int s = 0; s < static_cast<int>(Stat::kNumStats); ++s) {
    result.stats[s] = sum(static_cast<Stat>(s));
  }
  std::vector<uint64_t> hist;
  for (auto& st : stats) st->fault_latency.MergeInto(&hist);
  result.fault_p50_ns = LatencyHistogram::Quantile(hist, 0.50);
  result.fault_p99_ns = LatencyHistogram::Quantile(hist, 0.99);
  result.race_reports = mm->oracle().total();
  result.data_losing_reports = mm->oracle().data_losing_total();
  result.ungrouped_reports = mm->oracle().ungrouped();
  result.races = mm->oracle().Groups();
  result.jitter_delays = sched::JitterDelays();
  if (!config.trace_out.empty()) {
    SetPageLockHook(nullptr);
    for (uint64_t i = 0; i < mm->pages(); ++i) {
      std::vector<TraceEntry> t(Tracer::kRing);
      t.resize(mm->tracer().Snapshot(i, t.data(), Tracer::kRing));
      if (!t.empty()) result.page_traces.emplace_back(i, std::move(t));
    }
  }
  current_thread().stats = nullptr;
  return result;
}

}  // namespace pagerace
