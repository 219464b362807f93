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

tls_session_cache::tls_session_cache(SSL_CTX* ctx, bool resume) : ctx_(ctx), resume_(resume) {
    if (!resume_) return;
    if (cache_index() < 0 || SSL_CTX_set_ex_data(ctx_, cache_index(), this) != 1)
        throw std::runtime_error("llmstream: OpenSSL could not keep TLS sessions");
    // Client sessions go to on_new_session only: OpenSSL's own store would keep every one.
    SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx_, &tls_session_cache::on_new_session);
}

tls_session_cache::~tls_session_cache() {
    if (resume_) {
        SSL_CTX_sess_set_new_cb(ctx_, nullptr);
        SSL_CTX_set_ex_data(ctx_, cache_index(), nullptr);
    }
    for (SSL_SESSION* s : sessions_) SSL_SESSION_free(s);
}

// OpenSSL calls this when a connection gets a session: after a full TLS 1.2 handshake, or for each
// TLS 1.3 ticket, which comes after the handshake (read along with the response). Returning 0
// leaves OpenSSL's reference alone: the cache keeps a copy.
int tls_session_cache::on_new_session(SSL* ssl, SSL_SESSION* session) {
    if (auto* self = static_cast<tls_session_cache*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), cache_index())))
        self->keep(session);
    return 0;
}

void tls_session_cache::keep(const SSL_SESSION* session) {
    if (SSL_SESSION_is_resumable(session) != 1) return;
    SSL_SESSION* copy = SSL_SESSION_dup(session);
    if (copy == nullptr) return;  // out of memory: the next handshake is a full one
    sessions_.push_front(copy);
    if (sessions_.size() > max_sessions) {
        SSL_SESSION_free(sessions_.back());
        sessions_.pop_back();
    }
}

void tls_session_cache::offer(SSL* ssl) {
    if (!resume_ || sessions_.empty()) return;
    // The connection gets a copy of its own (SSL_set_session takes a reference to it).
    if (SSL_SESSION* copy = SSL_SESSION_dup(sessions_.front())) {
        SSL_set_session(ssl, copy);  // a refusal only means a full handshake
        SSL_SESSION_free(copy);
    }
    if (sessions_.size() > 1) {
        SSL_SESSION_free(sessions_.front());
        sessions_.pop_front();
    }
}

void tls_session_cache::handshake_done(SSL* ssl) noexcept {
    ++handshakes_;
    if (SSL_session_reused(ssl) == 1) ++resumed_;
}

}  // namespace llmstream::http
