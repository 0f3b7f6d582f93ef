// The kernel's fixes by commit (issue 20; the table is fixes.def): what
// `--revert=COMMIT` switches back to the pre-fix source, and what --list and
// `pagerace history` show.  A fix the model carries is a named switch at the
// place the fix changed (MmContext::reverted); with the fix reverted, that
// code follows the source before the commit.
//
// Thread-safety: the table is immutable; a FixSet is a value.
#ifndef PAGERACE_HARNESS_MM_FIXES_H_
#define PAGERACE_HARNESS_MM_FIXES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "harness/mm/kernel_era.h"

namespace pagerace {

enum class Fix : uint8_t {
#define X(id, commit, major, minor, sub, adapters, scheme, modeled, confirmed, title) id,
#include "harness/mm/fixes.def"
#undef X
  kNumFixes
};
inline constexpr int kNumFixes = static_cast<int>(Fix::kNumFixes);
static_assert(kNumFixes <= 32, "FixSet is a 32-bit mask");

struct FixInfo {
  const char* commit;  // 12 hex digits
  int major, minor, sub;  // the first release that holds it
  const char* adapters;   // "" = the VM (every adapter); else base names
  const char* scheme;     // "" = any scheme whose era holds it
  bool modeled;           // the model has its switch
  const char* confirmed;  // how the id and release were checked (fixes.def)
  const char* title;
};
const FixInfo& InfoOf(Fix f);
// "v2.6.23", "v3.18".
std::string ReleaseName(const FixInfo& info);
// By commit: the 12 hex digits, or a longer id that starts with them.
absl::StatusOr<Fix> FixByCommit(absl::string_view commit);

// Whether the release an era models holds the fix.
bool EraHolds(KernelEra era, const FixInfo& info);
// "v2.6.29", "v2.6.30", "5.15".
const char* EraName(KernelEra era);

// For a modeled fix that no era holds (later than 5.15), the flags that
// apply it to a run ("--gup=pin --pin-writeback=v6.4"); "" for any other.
// Its history entry compares each era's plain model (the race) with the
// model with these flags (the fix in).
const char* ApplyFlags(Fix f);

// A set of reverted fixes.
class FixSet {
 public:
  bool has(Fix f) const { return (bits_ >> static_cast<int>(f)) & 1u; }
  void add(Fix f) { bits_ |= 1u << static_cast<int>(f); }
  bool empty() const { return bits_ == 0; }
  std::vector<Fix> fixes() const;
  // "79352894b285,7fdf52306766" ("" when empty): the flag's value.
  std::string Joined() const;
  bool operator==(const FixSet& o) const { return bits_ == o.bits_; }

 private:
  uint32_t bits_ = 0;
};

// Why `--revert` of fix `f` cannot apply to the scheme `scheme_name` (of era
// `era`) on adapter `adapter_name` ("nfs:unlocked"), in one clause; "" when
// it can.  The fix must be modeled, held by the era, in the adapter (its
// base name) or the VM, in the scheme's code where only one scheme keeps the
// fixed lines, and not already left out by the adapter variant itself
// (`adapter_leaves_out`: the variant's AdapterEntry::leaves_out commit).
std::string RevertRefusal(Fix f, KernelEra era, absl::string_view scheme_name,
                          absl::string_view adapter_name, absl::string_view adapter_leaves_out);
// Why the whole set cannot be reverted together, in one clause; "" when it
// can: a fix whose code relies on another (7fdf52306766's VM_FAULT_LOCKED
// return on b827e496c893) stays in the run while the one it relies on is
// reverted.
std::string RevertSetRefusal(const FixSet& set, KernelEra era, absl::string_view scheme_name,
                             absl::string_view adapter_name, absl::string_view adapter_leaves_out);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_FIXES_H_
