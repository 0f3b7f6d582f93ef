#include "harness/mm/schemes.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace pagerace {

namespace {
constexpr char kMutantOfLocked[] = "mutant of locked (v2.6.30-rc5)";
}  // namespace

Registry<SchemeEntry>& SchemeRegistry() {
  static auto* r = new Registry<SchemeEntry>({
      {"legacy", "v2.6.29", [] { return MakeLegacyScheme(); }},
      {"locked", "v2.6.30-rc5 (b827e496c893)", [] { return MakeLockedScheme(); }},
      {"modern", "v5.15", [] { return MakeModernScheme(); }},
      {"naive", "hypothetical (the seed's rejected variant)", [] { return MakeNaiveScheme(); }},
      {"mutant:unlock_before_set_page_dirty", kMutantOfLocked,
       [] { return MakeLockedScheme(Mutation::kUnlockBeforeSetPageDirty); }},
      {"mutant:skip_set_page_dirty", kMutantOfLocked, [] { return MakeLockedScheme(Mutation::kSkipSetPageDirty); }},
      {"mutant:clear_dirty_before_mkclean", kMutantOfLocked,
       [] { return MakeLockedScheme(Mutation::kClearDirtyBeforeMkclean); }},
      {"mutant:pte_write_before_mkwrite", kMutantOfLocked,
       [] { return MakeLockedScheme(Mutation::kPteWriteBeforeMkwrite); }},
      {"mutant:no_mapping_recheck", kMutantOfLocked, [] { return MakeLockedScheme(Mutation::kNoMappingRecheck); }},
      {"mutant:no_stable_wait", "mutant of modern (v5.15)", [] { return MakeModernScheme(Mutation::kNoStableWait); }},
  });
  return *r;
}

const SchemeEntry& Scheme(absl::string_view name) { return SchemeRegistry().Get(name); }

std::string DescribeScheme(const SchemeEntry& entry) {
  auto s = entry.make();
  std::string d = s->description();
  if (*s->trips()) absl::StrAppend(&d, " [must trip ", s->trips(), "]");
  return d;
}

absl::StatusOr<std::unique_ptr<FaultScheme>> MakeScheme(absl::string_view name) {
  if (const SchemeEntry* e = SchemeRegistry().Find(name)) return e->make();
  return absl::InvalidArgumentError(
      absl::StrCat("unknown --scheme '", name, "' (want ", SchemeRegistry().Joined(), ")"));
}

}  // namespace pagerace
