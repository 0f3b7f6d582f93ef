// Per-page event traces (DESIGN §8): each page index keeps a ring of its last
// events (time, thread, event).  Recording is lock-free and allocation-free, so
// the fault path (inside the SIGSEGV handler) can record.  A trace outlives
// the Page objects of its index: a truncated or evicted page's successor
// continues the same history, which is what a report needs to show.
//
// Thread-safety: safe for concurrent access.  Entries are written with
// relaxed atomics; a reader racing a writer may see a torn entry in the
// oldest slot, which reports tolerate (a trace is a diagnostic, not an oracle).
#ifndef PAGERACE_HARNESS_CHECK_TRACE_H_
#define PAGERACE_HARNESS_CHECK_TRACE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pagerace {

enum class Event : uint16_t {
#define X(id, name) id,
#include "harness/check/events.def"
#undef X
  kNumEvents
};

inline constexpr int kNumEvents = static_cast<int>(Event::kNumEvents);

// The kernel-vocabulary name ("pte_mkwrite"); "?" out of range.
const char* EventName(Event e);
// Looks an event up by its name, as written in traces and reports.
absl::StatusOr<Event> EventByName(absl::string_view name);

// Receives every recorded event and every oracle report, in the recording
// thread, as it happens: the explorer's total-order log of a serial run
// (explore.cc), from which the determinism check compares runs and the
// story of a counterexample is told.  Called from the SIGSEGV handler:
// implementations must not allocate or take locks.
class TraceSink {
 public:
  virtual ~TraceSink() = default;
  virtual void OnEvent(uint64_t index, Event e) = 0;
  // `kind` and `invariant` are RaceKind and Invariant (race_kind.h, which
  // includes this header).
  virtual void OnReport(uint64_t index, int kind, int invariant, bool data_losing) = 0;
  // A window event (kWindowOpen, kWindowClose, kWindowEntered,
  // kWindowTransition) with the window it is about (a FaultWindow,
  // root_cause.h); by default an event like the others.
  virtual void OnWindowEvent(uint64_t index, Event e, int window) { OnEvent(index, e); }
};

struct TraceEntry {
  int64_t t_ns = 0;  // since the run's start
  uint32_t tid = 0;
  Event event = Event::kPageAlloc;
};

class CauseTracker;

class Tracer {
 public:
  static constexpr int kRing = 32;  // power of two

  Tracer(uint64_t pages, int64_t t0_ns);
  ~Tracer();

  // The root-cause tracker (root_cause.h), which sees every event recorded.
  CauseTracker& causes() const { return *causes_; }

  void Record(uint64_t index, Event e);
  // Root-cause windows (root_cause.h): the CauseTracker's Open, Close and
  // Transition, each also recorded as a window event (events.def), so the
  // page's trace, the Chrome trace and a serial run's story show where the
  // window opened, was entered and closed.  `path` and `window` are a
  // FaultPath and a FaultWindow.  Allocation-free.
  void OpenWindow(uint64_t index, uint8_t path, uint8_t window);
  void CloseWindow(uint64_t index);
  void Transition(uint64_t index, uint8_t path, uint8_t window);
  // Passes an oracle report to the sink (nothing without one).
  void NoteReport(uint64_t index, int kind, int invariant, bool data_losing) const {
    if (sink_) sink_->OnReport(index, kind, invariant, data_losing);
  }
  // Sends every event and report to `sink` too (null: none).  REQUIRES: no
  // other thread records (set before the run's threads start, cleared after
  // they end: thread creation and join order it).
  void set_sink(TraceSink* sink) { sink_ = sink; }
  // Copies the last `max` events of `index`, oldest first, into `out`
  // (capacity `max`); returns how many.  Allocation-free.
  int Snapshot(uint64_t index, TraceEntry* out, int max) const;
  int64_t t0_ns() const { return t0_ns_; }

 private:
  void Append(uint64_t index, Event e);
  struct Slot {
    std::atomic<int64_t> t_ns{0};
    std::atomic<uint32_t> tid_event{0};  // tid << 16 | event
  };
  struct Ring {
    std::atomic<uint64_t> head{0};
    Slot slots[kRing];
  };
  const uint64_t pages_;
  const int64_t t0_ns_;  // constant after construction
  std::unique_ptr<Ring[]> rings_;
  TraceSink* sink_ = nullptr;  // see set_sink
  const std::unique_ptr<CauseTracker> causes_;
};

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CHECK_TRACE_H_
