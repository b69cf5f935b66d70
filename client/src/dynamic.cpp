#include "aiod/dynamic.hpp"

#include "connection.hpp"

namespace aiod {

Dynamic::Dynamic(Client& client, std::size_t capacity) : client_(client), batch_(std::make_unique<detail::Batch>()) {
  batch_->capacity = capacity;
}

Dynamic::~Dynamic() {
  // The records of outstanding ops point at this queue: let them finish.
  (void)complete_all();
}

std::error_code Dynamic::queue(std::span<Op> ops) { return client_.connection().queue(ops, *batch_); }

Result<CompletionResult> Dynamic::complete(CompletionMode mode) {
  detail::Connection& conn = client_.connection();
  conn.submit();
  if (mode == CompletionMode::nonblocking || batch_->outstanding == 0) {
    conn.reap();
    conn.abandon_if_dead();
    if (conn.dead() && batch_->completed == 0 && batch_->outstanding == 0 && batch_->errors == 0) {
      return make_error_code(errc::daemon_gone);
    }
  } else if (const std::error_code ec = conn.wait([&] { return batch_->completed > 0; }); ec) {
    // The ops were completed with daemon_gone; report them, then the error.
    if (batch_->completed == 0) return ec;
  }
  CompletionResult r{batch_->completed, batch_->errors};
  batch_->completed = 0;
  batch_->errors = 0;
  return r;
}

Result<std::size_t> Dynamic::complete_all() {
  std::size_t errors = 0;
  for (;;) {
    auto r = complete(CompletionMode::blocking);
    if (!r) return {r.error(), r.detail()};
    errors += r->num_errors;
    if (r->num_completed == 0) return errors;
  }
}

void Dynamic::set_callback(Callback cb) { batch_->callback = std::move(cb); }

std::size_t Dynamic::outstanding() const noexcept { return batch_->outstanding; }

}  // namespace aiod
