#include <llmstream/error.hpp>

#include <boost/asio/error.hpp>


#include <string>
#include <string_view>

namespace llmstream {
namespace {

class library_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "llmstream"; }

    std::string message(int value) const override {
        switch (static_cast<errc>(value)) {
        case errc::line_too_long:
            return "event-stream line longer than the configured limit (sse::limits::max_line_size)";
        case errc::event_too_large:
            return "event-stream event larger than the configured limit (sse::limits::max_event_size)";
        case errc::invalid_request:
            return "the request cannot be encoded";
        case errc::malformed_response:
            return "the server's response is not valid for the API dialect";
        case errc::truncated_stream:
            return "the response stream ended before it was complete";
        case errc::body_too_large:
            return "response body larger than the configured limit";
        case errc::connect_timeout:
            return "connect timeout: the server could not be reached within timeouts::connect (name lookup included)";
        case errc::first_byte_timeout:
            return "first-byte timeout: no response within timeouts::first_byte of sending the request";
        case errc::idle_timeout:
            return "idle timeout: the response stalled for longer than timeouts::idle";
        case errc::deadline_exceeded:
            return "deadline exceeded: the request took longer than timeouts::total";
        case errc::pool_wait_timeout:
            return "no connection became free, and no turn to open one came (pool_options::max_connecting), "
                   "within pool_options::wait_timeout";
        case errc::pool_queue_full:
            return "too many requests waiting for a connection (pool_options::max_waiting)";
        case errc::operation_in_progress:
            return "another async_next is already pending on this stream";
        case errc::invalid_base_url:
            return "the base URL cannot be used (expected http:// or https:// with a host)";
        case errc::connection_closed:
            return "the server closed the connection before the response was complete";
        case errc::invalid_http_response:
            return "the server's response is not valid HTTP/1.1 (status line, header fields, chunk framing or size)";
        case errc::rate_limit_wait_exceeded:
            return "the rate governor could not admit the request within limits.max_wait (or before its deadline)";
        case errc::proxy_unreachable:
            return "the proxy could not be reached";
        case errc::proxy_tunnel_refused:
            return "the proxy refused to open a tunnel (CONNECT) to the server";
        case errc::proxy_auth_required:
            return "the proxy requires authentication (407): its credentials are missing or wrong";
        case errc::invalid_proxy:
            return "the proxy URL cannot be used (expected http://[user:password@]host[:port])";
        case errc::http2_protocol_error:
            return "the HTTP/2 connection failed: the server broke the protocol or closed it with an error";
        case errc::http2_stream_reset:
            return "the server reset the HTTP/2 stream";
        case errc::http2_flood:
            return "the server sent HTTP/2 control frames faster than allowed (flood protection)";
        case errc::response_headers_too_large:
            return "the response's header fields exceeded the limit";
        case errc::http2_not_negotiated:
            return "HTTP/2 was required, but the server did not offer it (ALPN)";
        }
        return "unknown llmstream error " + std::to_string(value);
    }
};

class api_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "llmstream.api"; }

    std::string message(int value) const override {
        switch (static_cast<api_errc>(value)) {
        case api_errc::bad_request: return "bad request";
        case api_errc::content_filtered: return "content filtered by moderation";
        case api_errc::payment_required: return "payment required: balance, plan or free quota exhausted";
        case api_errc::authentication: return "authentication failed";
        case api_errc::permission_denied: return "permission denied";
        case api_errc::not_found: return "not found";
        case api_errc::request_too_large: return "request too large";
        case api_errc::unsupported_input: return "unsupported input format";
        case api_errc::rate_limited: return "rate limited";
        case api_errc::request_timeout: return "request timed out on the server";
        case api_errc::server_error: return "server error";
        case api_errc::overloaded: return "service overloaded or unavailable";
        case api_errc::unexpected_status: return "unexpected HTTP status";
        }
        return "unknown API error " + std::to_string(value);
    }
};

}  // namespace

const boost::system::error_category& library_category() noexcept {
    static const library_category_impl instance;
    return instance;
}

const boost::system::error_category& api_category() noexcept {
    static const api_category_impl instance;
    return instance;
}

const char* to_string(api_errc e) noexcept {
    switch (e) {
    case api_errc::bad_request: return "bad_request";
    case api_errc::content_filtered: return "content_filtered";
    case api_errc::payment_required: return "payment_required";
    case api_errc::authentication: return "authentication";
    case api_errc::permission_denied: return "permission_denied";
    case api_errc::not_found: return "not_found";
    case api_errc::request_too_large: return "request_too_large";
    case api_errc::unsupported_input: return "unsupported_input";
    case api_errc::rate_limited: return "rate_limited";
    case api_errc::request_timeout: return "request_timeout";
    case api_errc::server_error: return "server_error";
    case api_errc::overloaded: return "overloaded";
    case api_errc::unexpected_status: return "unexpected_status";
    }
    return "api_error";
}

const char* to_string(errc e) noexcept {
    switch (e) {
    case errc::line_too_long: return "line_too_long";
    case errc::event_too_large: return "event_too_large";
    case errc::invalid_request: return "invalid_request";
    case errc::malformed_response: return "malformed_response";
    case errc::truncated_stream: return "truncated_stream";
    case errc::body_too_large: return "body_too_large";
    case errc::connect_timeout: return "connect_timeout";
    case errc::first_byte_timeout: return "first_byte_timeout";
    case errc::idle_timeout: return "idle_timeout";
    case errc::deadline_exceeded: return "deadline_exceeded";
    case errc::pool_wait_timeout: return "pool_wait_timeout";
    case errc::pool_queue_full: return "pool_queue_full";
    case errc::operation_in_progress: return "operation_in_progress";
    case errc::invalid_base_url: return "invalid_base_url";
    case errc::connection_closed: return "connection_closed";
    case errc::invalid_http_response: return "invalid_http_response";
    case errc::rate_limit_wait_exceeded: return "rate_limit_wait_exceeded";
    case errc::proxy_unreachable: return "proxy_unreachable";
    case errc::proxy_tunnel_refused: return "proxy_tunnel_refused";
    case errc::proxy_auth_required: return "proxy_auth_required";
    case errc::invalid_proxy: return "invalid_proxy";
    case errc::http2_protocol_error: return "http2_protocol_error";
    case errc::http2_stream_reset: return "http2_stream_reset";
    case errc::http2_flood: return "http2_flood";
    case errc::response_headers_too_large: return "response_headers_too_large";
    case errc::http2_not_negotiated: return "http2_not_negotiated";
    }
    return "error";
}


bool is_tls_error(const boost::system::error_code& ec) noexcept {
    // asio.ssl: what OpenSSL reported; asio.ssl.stream: the TLS stream itself (cut short).
    const std::string_view c = ec.category().name();
    return c == "asio.ssl" || c == "asio.ssl.stream";
}

bool is_network_error(const boost::system::error_code& ec) noexcept {
    namespace ae = boost::asio::error;
    if (ec.category() == ae::get_netdb_category() || ec.category() == ae::get_addrinfo_category()) return true;
    const ae::basic_errors network[] = {ae::connection_refused, ae::connection_reset, ae::connection_aborted,
                                        ae::broken_pipe,        ae::timed_out,        ae::network_unreachable,
                                        ae::host_unreachable,   ae::network_down,     ae::network_reset,
                                        ae::shut_down,          ae::not_connected,    ae::address_in_use};
    for (auto e : network)
        if (ec == e) return true;
    return ec == ae::eof;
}

const char* error_class_name(const boost::system::error_code& ec) noexcept {
    if (!ec) return "ok";
    if (ec.category() == api_category()) return to_string(static_cast<api_errc>(ec.value()));
    if (ec.category() == library_category()) return to_string(static_cast<errc>(ec.value()));
    if (ec == boost::asio::error::operation_aborted) return "cancelled";
    if (is_tls_error(ec)) return "tls";
    if (is_network_error(ec)) return "network";
    return "error";
}

bool is_retryable(const boost::system::error_code& ec) noexcept {
    if (!ec) return false;
    if (ec.category() == api_category()) {
        switch (static_cast<api_errc>(ec.value())) {
        case api_errc::rate_limited:
        case api_errc::request_timeout:
        case api_errc::server_error:
        case api_errc::overloaded:
            return true;
        default:
            return false;
        }
    }
    if (ec.category() == library_category()) {
        // A cut-off or stalled response may succeed next time; the rest would fail the same way
        // (a deadline is the caller's whole budget, so it is final too).
        switch (static_cast<errc>(ec.value())) {
        case errc::truncated_stream:
        case errc::connect_timeout:
        case errc::first_byte_timeout:
        case errc::idle_timeout:
        case errc::connection_closed:
        case errc::proxy_unreachable:
        case errc::http2_protocol_error:
        case errc::http2_stream_reset:
            return true;
        default:
            return false;
        }
    }
    // TLS: a handshake cut short (the connection dropped) may succeed next time; what OpenSSL
    // itself reports (a certificate that fails verification, https:// against a plain-HTTP port,
    // no shared protocol version) fails the same way every time.
    if (is_tls_error(ec)) return ec.category().name() == std::string_view("asio.ssl.stream");
    // Network failures: the connection was refused, reset or dropped.
    namespace ae = boost::asio::error;
    return ec == ae::connection_refused || ec == ae::connection_reset || ec == ae::connection_aborted ||
           ec == ae::broken_pipe || ec == ae::eof || ec == ae::timed_out || ec == ae::network_unreachable ||
           ec == ae::host_unreachable || ec == ae::network_down || ec == ae::network_reset ||
           ec == ae::host_not_found_try_again;
}

}  // namespace llmstream
