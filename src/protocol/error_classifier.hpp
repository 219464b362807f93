// Reads what a provider said went wrong: status + provider code -> api_errc, plus a hint.
// Follows the table in docs/providers.md section 4; knows which vendor is speaking.
#pragma once

#include <llmstream/diagnostics.hpp>
#include <llmstream/error.hpp>
#include <llmstream/dialect.hpp>

#include <chrono>
#include <optional>
#include <string_view>

namespace llmstream::protocol {

/// `status` is the HTTP status (or the status a stream reported for an in-stream error; 0 or
/// 200 when unknown). `code` and `type` are the provider's `code` and `type` fields.
api_errc classify_error(vendor v, int status, std::string_view code, std::string_view type,
                        std::string_view message) noexcept;

/// The library's one-line advice for `e` as `v` reported it.
std::string hint_for(vendor v, api_errc e, std::string_view code);

/// The library's one-line advice for a failure that is not a provider's answer: timeouts, limits,
/// DNS, refused or dropped connections, TLS. Empty when there is nothing useful to say.
std::string hint_for_failure(const boost::system::error_code& ec);

/// Response headers an error decoder reads; the transport fills what it has.
struct response_head {
    int status = 0;
    std::string_view request_id;      ///< x-request-id or X-DashScope-Request-Id
    std::string_view retry_after;     ///< Retry-After: seconds or an HTTP date
    std::string_view retry_after_ms;  ///< retry-after-ms
    std::string_view should_retry;    ///< x-should-retry: "true" / "false"
};

/// Parses Retry-After (delta-seconds or IMF-fixdate, relative to `now`) and retry-after-ms;
/// retry-after-ms wins when both are valid. Negative or unparsable values give nothing.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view retry_after,
                                                           std::string_view retry_after_ms,
                                                           std::chrono::system_clock::time_point now);

/// Decodes a non-success response body (any shape, JSON or not) into `diag` and classifies it.
boost::system::error_code decode_error_response(vendor v, const response_head& head, std::string_view body,
                                                diagnostics& diag,
                                                std::chrono::system_clock::time_point now =
                                                    std::chrono::system_clock::now());

/// Replaces every occurrence of `secret` (the API key) in `diag`'s text with "[redacted]".
void redact_secret(diagnostics& diag, std::string_view secret);
/// What redact_secret would scrub, dropped whole: when there is no memory left to scrub it.
void drop_provider_text(diagnostics& diag) noexcept;

/// Provider text is kept, but bounded and stripped of control characters.
void set_provider_text(std::string& out, std::string_view text);

}  // namespace llmstream::protocol
