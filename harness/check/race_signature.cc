#include "harness/check/race_signature.h"

#include "absl/strings/str_format.h"

namespace pagerace {
namespace {

// FNV-1a, 64 bit, over NUL-terminated names: "a" "bc" and "ab" "c" differ.
class Fnv {
 public:
  void Mix(const char* s) {
    for (; *s; ++s) Byte(static_cast<unsigned char>(*s));
    Byte(0);
  }
  uint64_t value() const { return h_; }

 private:
  void Byte(unsigned char b) { h_ = (h_ ^ b) * 1099511628211ULL; }
  uint64_t h_ = 1469598103934665603ULL;
};

int FirstEvent(int n) { return n > kSignatureEvents ? n - kSignatureEvents : 0; }

}  // namespace

const char* SignatureVariant(RaceKind kind, const char* detail) {
  if (!detail) return "";
  return kind == RaceKind::kDirtyWithoutMetadata || kind == RaceKind::kWritepageWithoutMetadata
             ? detail
             : "";
}

uint64_t RaceSignatureHash(RaceKind kind, Invariant invariant, bool data_losing,
                           const TraceEntry* trace, int n, const char* variant) {
  Fnv f;
  f.Mix(RaceKindName(kind));
  f.Mix(InvariantName(invariant));
  f.Mix(data_losing ? "data_losing" : "");
  if (*variant) f.Mix(variant);
  for (int i = FirstEvent(n); i < n; ++i) f.Mix(EventName(trace[i].event));
  return f.value();
}

RaceSignature SignatureOf(const RaceRecord& r) {
  RaceSignature s;
  s.hash = RaceSignatureHash(r.kind, r.invariant, r.data_losing, r.trace, r.trace_len,
                             SignatureVariant(r.kind, r.detail));
  s.hex = absl::StrFormat("%016x", s.hash);
  for (int i = FirstEvent(r.trace_len); i < r.trace_len; ++i) s.events.push_back(r.trace[i].event);
  return s;
}

}  // namespace pagerace
