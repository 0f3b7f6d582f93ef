#include "harness/sched/choosers.h"

#include <cmath>
#include <cstdlib>

namespace pagerace::sched {

int RandomChooser::Pick(size_t, uint32_t runnable, int, bool) {
  uint64_t nth = rng_.Below(static_cast<uint64_t>(__builtin_popcount(runnable)));
  uint32_t left = runnable;
  while (nth-- > 0) left &= left - 1;
  return __builtin_ctz(left);
}

double PctParams::bound() const {
  if (n <= 0 || k == 0 || d <= 0) return 0;
  return 1.0 / (static_cast<double>(n) * std::pow(static_cast<double>(k), d - 1));
}

PctChooser::PctChooser(const PctParams& params, Rng* rng) : n_(params.n) {
  if (params.n < 1 || params.n > kMaxSerialThreads || params.d < 1 ||
      params.d > kMaxPctDepth || params.k < 1) {
    abort();  // a caller bug: the explorer checks its inputs
  }
  // The initial priorities d..d+n-1, shuffled (Fisher-Yates).
  for (int i = 0; i < n_; ++i) priority_[i] = params.d + i;
  for (int i = n_ - 1; i > 0; --i) {
    const int j = static_cast<int>(rng->Below(static_cast<uint64_t>(i) + 1));
    const int t = priority_[i];
    priority_[i] = priority_[j];
    priority_[j] = t;
  }
  // d-1 distinct change points in 1..k.
  const uint64_t want = static_cast<uint64_t>(params.d - 1);
  changes_ = static_cast<int>(want < params.k ? want : params.k);
  for (int i = 0; i < changes_; ++i) {
    for (;;) {
      const uint64_t s = 1 + rng->Below(params.k);
      bool seen = false;
      for (int j = 0; j < i; ++j) seen |= change_at_[j] == s;
      if (!seen) {
        change_at_[i] = s;
        break;
      }
    }
  }
}

int PctChooser::Pick(size_t index, uint32_t runnable, int current, bool) {
  // `index` steps have been taken; `current` took the last one.
  if (current >= 0) {
    for (int i = 0; i < changes_; ++i) {
      if (change_at_[i] == index) priority_[current] = i + 1;
    }
  }
  int best = -1;
  for (uint32_t left = runnable; left; left &= left - 1) {
    const int t = __builtin_ctz(left);
    if (t < n_ && (best < 0 || priority_[t] > priority_[best])) best = t;
  }
  return best;
}

}  // namespace pagerace::sched
