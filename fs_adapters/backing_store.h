// The persistent side of an adapter (DESIGN §7): the NFS server, the OSD, the
// disk.  Holds what was persisted, with a version per page.
//
// StoreBackedOps is the common base of adapters that keep one: ->readpage
// and read_persisted() read it, and one snapshot buffer per page holds the
// bytes of that page's in-flight write (one write per page at a time, because
// writeback skips or waits for pages under writeback).
//
// Thread-safety: BackingStore is safe for concurrent access (mu_).
#ifndef PAGERACE_FS_ADAPTERS_BACKING_STORE_H_
#define PAGERACE_FS_ADAPTERS_BACKING_STORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "harness/base/futex.h"
#include "harness/base/lock_order.h"
#include "harness/mm/address_space_ops.h"
#include "harness/mm/page.h"
#include "harness/sched/sched.h"
#include "harness/base/shared.h"

namespace pagerace {

class BackingStore {
 public:
  BackingStore(uint64_t pages, size_t page_size);
  size_t page_size() const { return page_size_; }
  void Read(uint64_t index, uint8_t* dst) const;
  void Write(uint64_t index, uint32_t offset, uint32_t len, const uint8_t* src);
  uint64_t ReadSlot(uint64_t index, uint32_t slot) const;
  uint64_t version(uint64_t index) const;
  // Zeroes everything at and past byte `size`.
  void Truncate(int64_t size);
  // Zeroes pages [first, first + npages) (a punched hole reads as zeros).
  void Punch(uint64_t first, uint64_t npages);

 private:
  const size_t page_size_;
  mutable FutexMutex mu_{LockClass::kStore, "store"};
  std::vector<uint8_t> data_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> version_ ABSL_GUARDED_BY(mu_);
};

class StoreBackedOps : public AddressSpaceOps {
 public:
  void Attach(MmContext* mm) override;
  int readpage(Page* page) override;
  void read_persisted(uint64_t index, uint8_t* dst) const override;
  // The bytes inside i_size straight to the store, synchronously: a bounce
  // page's write, with no fs metadata consumed (no request sent, no snap
  // context dropped, no buffer cleaned).
  void write_bounce_copy(Page* page) override;
  void truncate_store(int64_t size) override { store_->Truncate(size); }
  void punch_store(uint64_t first, uint64_t npages) override { store_->Punch(first, npages); }
  BackingStore& store() { return *store_; }
  // Failure injection (the enospc workload) for a filesystem whose
  // ->page_mkwrite can fail for reasons outside the model (quota, a server's
  // -ENOSPC, caps): every one_in-th call fails, checked by
  // inject_mkwrite_failure().  Filesystems whose allocator the model has
  // (buffer, btrfs) override this to run that allocator short instead.
  bool InjectMkwriteFailures(uint32_t one_in) override {
    if (!has_page_mkwrite()) return false;
    fail_one_in_.store(one_in, std::memory_order_relaxed);
    return true;
  }

 protected:
  // Bytes of page `index` inside i_size now (0 past EOF, the page size for a
  // page wholly inside): nfs_page_length and its kin in other filesystems.
  uint32_t bytes_in_isize(uint64_t index) const;
  // The in-flight bytes of page `index`; owned by whoever set PG_writeback.
  uint8_t* snapshot(uint64_t index) { return snapshots_.get() + index * page_size_; }
  // ->page_mkwrite's page lock, as every modeled filesystem takes it: itself,
  // unless the VM already holds it (kFaultFlagPageLocked: the naive scheme).
  // Before it, the page is only referenced: truncate may remove it there
  // (page_mkwrite:before_lock_page).
  static bool vm_holds_lock(const VmFault& vmf) { return vmf.flags & kFaultFlagPageLocked; }
  static void mkwrite_lock_page(const VmFault& vmf) {
    if (vm_holds_lock(vmf)) return;
    SCHED_POINT(kPageMkwriteBeforeLockPage);
    lock_page(vmf.page);
  }
  static void mkwrite_unlock_page(const VmFault& vmf) {
    if (!vm_holds_lock(vmf)) unlock_page(vmf.page);
  }
  // With the page locked: still this file's page (not truncated or evicted
  // since the fault looked it up) and not wholly past EOF.  The check
  // ceph_page_mkwrite, btrfs_page_mkwrite and block_page_mkwrite open with
  // (`page->mapping != inode's mapping || offset > size`); false means
  // VM_FAULT_NOPAGE.  NfsAdapter checks the two halves apart, as
  // nfs_vm_page_mkwrite does (different results).
  bool mkwrite_page_ok(const Page* page) const;
  // A successful ->page_mkwrite's return: the page stays locked for the VM
  // (VM_FAULT_LOCKED) when the filesystem returns locked, else it is
  // unlocked (the pre-2.6.30 convention) — unless the VM holds the lock.
  // Unlocking, the VM's window opens first (MmContext::mkwrite_unlocking).
  vm_fault_t mkwrite_done(VmFault& vmf, bool returns_locked);
  // The stable-page wait of a 5.15 ->page_mkwrite, page locked: under a
  // 5.15-era scheme (MmContext::stable_page_era()) and when this variant's
  // 5.15 self waits (stable_writes()), wait_on_page_writeback.  Models
  // mm/page-writeback.c:wait_for_stable_page() as of v5.15 for buffer.c
  // (stable_writes() = the device's SB_I_STABLE_WRITES) and
  // nfs_vm_page_mkwrite's own wait (fs/nfs/file.c, v5.15).  Older eras:
  // nothing (v2.6.30's block_page_mkwrite and nfs_vm_page_mkwrite do not
  // wait).  Skipped by mutant:no_stable_wait.
  void mkwrite_wait_stable(Page* page) const;
  // The end of a ->writepage: with nothing to send the page is unlocked
  // (traced as a writepage that sent nothing); else, PG_writeback set by the
  // caller, it is unlocked and its write submitted to the I/O queue.
  int finish_writepage(Page* page, bool send);
  // Blocks `mask` of page `index`, `blocksize` bytes each: copied from the
  // page into its snapshot (the write's bytes, at ->writepage), or from the
  // snapshot to the store (the write's completion).
  void snapshot_blocks(uint64_t index, uint32_t mask, uint32_t blocksize);
  void write_blocks(uint64_t index, uint32_t mask, uint32_t blocksize);
  // Whether this ->page_mkwrite call is one InjectMkwriteFailures asked to fail.
  bool inject_mkwrite_failure() {
    const uint32_t one_in = fail_one_in_.load(std::memory_order_relaxed);
    return one_in &&
           mkwrite_calls_.fetch_add(1, std::memory_order_relaxed) % one_in == one_in - 1;
  }
  size_t page_size_ = 0;  // constant after Attach

 private:
  std::unique_ptr<BackingStore> store_;
  std::unique_ptr<uint8_t[]> snapshots_;
  // Failure injection: atomics, set before the run, counted by every mkwrite.
  Shared<uint32_t> fail_one_in_{0};
  Shared<uint64_t> mkwrite_calls_{0};
};

}  // namespace pagerace

#endif  // PAGERACE_FS_ADAPTERS_BACKING_STORE_H_
