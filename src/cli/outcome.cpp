#include "cli/outcome.hpp"

#include <llmstream/error.hpp>

#include <boost/asio/error.hpp>

namespace llmstream::cli {

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
        case errc::invalid_base_url:
        case errc::invalid_proxy: return exit_code::usage;
        default: return exit_code::other;
        }
    }
    // The network or TLS: DNS, refused, reset, unreachable, handshake.
    if (is_tls_error(ec) || is_network_error(ec)) return exit_code::network;
    return exit_code::other;  // cancelled, out of memory, an internal fault, ...
}

failure_report describe_failure(const boost::system::error_code& ec, const diagnostics& d) {
    failure_report r;
    std::string& s = r.summary;
    s = std::string("llmstream: ") + error_class_name(ec) + ": ";
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
