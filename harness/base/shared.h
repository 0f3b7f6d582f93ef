// The model's shared state, as the explorer's partial-order reduction sees
// it (issue 21, DESIGN §9).  Dynamic partial-order reduction needs, for each
// step a thread takes between two schedule points, the shared objects it
// read and wrote: two steps of different threads are dependent when they
// touch one object and one of them writes it.  The accesses are recorded
// where the state is, not at the call sites that reach it:
//
//   - Shared<T> replaces std::atomic<T> for every piece of model state read
//     or written without a lock (struct page's fields, the ptes, i_size, the
//     I/O queue's event word, the fs adapters' unlocked words, the oracle's
//     and the tracers' state); each load is a read of the object, each store
//     or read-modify-write a write;
//   - every lock (FutexMutex, FutexRwSem, hence OwnedMutex, the ptl, the
//     tree_lock, the fs locks) is a Shared word: taking or releasing it
//     writes it.  State guarded by a lock (ABSL_GUARDED_BY, which clang's
//     -Wthread-safety checks at every access) needs nothing more: two steps
//     that touch it both hold the lock, so each took or released it, or one
//     of them spans the other's hold, which the lock forbids;
//   - page contents (the real bytes under the user mappings and the kernel
//     alias) are recorded by ShadowMmu's accessors and the guarded user
//     accesses (shadow_mmu.h).
//
// An object's identity is a number given at construction, counted from
// ResetSharedIds(): the explorer resets the count before it builds each
// schedule's Machine, so the same object has the same number in every run
// (construction is deterministic).  An object built while threads run may
// get another run's number for another object: that only makes more steps
// dependent, never fewer.
//
// Recording is off (one relaxed load and a branch per access) unless an
// AccessRecorder is installed; the explorer installs one only while a
// schedule's threads run, and one thread runs at a time then.
//
// Thread-safety: Shared<T> is as safe as std::atomic<T>; SetAccessRecorder
// must not race a recording run.
#ifndef PAGERACE_HARNESS_BASE_SHARED_H_
#define PAGERACE_HARNESS_BASE_SHARED_H_

#include <atomic>
#include <cstdint>

namespace pagerace {

// What an object is, for the differential test's seam (HideSharedKind) and
// for naming; most state is kOther.
enum class SharedKind : uint8_t {
  kOther = 0,
  kPageFlags,  // struct page's flags word (PG_locked, PG_dirty, ...)
  kPte,        // a pte's value
  kLock,       // a lock word
  kData,       // a page's bytes
  kCount,
};

// An object's number (low 24 bits) and kind (high 8).
using SharedId = uint32_t;
inline constexpr int kSharedKindShift = 24;
inline SharedKind SharedKindOf(SharedId id) { return static_cast<SharedKind>(id >> kSharedKindShift); }

class AccessRecorder {
 public:
  virtual void Note(SharedId id, bool write) = 0;

 protected:
  ~AccessRecorder() = default;
};

namespace shared_internal {
extern std::atomic<AccessRecorder*> g_recorder;
extern std::atomic<uint32_t> g_next_id;
extern std::atomic<uint32_t> g_hidden_kinds;  // bit per SharedKind
}  // namespace shared_internal

// Installs (or, with nullptr, removes) the recorder.
void SetAccessRecorder(AccessRecorder* recorder);
// Restarts the numbering (before a Machine is built).
void ResetSharedIds();
// Depends on every object: a step whose effect no object names (a thread
// that spins until any other thread has moved).
inline constexpr SharedId kEverything = 0xffffffffu;

// A fresh object number of `kind`.
inline SharedId NewSharedId(SharedKind kind = SharedKind::kOther) {
  const uint32_t n = shared_internal::g_next_id.fetch_add(1, std::memory_order_relaxed) & 0xffffff;
  return n | (static_cast<uint32_t>(kind) << kSharedKindShift);
}
// Test seam (the differential test's teeth): accesses to objects of `kind`
// are not recorded while set.  Never set outside tests.
void HideSharedKind(SharedKind kind, bool hidden);

inline void NoteAccess(SharedId id, bool write) {
  AccessRecorder* r = shared_internal::g_recorder.load(std::memory_order_relaxed);
  if (__builtin_expect(r != nullptr, 0)) {
    const uint32_t hidden = shared_internal::g_hidden_kinds.load(std::memory_order_relaxed);
    if (hidden && id != kEverything && (hidden & (1u << static_cast<int>(SharedKindOf(id))))) {
      return;
    }
    r->Note(id, write);
  }
}

template <typename T>
class Shared {
 public:
  explicit Shared(T v = T(), SharedKind kind = SharedKind::kOther) : v_(v), id_(NewSharedId(kind)) {}
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;

  T load(std::memory_order o = std::memory_order_seq_cst) const {
    NoteAccess(id_, false);
    return v_.load(o);
  }
  void store(T v, std::memory_order o = std::memory_order_seq_cst) {
    NoteAccess(id_, true);
    v_.store(v, o);
  }
  T exchange(T v, std::memory_order o = std::memory_order_seq_cst) {
    NoteAccess(id_, true);
    return v_.exchange(v, o);
  }
  bool compare_exchange_strong(T& expected, T desired,
                               std::memory_order o = std::memory_order_seq_cst) {
    NoteAccess(id_, true);
    return v_.compare_exchange_strong(expected, desired, o);
  }
  bool compare_exchange_strong(T& expected, T desired, std::memory_order s, std::memory_order f) {
    NoteAccess(id_, true);
    return v_.compare_exchange_strong(expected, desired, s, f);
  }
  bool compare_exchange_weak(T& expected, T desired, std::memory_order s, std::memory_order f) {
    NoteAccess(id_, true);
    return v_.compare_exchange_weak(expected, desired, s, f);
  }
  bool compare_exchange_weak(T& expected, T desired,
                             std::memory_order o = std::memory_order_seq_cst) {
    NoteAccess(id_, true);
    return v_.compare_exchange_weak(expected, desired, o);
  }
  T fetch_add(T d, std::memory_order o = std::memory_order_seq_cst) {
    NoteAccess(id_, true);
    return v_.fetch_add(d, o);
  }
  T fetch_sub(T d, std::memory_order o = std::memory_order_seq_cst) {
    NoteAccess(id_, true);
    return v_.fetch_sub(d, o);
  }
  T fetch_or(T d, std::memory_order o = std::memory_order_seq_cst) {
    NoteAccess(id_, true);
    return v_.fetch_or(d, o);
  }
  T fetch_and(T d, std::memory_order o = std::memory_order_seq_cst) {
    NoteAccess(id_, true);
    return v_.fetch_and(d, o);
  }

  SharedId id() const { return id_; }
  // The word itself, for futex calls and the scheduler's hooks (which read
  // it between steps): not recorded.
  std::atomic<T>* raw() { return &v_; }
  const std::atomic<T>* raw() const { return &v_; }

 private:
  std::atomic<T> v_;
  const SharedId id_;
};

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_BASE_SHARED_H_
