#include "harness/mm/fixes.h"

#include <array>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace pagerace {
namespace {

constexpr std::array<FixInfo, kNumFixes> kFixes = {{
#define X(id, commit, major, minor, sub, adapters, scheme, modeled, confirmed, title) \
  {commit, major, minor, sub, adapters, scheme, modeled != 0, confirmed, title},
#include "harness/mm/fixes.def"
#undef X
}};

int VersionCode(int major, int minor, int sub) { return major * 10000 + minor * 100 + sub; }

int EraCode(KernelEra era) {
  switch (era) {
    case KernelEra::kV2_6_29: return VersionCode(2, 6, 29);
    case KernelEra::kV2_6_30: return VersionCode(2, 6, 30);
    case KernelEra::kV5_15: return VersionCode(5, 15, 0);
  }
  return 0;
}


// Why a fix's switch lives in one scheme only: what replaced its lines.
const char* ReplacedBy(Fix f) {
  switch (f) {
    case Fix::k79352894b285:
      return "later releases replaced those lines (b827e496c893 holds the page lock from "
             "->page_mkwrite through set_page_dirty)";
    case Fix::kb827e496c893:
      return "5.15's fault path is built around the lock it added (do_page_mkwrite, "
             "fault_dirty_shared_page), with no pre-fix form to go back to";
    default:
      return "later releases replaced those lines";
  }
}

// A fix another fix's code relies on: reverting `base` alone would leave
// `dependent`'s code running on a kernel without what it uses.
struct Dependency {
  Fix dependent;
  Fix base;
  const char* why;
};
constexpr Dependency kDependencies[] = {
    // v2.6.30 nfs_vm_page_mkwrite returns VM_FAULT_LOCKED; a pre-seed
    // do_wp_page ignores that bit and leaves the page locked for good.
    {Fix::k7fdf52306766, Fix::kb827e496c893,
     "NFS's ->page_mkwrite returns VM_FAULT_LOCKED, which the seed added"},
    // btrfs_page_mkwrite returning the page locked, for the same reason.
    {Fix::k50a9b214bc6c, Fix::kb827e496c893,
     "btrfs's ->page_mkwrite returns VM_FAULT_LOCKED, which the seed added"},
};

}  // namespace

const FixInfo& InfoOf(Fix f) { return kFixes[static_cast<int>(f)]; }

std::string ReleaseName(const FixInfo& info) {
  if (info.major == 2) return absl::StrCat("v", info.major, ".", info.minor, ".", info.sub);
  return absl::StrCat("v", info.major, ".", info.minor);
}

absl::StatusOr<Fix> FixByCommit(absl::string_view commit) {
  if (commit.size() >= 12) {
    for (int i = 0; i < kNumFixes; ++i) {
      if (absl::StartsWithIgnoreCase(commit, kFixes[i].commit)) return static_cast<Fix>(i);
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown fix '", commit, "' (want a commit --list shows, 12 hex digits)"));
}

bool EraHolds(KernelEra era, const FixInfo& info) {
  return VersionCode(info.major, info.minor, info.sub) <= EraCode(era);
}

const char* EraName(KernelEra era) {
  switch (era) {
    case KernelEra::kV2_6_29: return "v2.6.29";
    case KernelEra::kV2_6_30: return "v2.6.30";
    case KernelEra::kV5_15: return "5.15";
  }
  return "?";
}

std::vector<Fix> FixSet::fixes() const {
  std::vector<Fix> out;
  for (int i = 0; i < kNumFixes; ++i) {
    if (has(static_cast<Fix>(i))) out.push_back(static_cast<Fix>(i));
  }
  return out;
}

const char* ApplyFlags(Fix f) {
  // d824ec2a1546 (v6.4): shrink_folio_list keeps a pinned page's private
  // data; the model's reclaim does so with --pin-writeback=v6.4, which
  // consults FOLL_PIN pins (--gup=pin).
  if (f == Fix::kd824ec2a1546) return "--gup=pin --pin-writeback=v6.4";
  return "";
}

std::string FixSet::Joined() const {
  std::vector<std::string> ids;
  for (Fix f : fixes()) ids.push_back(InfoOf(f).commit);
  return absl::StrJoin(ids, ",");
}

std::string RevertRefusal(Fix f, KernelEra era, absl::string_view scheme_name,
                          absl::string_view adapter_name, absl::string_view adapter_leaves_out) {
  const FixInfo& info = InfoOf(f);
  const std::string fix = absl::StrCat(info.commit, " (", ReleaseName(info), ", ", info.title, ")");
  if (!info.modeled) return absl::StrCat(fix, " has no switch in the model yet");
  if (!EraHolds(era, info)) {
    return absl::StrCat("--scheme=", scheme_name, " models ", EraName(era), ", which predates ", fix,
                        ": there is nothing to revert",
                        *ApplyFlags(f) ? absl::StrCat(" (", ApplyFlags(f), " applies it)") : "");
  }
  if (*info.scheme != '\0' && scheme_name != info.scheme) {
    return absl::StrCat(fix, " is in --scheme=", info.scheme, "'s code only: ",
                        ReplacedBy(f));
  }
  const absl::string_view base = adapter_name.substr(0, adapter_name.find(':'));
  if (*info.adapters != '\0') {
    bool in = false;
    for (absl::string_view a : absl::StrSplit(info.adapters, ',')) in |= a == base;
    if (!in) {
      return absl::StrCat(fix, " changed ", info.adapters, ", not --fs=", adapter_name);
    }
  }
  if (adapter_leaves_out == info.commit) {
    return absl::StrCat("--fs=", adapter_name, " is ", base, " without ", info.commit, " already");
  }
  return "";
}

std::string RevertSetRefusal(const FixSet& set, KernelEra era, absl::string_view scheme_name,
                             absl::string_view adapter_name, absl::string_view adapter_leaves_out) {
  for (const Dependency& d : kDependencies) {
    if (!set.has(d.base) || set.has(d.dependent)) continue;
    // The dependent is in the run's kernel unless its era, fs or variant
    // leaves it out (then RevertRefusal would refuse reverting it).
    if (!RevertRefusal(d.dependent, era, scheme_name, adapter_name, adapter_leaves_out).empty()) {
      continue;
    }
    return absl::StrCat("reverting ", InfoOf(d.base).commit, " alone leaves ",
                        InfoOf(d.dependent).commit, " in: ", d.why, "; revert both (--revert=",
                        InfoOf(d.base).commit, ",", InfoOf(d.dependent).commit, ")");
  }
  return "";
}

}  // namespace pagerace
