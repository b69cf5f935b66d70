// SPDX-License-Identifier: MIT
#include "aiod/client.hpp"

#include "connection.hpp"

namespace aiod {

bool Client::keep_off_daemon_cpu() { return impl_->keep_off_daemon_cpu(); }

Result<Client> Client::connect(const ClientOptions& options) {
  auto conn = detail::Connection::open(options);
  if (!conn) return {conn.error(), conn.detail()};
  return Client(std::move(conn.value()));
}

Client::Client(std::unique_ptr<detail::Connection> impl) : impl_(std::move(impl)) {}
Client::Client(Client&&) noexcept = default;
Client& Client::operator=(Client&&) noexcept = default;
Client::~Client() = default;

Result<std::size_t> Client::run_batch(std::span<Op> ops) {
  detail::Batch batch;
  if (const std::error_code ec = impl_->queue(ops, batch)) return ec;
  impl_->submit();
  if (const std::error_code ec = impl_->wait([&] { return batch.outstanding == 0; })) return ec;
  return batch.errors;
}

Result<std::vector<Handle>> Client::register_fds(std::span<const int> fds) {
  if (fds.empty() || fds.size() > wire::kMaxFdsPerMessage) {
    return {std::make_error_code(std::errc::invalid_argument), "pass 1 to 16 descriptors at a time"};
  }
  return impl_->register_fds(fds);
}

Result<Handle> Client::register_fd(int fd) {
  auto r = register_fds({&fd, 1});
  if (!r) return {r.error(), r.detail()};
  return r->front();
}

std::error_code Client::unregister(std::span<const Handle> handles) {
  std::vector<std::uint32_t> values;
  for (Handle h : handles) values.push_back(h.value);
  return impl_->unregister(values);
}

Result<std::span<std::byte>> Client::arena_alloc(std::size_t size) {
  const auto offset = impl_->arena_allocator().allocate(size);
  if (!offset) return errc::arena_exhausted;
  return std::span<std::byte>(impl_->arena_base() + *offset, size);
}

void Client::arena_free(std::span<std::byte> block) {
  if (block.data() == nullptr) return;
  impl_->arena_allocator().free(static_cast<std::uint64_t>(block.data() - impl_->arena_base()), block.size());
}

int Client::completion_fd() const noexcept { return impl_->completion_fd(); }

bool Client::arm_completion_fd() { return impl_->arm_completion_fd(); }

void Client::wake() const noexcept { impl_->wake(); }

const SessionInfo& Client::info() const noexcept { return impl_->info(); }

std::error_code Client::ping() {
  flatbuffers::FlatBufferBuilder b(64);
  const auto body = wire::CreatePing(b, 42);
  b.Finish(wire::CreateMessage(b, impl_->next_request_id(), wire::Body::Ping, body.Union()), wire::MessageIdentifier());
  auto reply = impl_->request(b);
  if (!reply) return reply.error();
  const wire::Message* msg = wire::verify(reply->bytes);
  if (msg == nullptr || msg->body_as_Pong() == nullptr) return errc::protocol_error;
  return {};
}

}  // namespace aiod
