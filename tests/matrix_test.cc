// The expectation matrix (DESIGN §6-§8): every scheme x adapter under the
// mixed workload, with seeded jitter and a bound on operations, against the
// verdict it must reach.  Cells expected to race stop at the first report
// and try at most three seeds; each race a cell relies on is also forced
// deterministically in regression_test.cc.
#include <map>
#include <ostream>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "harness/core/stress_driver.h"
#include "tests/explore_test_util.h"

namespace pagerace {
namespace {

struct Cell {
  const char* scheme;
  const char* fs;
  const char* workload;
  const char* expect;  // "clean", or the invariant that must be reported
  bool data_losing;    // for races: a data-losing report is required
  const char* rests_on = "";  // the kernel fact behind the verdict
  bool keeps_data = false;    // for races: no report may be data-losing
};

// The kernel fact each cell's verdict rests on (harness/mm/FIDELITY.md and
// fs_adapters/FIDELITY.md give the source behind each).
constexpr char kSeedWindow[] =
    "v2.6.29 do_wp_page/__do_fault: ->page_mkwrite returns unlocked and set_page_dirty comes "
    "after the page lock is dropped, so writeback can clean the page in between";
constexpr char kSeedFix[] =
    "b827e496c893 (v2.6.30-rc5): the page lock is held from ->page_mkwrite's return through "
    "set_page_dirty (VM_FAULT_LOCKED, or the VM relocks and re-checks page->mapping)";
constexpr char kUnlockedFs[] =
    "a filesystem returning unlocked (NFS before 7fdf5230) leaves writeback a window between its "
    "unlock_page and the VM's relock, even under b827e496c893";
constexpr char kNoMetadata[] =
    "tmpfs-like: no ->page_mkwrite and no per-page fs metadata, so writeback has nothing to "
    "retire early";
constexpr char kNoMetadataModern[] =
    "tmpfs-like, under 5.15: no ->page_mkwrite, so no fs metadata and no stable-page promise "
    "(do_shared_fault and wp_page_reuse wait for no writeback without it)";
constexpr char kGupNfs[] =
    "5.15 pin_user_pages faults the page in through ->page_mkwrite, writeback may clean it while "
    "pinned (pins are not consulted) and NFS retires the request; set_page_dirty_lock "
    "(__set_page_dirty_nobuffers) dirties it without one, and nfs_writepage sends nothing";
constexpr char kDropHeld[] =
    "invalidate_mapping_pages removes only a page the cache and the caller alone hold "
    "(016eb4a0ed06; 5.15 __remove_mapping's page_ref_freeze), so a pinned page stays cached and "
    "its set_page_dirty_lock is written; without fs metadata the pin itself loses nothing";
constexpr char kLaunder[] =
    "invalidate_inode_pages2 holds the page lock from unmap_mapping_range (zap_pte_range hands a "
    "dirty pte to set_page_dirty) through ->launder_page (nfs_wb_page writes and commits) to the "
    "removal, so no store lands between the write and the removal";
constexpr char kMigrate[] =
    "migration (migrate_page_move_mapping) freezes the page's references, so no fault or pin "
    "is inside it, and moves PG_dirty and the buffers to the new page under the page lock; "
    "the ptes come back as they were";
constexpr char kPunch[] =
    "5.15 ext4_punch_hole holds mapping->invalidate_lock for writing from truncate_pagecache_range "
    "until the blocks are freed; filemap_fault takes it to bring a page in and ext4_page_mkwrite "
    "takes it too (ea3d7209ca01), so no page comes back on blocks about to go";
constexpr char kNoPunch[] =
    "v2.6.29/30 have no hole punch (falloc.h: FALLOC_FL_KEEP_SIZE only): the punch workload is "
    "the mixed workload without pwriters there";
constexpr char kMutantFact[] = "a deliberate bug, declared with the invariant it must trip";
constexpr char kEnospc[] =
    "a failed ->page_mkwrite is VM_FAULT_SIGBUS: do_wp_page makes no pte writable, no store "
    "lands";
constexpr char kTruncateFact[] =
    "truncate unmaps and detaches the page under its lock; the fault re-checks page->mapping "
    "after relocking (b827e496c893)";
constexpr char kBufferKeeps[] =
    "buffer.c keeps a page's buffers and blocks across writeback; set_page_dirty re-dirties "
    "them (__set_page_dirty_buffers)";
constexpr char kExt2[] =
    "v2.6.29 ext2: no ->page_mkwrite; a write fault's set_page_dirty dirties every buffer the "
    "page has, and PG_dirty under private_lock (a8e7d49aa7be), so create_empty_buffers sees "
    "either the buffers or the page dirty; writepage gives each dirty buffer its block";
constexpr char kExt3[] =
    "v2.6.29 ext3 data=ordered: the commit after each writeback pass writes the buffers a "
    "write(2) filed by hand, leaving PG_dirty; try_to_free_buffers cancels PG_dirty under "
    "private_lock (87df7241bd54) and the dirty tag stays, so writeback's page_mkclean still "
    "takes over a dirty pte";
constexpr char kPartialEof[] =
    "the partial EOF page: a store past the old EOF lands in a buffer without a block unless "
    "growth write-protects the page (pagecache_isize_extended, v3.18)";
constexpr char kNoIsizeExtended[] =
    "v2.6.29/30 vmtruncate grows the file by writing i_size alone; pagecache_isize_extended, "
    "which write-protects the partial EOF page on growth, only came in v3.18, so a pte made "
    "writable at the old size lets a store past the old EOF land in a buffer without a block";
constexpr char kCephLegacy[] =
    "a combination that never shipped (ceph_page_mkwrite, v2.6.34, has v2.6.30's prototype and "
    "returns VM_FAULT_LOCKED): v2.6.34 ceph_set_page_dirty attaches a snap context to a newly "
    "dirty page only, without the page lock; v2.6.29 __do_fault calls set_page_dirty after "
    "unlock_page (and do_wp_page after wait_on_page_locked), so it lands on a page whose write "
    "is in flight, and writepages_finish drops that context";
constexpr char kCephRelock[] =
    "v2.6.34 ceph_writepages_start keeps each page locked until writepages_finish has dropped "
    "its context and ended writeback: the seed's relock (b827e496c893) waits for the completion "
    "and dirties a clean page under the lock";
constexpr char kCephSnapFlush[] =
    "ceph_update_writeable_page (v2.6.34) writes out a page dirty in an older snap context "
    "before dirtying it in the new one";
constexpr char kCephNaive[] =
    "ceph takes snap_rwsem inside the page lock (v2.6.34 ceph_update_writeable_page): holding "
    "the page lock across ->page_mkwrite makes no ABBA";
constexpr char kStableWrites[] =
    "5.15 block_page_mkwrite ends in wait_for_stable_page, which waits on writeback only when "
    "the superblock has SB_I_STABLE_WRITES: on such a device no store lands during writeback (I7)";
constexpr char kNoStableWrites[] =
    "5.15 wait_for_stable_page does nothing without SB_I_STABLE_WRITES, so a store may land "
    "during writeback (counted, not a race); buffer.c keeps the blocks and re-dirties the "
    "buffers (__set_page_dirty_buffers), so nothing is lost";
constexpr char kNfsStable[] =
    "5.15 nfs_vm_page_mkwrite waits on writeback after lock_page and returns locked; the "
    "mutant skips that wait, so the pte becomes writable under PG_writeback (I7)";
constexpr char kExt4V2630Bug[] =
    "v2.6.30 ext4_normal_writepage (nodelalloc) BUG_ONs on a page with buffers whose dirty "
    "buffers inside i_size are not all mapped, and v2.6.30 growth only writes i_size: "
    "__set_page_dirty_buffers dirtied the EOF page's buffers past the old EOF, which have no "
    "block, and growth brings them inside i_size (kernel_bug)";
constexpr char kXfsKeeps[] =
    "XFS keeps a page's blocks across writeback (delalloc converted by xfs_map_blocks, not "
    "released), and set_page_dirty redirties the page: whatever writeback cleans between "
    "->page_mkwrite and set_page_dirty, or under a get_user_pages pin, the next pass writes";
constexpr char kXfs4kIsize[] =
    "with 4 KiB blocks the EOF page is one block, which the first ->page_mkwrite reserves "
    "whole (xfs_iomap_end_fsb rounds to the block): a store past the old EOF lands in a "
    "block with a place, under every VM";
constexpr char kXfsIsizeExtended[] =
    "5.15 xfs_setattr_size holds the MMAPLOCK and calls truncate_setsize, whose "
    "pagecache_isize_extended write-protects the old EOF page (1 KiB blocks): the next store "
    "past the old EOF faults into iomap_page_mkwrite, refused on a full disk";
constexpr char kXfsIomapSkipsHoles[] =
    "5.15 iomap_writepage_map skips a hole (IOMAP_HOLE) without an error; under v2.6.29/30's "
    "VM growth only writes i_size (a mix that never shipped: 5.15 has "
    "pagecache_isize_extended), so a store past the old EOF through the still-writable pte "
    "lands in a hole and is never written";
constexpr char kXfsV2630Isize[] =
    "v2.6.30 growth only writes i_size; xfs_page_state_convert allocates the unmapped buffers "
    "inside i_size (BMAPI_MMAP) and on ENOSPC drops the whole page (ClearPageUptodate, not "
    "redirtied): on a full disk the store past the old EOF, and the page with it, is lost";
constexpr char kBtrfsLegacy[] =
    "btrfs sets delalloc in ->page_mkwrite; legacy's window leaves a writable page without it "
    "(I2, I3), but v2.6.29-34 btrfs_writepage_start_hook queues btrfs_writepage_fixup_worker "
    "and __extent_writepage redirties the page (-EAGAIN): the worker sets delalloc and the "
    "next pass writes it, so with free space nothing is lost (not data-losing)";

constexpr char kBtrfsUnlockedLocked[] =
    "v2.6.30-31 btrfs_page_mkwrite returns unlocked under the seed's VM (locked until "
    "50a9b214bc6c, v2.6.32): writeback can run between its unlock_page and the VM's relock "
    "(I2), but __extent_writepage's fixup path redirties the page and writes it: nothing lost";
constexpr char kGupBtrfs[] =
    "5.15 btrfs: set_page_dirty_lock dirties a pinned page writeback cleaned, without delalloc "
    "(I3), and btrfs_writepage_cow_fixup queues the fixup worker, which reserves and writes it "
    "while there is space: nothing lost";

std::string CellName(const Cell& c) {
  std::string n = std::string(c.scheme) + "_" + c.fs + "_" + c.workload;
  if (std::string(c.expect) != "clean") n += std::string("_") + c.expect;
  for (char& ch : n) {
    if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return n;
}

// "Data-losing" is decided by the outcome (race_kinds.def): a run whose
// reports are labelled data-losing must show the loss itself, as a clean
// page the store lacks (I0), a ledger slot missing its stamp, or a modeled
// BUG; and no other kind may carry the label.
void ExpectLossShown(const Cell& c, const RunResult& r) {
  bool labelled = false, shown = false;
  for (const RaceGroup& g : r.races) {
    const RaceKind k = g.first.kind;
    const bool loss_kind =
        k == RaceKind::kLostDirty || k == RaceKind::kLostWrite || k == RaceKind::kKernelBug;
    EXPECT_EQ(g.first.data_losing, loss_kind) << CellName(c) << ": " << RaceKindName(k);
    labelled |= g.first.data_losing;
    shown |= loss_kind;
  }
  if (labelled) EXPECT_TRUE(shown) << CellName(c) << ": data-losing without lost data";
}

RunResult RunCell(const Cell& c, uint64_t seed, uint64_t ops, bool stop_early) {
  RunConfig cfg;
  cfg.scheme = &Scheme(c.scheme);
  cfg.fs = &Adapter(c.fs);
  cfg.workload = &Workload(c.workload);
  cfg.mappings = std::max(cfg.mappings, cfg.workload->min_mappings);  // as ParseConfig does
  cfg.pages = 16;
  cfg.ops = ops;
  cfg.seed = seed;
  cfg.sched = sched::Policy::kJitter;
  cfg.stop_at_first_race = stop_early;
  if (std::string(c.expect) != "clean") {
    cfg.stop_invariant = InvariantByName(c.expect).value();
    cfg.stop_needs_losing = c.data_losing;
    // A loss on the mmap workers' slots may show only at the final sync,
    // after their shares are done; the pwriter's share alone (one pwrite per
    // 20 us pause) would take minutes more.  The final sync follows the cap.
    cfg.ops_time_cap = absl::Seconds(8);
  }
  auto r = RunStress(cfg, nullptr, {});
  EXPECT_TRUE(r.ok()) << r.status();
  if (r.ok()) ExpectLossShown(c, *r);
  return r.ok() ? *r : RunResult{};
}

// GoogleTest prints a parameter with this (not as "40-byte object <...>").
void PrintTo(const Cell& c, std::ostream* os) { *os << CellName(c); }

class MatrixTest : public ::testing::TestWithParam<Cell> {};

TEST_P(MatrixTest, ReachesTheExpectedVerdict) {
  const Cell& c = GetParam();
  if (std::string(c.expect) == "clean") {
    // 40,000 ops; 10,000 under TSan, which is here for the harness's own
    // synchronization (every cell still runs every path of its scheme,
    // adapter and workload), not for the verdict the default preset checks.
    RunResult r = RunCell(c, 1, kUnderTsan ? 10000 : 40000, false);
    EXPECT_EQ(r.race_reports, 0u)
        << (r.races.empty() ? "" : RaceKindName(r.races[0].first.kind)) << "; the verdict rests on: "
        << c.rests_on;
    EXPECT_GT(r.stat(Stat::kFaults), 0u);
    return;
  }
  std::set<std::string> seen;
  bool losing = false;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    RunResult r = RunCell(c, seed, 3'000'000, true);
    for (const RaceGroup& g : r.races) {
      seen.insert(InvariantName(g.first.invariant));
      losing |= g.first.data_losing;
    }
    if (seen.count(c.expect) && (!c.data_losing || losing)) {
      printf("  %s: seed %llu saw %s after %.3f s, %llu faults\n", CellName(c).c_str(),
             static_cast<unsigned long long>(seed), c.expect, r.elapsed_s,
             static_cast<unsigned long long>(r.stat(Stat::kFaults)));
      break;
    }
  }
  EXPECT_TRUE(seen.count(c.expect)) << "expected " << c.expect << "; the verdict rests on: "
                                    << c.rests_on;
  if (c.data_losing) {
    EXPECT_TRUE(losing) << "expected a data-losing report; the verdict rests on: " << c.rests_on;
  }
  if (c.keeps_data) {
    EXPECT_FALSE(losing) << "expected no data-losing report; the verdict rests on: " << c.rests_on;
  }
}

// Reclaim runs in every cell as v2.6.29's shrink_page_list does:
// try_to_unmap moves a writable pte's dirtiness into set_page_dirty, and a
// dirty page goes through pageout() (->writepage outside write_cache_pages).
// Re-established with it, no verdict changed: pageout's
// is_page_cache_freeable refuses a page a fault still references, and every
// fault holds one through its window, so reclaim adds no window to
// `locked`/`modern`; under `legacy` its try_to_unmap can dirty a page whose
// metadata writeback retired (not data-losing: the re-fault heals it,
// regression_test ReclaimTransferTest) and its pageout makes the seed's loss
// permanent without a writeback pass (ReclaimPageoutTest).
const Cell kCells[] = {
        // The seed's race: legacy loses data on NFS whatever mkwrite returns.
        Cell{"legacy", "nfs", "mixed", "I2", true, kSeedWindow}, Cell{"legacy", "nfs:unlocked", "mixed", "I2", true, kSeedWindow},
        // The fix closes it for a filesystem that returns VM_FAULT_LOCKED...
        Cell{"locked", "nfs", "mixed", "clean", false, kSeedFix}, Cell{"modern", "nfs", "mixed", "clean", false, kSeedFix},
        // ...and not for one that returns unlocked (2.6.30's NFS).
        Cell{"locked", "nfs:unlocked", "mixed", "I2", true, kUnlockedFs}, Cell{"modern", "nfs:unlocked", "mixed", "I2", true, kUnlockedFs},
        // No fs metadata, nothing to lose.
        Cell{"legacy", "none", "mixed", "clean", false, kNoMetadata}, Cell{"locked", "none", "mixed", "clean", false, kNoMetadata},
        // Stays clean once modern's do_fault asks I7 only after ->page_mkwrite:
        // pageout leaves pages unmapped under writeback, and a store into
        // one through do_shared_fault without ->page_mkwrite is allowed.
        Cell{"modern", "none", "mixed", "clean", false, kNoMetadataModern},
        // Mutants trip what they declare (whether a bounded run also loses
        // data is not their verdict).
        Cell{"mutant:unlock_before_set_page_dirty", "nfs", "mixed", "I2", false, kMutantFact},
        Cell{"mutant:skip_set_page_dirty", "none", "mixed", "I1", false, kMutantFact},
        Cell{"mutant:clear_dirty_before_mkclean", "nfs", "mixed", "I1", false, kMutantFact},
        Cell{"mutant:clear_dirty_before_mkclean", "none", "mixed", "I1", false, kMutantFact},
        // Stable pages are the filesystem's in 5.15 (nfs_vm_page_mkwrite's own
        // wait): the mutant skips it and trips I7.
        Cell{"mutant:no_stable_wait", "nfs", "mixed", "I7", false, kNfsStable},
        // Failing ->page_mkwrite: refused stores never land, unless the pte
        // was made writable first.
        Cell{"locked", "nfs", "enospc", "clean", false, kEnospc},
        Cell{"modern", "nfs", "enospc", "clean", false, kEnospc},
        Cell{"mutant:pte_write_before_mkwrite", "nfs", "enospc", "I6", false, kMutantFact},
        // Truncation racing faults: the !mapping re-checks hold.
        // Not locked/nfs: v2.6.30's NFS fails a store on a page truncated
        // under its ->page_mkwrite with SIGBUS though the file grew back
        // (I9, now and then within a cell's bounds): NfsSigbusTest.
        Cell{"locked", "buffer", "truncate", "clean", false, kTruncateFact},
        Cell{"modern", "nfs", "truncate", "clean", false, kTruncateFact},
        Cell{"modern", "nfs", "dio", "I3", true, kGupNfs},
        Cell{"modern", "none", "drop", "clean", false, kDropHeld},
        Cell{"modern", "nfs", "invalidate", "clean", false, kLaunder},
        Cell{"modern", "buffer", "migrate", "clean", false, kMigrate},
        Cell{"modern", "buffer", "punch", "clean", false, kPunch},
        Cell{"locked", "buffer", "punch", "clean", false, kNoPunch},
        Cell{"locked", "nfs", "migrate", "clean", false, kMigrate},
        Cell{"legacy", "none", "truncate", "clean", false, kNoMetadata},
        Cell{"locked", "none", "truncate", "clean", false, kNoMetadata},
        // buffer.c under a journal: the fix holds for every workload.
        Cell{"locked", "buffer", "mixed", "clean", false, kBufferKeeps},
        // modern no longer waits for every filesystem: `buffer` is an
        // ordinary disk, where stores land during writeback (counted) and
        // nothing is lost; the stable-writes device holds I7.
        Cell{"modern", "buffer", "mixed", "clean", false, kNoStableWrites},
        Cell{"modern", "buffer:stable_writes", "mixed", "clean", false, kStableWrites},
        Cell{"mutant:no_stable_wait", "buffer:stable_writes", "mixed", "I7", false, kStableWrites},
        // block_page_mkwrite alone (no journal, returns locked), and v2.6.30's
        // ext4_page_mkwrite (returns unlocked).
        Cell{"locked", "buffer:block_page_mkwrite", "mixed", "clean", false, kBufferKeeps},
        Cell{"modern", "buffer:block_page_mkwrite", "isize", "clean", false, kPartialEof},
        Cell{"legacy", "buffer:block_page_mkwrite", "isize", "I2", true, kPartialEof},
        // (Reclaim may strip the buffer heads in ext4's unlocked window; the
        // next writepage recreates them from the block map: still clean.)
        Cell{"locked", "buffer:ext4_v2.6.30", "mixed", "clean", false, kBufferKeeps},
        Cell{"locked", "buffer:ext4_v2.6.30", "isize", "fs", true, kExt4V2630Bug},
        Cell{"legacy", "buffer:ext2", "mixed", "clean", false, kExt2},
        Cell{"modern", "buffer:4k", "mixed", "clean", false, kBufferKeeps},
        Cell{"legacy", "buffer:ext3", "mixed", "clean", false, kExt3},
        Cell{"locked", "buffer", "enospc", "clean", false, kEnospc},
        Cell{"modern", "buffer", "truncate", "clean", false, kTruncateFact},
        // ceph: with the page lock held through the write's completion
        // (v2.6.34), legacy still loses through __do_fault and the gap after
        // do_wp_page's wait_on_page_locked (regression_test C2, C3); its
        // wide do_wp_page window is closed by that wait (C1).
        // ceph: legacy drops the snap context of a page it dirties during
        // its write (data-losing I2, wrbuffer_ref drift I4); the fix holds.
        Cell{"legacy", "ceph", "mixed", "I2", true, kCephLegacy}, Cell{"legacy", "ceph", "mixed", "I4", false, kCephLegacy},
        Cell{"locked", "ceph", "mixed", "clean", false, kSeedFix},
        Cell{"modern", "ceph", "mixed", "clean", false, kSeedFix},
        Cell{"locked", "ceph", "truncate", "clean", false, kTruncateFact},
        Cell{"modern", "ceph", "enospc", "clean", false, kEnospc},
        // ceph takes snap_rwsem under the page lock: naive holds no ABBA there.
        Cell{"naive", "ceph", "mixed", "clean", false, kCephNaive},
        Cell{"locked", "ceph:no_snap_flush", "mixed", "fs", false, kCephSnapFlush},
        // The partial EOF page (isize): buffer.c loses a store past the old EOF
        // until pagecache_isize_extended (v3.18): under legacy and locked
        // (v2.6.29/30 growth only writes i_size, so `buffer` is
        // `buffer:no_isize_extended` there); modern (v5.15) has it.
        Cell{"legacy", "buffer", "isize", "I2", true, kNoIsizeExtended},
        Cell{"locked", "buffer:no_isize_extended", "isize", "I0", true, kNoIsizeExtended},
        Cell{"locked", "buffer", "isize", "I0", true, kNoIsizeExtended},
        Cell{"modern", "buffer", "isize", "clean", false, kPartialEof},
        // locked/nfs@isize and modern/nfs@isize lose too (v2.6.30 and 5.15
        // nfs_setattr alike flush, then make the SETATTR call, then write
        // i_size, with no page lock across and no pagecache_isize_extended in
        // fs/nfs: a fault in between gets a request bounded by the old size
        // (nfs_page_length), and a store past it through that pte is never
        // sent), but that window is the SETATTR round trip, too narrow for a
        // bounded jitter run to hit on every machine: their verdicts are
        // forced in regression_test.cc (NfsGrowthTest) and found by the
        // explorer (scenario_explore_test.cc, IsizeGrowthLosesTheStore), and
        // what stress finds there is not asserted.
        Cell{"modern", "ceph", "isize", "clean", false, kSeedFix},
        // btrfs (delalloc): legacy's window leaves writable pages without
        // delalloc; the fix holds.
        Cell{"legacy", "btrfs", "mixed", "I2", false, kBtrfsLegacy, true},
        Cell{"locked", "btrfs", "mixed", "clean", false, kSeedFix},
        Cell{"modern", "btrfs", "mixed", "clean", false, kSeedFix},
        Cell{"locked", "btrfs", "enospc", "clean", false, kEnospc},
        Cell{"modern", "btrfs", "truncate", "clean", false, kTruncateFact},
        Cell{"locked", "btrfs:leak_reservation", "mixed", "I4", false, kMutantFact},
        // The unlocked-return variants under legacy break as their locked
        // twins do (the window is the VM's): ceph loses the store, btrfs's
        // fixup path writes it.  Under `locked` the verdict rests on each
        // model's writeback locking (ceph: clean; btrfs: I2, nothing lost).
        Cell{"legacy", "ceph:unlocked", "mixed", "I2", true, kCephLegacy},
        Cell{"legacy", "btrfs:unlocked", "mixed", "I2", false, kBtrfsLegacy, true},
        // Was unasserted while the model unlocked ceph's pages at submit;
        // with the lock held through writepages_finish (v2.6.34) the VM's
        // relock comes after the completion: clean (regression_test C4).
        Cell{"locked", "ceph:unlocked", "mixed", "clean", false, kCephRelock},
        Cell{"locked", "btrfs:unlocked", "mixed", "I2", false, kBtrfsUnlockedLocked, true},
        Cell{"modern", "btrfs", "dio", "I3", false, kGupBtrfs, true},
        // XFS: 5.15 (iomap) and v2.6.30.  Its blocks stay across writeback,
        // so the seed's window and the GUP race lose nothing; what loses is
        // growth over a writable EOF page with sub-page blocks, where no
        // pagecache_isize_extended write-protects it.
        Cell{"legacy", "xfs", "mixed", "clean", false, kXfsKeeps},
        Cell{"locked", "xfs", "mixed", "clean", false, kXfsKeeps},
        Cell{"modern", "xfs", "mixed", "clean", false, kXfsKeeps},
        Cell{"legacy", "xfs", "isize", "clean", false, kXfs4kIsize},
        Cell{"locked", "xfs", "isize", "clean", false, kXfs4kIsize},
        Cell{"modern", "xfs", "isize", "clean", false, kXfs4kIsize},
        Cell{"legacy", "xfs", "dio", "clean", false, kXfsKeeps},
        Cell{"locked", "xfs", "dio", "clean", false, kXfsKeeps},
        Cell{"modern", "xfs", "dio", "clean", false, kXfsKeeps},
        Cell{"modern", "xfs:1k", "isize", "clean", false, kXfsIsizeExtended},
        Cell{"locked", "xfs:1k", "isize", "I0", true, kXfsIomapSkipsHoles},
        Cell{"locked", "xfs:v2.6.30", "mixed", "clean", false, kXfsKeeps},
        Cell{"locked", "xfs:v2.6.30", "isize", "I0", true, kXfsV2630Isize},
        Cell{"legacy", "xfs:v2.6.30", "isize", "I0", true, kXfsV2630Isize},
        // Contention shapes: one hot set of pages, three mappings, fsync.
        Cell{"legacy", "nfs", "hot", "I2", true, kSeedWindow}, Cell{"locked", "nfs", "hot", "clean", false, kSeedFix},
        Cell{"locked", "nfs", "multimap", "clean", false, kSeedFix},
        Cell{"modern", "nfs", "fsync", "clean", false, kSeedFix},
};

INSTANTIATE_TEST_SUITE_P(Schemes, MatrixTest, ::testing::ValuesIn(kCells),
                         [](const auto& info) { return CellName(info.param); });

// Registered parts whose verdict a stress cell cannot reach within the
// matrix's bounds, and the deterministic test that holds it instead.
const std::map<std::string, std::string> kCoveredElsewhere = {
    {"mutant:no_mapping_recheck",
     "its I5 needs a truncation inside the relock window: regression_test forces it "
     "(NoMappingRecheck), the soak suite samples it with --jitter-max-us=5000"},
    {"strip",
     "its stress races are the zap's own (1cf35d47712d before v3.15, 5df397dec7c4's in 5.15); "
     "87df7241bd54's window, a zap inside try_to_free_buffers, is forced in revert_test "
     "(TryToFreeBuffersTest) and explored by history_test (scenario strip)"},
    {"mremap",
     "what it adds to a modeled era is the zap race of MREMAP_FIXED unmapping the target (5.15: "
     "5df397dec7c4's window); 5d1904204c99's needs a store inside move_ptes's TLB-flush window "
     "with the fix reverted: revert_test forces it (MremapTest) and history_test explores "
     "scenario mremap"},
    {"zap",
     "its races need a store inside a zap's TLB-flush window and an eviction before a later "
     "store redirties the page: revert_test forces them (ZapTest), history_test explores "
     "zap_flush (1cf35d47712d)"},
};

// The matrix follows the registries: every registered scheme, mutant,
// adapter and workload has a cell here, or a named deterministic test.
TEST(MatrixCoverageTest, EveryRegisteredPartHasACell) {
  std::set<std::string> covered;
  for (const Cell& c : kCells) {
    covered.insert({c.scheme, c.fs, c.workload});
    EXPECT_STRNE(c.rests_on, "") << CellName(c) << " cites no kernel fact";
  }
  for (const auto& [name, why] : kCoveredElsewhere) covered.insert(name);
  for (const std::string& n : SchemeRegistry().Names()) EXPECT_TRUE(covered.count(n)) << n;
  for (const std::string& n : AdapterRegistry().Names()) EXPECT_TRUE(covered.count(n)) << n;
  for (const std::string& n : WorkloadRegistry().Names()) EXPECT_TRUE(covered.count(n)) << n;
}

}  // namespace
}  // namespace pagerace
