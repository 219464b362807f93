// The client: many concurrent generations on one executor.
//
//   llmstream::client c{io.get_executor(), llmstream::providers::dashscope_compatible(region::intl, key)};
//   auto s = c.chat_stream(std::move(req));
//   while (auto d = co_await s.async_next()) std::cout << d->content;
//
// A client and its streams live on one executor (share nothing between threads: run one client
// per io_context thread). Async functions take any completion token (default asio::deferred);
// the work happens in src/, compiled once, behind asio::any_completion_handler.
#pragma once

#include <llmstream/diagnostics.hpp>
#include <llmstream/events.hpp>
#include <llmstream/providers.hpp>
#include <llmstream/request.hpp>
#include <llmstream/retry.hpp>
#include <llmstream/sse.hpp>
#include <llmstream/stream.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/deferred.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace llmstream {

/// Each timeout has its own error code. Zero disables one.
struct timeouts {
    std::chrono::milliseconds connect{10'000};      ///< DNS + TCP (+ TLS) -> errc::connect_timeout
    std::chrono::milliseconds first_byte{120'000};  ///< request sent -> first response byte: errc::first_byte_timeout
    std::chrono::milliseconds idle{60'000};         ///< longest gap between response bytes: errc::idle_timeout
    std::chrono::milliseconds total{0};             ///< the whole request: errc::deadline_exceeded
};

/// Per-origin keep-alive connection pool.
struct pool_options {
    std::size_t max_connections = 256;            ///< open connections per origin, in use or idle
    std::size_t max_waiting = 100'000;            ///< requests queued for a connection; more fail at once
    std::chrono::milliseconds wait_timeout{30'000};  ///< longest wait for a connection
    std::chrono::milliseconds idle_timeout{50'000};  ///< idle connections older than this are closed, not reused
};

struct tls_options {
    bool verify_peer = true;  ///< verify the certificate chain and the host name
    std::string ca_file{};    ///< extra trusted CA bundle (PEM); the system trust store is always used
};

struct client_config {
    std::string base_url{};                             ///< e.g. https://api.openai.com/v1
    api_dialect dialect = api_dialect::openai_compatible;
    llmstream::vendor vendor = vendor::openai;          ///< whose error codes to read
    std::string api_key{};                              ///< sent as Bearer; never logged or reported
    std::string workspace{};                            ///< DashScope X-DashScope-WorkSpace (optional)
    std::vector<std::pair<std::string, std::string>> headers{};  ///< extra request headers
    llmstream::timeouts timeouts{};
    pool_options pool{};
    tls_options tls{};
    retry_policy retry{};                 ///< default for every request (chat_request::retry overrides)
    retry_budget_options retry_budget{};  ///< client-wide cap on retries
    sse::limits sse_limits{};
    std::size_t max_body_size = 64 * 1024 * 1024;  ///< non-streaming and error bodies
    std::size_t max_buffered_deltas = 256;         ///< deltas decoded ahead of the reader before reading pauses
};

/// A snapshot of a client's connection pool, for metrics and leak checks.
struct pool_stats {
    std::size_t open = 0;     ///< connections open (in use or idle)
    std::size_t idle = 0;     ///< open connections waiting for reuse
    std::size_t waiting = 0;  ///< requests waiting for a connection
};

namespace providers {

enum class region { cn, intl, finance, us, hongkong };

client_config openai(std::string api_key);
client_config deepseek(std::string api_key);
/// DashScope's OpenAI-compatible mode in a region (keys belong to one region).
client_config dashscope_compatible(region r, std::string api_key);
/// DashScope's native text-generation API in a region.
client_config dashscope_native(region r, std::string api_key);
/// Any OpenAI-compatible server (vLLM, llama.cpp, Ollama, ...); errors are read as OpenAI's.
client_config custom(std::string base_url, std::string api_key = {},
                     api_dialect dialect = api_dialect::openai_compatible);
/// The value of an environment variable, or "" when unset (e.g. "DASHSCOPE_API_KEY").
std::string key_from_env(const char* variable);

}  // namespace providers

namespace detail {
class client_impl;
using chat_handler = boost::asio::any_completion_handler<void(boost::system::error_code, completion)>;
void initiate_chat(const std::shared_ptr<client_impl>& impl, chat_request req, diagnostics* diag, chat_handler handler);
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
    /// (which must outlive the operation) says what happened.
    template <class CompletionToken = boost::asio::deferred_t>
    auto async_chat(chat_request req, diagnostics& diag, CompletionToken&& token = CompletionToken{}) {
        return boost::asio::async_initiate<CompletionToken, void(boost::system::error_code, completion)>(
            [](auto handler, std::shared_ptr<detail::client_impl> impl, chat_request r, diagnostics* d) {
                detail::initiate_chat(impl, std::move(r), d, detail::chat_handler(std::move(handler)));
            },
            token, impl_, std::move(req), &diag);
    }

    executor_type get_executor() const noexcept;
    const client_config& config() const noexcept;
    /// The pool right now. When no request is in flight, open == idle and waiting == 0.
    llmstream::pool_stats pool_stats() const noexcept;

private:
    std::shared_ptr<detail::client_impl> impl_;
};

}  // namespace llmstream
