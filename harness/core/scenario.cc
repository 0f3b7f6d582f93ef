#include "harness/core/scenario.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace pagerace {
namespace {

constexpr uint64_t kMaxPages = 16;  // pages x mappings stays far below vm.max_map_count
constexpr int kMaxMappings = 4;
constexpr size_t kMaxOps = 64;
// Byte offsets are checked against the smallest page size Linux has.
constexpr uint64_t kMinPageSize = 4096;

absl::Status LineError(int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("scenario line ", line, ": ", what));
}

bool ParseNumber(absl::string_view s, uint64_t* out) { return absl::SimpleAtoi(s, out); }

// One op: "store 0 1", "pass".
absl::StatusOr<ScenarioOp> ParseOp(absl::string_view text, RoleKind who, bool setup, int line) {
  std::vector<absl::string_view> w = absl::StrSplit(text, ' ', absl::SkipWhitespace());
  ScenarioOp op;
  const absl::string_view verb = w[0];
  auto args = [&](size_t lo, size_t hi) -> absl::Status {
    if (w.size() - 1 < lo || w.size() - 1 > hi) {
      return LineError(line, absl::StrCat("'", verb, "' takes ", lo == hi ? "" : "up to ", hi,
                                          hi == 1 ? " argument" : " arguments"));
    }
    return absl::OkStatus();
  };
  auto page_arg = [&]() -> absl::Status {
    if (!ParseNumber(w[1], &op.page)) return LineError(line, absl::StrCat("bad page '", w[1], "'"));
    return absl::OkStatus();
  };
  auto allowed = [&](bool ok) -> absl::Status {
    if (ok) return absl::OkStatus();
    return LineError(line, absl::StrCat("'", verb, "' is not an op of ", RoleKindName(who)));
  };
  absl::Status s;
  if (verb == "store" || verb == "write" || verb == "load") {
    op.kind = verb == "store"   ? ScenarioOp::kStore
              : verb == "write" ? ScenarioOp::kWrite
                                : ScenarioOp::kLoad;
    if (!(s = allowed(setup || who == RoleKind::kMmap)).ok()) return s;
    // The byte offset, "@OFF", comes last.
    if (w.size() >= 3 && absl::StartsWith(w.back(), "@")) {
      const absl::string_view at = w.back();
      uint64_t off = 0;
      if (!ParseNumber(at.substr(1), &off) || off >= kMinPageSize) {
        return LineError(line, absl::StrCat("bad offset '", at, "' (@0..@", kMinPageSize - 1, ")"));
      }
      op.offset = static_cast<uint32_t>(off);
      w.pop_back();
    }
    if (!(s = args(1, 2)).ok() || !(s = page_arg()).ok()) return s;
    uint64_t vma = 0;
    if (w.size() == 3 && !ParseNumber(w[2], &vma)) {
      return LineError(line, absl::StrCat("bad mapping '", w[2], "'"));
    }
    op.vma = static_cast<int>(vma);
  } else if (verb == "zap") {
    op.kind = ScenarioOp::kZap;
    if (!(s = allowed(setup || who == RoleKind::kMmap)).ok()) return s;
    if (!(s = args(1, 2)).ok() || !(s = page_arg()).ok()) return s;
    uint64_t vma = 0;
    if (w.size() == 3 && !ParseNumber(w[2], &vma)) {
      return LineError(line, absl::StrCat("bad mapping '", w[2], "'"));
    }
    op.vma = static_cast<int>(vma);
  } else if (verb == "mremap") {
    op.kind = ScenarioOp::kMremap;
    if (!(s = allowed(setup || who == RoleKind::kMmap)).ok()) return s;
    if (!(s = args(3, 3)).ok() || !(s = page_arg()).ok()) return s;
    uint64_t from = 0, to = 0;
    if (!ParseNumber(w[2], &from)) return LineError(line, absl::StrCat("bad mapping '", w[2], "'"));
    if (!ParseNumber(w[3], &to)) return LineError(line, absl::StrCat("bad mapping '", w[3], "'"));
    if (from >= to) {
      return LineError(line, absl::StrCat("mremap from mapping ", from, " to ", to,
                                          ": the new mapping must come after the old one "
                                          "(rmap order; harness/mm/mremap.h)"));
    }
    op.vma = static_cast<int>(from);
    op.to_vma = static_cast<int>(to);
  } else if (verb == "dio") {
    op.kind = ScenarioOp::kDio;
    if (!(s = allowed(who == RoleKind::kGup)).ok()) return s;
    if (!(s = args(1, 2)).ok() || !(s = page_arg()).ok()) return s;
    uint64_t vma = 0;
    if (w.size() == 3 && !ParseNumber(w[2], &vma)) {
      return LineError(line, absl::StrCat("bad mapping '", w[2], "'"));
    }
    op.vma = static_cast<int>(vma);
  } else if (verb == "pwrite") {
    op.kind = ScenarioOp::kPwrite;
    if (!(s = allowed(setup || who == RoleKind::kPwrite)).ok()) return s;
    if (!(s = args(1, 1)).ok() || !(s = page_arg()).ok()) return s;
  } else if (verb == "reclaim" || verb == "strip") {
    op.kind = verb == "reclaim" ? ScenarioOp::kReclaim : ScenarioOp::kStrip;
    if (!(s = allowed(setup || who == RoleKind::kReclaim)).ok()) return s;
    if (!(s = args(1, 1)).ok() || !(s = page_arg()).ok()) return s;
  } else if (verb == "drop" || verb == "invalidate") {
    op.kind = verb == "drop" ? ScenarioOp::kDrop : ScenarioOp::kInvalidate;
    if (!(s = allowed(setup || who == RoleKind::kReclaim || who == RoleKind::kTruncate)).ok()) {
      return s;
    }
    if (!(s = args(1, 1)).ok() || !(s = page_arg()).ok()) return s;
  } else if (verb == "migrate") {
    op.kind = ScenarioOp::kMigrate;
    if (!(s = allowed(setup || who == RoleKind::kReclaim)).ok()) return s;
    if (!(s = args(1, 1)).ok() || !(s = page_arg()).ok()) return s;
  } else if (verb == "commit") {
    op.kind = ScenarioOp::kCommit;
    if (!(s = allowed(setup || who == RoleKind::kWriteback)).ok()) return s;
    if (!(s = args(1, 1)).ok() || !(s = page_arg()).ok()) return s;
  } else if (verb == "pass" || verb == "sync") {
    op.kind = verb == "pass" ? ScenarioOp::kPass : ScenarioOp::kSync;
    if (!(s = allowed(setup || who == RoleKind::kWriteback || who == RoleKind::kFsync)).ok()) {
      return s;
    }
    if (!(s = args(0, 0)).ok()) return s;
  } else if (verb == "snapshot") {
    op.kind = ScenarioOp::kSnapshot;
    if (!(s = allowed(setup || who == RoleKind::kSnapshot)).ok()) return s;
    if (!(s = args(0, 0)).ok()) return s;
  } else if (verb == "writeback") {
    op.kind = ScenarioOp::kWriteback;
    if (!(s = allowed(setup)).ok()) return s;
    if (!(s = args(0, 0)).ok()) return s;
  } else if (verb == "truncate") {
    op.kind = ScenarioOp::kTruncate;
    if (!(s = allowed(setup || who == RoleKind::kTruncate)).ok()) return s;
    if (!(s = args(1, 2)).ok()) return s;
    if (!ParseNumber(w[1], &op.page)) return LineError(line, absl::StrCat("bad size in pages '", w[1], "'"));
    uint64_t bytes = 0;
    if (w.size() == 3 &&
        (!ParseNumber(w[2], &bytes) || bytes >= kMinPageSize || bytes % sizeof(uint64_t) != 0)) {
      return LineError(line, absl::StrCat("bad byte count '", w[2], "' (a multiple of 8 below ",
                                          kMinPageSize, ")"));
    }
    op.offset = static_cast<uint32_t>(bytes);
  } else if (verb == "punch") {
    op.kind = ScenarioOp::kPunch;
    if (!(s = allowed(setup || who == RoleKind::kTruncate)).ok()) return s;
    if (!(s = args(1, 2)).ok() || !(s = page_arg()).ok()) return s;
    if (w.size() == 3 && (!ParseNumber(w[2], &op.npages) || op.npages < 1)) {
      return LineError(line, absl::StrCat("bad page count '", w[2], "'"));
    }
  } else if (verb == "enospc") {
    op.kind = ScenarioOp::kEnospc;
    if (!(s = allowed(setup)).ok()) return s;
    if (!(s = args(1, 1)).ok()) return s;
    uint64_t n = 0;
    if (!ParseNumber(w[1], &n) || n < 1 || n > 1000) {
      return LineError(line, absl::StrCat("bad failure rate '", w[1], "' (one in 1..1000)"));
    }
    op.one_in = static_cast<uint32_t>(n);
  } else {
    return LineError(line, absl::StrCat("unknown op '", verb,
                                        "' (store, write, load, pwrite, pass, sync, reclaim, snapshot, "
                                        "writeback, truncate, enospc, dio, zap, strip, commit, drop, invalidate, migrate, mremap, punch)"));
  }
  return op;
}

const std::vector<BuiltinScenario> kBuiltins = {
    {"seed",
     "the seed's do_wp_page window (docs/design.md, The race): page 0 clean and read-only in mapping 0; "
     "mmap0 stores to it twice while writeback runs two passes",
     "pages 2\n"
     "mappings 2\n"
     "setup: store 0 0; writeback\n"
     "mmap0: store 0 0; store 0 0\n"
     "writeback: pass; pass\n"},
    {"seed_dirty",
     "the seed's window with its precondition (docs/design.md): page 0 read-only in mapping 0 and "
     "PG_dirty through mapping 1 when writeback looks at it; mmap0 stores to it twice "
     "through mapping 0 while writeback runs two passes",
     "pages 2\n"
     "mappings 2\n"
     "setup: store 0 0; writeback; store 0 1\n"
     "mmap0: store 0 0; store 0 0\n"
     "writeback: pass; pass\n"},
    {"seed_fault",
     "the seed's __do_fault window: page 0 written back and evicted (no pte); mmap0 stores "
     "to it twice (a write fault on a not-present pte) while writeback runs two passes",
     "pages 2\n"
     "mappings 2\n"
     "setup: store 0 0; writeback; reclaim 0\n"
     "mmap0: write 0 0; store 0 0\n"
     "writeback: pass; pass\n"},
    {"fsync",
     "fsync(2) against new dirtiers (05fe478dd04e's window): page 2 is dirty and the only "
     "page cached when the fsync thread syncs the file, while mmap0 faults in and dirties "
     "pages 0 and 1",
     "pages 3\n"
     "mappings 1\n"
     "setup: store 2 0\n"
     "mmap0: store 0 0; store 1 0\n"
     "fsync: sync\n"},
    {"truncate",
     "truncation racing the fault's relock (I5): page 1 not cached; mmap0 stores to it twice, "
     "the first a write fault on a not-present pte, while the truncate thread cuts the file "
     "to one page and grows it back; a ->page_mkwrite returning unlocked (nfs:unlocked) "
     "makes the VM relock and re-check page->mapping (mutant:no_mapping_recheck)",
     "pages 2\n"
     "mappings 2\n"
     "workload truncate\n"
     "mmap0: write 1 0; store 1 0\n"
     "truncate: truncate 1; truncate 2\n"},
    {"refault",
     "a page freed and its frame reused under a write fault (c3704ceb4ad0's window): page 0 "
     "is clean and read-only in mapping 0; mmap0 stores to it (->page_mkwrite) while the "
     "truncate thread cuts the file to nothing and grows it back, and mmap1 reads page 0 "
     "again through mapping 0, which maps a new page in the old one's place",
     "pages 1\n"
     "mappings 2\n"
     "workload truncate\n"
     "setup: store 0 0; writeback\n"
     "mmap0: store 0 0\n"
     "mmap1: load 0 0\n"
     "truncate: truncate 0; truncate 1\n"},
    {"isize",
     "EOF inside the last page, on a full disk: i_size ends 1 KiB into page 1, which is "
     "clean and read-only in mapping 0; mmap0 stores to its first KiB, then at 3 KiB, while "
     "the truncate thread grows the file to 2 pages; a pte made writable at the old size "
     "lets the second store land where no block (buffer) or request (nfs) covers it "
     "(v2.6.29/30 growth does not lock or write-protect the EOF page; v5.15's does)",
     "pages 2\n"
     "mappings 2\n"
     "workload isize\n"
     "setup: truncate 1 1024; store 1 0; writeback\n"
     "mmap0: store 1 0; store 1 0 @3072\n"
     "truncate: truncate 2\n"},
    {"grow",
     "shrink, store, grow (c364b22c9580's commit message, blocksize < page size): i_size "
     "ends 1 KiB into page 0; mmap0 stores to its first KiB (->page_mkwrite maps that block "
     "only) while the truncate thread grows the file to a page; the final writeback then "
     "meets the page's other buffers dirty (set_page_dirty dirties all), inside i_size and "
     "without blocks",
     "pages 1\n"
     "mappings 1\n"
     "workload isize\n"
     "setup: truncate 0 1024\n"
     "mmap0: store 0 0\n"
     "truncate: truncate 1\n"},
    {"tail",
     "a store into the EOF page's tail while writeback writes it (a056bdaae7a1's window; run "
     "with --fs=buffer:4k, a block a page): i_size ends 1 KiB into page 0, which is dirty and "
     "writable in mapping 0 (its block allocated); writeback locks it while the truncate thread "
     "grows the file to a page and mmap0 stores at 3 KiB through the writable pte",
     "pages 1\n"
     "mappings 1\n"
     "setup: truncate 0 1024; store 0 0\n"
     "mmap0: store 0 0 @3072\n"
     "truncate: truncate 1\n"
     "writeback: pass\n"},
    {"enospc",
     "a failing ->page_mkwrite (I6): page 0 clean and read-only in mapping 0, every "
     "->page_mkwrite fails (enospc 1: nfs, ceph); mmap0 and mmap1 store to it through "
     "mapping 0: each store must be refused and none may land "
     "(mutant:pte_write_before_mkwrite)",
     "pages 2\n"
     "mappings 2\n"
     "workload enospc\n"
     "setup: load 0 0; enospc 1\n"
     "mmap0: store 0 0\n"
     "mmap1: store 0 0\n"},
    {"reuse",
     "do_wp_page's reuse path without ->page_mkwrite (I1; run with --fs=none): page 0 "
     "read-only and never dirtied in mapping 0; mmap0 stores to it while writeback runs a "
     "pass: the pte becomes writable and the page must be dirty "
     "(mutant:skip_set_page_dirty)",
     "pages 2\n"
     "mappings 2\n"
     "setup: load 0 0\n"
     "mmap0: store 0 0\n"
     "writeback: pass\n"},
    {"snapshot",
     "a snapshot between two writes of a page (ceph's flush-first rule, the `fs` invariant): "
     "page 0 dirty in the current snap context; the snapshot thread starts a new context "
     "while pwrite0 writes page 0: its data of the older context must be written out first "
     "(ceph:no_snap_flush)",
     "pages 2\n"
     "mappings 2\n"
     "setup: store 0 0\n"
     "snapshot: snapshot\n"
     "pwrite0: pwrite 0\n"},
    {"delalloc",
     "a page written twice while it holds delalloc (btrfs: the second reservation goes "
     "back, I4): page 1 read-only and never written; mmap0 stores to it (->page_mkwrite "
     "reserves) while pwrite0 writes it (write_begin reserves) (btrfs:leak_reservation)",
     "pages 2\n"
     "mappings 2\n"
     "setup: load 1 0\n"
     "mmap0: store 1 0\n"
     "pwrite0: pwrite 1\n"},
    {"buffers",
     "an unlocked set_page_dirty pair against a write(2) that creates the page's buffers "
     "(a8e7d49aa7be's window; run with --fs=buffer:ext2, no ->page_mkwrite): page 0 read in "
     "without buffers (mpage_readpage), clean and read-only in mapping 0; mmap0 stores into "
     "its third KiB while mmap1, another thread of the same process, zaps the page "
     "(MADV_DONTNEED, mmap_sem read) and pwrite0 writes its first bytes",
     "pages 1\n"
     "mappings 1\n"
     "setup: load 0 0\n"
     "mmap0: store 0 0 @2048\n"
     "mmap1: zap 0 0\n"
     "pwrite0: pwrite 0\n"},
    {"strip",
     "a zap's set_page_dirty against reclaim stripping a page's buffers (87df7241bd54's "
     "window; run with --fs=buffer:ext3): page 0 written by pwrite0 and stored to through "
     "mapping 0, then the journal commit wrote its buffer by hand (PG_dirty and the writable "
     "pte left); mmap0 stores again (no fault) and zaps the page while reclaim strips it "
     "(try_to_free_buffers: drop the clean buffers, cancel PG_dirty)",
     "pages 1\n"
     "mappings 1\n"
     "setup: load 0 0; pwrite 0; store 0 0; commit 0\n"
     "mmap0: store 0 0; zap 0 0\n"
     "reclaim: strip 0\n"},
    {"dio",
     "the get_user_pages race (Jan Kara, linux-mm, 2018; docs/gup.md): gup0 pins page 0 for a "
     "direct read (its ->page_mkwrite attaches the fs metadata), writeback cleans the page "
     "and reclaim may release its buffers while the device writes into it, then "
     "set_page_dirty_lock dirties it again with no ->page_mkwrite: buffer (5.15 ext4) and "
     "nfs lose the device's data, 5.15 ceph BUGs (pin-aware writeback closes it)",
     "pages 2\n"
     "mappings 1\n"
     "workload dio\n"
     "gup0: dio 0 0\n"
     "writeback: pass\n"
     "reclaim: reclaim 0\n"},
    {"zap_flush",
     "a stale TLB entry after a zap (1cf35d47712d's window): page 0 dirty and writable in "
     "mapping 0, read-only in mapping 1 (so it stays mapped); mmap0 zaps it from mapping 0 "
     "(madvise(MADV_DONTNEED)) while writeback runs a pass and mmap1 stores through "
     "mapping 0, where a CPU may still hold the old writable entry until the TLB flush",
     "pages 1\n"
     "mappings 2\n"
     "setup: load 0 1; store 0 0\n"
     "mmap0: zap 0 0\n"
     "mmap1: store 0 0\n"
     "writeback: pass\n"},
    {"mremap",
     "a stale TLB entry after mremap's move_ptes (5d1904204c99's window): page 0 dirty and "
     "writable in mapping 0; mmap0 moves it to mapping 1 (mremap, the mmap_sem held for "
     "writing) while writeback runs a pass and mmap1 stores through mapping 0, where a CPU "
     "may still hold the old writable entry until the TLB flush",
     "pages 1\n"
     "mappings 2\n"
     "setup: store 0 0\n"
     "mmap0: mremap 0 0 1\n"
     "mmap1: store 0 0\n"
     "writeback: pass\n"},
    {"zap",
     "zap_flush with the page mapped only where it is zapped: page_remove_rmap before the "
     "TLB flush lets page_mkclean skip the page as unmapped (5df397dec7c4's window, open "
     "in every modeled era: 5.15 flushes under the ptl but removes the rmap first)",
     "pages 1\n"
     "mappings 1\n"
     "setup: store 0 0\n"
     "mmap0: zap 0 0\n"
     "mmap1: store 0 0\n"
     "writeback: pass\n"},
    {"drop",
     "invalidate_mapping_pages against a page get_user_pages holds (016eb4a0ed06's check): "
     "gup0 pins page 0 for a direct read while writeback cleans it and reclaim unmaps it and "
     "then drops it (fadvise(POSIX_FADV_DONTNEED)); a page that leaves the cache under the "
     "pin takes the device's data with it. Run it on `none`, where the get_user_pages race "
     "itself loses nothing",
     "pages 1\n"
     "mappings 1\n"
     "workload dio\n"
     "gup0: dio 0 0\n"
     "writeback: pass\n"
     "reclaim: reclaim 0; drop 0\n"},
    {"migrate",
     "page migration (compaction) of a dirty, mapped page: page 0 dirty through a pwrite and "
     "mapped read-only in mapping 1; reclaim migrates it while mmap0 stores to it through "
     "mapping 0 and writeback runs a pass; reclaim then shrinks the page (a clean page whose "
     "bytes the store lacks is I0)",
     "pages 1\n"
     "mappings 2\n"
     "setup: pwrite 0; load 0 1\n"
     "mmap0: store 0 0\n"
     "reclaim: migrate 0; reclaim 0\n"
     "writeback: pass\n"},
    {"launder",
     "invalidate_inode_pages2 on a dirty, mapped page (NFS's revalidation): page 0 dirty and "
     "writable; reclaim invalidates it (unmap with the dirty transfer, ->launder_page, "
     "invalidate_complete_page2) while mmap0 stores to it again",
     "pages 1\n"
     "mappings 1\n"
     "setup: store 0 0\n"
     "mmap0: store 0 0\n"
     "reclaim: invalidate 0\n"},
    {"release",
     "->releasepage on a clean NFS page whose request waits for its COMMIT (e3db7691e9f3's "
     "window): page 0 dirty in mapping 0; writeback writes it (the WRITE completes, its "
     "COMMIT still to come) while reclaim invalidates it (invalidate_inode_pages2: "
     "->launder_page for a dirty page, then invalidate_complete_page2's ->releasepage); "
     "before the fix, nfs_release_page set PG_dirty by hand and wrote the page itself",
     "pages 1\n"
     "mappings 1\n"
     "setup: store 0 0\n"
     "writeback: pass\n"
     "reclaim: invalidate 0\n"},
    {"punch",
     "a hole punch against a fault (ea3d7209ca01's window; run with --fs=buffer under "
     "--scheme=modern): page 0 written back, clean and read-only in mapping 0; the truncate "
     "thread punches it while mmap0 stores to it; a fault between truncate_pagecache_range "
     "and the freeing of the blocks brings the page back on blocks about to go, and the "
     "final sync writes the store to a freed block",
     "pages 1\n"
     "mappings 1\n"
     "workload punch\n"
     "setup: store 0 0; writeback\n"
     "mmap0: store 0 0\n"
     "truncate: punch 0\n"},
};

}  // namespace

int Scenario::mmap_threads() const {
  int n = 0;
  for (const ScenarioThread& t : threads) {
    if (t.role.kind == RoleKind::kMmap) n = std::max(n, t.role.index + 1);
  }
  return n;
}

int Scenario::gup_threads() const {
  int n = 0;
  for (const ScenarioThread& t : threads) {
    if (t.role.kind == RoleKind::kGup) n = std::max(n, t.role.index + 1);
  }
  return n;
}

int Scenario::pwrite_threads() const {
  int n = 0;
  for (const ScenarioThread& t : threads) {
    if (t.role.kind == RoleKind::kPwrite) n = std::max(n, t.role.index + 1);
  }
  return n;
}

absl::StatusOr<Scenario> ParseScenario(absl::string_view text, absl::string_view name) {
  Scenario sc;
  sc.name = std::string(name);
  sc.text = std::string(text);
  bool have_io = false;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = line.substr(0, line.find('#'));
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) {
      std::vector<absl::string_view> kv = absl::StrSplit(line, ' ', absl::SkipWhitespace());
      uint64_t v = 0;
      if (kv.size() != 2) return LineError(line_no, absl::StrCat("want 'KEY VALUE' or 'THREAD: OPS', got '", line, "'"));
      if (kv[0] == "workload") {
        sc.workload = std::string(kv[1]);
      } else if (kv[0] == "pages" && ParseNumber(kv[1], &v) && v >= 1 && v <= kMaxPages) {
        sc.pages = v;
      } else if (kv[0] == "mappings" && ParseNumber(kv[1], &v) && v >= 1 && v <= kMaxMappings) {
        sc.mappings = static_cast<int>(v);
      } else {
        return LineError(line_no, absl::StrCat("bad setting '", line, "' (pages 1..", kMaxPages,
                                               ", mappings 1..", kMaxMappings, ", workload NAME)"));
      }
      continue;
    }
    const absl::string_view who = absl::StripAsciiWhitespace(line.substr(0, colon));
    const bool setup = who == "setup";
    RoleId role{RoleKind::kMain, 0};
    if (!setup) {
      auto r = ParseRole(who);
      if (!r.ok()) return LineError(line_no, r.status().message());
      role = *r;
      if (role.kind == RoleKind::kMain || role.kind == RoleKind::kTest ||
          role.kind == RoleKind::kBench) {
        return LineError(line_no, absl::StrCat("no scenario thread of role ", who));
      }
      for (const ScenarioThread& t : sc.threads) {
        if (t.role == role) return LineError(line_no, absl::StrCat(who, " named twice"));
      }
    }
    std::vector<ScenarioOp> ops;
    for (absl::string_view item : absl::StrSplit(line.substr(colon + 1), ';', absl::SkipWhitespace())) {
      item = absl::StripAsciiWhitespace(item);
      if (item.empty()) continue;
      if (role.kind == RoleKind::kIo && !setup) {
        return LineError(line_no, "the io thread takes no ops (it completes queued I/O)");
      }
      auto op = ParseOp(item, setup ? RoleKind::kMain : role.kind, setup, line_no);
      if (!op.ok()) return op.status();
      ops.push_back(*op);
    }
    if (ops.size() > kMaxOps) return LineError(line_no, "too many ops");
    if (setup) {
      sc.setup.insert(sc.setup.end(), ops.begin(), ops.end());
      continue;
    }
    if (role.kind == RoleKind::kIo) have_io = true;
    sc.threads.push_back({role, std::move(ops)});
  }
  if (!have_io) sc.threads.push_back({RoleId{RoleKind::kIo, 0}, {}});
  if (sc.threads.size() < 2) return absl::InvalidArgumentError("scenario: no threads");
  if (sc.threads.size() > 8) return absl::InvalidArgumentError("scenario: more than 8 threads");
  // Every page and mapping an op names must exist.
  auto check = [&](const ScenarioOp& op) -> absl::Status {
    const bool paged = op.kind == ScenarioOp::kStore || op.kind == ScenarioOp::kWrite || op.kind == ScenarioOp::kLoad ||
                       op.kind == ScenarioOp::kPwrite || op.kind == ScenarioOp::kReclaim ||
                       op.kind == ScenarioOp::kDio || op.kind == ScenarioOp::kZap ||
                       op.kind == ScenarioOp::kStrip || op.kind == ScenarioOp::kCommit ||
                       op.kind == ScenarioOp::kDrop || op.kind == ScenarioOp::kInvalidate ||
                       op.kind == ScenarioOp::kMigrate || op.kind == ScenarioOp::kMremap ||
                       op.kind == ScenarioOp::kPunch;
    if (paged && op.page >= sc.pages) {
      return absl::InvalidArgumentError(
          absl::StrCat("scenario: page ", op.page, " past the file (pages ", sc.pages, ")"));
    }
    if (op.kind == ScenarioOp::kPunch && op.page + op.npages > sc.pages) {
      return absl::InvalidArgumentError(absl::StrCat("scenario: punch ", op.page, " ", op.npages,
                                                     " past the file (pages ", sc.pages, ")"));
    }
    if (op.kind == ScenarioOp::kTruncate &&
        (op.page > sc.pages || (op.page == sc.pages && op.offset > 0))) {
      return absl::InvalidArgumentError(absl::StrCat("scenario: truncate ", op.page, " ", op.offset,
                                                     " past the file's pages (", sc.pages, ")"));
    }
    if (op.vma >= sc.mappings || op.to_vma >= sc.mappings) {
      return absl::InvalidArgumentError(
          absl::StrCat("scenario: mapping ", std::max(op.vma, op.to_vma),
                       " does not exist (mappings ", sc.mappings, ")"));
    }
    return absl::OkStatus();
  };
  for (const ScenarioOp& op : sc.setup) {
    if (absl::Status s = check(op); !s.ok()) return s;
  }
  // The model has no inode_lock (i_rwsem): nothing would keep a pwrite
  // thread's write(2) out of a punch, as every kernel does.
  bool punches = false;
  for (const ScenarioThread& t : sc.threads) {
    for (const ScenarioOp& op : t.ops) punches |= op.kind == ScenarioOp::kPunch;
  }
  if (punches && sc.pwrite_threads() > 0) {
    return absl::InvalidArgumentError(
        "scenario: a punch beside a pwrite thread: the model has no inode_lock, which keeps "
        "write(2) out of a hole punch in every kernel");
  }
  for (const ScenarioThread& t : sc.threads) {
    for (const ScenarioOp& op : t.ops) {
      if (absl::Status s = check(op); !s.ok()) return s;
    }
  }
  return sc;
}

absl::StatusOr<Scenario> LoadScenario(const std::string& spec) {
  if (absl::StartsWith(spec, "text:")) {
    return ParseScenario(absl::StrReplaceAll(spec.substr(5), {{"|", "\n"}}), "text");
  }
  if (!spec.empty() && spec[0] == '@') {
    std::ifstream in(spec.substr(1));
    if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read scenario file ", spec.substr(1)));
    std::stringstream ss;
    ss << in.rdbuf();
    return ParseScenario(ss.str(), spec.substr(1));
  }
  for (const BuiltinScenario& b : BuiltinScenarios()) {
    if (spec == b.name) return ParseScenario(b.text, b.name);
  }
  std::string names;
  for (const BuiltinScenario& b : BuiltinScenarios()) absl::StrAppend(&names, names.empty() ? "" : " | ", b.name);
  return absl::InvalidArgumentError(
      absl::StrCat("unknown scenario '", spec, "' (built in: ", names, "; or @FILE)"));
}

const std::vector<BuiltinScenario>& BuiltinScenarios() { return kBuiltins; }

std::string FormatScenarioOp(const ScenarioOp& op) {
  const std::string at = op.offset ? absl::StrCat(" @", op.offset) : "";
  switch (op.kind) {
    case ScenarioOp::kStore:
      return absl::StrCat("store ", op.page, " ", op.vma, at);
    case ScenarioOp::kWrite:
      return absl::StrCat("write ", op.page, " ", op.vma, at);
    case ScenarioOp::kLoad:
      return absl::StrCat("load ", op.page, " ", op.vma, at);
    case ScenarioOp::kPwrite:
      return absl::StrCat("pwrite ", op.page);
    case ScenarioOp::kPass:
      return "pass";
    case ScenarioOp::kSync:
      return "sync";
    case ScenarioOp::kReclaim:
      return absl::StrCat("reclaim ", op.page);
    case ScenarioOp::kSnapshot:
      return "snapshot";
    case ScenarioOp::kWriteback:
      return "writeback";
    case ScenarioOp::kTruncate:
      return op.offset ? absl::StrCat("truncate ", op.page, " ", op.offset)
                       : absl::StrCat("truncate ", op.page);
    case ScenarioOp::kEnospc:
      return absl::StrCat("enospc ", op.one_in);
    case ScenarioOp::kDio:
      return absl::StrCat("dio ", op.page, " ", op.vma);
    case ScenarioOp::kZap:
      return absl::StrCat("zap ", op.page, " ", op.vma);
    case ScenarioOp::kStrip:
      return absl::StrCat("strip ", op.page);
    case ScenarioOp::kCommit:
      return absl::StrCat("commit ", op.page);
    case ScenarioOp::kDrop:
      return absl::StrCat("drop ", op.page);
    case ScenarioOp::kInvalidate:
      return absl::StrCat("invalidate ", op.page);
    case ScenarioOp::kMigrate:
      return absl::StrCat("migrate ", op.page);
    case ScenarioOp::kMremap:
      return absl::StrCat("mremap ", op.page, " ", op.vma, " ", op.to_vma);
    case ScenarioOp::kPunch:
      return op.npages == 1 ? absl::StrCat("punch ", op.page)
                            : absl::StrCat("punch ", op.page, " ", op.npages);
  }
  return "?";
}

std::string FormatScenario(const Scenario& sc) {
  auto ops = [](const std::vector<ScenarioOp>& list) {
    std::string out;
    for (const ScenarioOp& op : list) absl::StrAppend(&out, out.empty() ? " " : "; ", FormatScenarioOp(op));
    return out;
  };
  std::string out = absl::StrCat("pages ", sc.pages, "\nmappings ", sc.mappings, "\n");
  if (sc.workload != "mixed") absl::StrAppend(&out, "workload ", sc.workload, "\n");
  if (!sc.setup.empty()) absl::StrAppend(&out, "setup:", ops(sc.setup), "\n");
  for (const ScenarioThread& t : sc.threads) {
    absl::StrAppend(&out, RoleName(t.role), ":", ops(t.ops), "\n");
  }
  return out;
}

}  // namespace pagerace
