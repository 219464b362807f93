#include "tls_sessions.hpp"

#include <stdexcept>

namespace llmstream::http {

namespace {

// Where an SSL_CTX keeps its tls_session_cache.
int cache_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

}  // namespace

tls_session_cache::tls_session_cache(SSL_CTX* ctx, bool resume) : ctx_(ctx) {
    if (!resume) return;
    if (cache_index() < 0 || SSL_CTX_set_ex_data(ctx_, cache_index(), this) != 1)
        throw std::runtime_error("llmstream: OpenSSL could not keep TLS sessions");
    // Client sessions go to on_new_session only: OpenSSL's own store would keep every one.
    SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx_, &tls_session_cache::on_new_session);
}

tls_session_cache::~tls_session_cache() {
    if (SSL_CTX_sess_get_new_cb(ctx_) == &tls_session_cache::on_new_session) {
        SSL_CTX_sess_set_new_cb(ctx_, nullptr);
        SSL_CTX_set_ex_data(ctx_, cache_index(), nullptr);
    }
    SSL_SESSION_free(newest_);
}

// OpenSSL calls this when a connection gets a session: after a TLS 1.2 handshake, or for each
// TLS 1.3 ticket, which comes after the handshake (read along with the response). The cache keeps
// a copy: the connection's own session is marked unusable when the connection ends without a
// close_notify, which is how most of them end (returning 0 leaves OpenSSL's reference alone).
int tls_session_cache::on_new_session(SSL* ssl, SSL_SESSION* session) {
    auto* self = static_cast<tls_session_cache*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), cache_index()));
    if (self == nullptr || SSL_SESSION_is_resumable(session) != 1) return 0;
    if (SSL_SESSION* copy = SSL_SESSION_dup(session)) {
        SSL_SESSION_free(self->newest_);
        self->newest_ = copy;
    }
    return 0;
}

void tls_session_cache::offer(SSL* ssl) const {
    if (newest_ != nullptr) SSL_set_session(ssl, newest_);  // a refusal only means a full handshake
}

void tls_session_cache::handshake_done(SSL* ssl) noexcept {
    ++handshakes_;
    if (SSL_session_reused(ssl) == 1) ++resumed_;
}

}  // namespace llmstream::http
