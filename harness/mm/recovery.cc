#include "harness/mm/recovery.h"

#include <ucontext.h>

#include "harness/mm/shadow_mmu.h"

// The guarded instructions and their fixups, as global labels (the kernel's
// __ex_table pairs).  The functions are noinline so that each label exists
// exactly once.
extern "C" {
extern const char pagerace_guarded_store_insn[];
extern const char pagerace_guarded_store_fixup[];
extern const char pagerace_guarded_load_insn[];
extern const char pagerace_guarded_load_fixup[];
}

namespace pagerace {

__attribute__((noinline)) bool guarded_store(uint64_t* addr, uint64_t value) {
  uint64_t refused = 0;
  asm volatile(
      ".globl pagerace_guarded_store_insn\n"
      "pagerace_guarded_store_insn:\n\t"
      "movq %[v], (%[p])\n"
      ".globl pagerace_guarded_store_fixup\n"
      "pagerace_guarded_store_fixup:\n"
      : "+a"(refused)
      : [p] "r"(addr), [v] "r"(value)
      : "memory");
  // The step in which the store completed (or was refused) read the real
  // protection and wrote the bytes (shared.h).
  ShadowMmu::NoteUserAccess(addr, /*write=*/true);
  return refused == 0;
}

__attribute__((noinline)) bool guarded_load(const uint64_t* addr, uint64_t* value) {
  uint64_t refused = 0;
  uint64_t v = 0;
  asm volatile(
      ".globl pagerace_guarded_load_insn\n"
      "pagerace_guarded_load_insn:\n\t"
      "movq (%[p]), %[v]\n"
      ".globl pagerace_guarded_load_fixup\n"
      "pagerace_guarded_load_fixup:\n"
      : "+a"(refused), [v] "+r"(v)
      : [p] "r"(addr)
      : "memory");
  *value = v;
  ShadowMmu::NoteUserAccess(addr, /*write=*/false);
  return refused == 0;
}

bool fixup_failed_access(void* ucontext) {
  auto* uc = static_cast<ucontext_t*>(ucontext);
  greg_t& rip = uc->uc_mcontext.gregs[REG_RIP];
  const char* ip = reinterpret_cast<const char*>(rip);
  const char* fixup = nullptr;
  if (ip == pagerace_guarded_store_insn) fixup = pagerace_guarded_store_fixup;
  if (ip == pagerace_guarded_load_insn) fixup = pagerace_guarded_load_fixup;
  if (!fixup) return false;
  rip = reinterpret_cast<greg_t>(fixup);
  uc->uc_mcontext.gregs[REG_RAX] = 1;  // "refused"
  return true;
}

}  // namespace pagerace
