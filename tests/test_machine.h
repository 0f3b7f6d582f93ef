// A small modeled machine for tests: scheme + adapter + MmContext, with
// helpers to store and load through user mappings and to run writeback
// synchronously (I/O completed inline, no background threads).
#ifndef PAGERACE_TESTS_TEST_MACHINE_H_
#define PAGERACE_TESTS_TEST_MACHINE_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "harness/core/machine.h"
#include "gtest/gtest.h"
#include "harness/base/lock_wait.h"
#include "harness/base/thread_registry.h"
#include "harness/mm/mm_context.h"
#include "harness/mm/writeback.h"
#include "harness/base/stats.h"
#include "harness/sched/sched.h"

namespace pagerace {

// Built as a run builds its machine (harness/core/machine.h), from the
// registries; the tests drive its parts directly instead of running roles.
struct TestMachine {
  std::unique_ptr<Machine> machine;
  FaultScheme* scheme;
  StoreBackedOps* fs;
  MmContext* mm;

  TestMachine(const std::string& scheme_name, const std::string& fs_name, uint64_t pages = 4,
              int mappings = 2) {
    sched::Reset();
    RunConfig c;
    c.scheme = &Scheme(scheme_name);
    c.fs = &Adapter(fs_name);
    c.pages = pages;
    c.mappings = mappings;
    machine = Machine::Create(c).value();
    scheme = &machine->scheme();
    fs = &machine->adapter();
    mm = &machine->mm();
  }
  ~TestMachine() { sched::Reset(); }

  uint64_t* user(int vma, uint64_t page, uint32_t slot) {
    return reinterpret_cast<uint64_t*>(mm->mmu().user_addr(vma, page)) + slot;
  }
  void store(int vma, uint64_t page, uint32_t slot, uint64_t v) {
    __atomic_store_n(user(vma, page, slot), v, __ATOMIC_RELAXED);
  }
  uint64_t load(int vma, uint64_t page, uint32_t slot) {
    return __atomic_load_n(user(vma, page, slot), __ATOMIC_RELAXED);
  }
  PteState pte(int vma, uint64_t page) {
    return pte_state(mm->mmu().pte(vma, page).val.load(std::memory_order_acquire));
  }
  uint64_t persisted_slot(uint64_t page, uint32_t slot) {
    return fs->store().ReadSlot(page, slot);
  }
  // One background-writeback pass with its I/O completed and committed.
  WritebackPass writeback() {
    WritebackControl wbc;
    WritebackPass p = write_cache_pages(*mm, wbc);
    mm->io().Drain();
    mm->a_ops().commit();
    return p;
  }
  // What the adapter declares for `page`, given what the VM knows of its ptes.
  MetadataState metadata(const Page* page) {
    return fs->metadata_state(page, mm->mmu().any_writable(page->index));
  }
  uint64_t races() { return mm->oracle().total(); }
  uint64_t races(RaceKind k) { return mm->oracle().count(k); }
};

// Registers the calling thread (user access, with a stats block) for a scope.
struct TestThread {
  ThreadStats stats;
  ScopedThread reg;
  explicit TestThread(const std::string& role) : reg(role, /*user_access=*/true, &stats) {}
  uint64_t count(Stat s) const { return stats.v[static_cast<int>(s)].load(); }
};

// An I/O completion thread for a scope, for tests whose paths wait on
// writeback (a flush of an older snap context); stopped and joined on exit,
// so a failed ASSERT cannot leave it running.
class TestIoThread {
 public:
  explicit TestIoThread(TestMachine& m)
      : mm_(m.mm), thread_([this] {
          TestThread t("io");
          mm_->io().Run(&stop_);
        }) {}
  ~TestIoThread() {
    stop_.store(true);
    mm_->io().Kick();
    thread_.join();
  }
  TestIoThread(const TestIoThread&) = delete;
  TestIoThread& operator=(const TestIoThread&) = delete;

 private:
  MmContext* const mm_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace pagerace

#endif  // PAGERACE_TESTS_TEST_MACHINE_H_
