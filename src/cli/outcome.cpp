#include "cli/outcome.hpp"

#include <llmstream/error.hpp>

#include <boost/asio/error.hpp>

namespace llmstream::cli {

namespace {

bool is_tls(const boost::system::error_code& ec) {
    const std::string_view c = ec.category().name();
    return c == "asio.ssl" || c == "asio.ssl.stream";
}

const char* api_class(api_errc e) {
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

const char* library_class(errc e) {
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
    }
    return "error";
}

}  // namespace

int exit_code_for(const boost::system::error_code& ec) noexcept {
    if (!ec) return exit_code::ok;
    if (ec.category() == api_category()) {
        switch (static_cast<api_errc>(ec.value())) {
        case api_errc::authentication: return exit_code::authentication;
        case api_errc::permission_denied: return exit_code::permission_denied;
        case api_errc::payment_required: return exit_code::payment;
        case api_errc::not_found: return exit_code::not_found;
        case api_errc::bad_request:
        case api_errc::content_filtered:
        case api_errc::request_too_large:
        case api_errc::unsupported_input: return exit_code::bad_request;
        case api_errc::rate_limited: return exit_code::rate_limited;
        case api_errc::request_timeout:
        case api_errc::server_error:
        case api_errc::overloaded: return exit_code::server_error;
        case api_errc::unexpected_status: return exit_code::other;
        }
        return exit_code::other;
    }
    if (ec.category() == library_category()) {
        switch (static_cast<errc>(ec.value())) {
        case errc::connect_timeout:
        case errc::first_byte_timeout:
        case errc::idle_timeout:
        case errc::deadline_exceeded:
        case errc::pool_wait_timeout:
        case errc::truncated_stream:
        case errc::connection_closed:
        case errc::proxy_unreachable:
        case errc::proxy_tunnel_refused:
        case errc::proxy_auth_required: return exit_code::network;
        case errc::rate_limit_wait_exceeded: return exit_code::rate_limited;
        case errc::invalid_request: return exit_code::bad_request;
        case errc::invalid_base_url: return exit_code::usage;
        default: return exit_code::other;
        }
    }
    // The network or TLS: DNS, refused, reset, unreachable, handshake.
    namespace ae = boost::asio::error;
    if (is_tls(ec) || ec.category() == ae::get_netdb_category() || ec.category() == ae::get_addrinfo_category())
        return exit_code::network;
    const ae::basic_errors network[] = {ae::connection_refused, ae::connection_reset, ae::connection_aborted,
                                        ae::broken_pipe,        ae::timed_out,        ae::network_unreachable,
                                        ae::host_unreachable,   ae::network_down,     ae::network_reset,
                                        ae::shut_down,          ae::not_connected,    ae::address_in_use};
    for (auto e : network)
        if (ec == e) return exit_code::network;
    if (ec == ae::eof) return exit_code::network;
    return exit_code::other;  // cancelled, out of memory, an internal fault, ...
}

std::string error_class(const boost::system::error_code& ec) {
    if (!ec) return "ok";
    if (ec.category() == api_category()) return api_class(static_cast<api_errc>(ec.value()));
    if (ec.category() == library_category()) return library_class(static_cast<errc>(ec.value()));
    if (ec == boost::asio::error::operation_aborted) return "cancelled";
    if (is_tls(ec)) return "tls";
    if (exit_code_for(ec) == exit_code::network) return "network";
    return "error";
}

failure_report describe_failure(const boost::system::error_code& ec, const diagnostics& d) {
    failure_report r;
    std::string& s = r.summary;
    s = "llmstream: " + error_class(ec) + ": ";
    if (d.http_status != 0) s += "HTTP " + std::to_string(d.http_status);
    else s += "no HTTP response";
    if (!d.provider_code.empty()) s += ", provider code " + d.provider_code;
    if (!d.provider_message.empty()) s += ", provider message \"" + d.provider_message + "\"";
    if (ec.category() != api_category()) s += ", " + ec.message();
    if (!d.request_id.empty()) s += ", request id " + d.request_id;
    s += ", " + std::to_string(d.attempts) + (d.attempts == 1 ? " attempt" : " attempts");
    if (d.deltas_delivered > 0) s += ", after " + std::to_string(d.deltas_delivered) + " deltas";
    if (!d.retry_note.empty()) s += " (" + d.retry_note + ")";
    if (!d.hint.empty()) r.hint = "hint: " + d.hint;
    return r;
}

}  // namespace llmstream::cli
