// SPDX-License-Identifier: MIT
// thread_pool.cpp — the workers behind ThreadPool: a FIFO of jobs under one
// mutex, threads started on demand up to max_threads and ended after
// idle_timeout without work. A job's run() ends by posting its task to the
// task's scheduler; the pool never touches a job after running it.
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <utility>
#include <thread>
#include <vector>

#include "aiod/coro/thread_pool.hpp"

namespace aiod::coro::detail {

class PoolImpl {
 public:
  explicit PoolImpl(const ThreadPoolOptions& o)
      : max_threads_(o.max_threads != 0 ? o.max_threads : std::max(1u, std::thread::hardware_concurrency())),
        idle_timeout_(o.idle_timeout) {}

  ~PoolImpl() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    // Workers run what is queued before they leave.
    for (std::thread& t : workers_) t.join();
  }

  void submit(PoolJob& job) {
    std::vector<std::thread> finished;
    PoolJob* orphans = nullptr;
    {
      std::lock_guard lock(mu_);
      job.next = nullptr;
      if (tail_ != nullptr) {
        tail_->next = &job;
      } else {
        head_ = &job;
      }
      tail_ = &job;
      ++queued_;
      if (queued_ <= idle_) {
        cv_.notify_one();
      } else if (alive_ < max_threads_) {
        reap_exited(finished);
        try {
          workers_.emplace_back([this] { work(); });
          ++alive_;  // before the thread can take mu_
        } catch (const std::system_error&) {
          if (alive_ == 0) {  // no thread at all: the caller runs the jobs
            orphans = std::exchange(head_, nullptr);
            tail_ = nullptr;
            queued_ = 0;
          }
        }
      }
    }
    for (std::thread& t : finished) t.join();  // already left work()
    while (orphans != nullptr) {
      PoolJob* next = orphans->next;
      orphans->run(*orphans);
      orphans = next;
    }
  }

  unsigned threads() const {
    std::lock_guard lock(mu_);
    return alive_;
  }

 private:
  void work() {
    std::unique_lock lock(mu_);
    for (;;) {
      if (head_ == nullptr) {
        if (stop_) break;
        ++idle_;
        const bool woken = cv_.wait_for(lock, idle_timeout_, [this] { return head_ != nullptr || stop_; });
        --idle_;
        if (!woken) break;  // idle too long
        continue;
      }
      PoolJob* job = head_;
      head_ = job->next;
      if (head_ == nullptr) tail_ = nullptr;
      --queued_;
      lock.unlock();
      job->run(*job);
      lock.lock();
    }
    --alive_;
    exited_.push_back(std::this_thread::get_id());
  }

  // Under mu_: moves the threads that have left work() to `out`, to be joined.
  void reap_exited(std::vector<std::thread>& out) {
    for (const std::thread::id id : exited_) {
      const auto it =
          std::find_if(workers_.begin(), workers_.end(), [&](const std::thread& t) { return t.get_id() == id; });
      if (it == workers_.end()) continue;
      out.push_back(std::move(*it));
      workers_.erase(it);
    }
    exited_.clear();
  }

  const unsigned max_threads_;
  const std::chrono::milliseconds idle_timeout_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  PoolJob* head_ = nullptr;
  PoolJob* tail_ = nullptr;
  unsigned queued_ = 0;
  unsigned idle_ = 0;
  unsigned alive_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;
  std::vector<std::thread::id> exited_;
};

}  // namespace aiod::coro::detail

namespace aiod::coro {

ThreadPool::ThreadPool(ThreadPoolOptions options) : impl_(std::make_unique<detail::PoolImpl>(options)) {}

ThreadPool::~ThreadPool() = default;

void ThreadPool::submit(detail::PoolJob& job) { impl_->submit(job); }

unsigned ThreadPool::threads() const { return impl_->threads(); }

}  // namespace aiod::coro
