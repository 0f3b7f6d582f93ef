// The fault path's own cost against its floor, single-threaded, same loop
// shape: write-protect one page, store to it (the fault makes it writable
// again), repeat.
//
//   BM_BareFault          a bare SIGSEGV handler that mprotects the page RW
//   BM_FaultPath/<scheme> the harness: handle_mm_fault -> do_wp_page ->
//                         ->page_mkwrite (nfs) -> pte_mkwrite ->
//                         set_page_dirty; re-protected by page_mkclean
//
// Read the results as the ratio FaultPath / BareFault.
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "benchmark/benchmark.h"
#include "fs_adapters/adapters.h"
#include "harness/base/thread_registry.h"
#include "harness/mm/mm_context.h"

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

void BM_BareFault(benchmark::State& state) {
  const size_t ps = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  // Same neighbourhood as the harness: a page inside a larger shared mapping.
  void* m = mmap(nullptr, 64 * ps, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  g_bare_page = static_cast<uint8_t*>(m) + 8 * ps;
  struct sigaction sa = {}, old;
  sa.sa_sigaction = BareHandler;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, &old);
  uint64_t v = 0;
  for (auto _ : state) {
    mprotect(g_bare_page, ps, PROT_READ);
    __atomic_store_n(reinterpret_cast<uint64_t*>(g_bare_page), ++v, __ATOMIC_RELAXED);
  }
  sigaction(SIGSEGV, &old, nullptr);
  munmap(m, 64 * ps);
  state.counters["faults/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                  benchmark::Counter::kIsRate);
}
BENCHMARK(BM_BareFault)->UseRealTime();

void BM_FaultPath(benchmark::State& state, const char* scheme_name) {
  ResetThreadRegistry();
  auto scheme = MakeScheme(scheme_name).value();
  auto fs = MakeAdapter("nfs").value();
  MmOptions o;
  o.pages = 64;
  o.mappings = 1;
  auto mm = MmContext::Create(o, scheme.get(), fs.get()).value();
  ScopedThread reg("bench", /*user_access=*/true);
  auto* slot = reinterpret_cast<uint64_t*>(mm->mmu().user_addr(0, 8));
  __atomic_store_n(slot, 1, __ATOMIC_RELAXED);  // fault the page in
  Page* page = mm->mapping().find_get_page(8);
  uint64_t v = 1;
  for (auto _ : state) {
    mm->mmu().page_mkclean(page);  // write-protect, as writeback would
    __atomic_store_n(slot, ++v, __ATOMIC_RELAXED);
  }
  put_page(page);
  state.counters["faults/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                                  benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(BM_FaultPath, legacy, "legacy")->UseRealTime();
BENCHMARK_CAPTURE(BM_FaultPath, locked, "locked")->UseRealTime();

}  // namespace
}  // namespace pagerace

BENCHMARK_MAIN();
