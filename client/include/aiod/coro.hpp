// SPDX-License-Identifier: MIT
// coro.hpp — coroutine-powered IO tasks over aiod (zig-aio's coro module):
// Task<T>, the Scheduler that batches its tasks' IO, io::single/multi/complete,
// yield/wakeup, ResetEvent, Semaphore, Mutex, RwLock, Queue<T> and ThreadPool.
// docs/coroutines.md explains the model.
#pragma once

#include "aiod/coro/io.hpp"
#include "aiod/coro/mutex.hpp"
#include "aiod/coro/queue.hpp"
#include "aiod/coro/reset_event.hpp"
#include "aiod/coro/rw_lock.hpp"
#include "aiod/coro/scheduler.hpp"
#include "aiod/coro/semaphore.hpp"
#include "aiod/coro/task.hpp"
#include "aiod/coro/thread_pool.hpp"
#include "aiod/coro/yield.hpp"
