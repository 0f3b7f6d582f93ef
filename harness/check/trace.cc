#include "harness/check/trace.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "harness/base/clock.h"
#include "harness/base/thread_registry.h"
#include "harness/check/root_cause.h"

namespace pagerace {
namespace {
constexpr const char* kEventNames[] = {
#define X(id, name) name,
#include "harness/check/events.def"
#undef X
};
}  // namespace

const char* EventName(Event e) {
  auto i = static_cast<size_t>(e);
  return i < static_cast<size_t>(Event::kNumEvents) ? kEventNames[i] : "?";
}

absl::StatusOr<Event> EventByName(absl::string_view name) {
  for (int i = 0; i < kNumEvents; ++i) {
    if (name == kEventNames[i]) return static_cast<Event>(i);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown event '", name, "'"));
}

Tracer::Tracer(uint64_t pages, int64_t t0_ns)
    : pages_(pages), t0_ns_(t0_ns), rings_(new Ring[pages]), causes_(new CauseTracker(pages)) {}

Tracer::~Tracer() = default;

void Tracer::Record(uint64_t index, Event e) {
  if (index >= pages_) return;
  if (sink_) sink_->OnEvent(index, e);
  causes_->OnEvent(index, e);
  Ring& r = rings_[index];
  uint64_t h = r.head.fetch_add(1, std::memory_order_relaxed);
  Slot& s = r.slots[h & (kRing - 1)];
  s.t_ns.store(now_ns() - t0_ns_, std::memory_order_relaxed);
  s.tid_event.store((current_thread().tid << 16) | static_cast<uint32_t>(e),
                    std::memory_order_release);
}

int Tracer::Snapshot(uint64_t index, TraceEntry* out, int max) const {
  if (index >= pages_) return 0;
  const Ring& r = rings_[index];
  uint64_t head = r.head.load(std::memory_order_acquire);
  int n = static_cast<int>(std::min<uint64_t>({head, static_cast<uint64_t>(kRing),
                                                static_cast<uint64_t>(max)}));
  for (int i = 0; i < n; ++i) {
    const Slot& s = r.slots[(head - n + i) & (kRing - 1)];
    uint32_t te = s.tid_event.load(std::memory_order_acquire);
    out[i].t_ns = s.t_ns.load(std::memory_order_relaxed);
    out[i].tid = te >> 16;
    out[i].event = static_cast<Event>(te & 0xffff);
  }
  return n;
}

}  // namespace pagerace
