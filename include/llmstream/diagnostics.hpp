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

/// The fields above `attempts` describe the last attempt; the rest describe the whole call.
struct diagnostics {
    int http_status = 0;            ///< 0 when no response was received
    std::string provider_code{};      ///< e.g. "Model.AccessDenied", "insufficient_quota" (server text)
    std::string provider_message{};   ///< the server's own message, verbatim but bounded in length
    std::string request_id{};         ///< x-request-id / X-DashScope-Request-Id / body request_id
    std::optional<std::chrono::milliseconds> retry_after{};  ///< from Retry-After / retry-after-ms
    std::optional<bool> server_says_retry{};                  ///< from x-should-retry
    int attempts = 0;               ///< requests sent for this call, retries included
    std::vector<attempt_record> attempt_log{};  ///< every failed attempt that was retried, in order
    std::chrono::milliseconds retry_wait{0};     ///< total time spent waiting between attempts
    std::size_t deltas_delivered = 0;            ///< deltas handed to the reader by async_next
    std::string retry_note{};  ///< why a retryable failure was not retried (budget, deadline, limit)
    std::string hint{};               ///< the library's one-line advice on what to do

    /// One human-readable paragraph: class, status, provider code and message, request id,
    /// attempts (with what the earlier ones met) and the hint. `ec` names the class.
    std::string to_string(const boost::system::error_code& ec) const;

    void clear() { *this = diagnostics{}; }
};

}  // namespace llmstream
