// Connection set-up: name lookup, TCP, the proxy's CONNECT tunnel, TLS (SNI, certificate and host
// name checks). Everything before the first request byte, under the connect timeout.
#pragma once

#include "connection_pool.hpp"
#include "exchange.hpp"
#include "origin.hpp"
#include "proxy.hpp"
#include "resolve.hpp"
#include "tls_sessions.hpp"

#include <llmstream/diagnostics.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace llmstream::http {

/// Where and how to connect: the origin, and the proxy in front of it when there is one.
struct connect_target {
    const origin& server;
    const std::optional<proxy_endpoint>& proxy;
    const std::string& proxy_reason;         ///< why this proxy, for hints
    const std::string& proxy_authorization;  ///< "Basic ..." or empty
    bool verify_peer = true;
    /// ALPN protocols offered in the TLS handshake, in wire format ("\x02h2\x08http/1.1"); empty: none.
    std::string_view alpn{};
    /// Sessions to resume and to count handshakes in; null: every handshake is a full one.
    tls_session_cache* sessions = nullptr;
};

/// Connects `c` (a new connection from the pool) to `target`: resolve (the proxy's host when there
/// is one), TCP, CONNECT through an https origin's proxy, then the TLS handshake with the origin.
/// The whole of it ends by `limit` from now or `deadline`, whichever is sooner
/// (errc::connect_timeout / errc::deadline_exceeded). Proxy failures are errc::proxy_unreachable,
/// proxy_tunnel_refused or proxy_auth_required, with the proxy's status, reason and a hint in
/// `outcome`. `cancelled` is read after each step: cancel() on the resolver and closing the
/// connection end a step at once; this stops the next one. `negotiated` gets the protocol the
/// server chose by ALPN ("h2", "http/1.1"), or "" when none was.
boost::asio::awaitable<boost::system::error_code> connect(connection& c, deadline_resolver& resolver,
                                                          const connect_target& target,
                                                          std::chrono::milliseconds limit,
                                                          std::chrono::steady_clock::time_point deadline,
                                                          const bool& cancelled, attempt_outcome& outcome,
                                                          std::string& negotiated);

}  // namespace llmstream::http
