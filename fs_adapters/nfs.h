// The NFS client adapter (DESIGN §7), modeled on fs/nfs/write.c and
// fs/nfs/file.c as of v2.6.29 (`nfs:unlocked`), and with "NFS: Close
// page_mkwrite() races" (7fdf5230, v2.6.30-rc5) returning VM_FAULT_LOCKED
// (`nfs`).
//
// Per-page metadata is a write request (struct nfs_page) covering a byte
// range of the page:
//
//   state            meaning                               dirty-capable
//   none             no request: writepage sends nothing   —
//   dirty            data to send (nfs_mark_request_dirty) yes
//   in_flight        WRITE RPC under way (PG_writeback)    no
//   commit_pending   unstable on the server, awaiting      no
//                    COMMIT; retired when it completes
//
// ->page_mkwrite (nfs_vm_page_mkwrite) locks the page, checks the mapping
// (a truncated page: SIGBUS), and creates or extends the request for the
// part of the page inside i_size (nfs_updatepage), which also dirties the
// page; a page wholly past EOF gets success and no request.  ->write_end does the same for the written
// range.  ->writepage of a page without a request sends nothing and the page
// counts as clean: this is where the seed's race loses data.
//
// Thread-safety: request state is protected by the adapter's i_lock
// (inode->i_lock), taken after the page lock.
#ifndef PAGERACE_FS_ADAPTERS_NFS_H_
#define PAGERACE_FS_ADAPTERS_NFS_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "fs_adapters/backing_store.h"
#include "harness/base/futex.h"
#include "harness/base/lock_order.h"

namespace pagerace {

class NfsAdapter : public StoreBackedOps {
 public:
  enum class ReqState : uint8_t { kNone, kDirty, kInFlight, kCommitPending };

  explicit NfsAdapter(bool mkwrite_returns_locked)
      : mkwrite_returns_locked_(mkwrite_returns_locked) {}

  void Attach(MmContext* mm) override;
  const char* name() const override { return mkwrite_returns_locked_ ? "nfs" : "nfs:unlocked"; }
  bool has_page_mkwrite() const override { return true; }
  const char* page_mkwrite_name() const override { return "nfs_vm_page_mkwrite"; }
  const char* metadata_name() const override { return "write request (nfs_page)"; }
  // 5.15's nfs_vm_page_mkwrite waits on writeback after its mapping check
  // and returns locked; `nfs:unlocked` (v2.6.29) has no 5.15 counterpart and
  // keeps v2.6.29's behaviour (no wait) under every scheme.
  bool stable_writes() const override { return mkwrite_returns_locked_; }
  vm_fault_t page_mkwrite(VmFault& vmf) override;
  int writepage(Page* page, WritebackControl& wbc) override;
  void end_io(Page* page) override;
  int write_end(Page* page, uint32_t offset, uint32_t len) override;
  bool releasepage(Page* page, Gfp gfp) override;
  // v2.6.29/30 NFS has no ->migratepage (074cc1deec5 added it after
  // v2.6.30); 5.15's nfs_migrate_page refuses a page with a request.
  Migrate migratepage(KernelEra era) const override {
    return era >= KernelEra::kV5_15 ? Migrate::kBusyIfPrivate : Migrate::kFallback;
  }
  bool has_launder_page() const override { return true; }
  int launder_page(Page* page) override;
  // A request holds a reference on its page (nfs_create_request).
  bool private_pins_page() const override { return true; }
  void invalidatepage(Page* page) override;
  void invalidate_partial(Page* page, uint32_t offset) override;
  // No fs/nfs code calls pagecache_isize_extended, in v2.6.29/30 or 5.15:
  // nfs_setattr flushes, makes the SETATTR call and only then writes i_size
  // (nfs_vmtruncate), with no page lock across.
  bool setattr_calls_pagecache_isize_extended(KernelEra) const override { return false; }
  void setattr_extend(Page* eof_page, int64_t old_size, int64_t new_size) override;
  void commit() override;
  MetadataState metadata_state(const Page* page, bool writable) const override;

  // For tests.
  ReqState request_state(uint64_t index) const;
  int nr_requests() const;

 private:
  struct Request {
    ReqState state = ReqState::kNone;
    uint32_t start = 0;  // byte range of the page to send
    uint32_t end = 0;
    Page* page = nullptr;  // referenced while the request exists
  };
  // nfs_updatepage(): create or extend the page's request for [offset,
  // offset+len) and dirty the page.  REQUIRES: page locked.
  void nfs_updatepage(Page* page, uint32_t offset, uint32_t len);
  // nfs_writepage_locked's send: the page's dirty request goes out
  // (in flight, PG_writeback, queued to the I/O thread).  Returns whether
  // there was one.  The page stays locked.  REQUIRES: page locked.
  bool send_request(Page* page);

  // ->page_mkwrite returns the page locked: `nfs`, unless --revert names
  // 7fdf52306766 (the fix that made it so).
  bool returns_locked() const;
  const bool mkwrite_returns_locked_;
  mutable FutexMutex i_lock_{LockClass::kInodeLock, "nfs i_lock"};
  std::unique_ptr<Request[]> reqs_ ABSL_GUARDED_BY(i_lock_);
  int nr_requests_ ABSL_GUARDED_BY(i_lock_) = 0;
};

}  // namespace pagerace

#endif  // PAGERACE_FS_ADAPTERS_NFS_H_
