#include "fs_adapters/buffer.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "fs_adapters/adapters.h"
#include "harness/mm/mm_context.h"
#include "harness/mm/truncate.h"

namespace pagerace {

void BufferAdapter::Attach(MmContext* mm) {
  StoreBackedOps::Attach(mm);
  nbuf_ = static_cast<uint32_t>(page_size_ / blocksize_);
  FutexLock l(&i_lock_);
  bufs_.reset(new PageBuffers[mm->pages()]);
  free_blocks_ = static_cast<int64_t>(mm->pages() * nbuf_);
}

bool BufferAdapter::InjectMkwriteFailures(uint32_t one_in) {
  // Fewer blocks than the file needs: allocation eventually fails.
  FutexLock l(&i_lock_);
  const int64_t total = static_cast<int64_t>(mm_->pages() * nbuf_);
  free_blocks_ = total - std::max<int64_t>(1, total / std::max<uint32_t>(one_in, 2));
  return true;
}

int64_t BufferAdapter::free_blocks() const {
  FutexLock l(&i_lock_);
  return free_blocks_;
}

uint32_t BufferAdapter::buffers_in_isize(uint64_t index) const {
  return buffers_in(index, mm_->mapping().i_size());
}

uint32_t BufferAdapter::buffers_in(uint64_t index, int64_t isize) const {
  const int64_t start = static_cast<int64_t>(index * page_size_);
  if (isize <= start) return 0;
  const int64_t bytes = std::min<int64_t>(static_cast<int64_t>(page_size_), isize - start);
  const uint32_t n = static_cast<uint32_t>((bytes + blocksize_ - 1) / blocksize_);
  return n >= 32 ? ~0u : (1u << n) - 1;
}

bool BufferAdapter::get_blocks(PageBuffers& pb, uint32_t want) {
  const uint32_t need = want & ~pb.mapped;
  const int n = std::popcount(need);
  if (n > free_blocks_) return false;
  free_blocks_ -= n;
  pb.mapped |= need;
  return true;
}

// Models fs/buffer.c:block_page_mkwrite() as of v2.6.30 (which maps every
// buffer inside i_size, as here) called from an ->page_mkwrite that starts a
// journal handle first.  That caller is a composite: starting the journal and
// then calling block_page_mkwrite is 5.15's ext4_page_mkwrite; v2.6.30's
// ext4_page_mkwrite instead went through ->write_begin/->write_end and
// returned unlocked (fs_adapters/FIDELITY.md).  Differences: blocks are
// "allocated" by counting (no block numbers: a buffer's data goes to its own
// offset in the store); at page_offset == i_size v2.6.30 returns
// VM_FAULT_LOCKED with nothing mapped where the model returns NOPAGE.
vm_fault_t BufferAdapter::page_mkwrite(VmFault& vmf) {
  Page* page = vmf.page;
  journal_.Lock();  // ext4_journal_start: outside the page lock (lock_order.h)
  mkwrite_lock_page(vmf);
  vm_fault_t ret = 0;
  const uint32_t want = buffers_in_isize(page->index);
  if (!mkwrite_page_ok(page) || want == 0) {
    ret = kVmFaultNoPage;  // truncated, or wholly past EOF
  } else {
    FutexLock l(&i_lock_);
    PageBuffers& pb = bufs_[page->index];
    if (!get_blocks(pb, want)) {
      ret = kVmFaultSigbus;  // ENOSPC
    } else {
      if (!pb.attached) {
        pb.attached = true;
        SetPageFlag(page, PG_private);
        mm_->trace(page->index, Event::kMetadataAttach);
      }
      pb.dirty |= want;  // block_commit_write
      pb.data |= want;
    }
  }
  journal_.Unlock();
  if (ret != 0) {
    mkwrite_unlock_page(vmf);
    return ret;
  }
  mm_->set_page_dirty(page);
  return mkwrite_done(vmf, mkwrite_returns_locked_);
}

// Models fs/buffer.c:__set_page_dirty_buffers() as of v2.6.30: every buffer
// of the page dirty, then the page.
int BufferAdapter::set_page_dirty(Page* page) {
  {
    FutexLock l(&i_lock_);
    PageBuffers& pb = bufs_[page->index];
    if (pb.attached) {
      pb.dirty |= all_buffers();
      pb.data |= buffers_in_isize(page->index);
    }
  }
  return __set_page_dirty_nobuffers(page);
}

// Models fs/buffer.c:block_write_begin() (get_block with create) as of
// v2.6.30, for the pwrite path; differences: every buffer of the page inside
// i_size gets a block, as in mkwrite, because the VM dirties the whole page
// after write_end.  ENOSPC fails the write before anything is copied.
int BufferAdapter::write_begin(Page* page, uint32_t offset, uint32_t len) {
  FutexLock l(&i_lock_);
  return get_blocks(bufs_[page->index], buffers_in_isize(page->index)) ? 0 : -28;  // -ENOSPC
}

int BufferAdapter::write_end(Page* page, uint32_t offset, uint32_t len) {
  // block_write_end: the written buffers go dirty.
  FutexLock l(&i_lock_);
  PageBuffers& pb = bufs_[page->index];
  const uint32_t first = offset / blocksize_, last = (offset + len - 1) / blocksize_;
  uint32_t mask = 0;
  for (uint32_t b = first; b <= last; ++b) mask |= 1u << b;
  if (!pb.attached) {
    pb.attached = true;
    SetPageFlag(page, PG_private);
    mm_->trace(page->index, Event::kMetadataAttach);
  }
  pb.dirty |= mask;
  pb.data |= mask & buffers_in_isize(page->index);
  return 0;
}

// Models fs/buffer.c:__block_write_full_page() as of v2.6.30; differences:
// asynchronous completion through the I/O queue for the whole page.
int BufferAdapter::writepage(Page* page, WritebackControl& wbc) {
  const uint64_t index = page->index;
  uint32_t send = 0;
  {
    FutexLock l(&i_lock_);
    PageBuffers& pb = bufs_[index];
    const uint32_t in = buffers_in_isize(index);
    if (!pb.attached) {
      // create_empty_buffers: every buffer dirty, block map from disk.
      pb.attached = true;
      pb.dirty = all_buffers();
      pb.data = in;
      SetPageFlag(page, PG_private);
    }
    // Buffers past EOF are cleaned, not written; the page's bytes past EOF
    // are zeroed, as a page straddling i_size must be on every writepage
    // because it may be mmapped.
    const uint32_t dirty = pb.dirty & in;
    const uint32_t data = pb.data & in;
    pb.dirty = 0;
    pb.data = 0;
    if (const uint32_t keep = bytes_in_isize(index); keep > 0 && keep < page_size_) {
      memset(mm_->mmu().kmap(index) + keep, 0, page_size_ - keep);
    }
    // get_block(create=1) for dirty buffers without a block: on ENOSPC the
    // data is dropped, with only a mapping error to show for it.
    for (uint32_t b = 0; b < nbuf_; ++b) {
      if (!(dirty & (1u << b))) continue;
      if (!(pb.mapped & (1u << b)) && !get_blocks(pb, 1u << b)) {
        if (data & (1u << b)) dropped_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      send |= 1u << b;
    }
    if (send) {
      pb.in_flight = send;
      test_set_page_writeback(page);
      for (uint32_t b = 0; b < nbuf_; ++b) {
        if (send & (1u << b)) {
          memcpy(snapshot(index) + b * blocksize_, mm_->mmu().kmap(index) + b * blocksize_,
                 blocksize_);
        }
      }
    }
  }
  if (!send) {
    mm_->trace(index, Event::kWritepageNoMetadata);
    unlock_page(page);
    return 0;
  }
  mm_->trace(index, Event::kSetPageWriteback);
  unlock_page(page);
  mm_->io().Submit(page);
  return 0;
}

void BufferAdapter::end_io(Page* page) {
  const uint64_t index = page->index;
  FutexLock l(&i_lock_);
  PageBuffers& pb = bufs_[index];
  for (uint32_t b = 0; b < nbuf_; ++b) {
    if (pb.in_flight & (1u << b)) {
      store().Write(index, b * blocksize_, blocksize_, snapshot(index) + b * blocksize_);
    }
  }
  pb.in_flight = 0;
}

// try_to_free_buffers: clean buffer heads can go (the block map stays).
bool BufferAdapter::releasepage(Page* page) {
  FutexLock l(&i_lock_);
  PageBuffers& pb = bufs_[page->index];
  if (pb.dirty || pb.in_flight) return false;
  if (pb.attached) {
    pb.attached = false;
    ClearPageFlag(page, PG_private);
  }
  return true;
}

void BufferAdapter::invalidatepage(Page* page) {
  FutexLock l(&i_lock_);
  PageBuffers& pb = bufs_[page->index];
  pb.attached = false;
  pb.dirty = 0;
  pb.data = 0;
  ClearPageFlag(page, PG_private);
  mm_->trace(page->index, Event::kInvalidatepage);
}

// Models fs/buffer.c:block_invalidatepage() with an offset as of v2.6.30:
// buffers wholly past the new EOF are discarded (no longer dirty).
void BufferAdapter::invalidate_partial(Page* page, uint32_t offset) {
  FutexLock l(&i_lock_);
  PageBuffers& pb = bufs_[page->index];
  const uint32_t keep = buffers_in(0, offset);
  pb.dirty &= keep;
  pb.data &= keep;
}

// The ->setattr of a buffer.c filesystem on growth: from v3.18,
// truncate_setsize (ext4_setattr inline) calls pagecache_isize_extended.
// Before v3.18 there is nothing to call: under v2.6.29/30 schemes the VM
// passes no page and `buffer` behaves as `buffer:no_isize_extended`.
void BufferAdapter::setattr_extend(Page* eof_page, int64_t old_size, int64_t new_size) {
  if (isize_extended_ && HasPagecacheIsizeExtended(mm_->scheme().era())) {
    pagecache_isize_extended(*mm_, eof_page, old_size, new_size, blocksize_);
  }
}

bool BufferAdapter::FillDisk() {
  FutexLock l(&i_lock_);
  for (uint64_t i = 0; i < mm_->pages(); ++i) {
    bufs_[i].mapped |= buffers_in_isize(i);
  }
  free_blocks_ = 0;
  disk_full_ = true;
  return true;
}

uint32_t BufferAdapter::mapped_mask(uint64_t index) const {
  FutexLock l(&i_lock_);
  return bufs_[index].mapped;
}

// ->truncate: blocks wholly past the new end — in the page it falls inside
// too — go back to the allocator (or, on a full disk, to other files).
void BufferAdapter::truncate_store(int64_t size) {
  {
    FutexLock l(&i_lock_);
    const uint64_t first = static_cast<uint64_t>(size) / page_size_;
    for (uint64_t i = first; i < mm_->pages(); ++i) {
      const uint32_t freed = bufs_[i].mapped & ~buffers_in(i, size);
      if (!disk_full_) free_blocks_ += std::popcount(freed);
      bufs_[i].mapped &= ~freed;
    }
  }
  StoreBackedOps::truncate_store(size);
}

MetadataState BufferAdapter::metadata_state(const Page* page, bool writable) const {
  FutexLock l(&i_lock_);
  const PageBuffers& pb = bufs_[page->index];
  if (!pb.attached) return MetadataState::kAbsent;
  // Whatever may carry the user's data must have a block: the buffers
  // dirtied inside i_size, and, while a pte is writable, every buffer inside
  // i_size (a store can land in any of them).
  const uint32_t want = buffers_in_isize(page->index);
  const uint32_t need = writable ? want : (pb.data & want);
  return (pb.mapped & need) == need ? MetadataState::kDirtyCapable
                                    : MetadataState::kNotDirtyCapable;
}

std::unique_ptr<StoreBackedOps> MakeBufferAdapter(bool mkwrite_returns_locked,
                                                  bool isize_extended) {
  return std::make_unique<BufferAdapter>(mkwrite_returns_locked, 1024, isize_extended);
}

}  // namespace pagerace
