// llmstream-mock's server: the accept loop, which tells HTTP/2 from HTTP/1.1 (the cleartext
// preface, or ALPN over TLS) and hands each connection to its protocol's session.
#include <llmstream/mock/server.hpp>

#include "h1_session.hpp"
#include "h2_session.hpp"
#include "state.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ssl.hpp>

#include <openssl/ssl.h>

#include <cstring>
#include <string_view>

namespace llmstream::mock {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(asio::deferred);

namespace {

constexpr std::string_view h2_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// Reads until the bytes either are the HTTP/2 preface or cannot be; returns what was read.
asio::awaitable<std::string> read_start(tcp::socket& socket, bool& is_h2) {
    std::string start;
    char buffer[64];
    while (start.size() < h2_preface.size()) {
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer, h2_preface.size() - start.size()), use_tuple);
        if (ec) break;
        start.append(buffer, n);
        if (h2_preface.substr(0, start.size()) != start) break;  // not the preface: HTTP/1.1
    }
    is_h2 = start == h2_preface;
    co_return start;
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                void* arg) {
    const bool http1_only = *static_cast<bool*>(arg);
    // h2 when offered (and allowed), else http/1.1; a client offering neither gets no ALPN.
    for (const char* wanted : {"h2", "http/1.1"}) {
        if (http1_only && std::strcmp(wanted, "h2") == 0) continue;
        const auto len = static_cast<unsigned char>(std::strlen(wanted));
        for (unsigned i = 0; i < inlen; i += 1u + in[i]) {
            if (in[i] == len && i + 1 + len <= inlen && std::memcmp(in + i + 1, wanted, len) == 0) {
                *out = in + i + 1;
                *outlen = len;
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

asio::awaitable<void> accept_loop(std::shared_ptr<server::state> st, h2_settings h2) {
    for (;;) {
        tcp::socket socket(st->executor);
        auto [ec] = co_await st->acceptor.async_accept(socket, use_tuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || !st->acceptor.is_open()) co_return;
            continue;  // e.g. too many open files: keep serving the connections we have
        }
        {
            std::lock_guard lock(st->mutex);
            if (st->stopped) co_return;
            ++st->counters.connections;
        }
        socket.set_option(tcp::no_delay(true), ec);
        if (!st->tls) {
            auto plain = std::make_shared<tcp::socket>(std::move(socket));
            st->track(plain);
            asio::co_spawn(
                st->executor,
                [st, plain, h2]() -> asio::awaitable<void> {
                    bool is_h2 = false;
                    std::string start = co_await read_start(*plain, is_h2);
                    if (is_h2 && !st->http1_only) co_await serve_http2(st, plain, std::move(start), h2);
                    else co_await serve_http1(st, plain, std::move(start));
                },
                asio::detached);
            continue;
        }
        auto tls = std::make_shared<asio::ssl::stream<tcp::socket>>(std::move(socket), *st->tls);
        st->track(std::shared_ptr<tcp::socket>(tls, &tls->next_layer()));
        asio::co_spawn(
            st->executor,
            [st, tls, h2]() -> asio::awaitable<void> {
                auto [hec] = co_await tls->async_handshake(asio::ssl::stream_base::server, use_tuple);
                if (hec) co_return;  // a client that refused our certificate: nothing to serve
                if (SSL_session_reused(tls->native_handle()) == 1) {
                    std::lock_guard lock(st->mutex);
                    ++st->counters.tls_resumed;
                }
                const unsigned char* chosen = nullptr;
                unsigned chosen_size = 0;
                SSL_get0_alpn_selected(tls->native_handle(), &chosen, &chosen_size);
                if (chosen && std::string_view(reinterpret_cast<const char*>(chosen), chosen_size) == "h2")
                    co_await serve_http2(st, tls, h2);
                else
                    co_await serve_http1(st, tls);
            },
            asio::detached);
    }
}

}  // namespace

server::server(asio::any_io_executor ex, options opts) : state_(std::make_shared<state>(ex)), options_(opts) {
    state_->http1_only = opts.http1_only;
    if (opts.requests_per_minute > 0) {
        state_->rate_interval = std::chrono::duration_cast<limits::clock::duration>(
            std::chrono::duration<double>(60.0 / opts.requests_per_minute));
        state_->rate_burst = std::chrono::milliseconds(opts.rate_burst_ms);
    }
    if (!opts.tls_cert_file.empty()) {
        state_->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
        state_->tls->use_certificate_chain_file(opts.tls_cert_file);
        state_->tls->use_private_key_file(opts.tls_key_file, asio::ssl::context::pem);
        SSL_CTX_set_alpn_select_cb(state_->tls->native_handle(), &select_alpn, &state_->http1_only);
    }
    const tcp::endpoint endpoint(asio::ip::make_address(opts.host), opts.port);
    state_->acceptor.open(endpoint.protocol());
    state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    state_->acceptor.bind(endpoint);
    state_->acceptor.listen(asio::socket_base::max_listen_connections);
}

server::~server() { stop(); }

void server::start() {
    h2_settings h2;
    h2.max_concurrent_streams = options_.h2_max_concurrent_streams;
    h2.max_streams_per_connection = options_.h2_max_streams_per_connection;
    asio::co_spawn(state_->executor, accept_loop(state_, h2), asio::detached);
}

void server::stop() {
    // Runs on the server's executor: sockets are only touched there.
    asio::dispatch(state_->executor, [st = state_] {
        std::list<std::weak_ptr<tcp::socket>> sockets;
        std::list<std::weak_ptr<asio::steady_timer>> timers;
        {
            std::lock_guard lock(st->mutex);
            st->stopped = true;
            sockets.swap(st->sockets);
            timers.swap(st->timers);
        }
        error_code ignored;
        st->acceptor.close(ignored);
        for (auto& w : sockets)
            if (auto s = w.lock()) s->close(ignored);
        for (auto& w : timers)
            if (auto t = w.lock()) t->cancel();
    });
}

unsigned short server::port() const noexcept {
    error_code ec;
    return state_->acceptor.local_endpoint(ec).port();
}

stats server::counters() const {
    std::lock_guard lock(state_->mutex);
    return state_->counters;
}

}  // namespace llmstream::mock
