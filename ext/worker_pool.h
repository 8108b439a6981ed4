// A fixed set of threads that split a range of indices into contiguous chunks.
//
// The search calls the pool twice per simulation with a few microseconds of work per thread, so
// starting threads per call would cost more than the work. Workers therefore live as long as the
// pool, spin briefly after each call (the next call usually follows within tens of microseconds)
// and only then sleep on a condition variable.
#ifndef XTRA_BENCH_EXT_WORKER_POOL_H_
#define XTRA_BENCH_EXT_WORKER_POOL_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>
#endif

namespace xtra {

// Tells the core that this is a busy-wait loop (cheaper for a sibling hyper-thread).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

class WorkerPool {
 public:
  // Runs chunk [begin, end) of the range; `context` is passed through unchanged.
  using Task = void (*)(void* context, int begin, int end);

  // `num_threads` counts the calling thread, which runs the first chunk itself.
  explicit WorkerPool(int num_threads) : num_threads_(num_threads < 1 ? 1 : num_threads) {
    for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this, i] { work(i); });
  }

  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Calls task(context, begin, end) on num_threads contiguous chunks of [0, n) and returns when
  // all are done. The task must not throw. Not reentrant: one caller at a time.
  void run(int n, Task task, void* context) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = task;
      context_ = context;
      size_ = n;
      pending_.store(num_threads_ - 1, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    run_chunk(0);
    if (!spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
    }
  }

 private:
  // How long a thread busy-waits before it sleeps.
  static constexpr std::chrono::microseconds kSpin{50};

  template <class Condition>
  static bool spin_until(Condition condition) {
    const auto deadline = std::chrono::steady_clock::now() + kSpin;
    for (unsigned i = 1;; ++i) {
      if (condition()) return true;
      cpu_relax();
      if (i % 64 == 0) {
        if (std::chrono::steady_clock::now() > deadline) return condition();
        // Lets a thread waiting for this core run, should there be more threads than cores.
        std::this_thread::yield();
      }
    }
  }

  void run_chunk(int index) {
    const int64_t n = size_;
    const int begin = static_cast<int>(n * index / num_threads_);
    const int end = static_cast<int>(n * (index + 1) / num_threads_);
    if (begin < end) task_(context_, begin, end);
  }

  void work(int index) {
    uint64_t seen = 0;
    for (;;) {
      if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; })) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      }
      seen = generation_.load(std::memory_order_acquire);
      // stop_ is written before the generation changes, so the acquire above makes it visible.
      if (stop_.load(std::memory_order_relaxed)) return;
      run_chunk(index);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_one();
      }
    }
  }

  const int num_threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  Task task_ = nullptr;
  void* context_ = nullptr;
  int size_ = 0;
};

}  // namespace xtra

#endif  // XTRA_BENCH_EXT_WORKER_POOL_H_
