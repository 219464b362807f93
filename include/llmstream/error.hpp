// Error codes. Two categories:
//  - `errc` ("llmstream"): what the library itself detected: bad input, malformed or truncated
//    responses, exceeded limits, timeouts.
//  - `api_errc` ("llmstream.api"): what a provider reported, classified per docs/providers.md (the
//    same provider code can mean different things per provider; the codec decides).
// `is_retryable(ec)` is the one place the retry decision is read from.
#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace llmstream {

/// Failures detected by llmstream itself. Values are stable.
enum class errc {
    line_too_long = 1,       ///< an event-stream line exceeded `sse::limits::max_line_size`
    event_too_large = 2,     ///< an event's data exceeded `sse::limits::max_event_size`
    invalid_request = 3,     ///< the request cannot be encoded (for example `extra` is not a JSON object)
    malformed_response = 4,  ///< the server sent something that is not the dialect's JSON
    truncated_stream = 5,    ///< the stream ended before the response was complete
    body_too_large = 6,      ///< a response body exceeded its configured limit
    connect_timeout = 7,     ///< resolving and connecting took longer than `timeouts::connect`
    first_byte_timeout = 8,  ///< no response byte within `timeouts::first_byte` of sending the request
    idle_timeout = 9,        ///< a gap between response bytes exceeded `timeouts::idle`
    deadline_exceeded = 10,  ///< the whole request took longer than `timeouts::total`
    pool_wait_timeout = 11,  ///< no connection became free within `pool_options::wait_timeout`
    pool_queue_full = 12,    ///< `pool_options::max_waiting` requests are already waiting for a connection
    operation_in_progress = 13,  ///< async_next called while another async_next is pending
    invalid_base_url = 14,   ///< the configured base URL cannot be used (scheme, host, port)
    connection_closed = 15,  ///< the server closed the connection before the response was complete
    invalid_http_response = 16,  ///< not valid HTTP/1.1: status line, header fields, chunk framing, header size, Content-Encoding
    rate_limit_wait_exceeded = 17,  ///< the rate governor could not admit the request within `limits.max_wait` or its deadline
    proxy_unreachable = 18,      ///< the configured proxy could not be reached (refused, unresolvable, timed out)
    proxy_tunnel_refused = 19,   ///< the proxy answered CONNECT with a status other than 2xx or 407
    proxy_auth_required = 20,    ///< the proxy answered 407: its credentials are missing or wrong
    invalid_proxy = 21,          ///< the proxy URL cannot be used (expected http://[user:pass@]host[:port])
    http2_protocol_error = 22,   ///< the HTTP/2 connection failed: the server broke the protocol or ended it with an error (GOAWAY)
    http2_stream_reset = 23,     ///< the server reset the HTTP/2 stream (RST_STREAM) with an error code
    http2_flood = 24,            ///< the server sent control frames (SETTINGS, PING, CONTINUATION, ...) faster than allowed
    response_headers_too_large = 25,  ///< an HTTP/2 response's header fields exceeded the limit
    http2_not_negotiated = 26,   ///< http2 was required, but the server did not choose h2 in the TLS handshake (ALPN)
};

/// What a provider said went wrong, by class. Values are stable.
enum class api_errc {
    bad_request = 1,          ///< 400/422: a request field is wrong
    content_filtered = 2,     ///< input or output blocked by content moderation
    payment_required = 3,     ///< 402, or billing/quota exhausted (overdue, free tier used up)
    authentication = 4,       ///< 401: wrong, missing or other-region API key
    permission_denied = 5,    ///< 403: key/workspace not authorized for this model or service
    not_found = 6,            ///< 404: model or workspace does not exist for this key
    request_too_large = 7,    ///< 413
    unsupported_input = 8,    ///< 415: unsupported file or media format
    rate_limited = 9,         ///< 429 throttling: requests or tokens per minute
    request_timeout = 10,     ///< 408/409: the server timed out or saw a conflict
    server_error = 11,        ///< 500/502/504 and other server-side failures
    overloaded = 12,          ///< 503/529: the model or service is overloaded or unavailable
    unexpected_status = 13,   ///< any other non-success status
};

const boost::system::error_category& library_category() noexcept;
const boost::system::error_category& api_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), library_category()};
}
inline boost::system::error_code make_error_code(api_errc e) noexcept {
    return {static_cast<int>(e), api_category()};
}

/// The enumerator's name, e.g. "line_too_long", "rate_limited": stable, for logs and metrics.
const char* to_string(errc e) noexcept;
const char* to_string(api_errc e) noexcept;

/// True for failures of the TLS layer: the handshake, certificate verification, a TLS stream cut short.
bool is_tls_error(const boost::system::error_code& ec) noexcept;

/// True for failures of the network below HTTP: name lookup, refused, reset, unreachable, dropped.
bool is_network_error(const boost::system::error_code& ec) noexcept;

/// One word for the failure's class, as the CLI prints it and metrics label it (`error.type`):
/// "ok", the errc / api_errc name, "cancelled", "tls", "network", or "error" for anything else.
const char* error_class_name(const boost::system::error_code& ec) noexcept;

/// True when the same request may succeed if sent again later: throttling, timeouts, server
/// errors, overload, dropped or truncated connections. False for everything a retry cannot fix.
bool is_retryable(const boost::system::error_code& ec) noexcept;

}  // namespace llmstream

template <>
struct boost::system::is_error_code_enum<llmstream::errc> : std::true_type {};
template <>
struct boost::system::is_error_code_enum<llmstream::api_errc> : std::true_type {};
