// Hooks into a client's requests, for metrics, logs and traces: request start, attempt start,
// retry scheduled, first delta, request end. Set `client_config::observer`; unset costs one
// branch per event and nothing else. `llmstream::metrics` (metrics.hpp) is a ready observer.
#pragma once

#include <llmstream/diagnostics.hpp>
#include <llmstream/events.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace llmstream {

/// Which request an event belongs to. The views are valid only during the call.
struct request_context {
    std::uint64_t id = 0;               ///< unique within the client, in start order
    std::string_view operation;         ///< "chat" (gen_ai.operation.name)
    std::string_view provider;          ///< "openai", "dashscope", "deepseek", "anthropic" (gen_ai.provider.name; an
                                        ///< OpenAI-compatible server of unknown vendor is "openai")
    std::string_view model;             ///< the model requested (gen_ai.request.model)
    std::string_view server_address;    ///< the base URL's host (server.address), never the proxy
    int server_port = 0;                ///< the base URL's port (server.port)
    bool streaming = false;             ///< chat_stream (true) or async_chat (false)
};

/// A failed attempt that will be sent again after `wait`: why (error, status, provider code) and when.
struct retry_event {
    int attempt = 0;                     ///< the attempt that failed, from 1
    boost::system::error_code error{};   ///< how it failed (error_class_name(error) is the reason's class)
    int http_status = 0;                 ///< 0 when no response was received
    std::string_view provider_code;      ///< e.g. "Throttling.RateQuota"; empty when none (valid during the call)
    std::chrono::milliseconds wait{0};   ///< the pause before the next attempt (Retry-After or backoff)
};

/// How a request ended.
struct request_result {
    boost::system::error_code error{};   ///< empty on success
    const llmstream::diagnostics* diagnostics = nullptr;  ///< status, provider code, attempts, hint (never the key)
    std::optional<llmstream::usage> usage{};              ///< token counts, when the server sent them
    std::chrono::nanoseconds duration{0};                 ///< from start to end, retries included
    std::optional<std::chrono::nanoseconds> time_to_first_delta{};  ///< streams that produced a delta
    std::size_t deltas = 0;                               ///< deltas produced for the reader
};

/// Called on the client's executor, inline, in this order per request: request_started once,
/// then per attempt attempt_started (and retry_scheduled when it failed and will be retried),
/// first_delta at most once, request_ended once. Keep the work short: it runs on the I/O path.
/// An exception thrown from a hook is the observer's bug and terminates (hooks are noexcept).
/// Hooks never see the API key or the proxy's credentials.
class observer {
public:
    virtual ~observer() = default;
    virtual void request_started(const request_context&) noexcept {}
    virtual void attempt_started(const request_context&, int /*attempt*/) noexcept {}
    virtual void retry_scheduled(const request_context&, const retry_event&) noexcept {}
    virtual void first_delta(const request_context&, std::chrono::nanoseconds /*since_start*/) noexcept {}
    virtual void request_ended(const request_context&, const request_result&) noexcept {}
};

}  // namespace llmstream
