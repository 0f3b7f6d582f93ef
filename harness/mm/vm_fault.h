// Fault descriptors and results, mirroring include/linux/mm.h (vm_fault_t,
// struct vm_fault, FAULT_FLAG_*).
#ifndef PAGERACE_HARNESS_MM_VM_FAULT_H_
#define PAGERACE_HARNESS_MM_VM_FAULT_H_

#include <cstdint>

namespace pagerace {

struct Page;
struct Pte;

using vm_fault_t = uint32_t;
inline constexpr vm_fault_t kVmFaultOom = 0x0001;
inline constexpr vm_fault_t kVmFaultSigbus = 0x0002;
inline constexpr vm_fault_t kVmFaultMajor = 0x0004;
inline constexpr vm_fault_t kVmFaultWrite = 0x0008;
inline constexpr vm_fault_t kVmFaultNoPage = 0x0100;  // ->fault installed nothing; retry
inline constexpr vm_fault_t kVmFaultLocked = 0x0200;  // returned with the page locked
inline constexpr vm_fault_t kVmFaultError = kVmFaultOom | kVmFaultSigbus;

inline constexpr uint32_t kFaultFlagWrite = 0x01;
inline constexpr uint32_t kFaultFlagMkwrite = 0x02;
// ->page_mkwrite is called with the page already locked and must return with
// it still locked (the `naive` convention): it must not lock or unlock it.
inline constexpr uint32_t kFaultFlagPageLocked = 0x04;

// struct vm_fault: one fault in flight.
struct VmFault {
  int vma = 0;             // user mapping id
  uint64_t pgoff = 0;      // page index in the file
  uint32_t flags = 0;      // kFaultFlag*
  uint64_t orig_pte = 0;   // pte value seen at fault entry (pte_same; shadow_mmu.h pte_t)
  Page* page = nullptr;    // the page, with a reference, once found
  // The faulting pte (vmf->pte; its ptl is vmf->ptl in the kernel).  Set by
  // handle_mm_fault; lock annotations name the ptl as vmf.pte->ptl.
  Pte* pte = nullptr;
  // The window (root_cause.h FaultPath, FaultWindow; 0: none) the VM opens
  // if ->page_mkwrite returns the page unlocked.  The filesystem opens it
  // itself just before its unlock_page (MmContext::mkwrite_unlocking), so
  // that no intruder runs between that unlock and the VM's look at the
  // return unaccounted; `window_opened` says it did.
  uint8_t unlocked_path = 0;
  uint8_t unlocked_window = 0;
  bool window_opened = false;
};

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_VM_FAULT_H_
