// Lock order of the modeled kernel (DESIGN §5, STYLE rule 4).  This is the
// one place it is written down: every lock in the harness is tagged with one
// of the classes below, the tree says which may be taken under which, and it
// is enforced twice:
//
//  - by clang (-Wthread-safety-beta) through ABSL_ACQUIRED_AFTER on lock
//    members, where both locks are members the analysis can name and both
//    are taken in one function body (see "Checked by the compiler" below);
//  - at run time, for every class: each thread records the classes it holds,
//    and every acquisition attempt is checked against the ranks here
//    (lockdep in miniature; LockOrderInversion() describes what it saw).
//
// It lives in harness/base, not harness/mm, because locks are declared in
// every layer (the thread registry here, the oracle's table in check/, the
// adapters' locks in fs_adapters/) and the checker sits under FutexMutex.
//
// The tree, outermost first.  Each edge names the call sites that create it
// (model function, and the kernel function it models).
//
//  mmap_sem (kMmapSem; FutexRwSem, MmContext::mmap_sem, one process)
//  │   read: the user fault (do_page_fault's down_read around
//  │   handle_mm_fault, MmContext::HandleUserFault), get_user_pages, madvise
//  │   (MADV_DONTNEED: madvise_dontneed); write: mremap (move_page_pte).
//  │   Taken with no other harness lock held.
//  └─> invalidate_lock (kInvalidateLock; FutexRwSem, 5.15's
//      │   mapping->invalidate_lock): shared in ->page_mkwrite before the
//      │   journal and the page lock (ext4_page_mkwrite) and in filemap_fault
//      │   when the page is not cached; exclusive around a hole punch
//      │   (ext4_punch_hole: truncate_pagecache_range, then the blocks) and
//      │   around a size change where the fs's ->setattr holds it
//      │   (AddressSpaceOps::setattr_holds_invalidate_lock: ext4_setattr;
//      │   taken by vmtruncate, truncate.cc). A filesystem lock its fault
//      │   and truncate both take (XFS's MMAPLOCK) has this place.
//      │   Models: AddressSpace::invalidate_lock, taken in filemap_fault
//      │   (memory.cc), BufferAdapter::ext4_page_mkwrite_v515 and punch_hole
//      │   (punch.cc, which takes page locks and then the journal in
//      │   BufferAdapter::punch_store under it), where the run's kernel has
//      │   it (5.15, unless ea3d7209ca01 is reverted).
//      └─> fs-level locks ...
//
//  fs-level locks (kFsLevel; OwnedMutex): the buffer adapter's "journal"
//  │   ext4_journal_start() in ->page_mkwrite (BufferAdapter::page_mkwrite,
//  │   before lock_page), and around a whole ->writepages pass
//  │   (writepages_begin .. writepages_end: write_cache_pages locks pages
//  │   inside it).  The `naive` scheme takes it under the page lock: the
//  │   ABBA of DESIGN §2, reported as an inversion of this edge.
//  └─> page lock (kPageLock; PG_locked in page->flags)
//      │   lock_page() in filemap_fault / find_lock_page / find_or_create_page,
//      │   write_cache_pages, generic_perform_write, ->page_mkwrite,
//      │   truncate_inode_pages, shrink_page_list, vmtruncate's EOF page
//      ├─> snap_rwsem (kSnapRwsem; OwnedMutex, ceph's mdsc->snap_rwsem)
//      │     fs/ceph/addr.c:ceph_update_writeable_page() as of v2.6.34 takes
//      │     down_read(&mdsc->snap_rwsem) on a page its callers locked
//      │     (ceph_page_mkwrite: lock_page first; ceph_write_begin: the page
//      │     from grab_cache_page_write_begin, locked); ceph_write_end and
//      │     ceph_page_mkwrite drop it with the page still locked.  So it is
//      │     *not* an outermost fs-level lock: it nests inside the page lock.
//      │     The writer, fs/ceph/snap.c:ceph_handle_snap(), takes no page
//      │     lock under it; neither does ceph_writepages_start (which takes
//      │     no snap_rwsem at all).  Models: CephAdapter::update_writeable_page
//      │     / finish_dirty, and background_step (the snapshot thread).
//      │     It is released before clear_page_dirty_for_io (page_mkclean:
//      │     ptls), as ceph_update_writeable_page does (up_read, then flush).
//      │   └─> fs inode lock (ceph_set_page_dirty and get_oldest_context
//      │         take inode->i_lock under it)
//      └─> pte lock (kPtl; Pte::ptl, one per user mapping per page)
//          │   __do_fault (read fault / do_fault installing the pte),
//          │   do_wp_page's re-check, page_mkclean (clear_page_dirty_for_io),
//          │   try_to_unmap, zap (truncate), the I0 auditor.  Nested with
//          │   itself only as "all ptls of one page, in vma order" (the
//          │   auditor; like spin_lock_nested), which the runtime check allows.
//          └─> fs inode lock (kInodeLock; each adapter's i_lock_: NFS
//              │   request list (inode->i_lock), ceph's per-page snap contexts
//              │   (inode->i_lock in v2.6.34), buffer heads (private_lock),
//              │   btrfs delalloc)
//              │   ->set_page_dirty, nfs_updatepage, ->writepage,
//              │   ->invalidatepage, ->releasepage, I/O completions
//              └─> dirty tag lock (kTreeLock; AddressSpace::tree_lock_,
//                  │   mapping->tree_lock)
//                  │   __set_page_dirty_nobuffers / tag_dirty,
//                  │   clear_page_dirty_for_io, find_*_page,
//                  │   remove_from_page_cache
//                  └─> backing store lock (kStore; BackingStore::mu_: the
//                        server, OSD, disk)
//                        writes from I/O completions under the inode lock
//                        (nfs_writeback_done, writepages_finish,
//                        end_buffer_async_write), ->readpage, truncate_store
//
//  Leaf locks: taken under any of the above, and nothing is taken under them
//  (ranked last, in this order, so that even among themselves the order is
//  fixed):
//    kIoQueue         IoQueue::mu_ (the I/O completion queue): Submit from
//                     ->writepage, Pop in the I/O thread.
//    kPagePool        PagePool::mu_ (the page allocator's free list): put_page
//                     from anywhere, e.g. under the tree lock when
//                     find_or_create_page loses the race to add, or under a
//                     ptl when set_pte drops the pte's reference.
//    kOracle          Oracle::mu_ (the race report table): Report from any
//                     check, e.g. under the inode lock (I4).
//    kThreadRegistry  the thread registry's role table.
//    kStaleTail       MmContext's stale-tail record (harness bookkeeping):
//                     written by a v2.6.29/30 growth, read by I0 under the
//                     page lock and every ptl.
//
// Siblings in the tree (snap_rwsem vs ptl, tree lock vs store) have no edge
// between them in the model; the ranks still order them, so a new edge
// between siblings is reported until it is written here.
//
// Checked by the compiler (ABSL_ACQUIRED_AFTER on the members): edges between
// two lock members taken in one function, where the analysis knows both:
//   journal -> i_lock    (BufferAdapter::i_lock_, page_mkwrite)
//   snap_rwsem -> i_lock (CephAdapter::i_lock_, update_writeable_page /
//                         finish_dirty)
// Checked only at run time, and why:
//   - the page lock is a bit in page->flags, not a capability the analysis
//     tracks (lock_page is a function on a Page*, and its holders span the
//     schemes, writeback and the adapters' callbacks);
//   - ptl is one lock per pte, taken through `pte.ptl` in the schemes: the
//     analysis orders lock *declarations*, but the ptl is never held in the
//     same function as another tagged member;
//   - the tree lock, the store lock and the leaf locks are taken inside
//     their owner's methods (AddressSpace, BackingStore, PagePool, IoQueue,
//     Oracle), never in the same function as the lock they nest under: the
//     analysis is per function, so an ACQUIRED_AFTER there could never fire
//     (and the owners' locks are private to them).
//
// Rules that no annotation can state:
//  - ->set_page_dirty runs under the page lock (or, in `legacy`'s do_wp_page
//    path, without it: the window) and never blocks on the page lock.
//  - The pwrite path and writeback never touch a user mapping: the kernel
//    alias (ShadowMmu::kmap) is the only way they reach page contents.  A
//    user-mapping access under the page lock would self-deadlock in the fault
//    handler.
//  - The SIGSEGV handler is entered with no harness lock held (it is raised
//    only by a worker's plain load or store).
//  - Trylocks are recorded as held but not checked (as in lockdep: a
//    trylock cannot wait, so it closes no cycle).
#ifndef PAGERACE_HARNESS_BASE_LOCK_ORDER_H_
#define PAGERACE_HARNESS_BASE_LOCK_ORDER_H_

#include <cstdint>
#include <string>

namespace pagerace {

// The lock classes, outermost first: the value is the rank.  A thread may
// take a lock of class C only while every lock it holds ranks below C (or is
// of class C, for classes that nest with themselves).
enum class LockClass : uint8_t {
  kMmapSem,         // the process's mmap_sem (FutexRwSem)
  kInvalidateLock,  // mapping->invalidate_lock, 5.15 (FutexRwSem)
  kFsLevel,         // journal / transaction start (OwnedMutex)
  kPageLock,        // PG_locked
  kSnapRwsem,       // ceph's mdsc->snap_rwsem: under the page lock
  kPtl,             // Pte::ptl
  kInodeLock,       // adapter i_lock_
  kTreeLock,        // AddressSpace::tree_lock_ (dirty tag)
  kStore,           // BackingStore::mu_
  kIoQueue,         // leaf
  kPagePool,        // leaf
  kOracle,          // leaf
  kThreadRegistry,  // leaf
  kStaleTail,       // leaf
};
inline constexpr int kNumLockClasses = static_cast<int>(LockClass::kStaleTail) + 1;

// "fs-level lock", "page lock", ...
const char* LockClassName(LockClass c);
// Whether a thread may hold two locks of class `c` at once (ptl: all ptls of
// one page, in vma order).
constexpr bool LockClassNests(LockClass c) { return c == LockClass::kPtl; }

// --- The runtime check ------------------------------------------------------
//
// Called by the lock implementations (FutexMutex, OwnedMutex, the page lock);
// allocation-free and syscall-free (a few thread-local integer operations),
// so usable from the SIGSEGV handler.  `name` outlives the process (a string
// literal): it is kept for reports.

// Before waiting for a lock of class `c`: checks the order against the
// classes the calling thread holds (recording the first violation of each
// class pair), then counts the lock as held.  As in lockdep the attempt makes
// the edge, so an inversion is known even when this attempt never returns.
void LockOrderAcquire(LockClass c, const char* name);
// A successful trylock: counted as held, not checked.
void LockOrderTryAcquired(LockClass c, const char* name);
void LockOrderRelease(LockClass c);
// Whether the calling thread holds a lock of class `c` (tests, assertions).
bool LockOrderHeld(LockClass c);

// The lock-order violations seen since the last reset, described: "" while
// none.  The first (earliest) one is described in full — both classes, the
// lock names, the thread role — followed by the other class pairs.
// Thread-safe; allocates (call it outside the lock paths).
std::string LockOrderInversion();
// Forgets the violations seen (between independent runs in one process).
// Threads' held-lock records are their own and are not touched.
void ResetLockOrder();

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_BASE_LOCK_ORDER_H_
