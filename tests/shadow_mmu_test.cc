// The shadow MMU on real memory: software ptes agree with the real
// protection, faults dispatch by kind, foreign faults are not swallowed.
#include "harness/mm/shadow_mmu.h"

#include <signal.h>
#include <sys/mman.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "test_machine.h"

namespace pagerace {
namespace {

TEST(ShadowMmuTest, ReadFaultOnNotPresentInstallsReadOnlyPte) {
  TestMachine m("locked", "nfs");
  TestThread t("worker");
  EXPECT_EQ(m.pte(0, 1), kPteNone);
  EXPECT_EQ(m.load(0, 1, 0), 0u);
  EXPECT_EQ(t.count(Stat::kFaults), 1u);
  EXPECT_EQ(t.count(Stat::kFaultsNopage), 1u);
  EXPECT_EQ(m.pte(0, 1), kPteReadOnly);
  EXPECT_EQ(m.pte(1, 1), kPteNone);  // other mapping untouched
  Page* p = m.mm->mapping().find_get_page(1);
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(PageDirty(p));
  put_page(p);
}

TEST(ShadowMmuTest, StoreToReadOnlyPteFaultsIntoDoWpPage) {
  TestMachine m("locked", "nfs");
  TestThread t("worker");
  m.load(0, 2, 0);
  ASSERT_EQ(m.pte(0, 2), kPteReadOnly);
  m.store(0, 2, 5, 42);
  EXPECT_EQ(t.count(Stat::kFaultsWp), 1u);
  EXPECT_EQ(t.count(Stat::kMkwriteCalls), 1u);
  EXPECT_EQ(m.pte(0, 2), kPteWritable);
  // The store landed in the file: visible through the kernel alias.
  EXPECT_EQ(reinterpret_cast<uint64_t*>(m.mm->mmu().kmap(2))[5], 42u);
}

TEST(ShadowMmuTest, StoreToWritablePteDoesNotFault) {
  TestMachine m("locked", "nfs");
  TestThread t("worker");
  m.store(1, 0, 0, 1);
  const uint64_t faults = t.count(Stat::kFaults);
  for (int i = 0; i < 100; ++i) m.store(1, 0, 0, 2 + i);
  EXPECT_EQ(t.count(Stat::kFaults), faults);
}

TEST(ShadowMmuTest, WriteFaultOnNotPresentGoesThroughDoFault) {
  TestMachine m("legacy", "nfs");
  TestThread t("worker");
  m.store(0, 3, 0, 7);
  EXPECT_EQ(t.count(Stat::kFaults), 1u);
  EXPECT_EQ(t.count(Stat::kFaultsNopage), 1u);
  EXPECT_EQ(t.count(Stat::kFaultsWp), 0u);
  EXPECT_EQ(m.pte(0, 3), kPteWritable);
  Page* p = m.mm->mapping().find_get_page(3);
  EXPECT_TRUE(PageDirty(p));
  put_page(p);
}

// The permissions the kernel holds for `addr`, from /proc/self/maps ("rw-s").
std::string RealPerms(const void* addr) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const auto a = reinterpret_cast<uintptr_t>(addr);
  while (std::getline(maps, line)) {
    uintptr_t lo, hi;
    char perms[5] = {};
    if (sscanf(line.c_str(), "%lx-%lx %4s", &lo, &hi, perms) == 3 && a >= lo && a < hi) {
      return perms;
    }
  }
  return "unmapped";
}

TEST(ShadowMmuTest, RealProtectionMatchesSoftwarePte) {
  TestMachine m("locked", "nfs", 3, 2);
  TestThread t("worker");
  m.store(0, 0, 0, 1);  // present writable in mapping 0
  m.load(1, 1, 0);      // present read-only in mapping 1
  for (int v = 0; v < 2; ++v) {
    for (uint64_t i = 0; i < 3; ++i) {
      const char* want = m.pte(v, i) == kPteWritable   ? "rw-s"
                         : m.pte(v, i) == kPteReadOnly ? "r--s"
                                                       : "---s";
      EXPECT_EQ(RealPerms(m.mm->mmu().user_addr(v, i)), want) << "mapping " << v << " page " << i;
    }
  }
  EXPECT_EQ(m.pte(0, 0), kPteWritable);
  EXPECT_EQ(m.pte(1, 1), kPteReadOnly);
  EXPECT_EQ(m.pte(0, 2), kPteNone);
  // Writeback write-protects: the real protection follows.
  m.writeback();
  EXPECT_EQ(RealPerms(m.mm->mmu().user_addr(0, 0)), "r--s");
}

TEST(ShadowMmuTest, RefusesMoreVmasThanMaxMapCount) {
  absl::Status s = ShadowMmu::CheckMapCount(40000, 2);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("vm.max_map_count"), absl::string_view::npos);
  EXPECT_TRUE(ShadowMmu::CheckMapCount(64, 2).ok());
}

using ShadowMmuDeathTest = ::testing::Test;

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define PAGERACE_SANITIZED 1
#endif
#endif

bool DiedOfSegv(int status) {
#ifdef PAGERACE_SANITIZED
  // The sanitizer's own deadly-signal handler reports the SEGV and exits
  // non-zero: still not swallowed.
  if (WIFEXITED(status)) return WEXITSTATUS(status) != 0;
#endif
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
}

TEST(ShadowMmuDeathTest, ForeignFaultKillsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        TestMachine m("locked", "nfs");
        TestThread t("worker");
        // A PROT_NONE page that is not a user mapping: a genuine crash.
        void* p = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        *static_cast<volatile int*>(p) = 1;
        _exit(0);
      },
      DiedOfSegv, "");
}

TEST(ShadowMmuDeathTest, GuardPageFaultIsNotOurs) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        TestMachine m("locked", "nfs");
        TestThread t("worker");
        // The guard page just past the last page of mapping 0.
        *reinterpret_cast<volatile uint64_t*>(m.mm->mmu().user_addr(0, 4)) = 1;
        _exit(0);
      },
      DiedOfSegv, "");
}

TEST(ShadowMmuDeathTest, SentSigsegvIsReRaised) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        TestMachine m("locked", "nfs");
        kill(getpid(), SIGSEGV);
        _exit(0);
      },
      DiedOfSegv, "");
}

TEST(ShadowMmuDeathTest, UserFaultFromNonWorkerThreadAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        TestMachine m("locked", "nfs");
        ScopedThread reg("writeback", /*user_access=*/false);
        m.store(0, 0, 0, 1);
      },
      "without user access");
}

}  // namespace
}  // namespace pagerace

namespace pagerace {
namespace {

// The protection of [addr, addr + len) in /proc/self/maps ("" if no single
// mapping covers it exactly).
std::string MapsPerms(const uint8_t* addr, size_t len) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  char want[64];
  snprintf(want, sizeof(want), "%lx-%lx ", reinterpret_cast<unsigned long>(addr),
           reinterpret_cast<unsigned long>(addr + len));
  while (std::getline(maps, line)) {
    if (line.rfind(want, 0) == 0) return line.substr(strlen(want), 4);
  }
  return "";
}

// A destroyed ShadowMmu's memory goes to the next one of its size, reset to
// what a fresh one has: the file's bytes zero, every user page PROT_NONE (one
// VMA per mapping again), so the next run starts where a new machine would.
TEST(ShadowMmuTest, TheNextMachineReusesTheMemoryReset) {
  const uint8_t* first_user = nullptr;
  const size_t len = 3 * ShadowMmu::page_size();
  {
    TestMachine m("locked", "nfs", /*pages=*/3, /*mappings=*/2);
    TestThread t("worker");
    m.store(0, 1, 0, 42);  // a writable pte in mapping 0, a dirty page
    m.load(1, 2, 0);       // a read-only pte in mapping 1
    ASSERT_EQ(m.pte(0, 1), kPteWritable);
    ASSERT_EQ(reinterpret_cast<uint64_t*>(m.mm->mmu().kmap(1))[0], 42u);
    first_user = m.mm->mmu().user_addr(0, 0);
    EXPECT_EQ(MapsPerms(first_user, len), "") << "the protections split the mapping";
  }
  TestMachine m("locked", "nfs", /*pages=*/3, /*mappings=*/2);
  TestThread t("worker");
  EXPECT_EQ(m.mm->mmu().user_addr(0, 0), first_user) << "not reused";
  for (uint64_t i = 0; i < 3; ++i) {
    for (size_t b = 0; b < ShadowMmu::page_size(); ++b) {
      ASSERT_EQ(m.mm->mmu().kmap(i)[b], 0) << "page " << i << " byte " << b;
    }
  }
  EXPECT_EQ(MapsPerms(m.mm->mmu().user_addr(0, 0), len), "---s");
  EXPECT_EQ(MapsPerms(m.mm->mmu().user_addr(1, 0), len), "---s");
  EXPECT_EQ(m.pte(0, 1), kPteNone);
  // And it works as a fresh one: a load faults the page in, read-only.
  EXPECT_EQ(m.load(0, 1, 0), 0u);
  EXPECT_EQ(t.count(Stat::kFaultsNopage), 1u);
  EXPECT_EQ(m.pte(0, 1), kPteReadOnly);
}

}  // namespace
}  // namespace pagerace
