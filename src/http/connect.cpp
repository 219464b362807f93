#include "connect.hpp"

#include "protocol/error_classifier.hpp"

#include <llmstream/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/asio/ssl/error.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>

namespace llmstream::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using boost::system::error_code;
using tcp = asio::ip::tcp;
// Beast 1.81's operations predate deferred support: they are awaited with use_awaitable.
constexpr auto beast_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

class connector {
public:
    connector(connection& c, const connect_target& t, errc timeout_error, attempt_outcome& outcome)
        : c_(c), t_(t), timeout_error_(timeout_error), outcome_(outcome) {}

    error_code translate(error_code ec) const {
        if (ec == beast::error::timeout) return timeout_error_;
        if (ec == asio::error::eof) return errc::connection_closed;
        return ec;
    }

    // A failure to reach the proxy: its own class, naming the proxy (host and port only) and why
    // it was chosen. A timeout stays a connect timeout (the proxy is part of connecting).
    error_code proxy_unreachable(error_code ec) {
        if (ec == errc::connect_timeout || ec == errc::deadline_exceeded || ec == asio::error::operation_aborted) return ec;
        outcome_.hint = "the proxy " + t_.proxy->display() + " (" + t_.proxy_reason + ") cannot be reached (" +
                        ec.message() + "): check its host and port, or bypass it with NO_PROXY or proxy.from_environment";
        return errc::proxy_unreachable;
    }

    // CONNECT host:port through the proxy; on success the socket is a tunnel to the origin, and
    // TLS (SNI, certificate checks) is then with the origin itself.
    asio::awaitable<error_code> open_tunnel() {
        const auto& origin = t_.server;
        const auto& proxy = *t_.proxy;
        auto& tcp = c_.lowest_layer();
        const std::string request = connect_request(origin.host, origin.port, proxy);
        auto [wec, wn] = co_await asio::async_write(tcp, asio::buffer(request), beast_tuple);
        if (wec) co_return proxy_unreachable(translate(wec));
        connect_reply reply;
        std::array<char, 2048> buffer;
        for (;;) {
            auto [rec, n] = co_await tcp.async_read_some(asio::buffer(buffer), beast_tuple);
            if (rec) co_return proxy_unreachable(translate(rec));
            const auto r = reply.feed(std::string_view(buffer.data(), n));
            if (r.st == connect_reply::state::need_more) continue;
            // A refusal may carry a page after its head (ignored: the connection is dropped); a
            // proxy that sends bytes of its own after a 2xx, before TLS has begun, is as broken as bad HTTP.
            const bool extra_after_success = r.consumed != n && !connect_reply_error(reply.status());
            if (r.st == connect_reply::state::invalid || extra_after_success) {
                outcome_.hint = "the proxy " + proxy.display() + " answered CONNECT with something that is not HTTP: "
                                "check that it is an HTTP proxy";
                co_return errc::invalid_http_response;
            }
            break;
        }
        if (auto ec = connect_reply_error(reply.status())) {
            outcome_.http_status = reply.status();
            protocol::set_provider_text(outcome_.provider_message, reply.reason());
            if (ec == errc::proxy_auth_required)
                outcome_.hint = "the proxy " + proxy.display() + " (" + t_.proxy_reason + ") wants credentials" +
                                (proxy.username.empty() ? ": put them in the proxy URL (http://user:password@host:port)"
                                                        : ": the user name or password in the proxy URL is wrong") +
                                "; they are never printed";
            else
                outcome_.hint = "the proxy " + proxy.display() + " (" + t_.proxy_reason + ") refused a tunnel to " +
                                origin.host + ":" + origin.port + " (HTTP " + std::to_string(reply.status()) +
                                "): its rules may forbid that host or port, or bypass it with NO_PROXY";
            co_return ec;
        }
        co_return error_code{};
    }

private:
    connection& c_;
    const connect_target& t_;
    errc timeout_error_;
    attempt_outcome& outcome_;
};

// What OpenSSL said when it refused a setting (never "no error": the connection must not go on).
error_code openssl_refused() { return take_openssl_error(); }

}  // namespace

asio::awaitable<error_code> connect(connection& c, deadline_resolver& resolver, const connect_target& target,
                                    std::chrono::milliseconds limit, std::chrono::steady_clock::time_point deadline,
                                    const bool& cancelled, attempt_outcome& outcome, std::string& negotiated) {
    negotiated.clear();
    const auto& origin = target.server;
    const auto& proxy = target.proxy;
    // The connect timeout covers the name lookup too (which asio's resolver cannot abandon).
    exchange_timeouts t;
    t.deadline = deadline;
    const auto [when, timeout_error] = t.phase_end(limit, errc::connect_timeout);
    auto& tcp = c.lowest_layer();
    if (when == std::chrono::steady_clock::time_point::max()) tcp.expires_never();
    else tcp.expires_at(when);
    connector steps(c, target, timeout_error, outcome);

    auto [rec, results] = co_await resolver.resolve(proxy ? proxy->host : origin.host, proxy ? proxy->port : origin.port,
                                                    when, make_error_code(timeout_error));
    if (rec) co_return proxy ? steps.proxy_unreachable(rec) : rec;
    if (cancelled) co_return asio::error::operation_aborted;
    auto [cec, endpoint] = co_await tcp.async_connect(results, beast_tuple);
    if (cec) co_return proxy ? steps.proxy_unreachable(steps.translate(cec)) : steps.translate(cec);
    tcp.socket().set_option(tcp::no_delay(true), cec);
    if (proxy && origin.tls) {
        if (auto tec = co_await steps.open_tunnel()) co_return tec;
    }
    if (auto* tls = std::get_if<connection::tls_stream>(&c.stream)) {
        ::ERR_clear_error();  // what openssl_refused reports is what these calls raised
        if (!SSL_set_tlsext_host_name(tls->native_handle(), origin.host.c_str()))
            co_return openssl_refused();
        if (target.verify_peer && !tls->verify_host(origin.host))
            co_return openssl_refused();
        if (!target.alpn.empty() &&
            SSL_set_alpn_protos(tls->native_handle(), reinterpret_cast<const unsigned char*>(target.alpn.data()),
                                static_cast<unsigned>(target.alpn.size())) != 0)
            co_return openssl_refused();
        if (target.sessions) target.sessions->offer(tls->native_handle());
        auto [hec] = co_await tls->async_handshake(beast_tuple);
        if (hec) co_return steps.translate(hec);
        if (target.sessions) target.sessions->handshake_done(tls->native_handle());
        const unsigned char* chosen = nullptr;
        unsigned chosen_size = 0;
        SSL_get0_alpn_selected(tls->native_handle(), &chosen, &chosen_size);
        if (chosen) negotiated.assign(reinterpret_cast<const char*>(chosen), chosen_size);
    }
    c.connected = true;
    co_return error_code{};
}

}  // namespace llmstream::http
