#include "fs_adapters/block_map.h"

#include <algorithm>
#include <bit>
#include <cstdio>

namespace pagerace {

void SpaceAccount::Check(Oracle& oracle, uint64_t index, int64_t held, const char* held_name) {
  i4_.Check(oracle, index, free_ + reserving_ + held, capacity_, free_,
            [&](char* detail, size_t len) {
              snprintf(detail, len, "free %lld + reserving %lld + %s %lld != %lld",
                       static_cast<long long>(free_), static_cast<long long>(reserving_),
                       held_name, static_cast<long long>(held),
                       static_cast<long long>(capacity_));
            });
}

void BlockMap::Init(uint64_t pages, BlockGeometry geometry) {
  pages_n_ = pages;
  geo_ = geometry;
  disk_full_ = false;
  pages_.reset(new PageBlocks[pages]());
  held_ = 0;
  space_.Reset(static_cast<int64_t>(pages * geo_.per_page()));
}

uint32_t BlockGeometry::in(uint64_t index, int64_t isize) const {
  const int64_t start = static_cast<int64_t>(index * page_size);
  if (isize <= start) return 0;
  const int64_t bytes = std::min<int64_t>(static_cast<int64_t>(page_size), isize - start);
  const uint32_t n = static_cast<uint32_t>((bytes + blocksize - 1) / blocksize);
  return n >= 32 ? ~0u : (1u << n) - 1;
}

uint32_t BlockGeometry::in_range(uint32_t from, uint32_t to) const {
  if (to <= from) return 0;
  uint32_t mask = 0;
  for (uint32_t b = from / blocksize; b <= (to - 1) / blocksize && b < per_page(); ++b) {
    mask |= 1u << b;
  }
  return mask;
}

bool BlockMap::Allocate(uint64_t index, uint32_t want) {
  PageBlocks& p = pages_[index];
  const uint32_t converted = want & p.delay;
  const uint32_t need = want & ~p.mapped & ~p.delay;
  if (!space_.Take(std::popcount(need))) return false;
  held_ += std::popcount(need);
  p.delay &= ~converted;
  p.mapped |= need | converted;
  return true;
}

bool BlockMap::Delay(uint64_t index, uint32_t want) {
  PageBlocks& p = pages_[index];
  const uint32_t need = want & ~p.mapped & ~p.delay;
  if (!space_.Take(std::popcount(need))) return false;
  held_ += std::popcount(need);
  p.delay |= need;
  return true;
}

void BlockMap::Convert(uint64_t index, uint32_t blocks) {
  PageBlocks& p = pages_[index];
  const uint32_t converted = blocks & p.delay;
  p.delay &= ~converted;
  p.mapped |= converted;
}

void BlockMap::Give(int64_t n) {
  if (disk_full_) {
    space_.Leave(n);
  } else {
    space_.Give(n);
  }
}

void BlockMap::Free(uint64_t index, uint32_t blocks) {
  PageBlocks& p = pages_[index];
  const uint32_t freed = blocks & ((p.mapped & ~p.stale) | p.delay);
  held_ -= std::popcount(freed);
  Give(std::popcount(freed));
  p.mapped &= ~blocks;
  p.delay &= ~blocks;
  p.stale &= p.mapped;
}

void BlockMap::Punch(uint64_t index, bool keep_cached) {
  PageBlocks& p = pages_[index];
  if (!keep_cached) {
    Free(index, geo_.all());
    return;
  }
  const uint32_t owned = p.mapped & ~p.stale;
  held_ -= std::popcount(owned) + std::popcount(p.delay);
  Give(std::popcount(owned) + std::popcount(p.delay));
  p.delay = 0;
  p.stale |= owned;
}

void BlockMap::ForgetStale(uint64_t index) {
  PageBlocks& p = pages_[index];
  p.mapped &= ~p.stale;
  p.stale = 0;
}

void BlockMap::Truncate(int64_t size) {
  const uint64_t first = static_cast<uint64_t>(std::max<int64_t>(size, 0)) / geo_.page_size;
  for (uint64_t i = first; i < pages_n_; ++i) Free(i, geo_.all() & ~geo_.in(i, size));
}

void BlockMap::Fill(int64_t isize) {
  for (uint64_t i = 0; i < pages_n_; ++i) {
    PageBlocks& p = pages_[i];
    const uint32_t want = geo_.in(i, isize) & ~p.mapped;
    p.delay &= ~want;
    p.mapped |= want;
  }
  int64_t owned = 0;
  for (uint64_t i = 0; i < pages_n_; ++i) {
    owned += std::popcount(pages_[i].mapped & ~pages_[i].stale) + std::popcount(pages_[i].delay);
  }
  space_.Reset(owned);
  space_.Take(owned);
  held_ = owned;
  disk_full_ = true;
}

void BlockMap::RunShort(uint32_t one_in) {
  const int64_t total = static_cast<int64_t>(pages_n_ * geo_.per_page());
  space_.SetFree(total - std::max<int64_t>(1, total / std::max<uint32_t>(one_in, 2)));
}

void BlockMap::Check(Oracle& oracle, uint64_t index) {
  space_.Check(oracle, index, held_, "the file's blocks");
}

void BlockMap::Audit(Oracle& oracle) {
  int64_t counted = 0;
  for (uint64_t i = 0; i < pages_n_; ++i) {
    counted += std::popcount(pages_[i].mapped & ~pages_[i].stale) + std::popcount(pages_[i].delay);
  }
  held_check_.Check(oracle, 0, held_, counted, held_, [&](char* detail, size_t len) {
    snprintf(detail, len, "blocks held %lld, counted in the pages %lld",
             static_cast<long long>(held_), static_cast<long long>(counted));
  });
  Check(oracle, 0);
}

}  // namespace pagerace
