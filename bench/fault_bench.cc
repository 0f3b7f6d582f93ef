// The fault path's own cost against its floor, same loop shape: write-protect
// one page, store to it (the fault makes it writable again), repeat.  Each
// benchmark runs with 1 thread (the storing thread also re-protects) and with
// 2 (a second thread re-protects after every store — the harness's layout,
// where the writeback thread write-protects what the workers fault on, and
// every mprotect from it shoots down the faulting core's TLB).
//
//   BM_BareFault/threads:N          a bare SIGSEGV handler that mprotects the
//                                   page RW; re-protected by mprotect
//   BM_FaultPath/<scheme>/threads:N the harness: handle_mm_fault -> do_wp_page
//                                   -> ->page_mkwrite (nfs) -> pte_mkwrite ->
//                                   set_page_dirty; re-protected by page_mkclean
//   BM_Writeback/threads:N          one dirty page written back: pwrite-path
//                                   dirtying, write_cache_pages, completion
//                                   (on an I/O thread with N=2), COMMIT
//   BM_ExploreSchedule/<scheme>/<walk>
//                                   one whole schedule of the explorer's
//                                   `seed` scenario on nfs (RunSchedule: a
//                                   fresh Machine, setup, the serial run,
//                                   the final sync and checks); walk 0 is
//                                   the default schedule, walk 1 a fixed
//                                   random walk (seed 1)
//   BM_FutexHandoff                 two threads passing a token through a
//                                   futex word: the serial scheduler's
//                                   hand-off floor
//
// Read the results as the ratio FaultPath / BareFault at the same N, from one
// run on one machine.  For the explorer: 1 / (schedules/s) is a schedule's
// cost, and BM_BareFault/threads:1's time times faults/schedule is the part
// of it the faults' floor explains; the rest is the harness (Machine setup,
// the scheduler's hand-offs, the checks).
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <thread>

#include "benchmark/benchmark.h"
#include "absl/strings/match.h"
#include "harness/base/futex.h"
#include "harness/base/thread_registry.h"
#include "harness/core/explore.h"
#include "harness/core/machine.h"
#include "harness/core/scenario.h"
#include "harness/sched/choosers.h"
#include "harness/mm/filemap.h"
#include "harness/mm/mm_context.h"
#include "harness/mm/writeback.h"

namespace pagerace {
namespace {

uint8_t* g_bare_page = nullptr;

void BareHandler(int, siginfo_t* si, void*) {
  const int saved = errno;
  const auto a = reinterpret_cast<uintptr_t>(si->si_addr);
  const auto p = reinterpret_cast<uintptr_t>(g_bare_page);
  if (a < p || a >= p + 4096) abort();
  mprotect(g_bare_page, 4096, PROT_READ | PROT_WRITE);
  errno = saved;
}

// Waits for `turn` to become `want`: spins briefly, then yields.
void AwaitTurn(const std::atomic<int>& turn, int want) {
  for (int spins = 0; turn.load(std::memory_order_acquire) != want; ++spins) {
    if (spins > 64) sched_yield();
  }
}

// The store loop.  threads == 1: `reprotect` runs before each store on this
// thread.  threads == 2: a second thread runs it after each store, in strict
// alternation (turn 0: the page is protected, store; turn 1: re-protect).
void StoreLoop(benchmark::State& state, uint64_t* slot, const std::function<void()>& reprotect,
               const std::function<void()>& helper_setup = {},
               const std::function<void()>& helper_teardown = {}) {
  uint64_t v = 0;
  if (state.range(0) == 1) {
    for (auto _ : state) {
      reprotect();
      __atomic_store_n(slot, ++v, __ATOMIC_RELAXED);
    }
    return;
  }
  std::atomic<int> turn{1};
  std::atomic<bool> stop{false};
  std::thread helper([&] {
    if (helper_setup) helper_setup();
    for (;;) {
      AwaitTurn(turn, 1);
      if (stop.load(std::memory_order_acquire)) break;
      reprotect();
      turn.store(0, std::memory_order_release);
    }
    if (helper_teardown) helper_teardown();
  });
  for (auto _ : state) {
    AwaitTurn(turn, 0);
    __atomic_store_n(slot, ++v, __ATOMIC_RELAXED);
    turn.store(1, std::memory_order_release);
  }
  AwaitTurn(turn, 0);
  stop.store(true, std::memory_order_release);
  turn.store(1, std::memory_order_release);
  helper.join();
}

void Rate(benchmark::State& state, const char* name) {
  state.counters[name] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_BareFault(benchmark::State& state) {
  const size_t ps = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  // Same neighbourhood as BM_FaultPath's page: inside a larger shared mapping
  // whose other pages are not present (PROT_NONE).  The neighbours decide what
  // each mprotect costs: against PROT_NONE neighbours the page is a VMA of its
  // own whichever way it flips, against PROT_READ ones every flip splits or
  // merges VMAs (measured on a 16-core 6.18 VM: 8.2 against 6.4 us a fault).
  void* m = mmap(nullptr, 64 * ps, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  g_bare_page = static_cast<uint8_t*>(m) + 8 * ps;
  mprotect(g_bare_page, ps, PROT_READ);
  struct sigaction sa = {}, old;
  sa.sa_sigaction = BareHandler;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, &old);
  StoreLoop(state, reinterpret_cast<uint64_t*>(g_bare_page),
            [ps] { mprotect(g_bare_page, ps, PROT_READ); });
  sigaction(SIGSEGV, &old, nullptr);
  munmap(m, 64 * ps);
  Rate(state, "faults/s");
}
BENCHMARK(BM_BareFault)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime();

// The machine every harness benchmark measures: `scheme` on nfs, one user
// mapping (the bare benchmarks' layout), built as a run builds it.
std::unique_ptr<Machine> BenchMachine(const std::string& scheme, uint64_t pages) {
  ResetThreadRegistry();
  RunConfig c;
  c.scheme = &Scheme(scheme);
  c.fs = &Adapter("nfs");
  c.pages = pages;
  c.mappings = 1;
  return Machine::Create(c).value();
}

void BM_FaultPath(benchmark::State& state, const std::string& scheme_name) {
  auto machine = BenchMachine(scheme_name, 64);
  MmContext* mm = &machine->mm();
  {
    ScopedThread reg("bench", /*user_access=*/true);
    auto* slot = reinterpret_cast<uint64_t*>(mm->mmu().user_addr(0, 8));
    __atomic_store_n(slot, 1, __ATOMIC_RELAXED);  // fault the page in
    Page* page = mm->mapping().find_get_page(8);
    std::unique_ptr<ScopedThread> helper_reg;
    StoreLoop(
        state, slot, [&] { mm->mmu().page_mkclean(page); },  // as writeback would
        [&] { helper_reg = std::make_unique<ScopedThread>("writeback", false); },
        [&] { helper_reg.reset(); });
    put_page(page);
  }
  Rate(state, "faults/s");
}
// One per registered scheme that is not a mutant: BM_FaultPath/<scheme>.
const bool kFaultPathRegistered = [] {
  for (const SchemeEntry& e : SchemeRegistry().entries()) {
    if (absl::StartsWith(e.name, "mutant:")) continue;
    benchmark::RegisterBenchmark(("BM_FaultPath/" + e.name).c_str(), BM_FaultPath, e.name)
        ->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime();
  }
  return true;
}();

void BM_Writeback(benchmark::State& state) {
  auto machine = BenchMachine("locked", 64);
  MmContext* mm = &machine->mm();
  const uint64_t pages = mm->pages();
  {
    ScopedThread reg("writeback", /*user_access=*/false);
    std::atomic<bool> stop{false};
    std::thread io;
    if (state.range(0) == 2) {
      io = std::thread([&] {
        ScopedThread r("io", false);
        mm->io().Run(&stop);
      });
    }
    WritebackControl wbc;
    uint64_t v = 0;
    for (auto _ : state) {
      const uint64_t index = v % pages;
      generic_perform_write(*mm, index, 0, ++v);
      write_cache_pages(*mm, wbc);
      if (state.range(0) == 1) {
        mm->io().Drain();
      } else if (Page* p = mm->mapping().find_get_page(index)) {
        wait_on_page_writeback(p);
        put_page(p);
      }
      mm->a_ops().commit();
    }
    stop.store(true);
    mm->io().Kick();
    if (io.joinable()) io.join();
  }
  Rate(state, "pages/s");
}
BENCHMARK(BM_Writeback)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime();

// One schedule of the `seed` scenario per iteration, as `pagerace explore`
// runs each one.  state.range(0): 0 the default schedule, 1 the random walk
// of seed 1 (the same picks every iteration: the scheduler is deterministic).
void BM_ExploreSchedule(benchmark::State& state, const std::string& scheme_name) {
  RunConfig base;
  base.scheme = &Scheme(scheme_name);
  base.fs = &Adapter("nfs");
  const Scenario scenario = LoadScenario("seed").value();
  uint64_t faults = 0, choices = 0, switches = 0;
  for (auto _ : state) {
    absl::StatusOr<ScheduleRun> run;
    if (state.range(0) == 0) {
      run = RunSchedule(base, scenario, {});
    } else {
      sched::RandomChooser walk(1);
      run = RunScheduleWith(base, scenario, &walk);
    }
    if (!run.ok() || run->deadlocked) {
      state.SkipWithError("the schedule failed or deadlocked");
      break;
    }
    faults += run->faults;
    choices += run->choices.size();
    for (const sched::SerialChoice& c : run->choices) switches += c.pick != c.current;
  }
  Rate(state, "schedules/s");
  const double n = static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
  state.counters["faults/schedule"] = static_cast<double>(faults) / n;
  state.counters["choices/schedule"] = static_cast<double>(choices) / n;
  // Hand-offs of the run token at choices (forced switches, when a thread
  // blocks or ends with one other runnable, come on top).
  state.counters["switches/schedule"] = static_cast<double>(switches) / n;
}

// The serial scheduler's hand-off floor: two threads pass a token through a
// futex word, as SerialRun's turn word passes the run token (one iteration
// is one hand-off each way).  A schedule's floor is faults/schedule x
// BM_BareFault/threads:1 + switches/schedule x half this.
void BM_FutexHandoff(benchmark::State& state) {
  std::atomic<uint32_t> turn{0};
  std::atomic<bool> stop{false};
  std::thread other([&] {
    for (;;) {
      uint32_t t;
      while ((t = turn.load(std::memory_order_acquire)) != 1) {
        if (stop.load(std::memory_order_acquire)) return;
        futex_wait(&turn, t);
      }
      turn.store(0, std::memory_order_release);
      futex_wake_all(&turn);
    }
  });
  for (auto _ : state) {
    turn.store(1, std::memory_order_release);
    futex_wake_all(&turn);
    uint32_t t;
    while ((t = turn.load(std::memory_order_acquire)) != 0) futex_wait(&turn, t);
  }
  stop.store(true, std::memory_order_release);
  turn.store(2, std::memory_order_release);
  futex_wake_all(&turn);
  other.join();
  Rate(state, "round trips/s");
}
BENCHMARK(BM_FutexHandoff)->UseRealTime();
BENCHMARK_CAPTURE(BM_ExploreSchedule, locked, std::string("locked"))
    ->ArgName("walk")->Arg(0)->Arg(1)->UseRealTime();
BENCHMARK_CAPTURE(BM_ExploreSchedule, legacy, std::string("legacy"))
    ->ArgName("walk")->Arg(0)->UseRealTime();

// ---------------------------------------------------------------------------
// Scaling with threads.  Every thread stores to a page of its own in one shared
// mapping and write-protects it again itself, so the threads share nothing but
// what the kernel makes them share: each mprotect takes the process's mmap_lock
// for writing and shoots down the TLBs of the cores running the others.  Read
// faults/s of BM_FaultScaling/<scheme> against BM_BareFaultScaling at the same
// thread count; the totals show how far one process scales (DESIGN §8: it does
// not, which is why scripts/scaling and scripts/compare scale by processes).
//
// Setup and teardown run on thread 0 only.  The other threads touch the shared
// state only inside the timed loop, which starts and ends with a barrier of all
// threads, so thread 0's setup happens before and its teardown after.

int MaxScalingThreads() { return std::max(2, static_cast<int>(std::thread::hardware_concurrency())); }

int ScalingPages() { return std::max(64, 2 * MaxScalingThreads() + 2); }

// The page thread `t` stores to: odd indices, so no two threads' pages are
// neighbours and every thread's protection change splits the mapping the same.
size_t ScalingIndex(int t) { return 1 + 2 * static_cast<size_t>(t); }

uint8_t* g_scaling_base = nullptr;  // written by thread 0 outside the timed loop
size_t g_scaling_len = 0;

void ScalingBareHandler(int, siginfo_t* si, void*) {
  const int saved = errno;
  const auto a = reinterpret_cast<uintptr_t>(si->si_addr);
  const auto b = reinterpret_cast<uintptr_t>(g_scaling_base);
  if (a < b || a >= b + g_scaling_len) abort();
  mprotect(reinterpret_cast<void*>(a & ~uintptr_t{4095}), 4096, PROT_READ | PROT_WRITE);
  errno = saved;
}

void BM_BareFaultScaling(benchmark::State& state) {
  const size_t ps = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  static struct sigaction old;
  if (state.thread_index() == 0) {
    g_scaling_len = static_cast<size_t>(ScalingPages()) * ps;
    g_scaling_base = static_cast<uint8_t*>(
        mmap(nullptr, g_scaling_len, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    for (int t = 0; t < state.threads(); ++t) {  // as in BM_BareFault: PROT_NONE neighbours
      mprotect(g_scaling_base + ScalingIndex(t) * ps, ps, PROT_READ);
    }
    struct sigaction sa = {};
    sa.sa_sigaction = ScalingBareHandler;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, &old);
  }
  uint64_t* slot = nullptr;
  uint64_t v = 0;
  for (auto _ : state) {
    if (slot == nullptr) {
      slot = reinterpret_cast<uint64_t*>(g_scaling_base + ScalingIndex(state.thread_index()) * ps);
    }
    mprotect(slot, ps, PROT_READ);
    __atomic_store_n(slot, ++v, __ATOMIC_RELAXED);
  }
  if (state.thread_index() == 0) {
    sigaction(SIGSEGV, &old, nullptr);
    munmap(g_scaling_base, g_scaling_len);
    g_scaling_base = nullptr;
  }
  Rate(state, "faults/s");
}
BENCHMARK(BM_BareFaultScaling)->ThreadRange(1, MaxScalingThreads())->UseRealTime();

std::unique_ptr<Machine> g_scaling_machine;  // thread 0 outside the timed loop
MmContext* g_scaling_mm = nullptr;
std::atomic<int> g_scaling_registered{0};

void BM_FaultScaling(benchmark::State& state, const std::string& scheme_name) {
  if (state.thread_index() == 0) {
    g_scaling_machine = BenchMachine(scheme_name, static_cast<uint64_t>(ScalingPages()));
    g_scaling_mm = &g_scaling_machine->mm();
  }
  std::unique_ptr<ScopedThread> reg;
  uint64_t* slot = nullptr;
  Page* page = nullptr;
  uint64_t v = 0;
  for (auto _ : state) {
    if (slot == nullptr) {  // first iteration: register, fault the page in
      g_scaling_registered.fetch_add(1);
      reg = std::make_unique<ScopedThread>("bench", /*user_access=*/true);
      const size_t index = ScalingIndex(state.thread_index());
      slot = reinterpret_cast<uint64_t*>(g_scaling_mm->mmu().user_addr(0, index));
      __atomic_store_n(slot, ++v, __ATOMIC_RELAXED);
      page = g_scaling_mm->mapping().find_get_page(index);
    }
    g_scaling_mm->mmu().page_mkclean(page);  // as writeback would
    __atomic_store_n(slot, ++v, __ATOMIC_RELAXED);
  }
  if (page != nullptr) put_page(page);
  reg.reset();
  if (slot != nullptr) g_scaling_registered.fetch_sub(1);
  if (state.thread_index() == 0) {
    // The other threads are past the loop's end barrier; wait until they have
    // dropped their registrations too before the context goes.
    while (g_scaling_registered.load() != 0) sched_yield();
    g_scaling_mm = nullptr;
    g_scaling_machine.reset();
  }
  Rate(state, "faults/s");
}
const bool kFaultScalingRegistered = [] {
  for (const SchemeEntry& e : SchemeRegistry().entries()) {
    if (absl::StartsWith(e.name, "mutant:")) continue;
    benchmark::RegisterBenchmark(("BM_FaultScaling/" + e.name).c_str(), BM_FaultScaling, e.name)
        ->ThreadRange(1, MaxScalingThreads())->UseRealTime();
  }
  return true;
}();

}  // namespace
}  // namespace pagerace

BENCHMARK_MAIN();
