// The public client and stream: thin handles over client_impl and stream_impl.
#include <llmstream/client.hpp>

#include "client/client_impl.hpp"
#include "client/stream_impl.hpp"

#include <stdexcept>

namespace llmstream {

namespace detail {

void initiate_next(const std::shared_ptr<stream_impl>& impl, next_handler handler, bool on_stream_executor) {
    impl->next(std::move(handler), on_stream_executor);
}

void initiate_next_batch(const std::shared_ptr<stream_impl>& impl, batch_handler handler, bool on_stream_executor) {
    impl->next_batch(std::move(handler), on_stream_executor);
}

bool is_stream_executor(const std::shared_ptr<stream_impl>& impl, const boost::asio::any_io_executor& ex) {
    return impl->executor() == ex;
}

std::shared_ptr<const diagnostics> stream_diagnostics(const std::shared_ptr<stream_impl>& impl) {
    return {impl, &impl->diag()};  // shares ownership with the stream: valid while a completion holds it
}

bool is_client_executor(const std::shared_ptr<client_impl>& impl, const boost::asio::any_io_executor& ex) {
    return impl->executor == ex;
}

void initiate_chat(const std::shared_ptr<client_impl>& impl, chat_request req, diagnostics* diag, chat_handler handler,
                   bool on_client_executor) {
    auto s = std::make_shared<stream_impl>(impl, std::move(req), false);
    s->chat_diag = diag;
    s->on_chat_done(std::move(handler), on_client_executor);
    s->start();
}

}  // namespace detail

// --- stream ---

stream::stream(std::shared_ptr<detail::stream_impl> impl) : impl_(std::move(impl)) {}
stream::stream(stream&&) noexcept = default;
stream& stream::operator=(stream&& other) noexcept {
    if (this != &other) {
        if (impl_) impl_->cancel();
        impl_ = std::move(other.impl_);
    }
    return *this;
}
stream::~stream() {
    if (impl_) impl_->cancel();
}
const diagnostics& stream::diagnostics() const noexcept {
    static const llmstream::diagnostics none;
    return impl_ ? impl_->diag() : none;
}
void stream::throw_moved_from() { throw std::logic_error("llmstream::stream: used after it was moved from"); }
void stream::cancel() {
    if (impl_) impl_->cancel();
}
stream::executor_type stream::get_executor() const noexcept { return impl_->executor(); }

// --- client ---

client::client(executor_type ex, client_config config)
    : impl_(std::make_shared<detail::client_impl>(std::move(ex), std::move(config))) {}
client::~client() = default;
client::client(client&&) noexcept = default;
client& client::operator=(client&&) noexcept = default;

stream client::chat_stream(chat_request req) {
    auto s = std::make_shared<detail::stream_impl>(impl_, std::move(req), true);
    s->start();
    return stream(std::move(s));
}

client::executor_type client::get_executor() const noexcept { return impl_->executor; }
const client_config& client::config() const noexcept { return impl_->config; }
pool_stats client::pool_stats() const noexcept {
    const auto* sessions = impl_->tls_sessions.get();
    return {impl_->open_connections(), impl_->idle_connections(), impl_->waiting_requests(), impl_->origin.host,
            impl_->server_port, sessions ? sessions->handshakes() : 0, sessions ? sessions->resumed() : 0,
            impl_->connect_gate.opening()};
}

}  // namespace llmstream
