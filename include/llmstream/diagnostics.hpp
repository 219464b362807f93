// What is known about a failure beyond its error_code: what the server said (kept apart from the
// library's own text) and what the user should do about it. Never contains secrets.
#pragma once

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace llmstream {

/// One attempt of a request that was retried.
struct attempt_record {
    boost::system::error_code error{};  ///< how the attempt failed
    int http_status = 0;                ///< 0 when no response was received
    std::string provider_code{};
    std::string request_id{};
    std::chrono::milliseconds wait_before_next{0};  ///< the pause before the next attempt
};

/// What the last attempt met: its response, what the provider said, and the advice for it.
/// One record, so that starting an attempt over clears all of it and nothing else.
struct attempt_outcome {
    int http_status = 0;              ///< 0 when no response was received
    std::string provider_code{};      ///< e.g. "Model.AccessDenied", "insufficient_quota" (server text)
    std::string provider_message{};   ///< the server's own message, verbatim but bounded in length
    std::string request_id{};         ///< x-request-id / X-DashScope-Request-Id / body request_id
    std::optional<std::chrono::milliseconds> retry_after{};  ///< from Retry-After / retry-after-ms
    std::optional<bool> server_says_retry{};                  ///< from x-should-retry
    std::string hint{};               ///< the library's one-line advice on what to do
};

/// The inherited attempt_outcome fields describe the last attempt; the rest the whole call.
struct diagnostics : attempt_outcome {
    int attempts = 0;               ///< requests sent for this call, retries included
    std::vector<attempt_record> attempt_log{};  ///< every failed attempt that was retried, in order
    std::chrono::milliseconds retry_wait{0};     ///< total time spent waiting between attempts
    std::chrono::milliseconds admission_wait{0};  ///< total time the client's rate limits held the request back
    std::string admission_note{};  ///< what the rate governor had to say (e.g. Redis did not answer: local limits)
    std::size_t deltas_delivered = 0;            ///< deltas handed to the reader by async_next
    std::string retry_note{};  ///< why a retryable failure was not retried (budget, deadline, limit)

    /// One human-readable paragraph: class, status, provider code and message, request id,
    /// attempts (with what the earlier ones met) and the hint. `ec` names the class. With no
    /// hint stored (a request that ran out of memory to its end), the hint for `ec` itself.
    std::string to_string(const boost::system::error_code& ec) const;

    void clear() { *this = diagnostics{}; }
    /// Forgets what the last attempt met (the attempt_outcome fields), keeping the call's record.
    void clear_last_attempt() { static_cast<attempt_outcome&>(*this) = attempt_outcome{}; }
};

}  // namespace llmstream
