// SPDX-License-Identifier: MIT
// session.cpp — a session's lifecycle: creation, closing, shutdown.
#include "session/session.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <utility>

#include "wire.hpp"

namespace aiod::daemon {

Session::Session(SessionHost& host, UniqueFd sock, std::uint64_t id, std::string refusal)
    : host_(host),
      id_(id),
      sock_(std::move(sock)),
      handles_(host.config().limits.max_handles),
      quiet_(host.scheduler()),
      refusal_(std::move(refusal)) {}

Session::~Session() {
  if (personality_ != 0) host_.release_personality(personality_);
}

void Session::request_close(std::string reason) {
  if (closing_) return;
  closing_ = true;
  close_reason_ = std::move(reason);
  cancel_all(control_calls_);
}

bool Session::quiescent() const noexcept {
  return closing_ && records_.in_flight() == 0 && !doorbell_.armed && !pump_running_ && waker_.in_flight == 0 &&
         !dirty_;
}

void Session::maybe_quiet() {
  if (quiescent()) quiet_.set();
}

Task<> Session::shutdown() {
  if (!closing_) request_close("session ended");
  spdlog::debug("session {}: closing ({}), {} ops in flight", id_, close_reason_, records_.in_flight());
  if (host_.stopping() && is_io_) rings_.set_stopping();
  // Cancel what the backend holds; records of later chain segments are
  // cancelled by the chain logic when their segment would start.
  for (OpRecord& rec : records_.all()) {
    if (!rec.in_backend) continue;
    if (host_.backend().cancel(&rec) == -EAGAIN) {
      host_.backend().flush();
      (void)host_.backend().cancel(&rec);
    }
  }
  if (doorbell_.armed) (void)host_.backend().cancel(&doorbell_);
  if (parked_pump) host_.unpark(*this);
  maybe_quiet();
  // Completions posted while closing are made visible; a last wake-up may
  // still go out, and is waited for like everything else. Completions that
  // arrive later are published by the shard at the end of their loop turn,
  // which counts as work in progress (dirty_) until it has happened.
  if (is_io_) publish_completions();
  // A wake-up write may never end (a client holding its eventfd full):
  // nobody waits for it now, so it is cancelled rather than waited for.
  if (waker_.in_flight > 0 && host_.backend().cancel(&waker_) == -EAGAIN) {
    host_.backend().flush();
    (void)host_.backend().cancel(&waker_);
  }
  maybe_quiet();
  // Checked again whenever this resumes, since the destruction follows
  // synchronously: the session is freed only in a state in which nothing
  // refers to it, even if something had started new work between
  // quiet_.set() and now (nothing can: see quiescent()).
  while (!quiescent()) {
    quiet_.reset();
    maybe_quiet();
    co_await quiet_;
  }
  // Nothing refers to the region, the handles, the eventfds or this object any more.
  spdlog::log(is_io_ ? spdlog::level::info : spdlog::level::debug, "session {} (pid {}, uid {}{}{}) closed: {}", id_,
              creds_.pid, creds_.uid, name_.empty() ? "" : ", ", name_, close_reason_);
}

void Session::Waker::complete(int) {
  --in_flight;
  if (std::exchange(again, false) && s_.rings_.client_asleep()) s_.wake_client();
  s_.maybe_quiet();
}

void Session::Doorbell::complete(int res) {
  armed = false;
  if (res > 0) {
    s_.counters.wakeups_received.add();
    if (s_.parked_pump) s_.host_.unpark(s_);
  }
  if (s_.closing_) {
    s_.maybe_quiet();
    return;
  }
  if (res < 0 && res != -ECANCELED && res != -EINTR) {
    spdlog::warn("session {}: doorbell read failed: {}", s_.id_, std::strerror(-res));
    s_.request_close("doorbell failed");
    return;
  }
  s_.arm_doorbell();
}

void Session::arm_doorbell() {
  const BackendOp op(op::Read{.fd = submit_efd_.get(), .buf = &doorbell_.value, .len = sizeof(doorbell_.value)});
  Backend& backend = host_.backend();
  int ret = backend.prepare(op, &doorbell_);
  if (ret == -EAGAIN) {
    backend.flush();
    ret = backend.prepare(op, &doorbell_);
  }
  if (ret < 0) {
    request_close("cannot arm the doorbell");
    return;
  }
  doorbell_.armed = true;
}

}  // namespace aiod::daemon
