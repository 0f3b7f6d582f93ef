#include "harness/core/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "harness/core/scenario.h"
#include "harness/mm/shadow_mmu.h"

namespace pagerace {
namespace {

absl::Status Bad(const std::string& flag, const std::string& value, const std::string& want) {
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, "=", value, ": ", want));
}

template <typename T>
absl::Status ParseInt(const std::string& flag, const std::string& s, int64_t lo, int64_t hi,
                      T* out) {
  if (s.empty()) return absl::OkStatus();
  int64_t v;
  if (!absl::SimpleAtoi(s, &v) || v < lo || v > hi) {
    return Bad(flag, s, absl::StrCat("want an integer in [", lo, ", ", hi, "]"));
  }
  *out = static_cast<T>(v);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RunConfig> ParseConfig(const RawFlags& raw) {
  RunConfig c;
  if (!raw.scheme.empty()) {
    c.scheme = SchemeRegistry().Find(raw.scheme);
    if (!c.scheme) {
      return Bad("scheme", raw.scheme,
                 absl::StrCat("unknown scheme (want ", SchemeRegistry().Joined(), ")"));
    }
  }
  if (!raw.fs.empty()) {
    c.fs = AdapterRegistry().Find(raw.fs);
    if (!c.fs) {
      return Bad("fs", raw.fs,
                 absl::StrCat("unknown adapter (want ", AdapterRegistry().Joined(), ")"));
    }
  }
  if (!raw.workload.empty()) {
    c.workload = WorkloadRegistry().Find(raw.workload);
    if (!c.workload) {
      return Bad("workload", raw.workload,
                 absl::StrCat("unknown workload (want ", WorkloadRegistry().Joined(), ")"));
    }
  }
  if (c.workload->needs_page_mkwrite && !c.fs->make()->has_page_mkwrite()) {
    return Bad("workload", c.workload->name,
               absl::StrCat("needs an adapter with ->page_mkwrite (--fs=", c.fs->name,
                            " has none)"));
  }
  if (c.workload->punches) {
    if (const std::string why = c.fs->make()->punch_hole_refusal(); !why.empty()) {
      return Bad("workload", c.workload->name, absl::StrCat("punches holes, and --fs=", c.fs->name,
                                                            ": ", why));
    }
  }
  c.gup = GupModeForEra(*c.scheme);
  const bool era_has_pin = c.scheme->make()->stable_pages();
  if (!raw.gup.empty()) {
    const std::optional<GupMode> m = GupModeByName(raw.gup);
    if (!m) return Bad("gup", raw.gup, "unknown get_user_pages mode (want get|pin|longterm)");
    if (!WorkloadHasGup(*c.workload)) {
      return Bad("gup", raw.gup,
                 absl::StrCat("--workload=", c.workload->name, " runs no get_user_pages callers (want --workload=dio)"));
    }
    if (*m != GupMode::kGet && !era_has_pin) {
      return Bad("gup", raw.gup,
                 absl::StrCat("FOLL_PIN arrived in v5.6; --scheme=", c.scheme->name,
                              " models v2.6.29/30, which has get_user_pages only (want get)"));
    }
    c.gup = *m;
    c.gup_given = true;
  }
  if (!raw.pin_writeback.empty()) {
    const std::optional<PinWriteback> p = PinWritebackByName(raw.pin_writeback);
    if (!p) return Bad("pin-writeback", raw.pin_writeback, "unknown answer (want none|v6.4|skip|bounce)");
    if (*p != PinWriteback::kNone && !era_has_pin) {
      return Bad("pin-writeback", raw.pin_writeback,
                 absl::StrCat("page_maybe_dma_pinned arrived in v5.6; --scheme=", c.scheme->name,
                              " models v2.6.29/30 (want none)"));
    }
    c.pin_writeback = *p;
  }
  if (!raw.revert.empty()) {
    auto reverts = ParseReverts(raw.revert, *c.scheme, *c.fs);
    if (!reverts.ok()) return reverts.status();
    c.reverts = *reverts;
  }
  absl::Status st;
  if (!(st = ParseInt("threads", raw.threads, 1, 64, &c.threads)).ok()) return st;
  if (!(st = ParseInt("pwriters", raw.pwriters, 0, 64, &c.pwriters)).ok()) return st;
  if (!(st = ParseInt("pages", raw.pages, 1, 1 << 20, &c.pages)).ok()) return st;
  if (!(st = ParseInt("mappings", raw.mappings, 1, 16, &c.mappings)).ok()) return st;
  if (!raw.seed.empty() && !absl::SimpleAtoi(raw.seed, &c.seed)) {
    return Bad("seed", raw.seed, "want an unsigned integer");
  }
  if (!raw.duration.empty() && !raw.ops.empty()) {
    return absl::InvalidArgumentError("give --duration or --ops, not both");
  }
  if (!raw.duration.empty()) {
    if (!absl::ParseDuration(raw.duration, &c.duration) || c.duration <= absl::ZeroDuration() ||
        c.duration == absl::InfiniteDuration()) {
      return Bad("duration", raw.duration, "want a positive duration such as 10s, 500ms or 2m");
    }
  }
  if (!(st = ParseInt("ops", raw.ops, 1, INT64_MAX, &c.ops)).ok()) return st;
  if (!raw.sched.empty()) {
    auto p = sched::PolicyByName(raw.sched);
    if (!p.ok()) {
      return Bad("sched", raw.sched, "unknown schedule policy (want off|jitter|ordered|pct)");
    }
    c.sched = *p;
  }
  if (!raw.jitter_max_us.empty()) {
    if (c.sched != sched::Policy::kJitter) {
      return Bad("jitter-max-us", raw.jitter_max_us, "only with --sched=jitter");
    }
    if (!(st = ParseInt("jitter-max-us", raw.jitter_max_us, 1, 100000, &c.jitter_max_us)).ok()) {
      return st;
    }
  }
  if (!raw.pct_depth.empty()) {
    if (c.sched != sched::Policy::kPct) {
      return Bad("pct-depth", raw.pct_depth, "only with --sched=pct");
    }
    if (!(st = ParseInt("pct-depth", raw.pct_depth, 1, 16, &c.pct_depth)).ok()) return st;
  }
  if (!raw.order.empty()) {
    if (c.sched != sched::Policy::kOrdered) {
      return Bad("order", raw.order, "only with --sched=ordered");
    }
    auto deps = sched::ParseOrderedDeps(raw.order);
    if (!deps.ok()) return Bad("order", raw.order, std::string(deps.status().message()));
    c.order = raw.order;
    c.deps = *deps;
  } else if (c.sched == sched::Policy::kOrdered) {
    return Bad("sched", raw.sched, "needs --order=A<B,... (schedule point names)");
  }
  for (auto [flag, value, dst] : {std::tuple{"out", &raw.out, &c.out},
                                  std::tuple{"trace-out", &raw.trace_out, &c.trace_out}}) {
    if (value->empty()) continue;
    *dst = *value;
    std::string dir = ".";
    if (auto slash = dst->rfind('/'); slash != std::string::npos) {
      dir = slash == 0 ? "/" : dst->substr(0, slash);
    }
    struct stat sb;
    if (stat(dir.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode)) {
      return Bad(flag, *dst, absl::StrCat("directory '", dir, "' does not exist"));
    }
    if (stat(dst->c_str(), &sb) == 0 && S_ISDIR(sb.st_mode)) {
      return Bad(flag, *dst, "is a directory; want a file name");
    }
  }
  if (!raw.stop_on.empty()) {
    c.stop_on = raw.stop_on;
    c.stop_at_first_race = true;
    if (raw.stop_on == "data_losing") {
      c.stop_needs_losing = true;
    } else if (raw.stop_on != "race") {
      if (auto inv = InvariantByName(raw.stop_on); inv.ok()) c.stop_invariant = *inv;
      if (!c.stop_invariant) {
        std::string names;
        for (int i = 0; i < kNumInvariants; ++i) {
          absl::StrAppend(&names, "|", InvariantName(static_cast<Invariant>(i)));
        }
        return Bad("stop-on", raw.stop_on, absl::StrCat("want race|data_losing", names));
      }
    }
  }
  const uint32_t slots = static_cast<uint32_t>(ShadowMmu::page_size() / sizeof(uint64_t));
  if (static_cast<uint32_t>(c.threads + c.pwriters) > slots) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--threads + --pwriters = ", c.threads + c.pwriters, " exceeds the ", slots,
        " stamp slots of a page"));
  }
  // `multimap`: at least three processes map the file.
  c.mappings = std::max(c.mappings, c.workload->min_mappings);
  if (absl::Status m = ShadowMmu::CheckMapCount(c.pages, c.mappings); !m.ok()) return m;
  return c;
}

absl::StatusOr<FixSet> ParseReverts(absl::string_view value, const SchemeEntry& scheme,
                                    const AdapterEntry& fs) {
  FixSet set;
  const KernelEra era = scheme.make()->era();
  for (absl::string_view commit : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
    auto f = FixByCommit(commit);
    if (!f.ok()) return Bad("revert", std::string(value), std::string(f.status().message()));
    const std::string why = RevertRefusal(*f, era, scheme.name, fs.name, fs.leaves_out);
    if (!why.empty()) return Bad("revert", std::string(value), why);
    for (absl::string_view c : absl::StrSplit(fs.not_in, ',', absl::SkipEmpty())) {
      if (c == InfoOf(*f).commit) {
        return Bad("revert", std::string(value),
                   absl::StrCat("--fs=", fs.name, " never runs the code ", c, " changed (",
                                InfoOf(*f).title, ")"));
      }
    }
    set.add(*f);
  }
  if (set.empty()) return Bad("revert", std::string(value), "want COMMIT[,COMMIT...] (--list shows them)");
  const std::string why = RevertSetRefusal(set, era, scheme.name, fs.name, fs.leaves_out);
  if (!why.empty()) return Bad("revert", std::string(value), why);
  return set;
}

GupMode GupModeForEra(const SchemeEntry& scheme) {
  return scheme.make()->stable_pages() ? GupMode::kPin : GupMode::kGet;
}

bool WorkloadHasGup(const WorkloadEntry& workload) {
  MixedOptions o;
  o.threads = 1;
  if (workload.shape) workload.shape(&o);
  return o.gup > 0;
}

std::vector<std::string> GupNotes(const RunConfig& c, uint64_t longterm_refused) {
  std::vector<std::string> notes;
  if (!WorkloadHasGup(*c.workload)) return notes;
  if (c.gup == GupMode::kLongterm) {
    notes.push_back(absl::StrCat(
        "gup=longterm: FOLL_LONGTERM write pins on this file mapping are refused, as v6.5 does "
        "(writable_file_mapping_allowed: --fs=", c.fs->name,
        c.fs->make()->has_page_mkwrite() ? " needs dirty tracking" : " needs no dirty tracking, so none was",
        "); ", longterm_refused, " refused"));
  }
  if (c.gup == GupMode::kGet && c.pin_writeback != PinWriteback::kNone) {
    notes.push_back(absl::StrCat("pin-writeback=", PinWritebackName(c.pin_writeback),
                                 " has nothing to act on with gup=get: page_maybe_dma_pinned() is false "
                                 "for FOLL_GET references"));
  }
  return notes;
}

std::string FormatRegistries() {
  std::string out;
  for (const SchemeEntry& e : SchemeRegistry().entries()) {
    absl::StrAppendFormat(&out, "scheme    %-36s [%s] %s\n", e.name, e.models, DescribeScheme(e));
  }
  for (const AdapterEntry& e : AdapterRegistry().entries()) {
    absl::StrAppendFormat(&out, "fs        %-36s [%s] %s\n", e.name, e.models, e.description);
  }
  for (const WorkloadEntry& e : WorkloadRegistry().entries()) {
    absl::StrAppendFormat(&out, "workload  %-36s %s\n", e.name, e.description);
  }
  for (const BuiltinScenario& b : BuiltinScenarios()) {
    absl::StrAppendFormat(&out, "scenario  %-36s %s\n", b.name, b.summary);
  }
  for (int i = 0; i < kNumFixes; ++i) {
    const FixInfo& f = InfoOf(static_cast<Fix>(i));
    std::string where = *f.adapters ? f.adapters : "VM";
    if (*f.scheme) absl::StrAppend(&where, ", --scheme=", f.scheme);
    // A fix later than every era has no switch: each era's plain model has
    // its race (fixes.def says where).
    const Fix fix = static_cast<Fix>(i);
    const std::string state =
        f.modeled && !EraHolds(KernelEra::kV5_15, f)
            ? absl::StrCat(" (later than every modeled era: ", ApplyFlags(fix), " applies it)")
        : f.modeled                        ? std::string(" (--revert)")
        : !EraHolds(KernelEra::kV5_15, f) ? std::string(" (later than every modeled era: no switch)")
                                           : std::string(" (not modeled yet)");
    absl::StrAppendFormat(&out, "fix       %-36s [%s, %s] %s%s\n", f.commit, ReleaseName(f), where,
                          f.title, state);
  }
  return out;
}

std::string DurationFlag(absl::Duration d) { return absl::FormatDuration(d); }

std::string ReplayCommand(const RunConfig& c) {
  std::string cmd = absl::StrCat(
      c.binary.empty() ? "pagerace" : c.binary, " --scheme=", c.scheme->name, " --fs=", c.fs->name,
      " --workload=", c.workload->name, " --threads=", c.threads, " --pwriters=", c.pwriters,
      " --pages=", c.pages, " --mappings=", c.mappings, " --seed=", c.seed,
      " --sched=", sched::PolicyName(c.sched));
  if (c.sched == sched::Policy::kOrdered) absl::StrAppend(&cmd, " '--order=", c.order, "'");
  if (c.sched == sched::Policy::kPct) absl::StrAppend(&cmd, " --pct-depth=", c.pct_depth);
  if (c.sched == sched::Policy::kJitter && c.jitter_max_us != 50) {
    absl::StrAppend(&cmd, " --jitter-max-us=", c.jitter_max_us);
  }
  if (!c.stop_on.empty()) absl::StrAppend(&cmd, " --stop-on=", c.stop_on);
  if (c.gup_given) absl::StrAppend(&cmd, " --gup=", GupModeName(c.gup));
  if (c.pin_writeback != PinWriteback::kNone) {
    absl::StrAppend(&cmd, " --pin-writeback=", PinWritebackName(c.pin_writeback));
  }
  if (!c.reverts.empty()) absl::StrAppend(&cmd, " --revert=", c.reverts.Joined());
  if (c.ops) {
    absl::StrAppend(&cmd, " --ops=", c.ops);
  } else {
    absl::StrAppend(&cmd, " --duration=", DurationFlag(c.duration));
  }
  return cmd;
}

}  // namespace pagerace
