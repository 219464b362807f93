// The client: many concurrent generations on one executor.
//
//   llmstream::client c{io.get_executor(), llmstream::providers::dashscope_compatible(region::intl, key)};
//   auto s = c.chat_stream(std::move(req));
//   while (auto d = co_await s.async_next()) std::cout << d->content;
//
// A client and its streams live on one executor (share nothing between threads: run one client
// per io_context thread). Async functions take any completion token (default
// with_diagnostics(asio::use_awaitable): failures throw error_with_diagnostics);
// the work happens in src/, compiled once, behind asio::any_completion_handler.
#pragma once

#include <llmstream/config.hpp>
#include <llmstream/diagnostics.hpp>
#include <llmstream/events.hpp>
#include <llmstream/providers.hpp>
#include <llmstream/request.hpp>
#include <llmstream/retry.hpp>
#include <llmstream/sse.hpp>
#include <llmstream/stream.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/deferred.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <type_traits>

namespace llmstream {

/// A snapshot of a client's connection pool, for metrics and leak checks.
struct pool_stats {
    std::size_t open = 0;     ///< connections open (in use or idle)
    std::size_t idle = 0;     ///< open connections waiting for reuse
    std::size_t waiting = 0;  ///< requests waiting for a connection
    std::string_view server_address{};  ///< the origin's host (the client's base URL), valid while the client lives
    int server_port = 0;                ///< the origin's port
    std::uint64_t tls_handshakes = 0;   ///< TLS handshakes completed since the client was made
    std::uint64_t tls_resumed = 0;      ///< of them, those that resumed a session (tls_options::resume_sessions)
    std::size_t connecting = 0;         ///< of the open connections, those being opened (lookup, TCP, TLS), at
                                        ///< most pool_options::max_connecting; requests waiting for a turn count
                                        ///< in `waiting`
};

namespace detail {
class client_impl;
using chat_handler = boost::asio::any_completion_handler<void(boost::system::error_code, completion)>;
void initiate_chat(const std::shared_ptr<client_impl>& impl, chat_request req, diagnostics* diag, chat_handler handler,
                   bool on_client_executor);
bool is_client_executor(const std::shared_ptr<client_impl>& impl, const boost::asio::any_io_executor& ex);

struct chat_initiation {
    template <class Handler>
    void operator()(Handler&& handler, const std::shared_ptr<client_impl>& impl, chat_request req,
                    diagnostics* diag) const {
        // Asked here, where the handler's type is known (as stream's on_stream_executor does).
        bool on_client = false;
        if constexpr (std::is_same_v<boost::asio::associated_executor_t<Handler>, boost::asio::any_io_executor>)
            on_client = is_client_executor(impl, boost::asio::get_associated_executor(handler));
        initiate_chat(impl, std::move(req), diag, chat_handler(std::forward<Handler>(handler)), on_client);
    }
    std::shared_ptr<const diagnostics> diagnostics_source(const std::shared_ptr<client_impl>&, const chat_request&,
                                                          diagnostics* diag) const {
        return {std::shared_ptr<const diagnostics>(), diag};  // the caller's, which outlives the operation
    }
};
}  // namespace detail

class client {
public:
    using executor_type = boost::asio::any_io_executor;

    /// Throws std::invalid_argument when the configuration cannot work (bad base URL, ...).
    client(executor_type ex, client_config config);
    ~client();
    client(client&&) noexcept;
    client& operator=(client&&) noexcept;

    /// Starts a streaming generation at once; read it with `stream::async_next`.
    stream chat_stream(chat_request req);

    /// A non-streaming generation. Completes with (error_code, completion); on failure `diag`
    /// (which must outlive the operation) says what happened. With the default token
    /// (`with_diagnostics(asio::use_awaitable)`) `co_await` returns the completion and throws
    /// error_with_diagnostics on failure.
    template <class CompletionToken = default_token>
    auto async_chat(chat_request req, diagnostics& diag, CompletionToken&& token = CompletionToken{}) {
        return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, completion)>(
            detail::chat_initiation{}, token, impl_, std::move(req), &diag);
    }

    executor_type get_executor() const noexcept;
    const client_config& config() const noexcept;
    /// The pool right now. When no request is in flight, open == idle and waiting == 0.
    llmstream::pool_stats pool_stats() const noexcept;

private:
    std::shared_ptr<detail::client_impl> impl_;
};

}  // namespace llmstream
