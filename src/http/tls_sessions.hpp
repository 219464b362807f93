// TLS session resumption for one client (one origin): the sessions the server handed the client's
// connections are offered by the next connections' handshakes. A resumed handshake skips the
// server's certificate chain and its signature check; the server may always refuse and do a full
// one. Sessions never leave the process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include <openssl/ssl.h>

namespace llmstream::http {

class tls_session_cache {
public:
    /// With `resume`, takes the sessions `ctx`'s connections receive (OpenSSL's client cache,
    /// without its store); without, only counts handshakes. The cache must outlive every
    /// connection made from `ctx`, and be the only one on it.
    tls_session_cache(SSL_CTX* ctx, bool resume);
    ~tls_session_cache();
    tls_session_cache(const tls_session_cache&) = delete;
    tls_session_cache& operator=(const tls_session_cache&) = delete;

    /// Before a handshake: offers the newest session, if there is one. Each is offered once
    /// (RFC 8446 C.4: a ticket should not be reused), but for the last, which every connection gets
    /// until a newer one comes (connections opened at once, or a server that sends no new ticket).
    void offer(SSL* ssl);
    /// After a handshake that succeeded: counts it, and whether the server resumed the session.
    void handshake_done(SSL* ssl) noexcept;

    std::uint64_t handshakes() const noexcept { return handshakes_; }
    std::uint64_t resumed() const noexcept { return resumed_; }
    /// Sessions held, newest first.
    std::size_t sessions() const noexcept { return sessions_.size(); }

private:
    static constexpr std::size_t max_sessions = 8;  // a server sends two TLS 1.3 tickets per connection
    static int on_new_session(SSL* ssl, SSL_SESSION* session);
    void keep(const SSL_SESSION* session);

    SSL_CTX* ctx_;
    bool resume_;
    // Copies, never the connections' own: OpenSSL marks a connection's session unusable when its
    // TLS 1.3 handshake resumed it, and when the connection ends without a close_notify.
    std::deque<SSL_SESSION*> sessions_;
    std::uint64_t handshakes_ = 0;
    std::uint64_t resumed_ = 0;
};

}  // namespace llmstream::http
