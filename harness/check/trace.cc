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
  const int entered = causes_->OnEvent(index, e);
  Append(index, e);
  if (entered >= 0) {
    if (sink_) sink_->OnWindowEvent(index, Event::kWindowEntered, entered);
    Append(index, Event::kWindowEntered);
  }
}

void Tracer::Append(uint64_t index, Event e) {
  Ring& r = rings_[index];
  uint64_t h = r.head.fetch_add(1, std::memory_order_relaxed);
  Slot& s = r.slots[h & (kRing - 1)];
  s.t_ns.store(now_ns() - t0_ns_, std::memory_order_relaxed);
  s.tid_event.store((current_thread().tid << 16) | static_cast<uint32_t>(e),
                    std::memory_order_release);
}

void Tracer::OpenWindow(uint64_t index, uint8_t path, uint8_t window) {
  if (index >= pages_) return;
  causes_->Open(index, static_cast<FaultPath>(path), static_cast<FaultWindow>(window));
  if (sink_) sink_->OnWindowEvent(index, Event::kWindowOpen, window);
  Append(index, Event::kWindowOpen);
}

void Tracer::CloseWindow(uint64_t index) {
  if (index >= pages_) return;
  const int closed = causes_->Close(index);
  if (closed < 0) return;
  if (sink_) sink_->OnWindowEvent(index, Event::kWindowClose, closed);
  Append(index, Event::kWindowClose);
}

void Tracer::Transition(uint64_t index, uint8_t path, uint8_t window) {
  if (index >= pages_) return;
  causes_->Transition(index, static_cast<FaultPath>(path), static_cast<FaultWindow>(window));
  if (sink_) sink_->OnWindowEvent(index, Event::kWindowTransition, window);
  Append(index, Event::kWindowTransition);
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
