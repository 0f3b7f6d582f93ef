// The registries are the seam for new parts: an adapter defined entirely in
// this file, registered here and nowhere else, runs through configuration
// parsing, `--list` and the stress driver like a built-in one.
#include <atomic>
#include <cstring>
#include <memory>

#include "fs_adapters/adapters.h"
#include "gtest/gtest.h"
#include "harness/core/config.h"
#include "harness/core/stress_driver.h"
#include "harness/mm/filemap.h"
#include "harness/mm/mm_context.h"
#include "tests/test_machine.h"

namespace pagerace {
namespace {

// A filesystem that keeps one "reservation" bit per page: ->page_mkwrite
// sets it (returning VM_FAULT_LOCKED, as every post-seed fs may), writeback
// sends a page only while it holds one and consumes it.  Under `locked`, a
// page is never dirty without its bit (I2 holds).
class ReservationAdapter : public StoreBackedOps {
 public:
  static std::atomic<uint64_t> mkwrite_calls;

  const char* name() const override { return "test:reservation"; }
  bool has_page_mkwrite() const override { return true; }

  void Attach(MmContext* mm) override {
    StoreBackedOps::Attach(mm);
    reserved_ = std::make_unique<std::atomic<bool>[]>(mm->pages());
  }

  vm_fault_t page_mkwrite(VmFault& vmf) override {
    mkwrite_calls.fetch_add(1, std::memory_order_relaxed);
    Page* page = vmf.page;
    mkwrite_lock_page(vmf);
    if (!mkwrite_page_ok(page)) {
      mkwrite_unlock_page(vmf);
      return kVmFaultNoPage;
    }
    reserved_[page->index].store(true, std::memory_order_release);
    return mkwrite_done(vmf, /*returns_locked=*/true);
  }

  int write_begin(Page* page, uint32_t offset, uint32_t len) override {
    reserved_[page->index].store(true, std::memory_order_release);
    return 0;
  }

  int writepage(Page* page, WritebackControl& wbc) override {
    const uint64_t index = page->index;
    if (!reserved_[index].exchange(false, std::memory_order_acq_rel)) {
      unlock_page(page);  // nothing reserved: nothing to send
      return 0;
    }
    test_set_page_writeback(page);
    const size_t len = bytes_in_isize(index);
    memcpy(snapshot(index), mm_->mmu().kmap(index), len);
    memset(snapshot(index) + len, 0, page_size_ - len);
    unlock_page(page);
    mm_->io().Submit(page);
    return 0;
  }

  void end_io(Page* page) override {
    store().Write(page->index, 0, static_cast<uint32_t>(page_size_), snapshot(page->index));
  }

  void invalidatepage(Page* page) override {
    reserved_[page->index].store(false, std::memory_order_release);
  }

  MetadataState metadata_state(const Page* page, bool writable) const override {
    return reserved_[page->index].load(std::memory_order_acquire) ? MetadataState::kDirtyCapable
                                                                  : MetadataState::kAbsent;
  }

 private:
  std::unique_ptr<std::atomic<bool>[]> reserved_;  // per page; set under the page lock
};
std::atomic<uint64_t> ReservationAdapter::mkwrite_calls{0};

// The same filesystem without ->writepage (its writeback is ->writepages
// alone, as 5.15's XFS): reclaim must keep a dirty page it cannot write.
class NoWritepageAdapter : public ReservationAdapter {
 public:
  const char* name() const override { return "test:no_writepage"; }
  bool has_writepage() const override { return false; }
};

const AdapterEntry& kNoWritepage = AdapterRegistry().Register(
    {"test:no_writepage", "none (a test's own)", "test:reservation without ->writepage",
     [] { return std::make_unique<NoWritepageAdapter>(); }});

const AdapterEntry& kRegistered = AdapterRegistry().Register(
    {"test:reservation", "none (a test's own)", "a test's own adapter: one reservation bit per page",
     [] { return std::make_unique<ReservationAdapter>(); }});

TEST(RegistryTest, ATestAdapterParsesAndLists) {
  RawFlags raw;
  raw.scheme = "locked";
  raw.fs = "test:reservation";
  auto c = ParseConfig(raw);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->fs, &kRegistered);
  EXPECT_NE(FormatRegistries().find("test:reservation"), std::string::npos);
  // An unknown name lists the registered ones, this one included.
  raw.fs = "test:nonesuch";
  auto bad = ParseConfig(raw);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("test:reservation"), std::string::npos)
      << bad.status();
}

TEST(RegistryTest, ATestAdapterRunsThroughTheStressDriver) {
  ReservationAdapter::mkwrite_calls.store(0);
  RunConfig c;
  c.scheme = &Scheme("locked");
  c.fs = &kRegistered;
  c.pages = 16;
  c.ops = 20000;
  c.sched = sched::Policy::kJitter;
  auto r = RunStress(c, nullptr, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->race_reports, 0u)
      << (r->races.empty() ? "" : RaceKindName(r->races[0].first.kind));
  EXPECT_GE(r->stat(Stat::kOps), 19000u);
  EXPECT_GT(r->stat(Stat::kWritebacks), 0u);
  EXPECT_GT(r->stat(Stat::kMkwriteCalls), 0u);
  // The driver called this file's ->page_mkwrite, not a built-in one.
  EXPECT_EQ(ReservationAdapter::mkwrite_calls.load(), r->stat(Stat::kMkwriteCalls));
}

// mm/vmscan.c:pageout() (v2.6.29 and 5.15): a dirty page of a filesystem
// without ->writepage is activated, not written: reclaim keeps it dirty and
// cached, its data unsent.  With ->writepage, the same page is paged out.
TEST(RegistryTest, ReclaimKeepsADirtyPageWithoutWritepage) {
  for (const AdapterEntry* fs : {&kNoWritepage, &kRegistered}) {
    for (const char* scheme : {"legacy", "modern"}) {
      TestMachine m(scheme, fs->name);
      TestThread t("reclaim");
      m.store(0, 1, 0, 7);  // dirty, writable in mapping 0
      {
        Page* p = m.mm->mapping().find_get_page(1);
        ASSERT_NE(p, nullptr);
        EXPECT_TRUE(PageDirty(p));
        put_page(p);
      }
      const ShrinkResult r = shrink_page(*m.mm, 1);
      Page* p = m.mm->mapping().find_get_page(1);
      ASSERT_NE(p, nullptr) << fs->name << " under " << scheme << ": evicted";
      EXPECT_TRUE(r.pte_dirty);
      if (fs == &kNoWritepage) {
        EXPECT_FALSE(r.paged_out) << scheme;
        EXPECT_TRUE(PageDirty(p)) << scheme;
        EXPECT_FALSE(PageWriteback(p)) << scheme;
      } else {
        EXPECT_TRUE(r.paged_out) << scheme;
      }
      put_page(p);
      EXPECT_EQ(m.races(), 0u) << fs->name << " under " << scheme;
    }
  }
}

TEST(RegistryTest, DuplicateNamesAreRefused) {
  EXPECT_DEATH(AdapterRegistry().Register({"nfs", "", "again", nullptr}), "registered twice");
}

}  // namespace
}  // namespace pagerace
