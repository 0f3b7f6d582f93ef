// The kernel release a lock scheme models (schemes.h), shared with the
// filesystem interface so an adapter can say what its filesystem did in
// that release (AddressSpaceOps::setattr_calls_pagecache_isize_extended).
#ifndef PAGERACE_HARNESS_MM_KERNEL_ERA_H_
#define PAGERACE_HARNESS_MM_KERNEL_ERA_H_

namespace pagerace {

// The kernel release whose mm a scheme models, in release order.  Named once
// per scheme; what changed between releases outside the scheme's own fault
// path is derived from it (the not-present fault's name in schemes.h,
// truncate's growth path in truncate.h).
enum class KernelEra {
  kV2_6_29,  // legacy
  kV2_6_30,  // locked, its mutants, naive (a hypothetical on v2.6.30)
  kV5_15,    // modern, its mutant
};

// Whether mm/truncate.c has pagecache_isize_extended() (Jan Kara's fix for
// blocksize < page size, 90a8020278c1, v3.18).  Whether a filesystem's
// ->setattr calls it is the filesystem's business
// (AddressSpaceOps::setattr_calls_pagecache_isize_extended).
inline bool HasPagecacheIsizeExtended(KernelEra era) { return era >= KernelEra::kV5_15; }

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_KERNEL_ERA_H_
