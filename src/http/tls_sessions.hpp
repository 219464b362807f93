// TLS session resumption for one client (one origin): the newest session the server handed any of
// the client's connections is offered by the next connection's handshake. A resumed handshake
// skips the server's certificate chain and its signature check; the server may always refuse and
// do a full one. Sessions never leave the process.
#pragma once

#include <cstdint>

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

    /// Before a handshake: offers the newest session, if there is one.
    void offer(SSL* ssl) const;
    /// After a handshake that succeeded: counts it, and whether the server resumed the session.
    void handshake_done(SSL* ssl) noexcept;

    std::uint64_t handshakes() const noexcept { return handshakes_; }
    std::uint64_t resumed() const noexcept { return resumed_; }

private:
    static int on_new_session(SSL* ssl, SSL_SESSION* session);

    SSL_CTX* ctx_;
    SSL_SESSION* newest_ = nullptr;
    std::uint64_t handshakes_ = 0;
    std::uint64_t resumed_ = 0;
};

}  // namespace llmstream::http
