// Lock order of the modeled kernel, outermost first (DESIGN §5).  This is the
// one place it is written down; the schemes, writeback and adapters follow it,
// and -Wthread-safety checks the parts the compiler can see.
//
//  fs-level locks (OwnedMutex; adapter-specific: the buffer adapter's
//                  "journal", taken by ->page_mkwrite *before* the page lock
//                  and by ->writepages around a whole pass; the `naive`
//                  scheme inverts this edge, and lock_wait.h reports it)
//    -> page lock (PG_locked)
//         lock_page() in filemap_fault / find_lock_page / write_cache_pages /
//         generic_perform_write / ->page_mkwrite / shrink_page
//      -> pte lock (Pte::ptl, one per user mapping per page)
//           do_wp_page (entered with it), __do_fault, page_mkclean,
//           try_to_unmap, zap_index (truncate), the I0 auditor (all ptls of a
//           page, vma order)
//        -> fs inode lock (the adapter's i_lock: NFS request list)
//           ->set_page_dirty, nfs_updatepage, ->writepage, completions
//          -> dirty tag lock (AddressSpace::tree_lock_)
//               __set_page_dirty_nobuffers, clear_page_dirty_for_io
//          -> backing store lock (BackingStore::mu_)
//
// Locks that nest under nothing and take nothing: the page pool free list,
// the I/O completion queue, the oracle's report table.
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
#ifndef PAGERACE_HARNESS_MM_LOCK_ORDER_H_
#define PAGERACE_HARNESS_MM_LOCK_ORDER_H_
#endif  // PAGERACE_HARNESS_MM_LOCK_ORDER_H_
