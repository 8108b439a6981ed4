// A fixed set of threads that split a range of indices into contiguous chunks.
//
// The search calls the pool twice per simulation with a few microseconds of work per thread, so
// starting threads per call would cost more than the work. Workers live as long as the pool,
// spin briefly after each call (the next call usually follows within microseconds) and then
// sleep. Chunks are claimed, not assigned: the calling thread takes any chunk no worker has
// started, so a worker that the OS does not schedule in time (more threads than free cores)
// delays nothing, and the pool is never much slower than running on one thread.
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

  // `num_threads` counts the calling thread, which works on the chunks too.
  explicit WorkerPool(int num_threads)
      : num_threads_(num_threads < 1 ? 1 : num_threads),
        num_chunks_(num_threads_ * kChunksPerThread) {
    for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this] { work(); });
  }

  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true, std::memory_order_relaxed);
      state_.store((generation(state_.load(std::memory_order_relaxed)) + 1) << 32,
                   std::memory_order_release);
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Calls task(context, begin, end) on contiguous chunks of [0, n) and returns when all are
  // done. The task must not throw. Not reentrant: one caller at a time.
  void run(int n, Task task, void* context) {
    task_.store(task, std::memory_order_relaxed);
    context_.store(context, std::memory_order_relaxed);
    size_.store(n, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
    const uint64_t gen = generation(state_.load(std::memory_order_relaxed)) + 1;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      state_.store(gen << 32, std::memory_order_release);  // chunk 0 of a new generation
    }
    wake_.notify_all();
    work_on(gen);
    auto finished = [this] { return done_.load(std::memory_order_acquire) == num_chunks_; };
    if (!spin_until(finished)) {
      std::unique_lock<std::mutex> lock(mutex_);
      finished_.wait(lock, finished);
    }
  }

 private:
  // How long a thread busy-waits before it sleeps.
  static constexpr std::chrono::microseconds kSpin{50};
  static constexpr uint64_t kChunkMask = 0xffffffffULL;
  // Several chunks per thread, so that a thread descheduled mid-chunk holds up little work.
  static constexpr int kChunksPerThread = 4;

  static uint64_t generation(uint64_t state) { return state >> 32; }

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

  // Claims and runs chunks of generation `gen` until none is left.
  void work_on(uint64_t gen) {
    uint64_t state = state_.load(std::memory_order_acquire);
    while (generation(state) == gen && (state & kChunkMask) < static_cast<uint64_t>(num_chunks_)) {
      // Read before the claim: a successful claim proves they still belong to this generation.
      const Task task = task_.load(std::memory_order_relaxed);
      void* const context = context_.load(std::memory_order_relaxed);
      const int64_t n = size_.load(std::memory_order_relaxed);
      if (!state_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
        continue;  // `state` now holds the current value
      }
      const int64_t chunk = static_cast<int64_t>(state & kChunkMask);
      const int begin = static_cast<int>(n * chunk / num_chunks_);
      const int end = static_cast<int>(n * (chunk + 1) / num_chunks_);
      if (begin < end) task(context, begin, end);
      if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == num_chunks_) {
        std::lock_guard<std::mutex> lock(mutex_);
        finished_.notify_one();
      }
      state = state_.load(std::memory_order_acquire);
    }
  }

  void work() {
    uint64_t seen = 0;
    auto called = [&] { return generation(state_.load(std::memory_order_acquire)) != seen; };
    for (;;) {
      if (!spin_until(called)) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, called);
      }
      seen = generation(state_.load(std::memory_order_acquire));
      // stop_ is written before the generation changes, so the acquire above makes it visible.
      if (stop_.load(std::memory_order_relaxed)) return;
      work_on(seen);
    }
  }

  const int num_threads_;
  const int num_chunks_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable finished_;
  // Generation of the current call (high 32 bits) and the next unclaimed chunk (low 32 bits), in
  // one word so that a claim can never take a chunk of another call.
  std::atomic<uint64_t> state_{0};
  std::atomic<int> done_{0};  // chunks finished in the current call
  std::atomic<bool> stop_{false};
  std::atomic<Task> task_{nullptr};
  std::atomic<void*> context_{nullptr};
  std::atomic<int> size_{0};
};

}  // namespace xtra

#endif  // XTRA_BENCH_EXT_WORKER_POOL_H_
