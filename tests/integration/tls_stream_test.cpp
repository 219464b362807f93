// http::tls_stream, our TLS driver, against an asio::ssl::stream server on loopback with a
// throwaway CA: how writes become records, a read and a write in flight at once while the
// server asks for a key update, and how the connection's end is reported.
#include "../support/test_ca.hpp"
#include "mock_fixture.hpp"
#include "http/tls_sessions.hpp"
#include "http/tls_stream.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

using namespace llmstream;
using namespace llmstream::testing;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// What the server's OpenSSL saw arrive: application-data records after the handshake, and the
// client's KeyUpdate messages.
struct records_seen {
    bool counting = false;
    int records = 0;
    int key_updates = 0;
};

void on_message(int write_p, int, int content_type, const void* buf, std::size_t len, SSL*, void* arg) {
    auto& seen = *static_cast<records_seen*>(arg);
    const auto* bytes = static_cast<const unsigned char*>(buf);
    if (write_p != 0 || len == 0 || !seen.counting) return;
    if (content_type == SSL3_RT_HEADER && bytes[0] == SSL3_RT_APPLICATION_DATA) ++seen.records;
    if (content_type == SSL3_RT_HANDSHAKE && bytes[0] == SSL3_MT_KEY_UPDATE) ++seen.key_updates;
}

// The server's and the client's TLS contexts with a throwaway CA: one per test, or shared by
// several connections (session resumption).
struct tls_contexts {
    test_ca ca{"DNS:localhost"};
    asio::ssl::context server = make_server_context(ca);
    asio::ssl::context client = make_client_context(ca);

    static asio::ssl::context make_server_context(const test_ca& ca) {
        asio::ssl::context c(asio::ssl::context::tls_server);
        c.use_certificate_chain_file(ca.cert_file());
        c.use_private_key_file(ca.key_file(), asio::ssl::context::pem);
        return c;
    }
    static asio::ssl::context make_client_context(const test_ca& ca) {
        asio::ssl::context c(asio::ssl::context::tls_client);
        c.load_verify_file(ca.ca_file());
        c.set_verify_mode(asio::ssl::verify_peer);
        return c;
    }
};

// One loopback TLS server for one connection, and the client's tls_stream, both on `io`.
struct tls_pair {
    std::unique_ptr<tls_contexts> own_contexts;
    tls_contexts& contexts;
    asio::io_context io;
    tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
    asio::ssl::stream<tcp::socket> server{io, contexts.server};
    http::tls_stream client{io.get_executor(), contexts.client};
    records_seen seen;
    bool accepted = false;  // here, not in connect(): a detached coroutine sets it

    tls_pair() : own_contexts(std::make_unique<tls_contexts>()), contexts(*own_contexts) { watch_server(); }
    explicit tls_pair(tls_contexts& shared) : contexts(shared) { watch_server(); }

    void watch_server() {
        SSL_set_msg_callback(server.native_handle(), on_message);
        SSL_set_msg_callback_arg(server.native_handle(), &seen);
    }

    // Connects and completes the handshake on both sides.
    asio::awaitable<void> connect() {
        asio::co_spawn(io, [this]() -> asio::awaitable<void> {
            co_await acceptor.async_accept(server.next_layer(), asio::use_awaitable);
            co_await server.async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
            accepted = true;
        }, asio::detached);
        co_await client.next_layer().async_connect(acceptor.local_endpoint(), asio::use_awaitable);
        REQUIRE(SSL_set_tlsext_host_name(client.native_handle(), "localhost") == 1);
        REQUIRE(client.verify_host("localhost"));
        co_await client.async_handshake(asio::use_awaitable);
        asio::steady_timer tick(io);
        for (int i = 0; i < 200 && !accepted; ++i) {
            tick.expires_after(std::chrono::milliseconds(5));
            co_await tick.async_wait(asio::use_awaitable);
        }
        REQUIRE(accepted);
        seen.counting = true;
    }
};

std::string pattern(std::size_t size, unsigned seed) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (i * 7 + seed) % 26);
    return s;
}

}  // namespace

TEST_CASE("tls_stream: a write of many pieces goes out as full records", "[integration][tls_stream]") {
    tls_pair t;
    run_test(t.io, [&]() -> asio::awaitable<void> {
        co_await t.connect();

        // A request head as Beast hands it over: a dozen small pieces, one record.
        const std::string head = pattern(360, 1);
        std::vector<asio::const_buffer> pieces;
        for (std::size_t at = 0; at < head.size(); at += 30) pieces.emplace_back(head.data() + at, 30);
        const std::size_t n = co_await t.client.async_write_some(pieces, asio::use_awaitable);
        CHECK(n == head.size());
        std::string got(head.size(), '\0');
        co_await asio::async_read(t.server, asio::buffer(got), asio::use_awaitable);
        CHECK(got == head);
        CHECK(t.seen.records == 1);

        // 100,000 bytes in ten pieces: records of 16 KiB (at most 64 KiB per write_some), not one
        // per piece.
        t.seen.records = 0;
        const std::string body = pattern(100000, 2);
        pieces.clear();
        for (std::size_t at = 0; at < body.size(); at += 10000) pieces.emplace_back(body.data() + at, 10000);
        const std::size_t written = co_await asio::async_write(t.client, pieces, asio::use_awaitable);
        CHECK(written == body.size());
        got.assign(body.size(), '\0');
        co_await asio::async_read(t.server, asio::buffer(got), asio::use_awaitable);
        CHECK(got == body);
        CHECK(t.seen.records == 7);  // 4 for the first 64 KiB, 3 for the 34,464 bytes left
    });
}

TEST_CASE("tls_stream: a read and a write in flight at once, and a key update the server asks for",
          "[integration][tls_stream]") {
    tls_pair t;
    const std::string sent = pattern(1 << 20, 3);
    std::string echoed;
    bool server_done = false, writer_done = false;
    run_test(t.io, [&]() -> asio::awaitable<void> {
        co_await t.connect();

        // The server echoes everything; after the first 64 KiB it asks for a key update, which the
        // client must answer while its reader and writer are both busy.
        asio::co_spawn(t.io, [&]() -> asio::awaitable<void> {
            std::string buf(8192, '\0');
            std::size_t total = 0;
            bool asked = false;
            while (total < sent.size()) {
                const std::size_t n = co_await t.server.async_read_some(asio::buffer(buf), asio::use_awaitable);
                total += n;
                if (!asked && total >= 64 * 1024) {
                    CHECK(SSL_key_update(t.server.native_handle(), SSL_KEY_UPDATE_REQUESTED) == 1);
                    asked = true;
                }
                co_await asio::async_write(t.server, asio::buffer(buf.data(), n), asio::use_awaitable);
            }
            // The client's last words come after its KeyUpdate: reading them reads that too.
            char bye[3];
            co_await asio::async_read(t.server, asio::buffer(bye), asio::use_awaitable);
            CHECK(std::string(bye, 3) == "bye");
            server_done = true;
        }, asio::detached);

        asio::co_spawn(t.io, [&]() -> asio::awaitable<void> {
            for (std::size_t at = 0; at < sent.size(); at += 8192)
                co_await asio::async_write(t.client, asio::buffer(sent.data() + at, 8192), asio::use_awaitable);
            writer_done = true;
        }, asio::detached);

        std::string buf(5000, '\0');
        while (echoed.size() < sent.size()) {
            const std::size_t n = co_await t.client.async_read_some(asio::buffer(buf), asio::use_awaitable);
            echoed.append(buf.data(), n);
        }
        CHECK(writer_done);
        co_await asio::async_write(t.client, asio::buffer("bye", 3), asio::use_awaitable);
        asio::steady_timer tick(t.io);
        for (int i = 0; i < 400 && !server_done; ++i) {
            tick.expires_after(std::chrono::milliseconds(5));
            co_await tick.async_wait(asio::use_awaitable);
        }
    });
    CHECK(server_done);
    CHECK(echoed == sent);
    CHECK(t.seen.key_updates == 1);
}

TEST_CASE("tls_stream: the ciphertext buffer stays small for a trickle and grows only in a burst",
          "[integration][tls_stream]") {
    constexpr std::size_t smallest = http::tls_engine::min_read_buffer, largest = http::tls_engine::max_read_buffer;
    tls_pair t;
    std::size_t trickle_largest = 0, burst_largest = 0, after_burst_largest = 0;
    std::string burst_got;
    const std::string burst = pattern(256 * 1024, 4);
    run_test(t.io, [&]() -> asio::awaitable<void> {
        co_await t.connect();
        std::string buf(16 * 1024, '\0');
        // Records of a few hundred bytes, each read as it comes (a stream as it is generated).
        const auto trickle = [&](std::size_t& seen, unsigned tokens) -> asio::awaitable<void> {
            for (unsigned i = 0; i < tokens; ++i) {
                const std::string token = pattern(300, i);
                co_await asio::async_write(t.server, asio::buffer(token), asio::use_awaitable);
                std::string got;
                while (got.size() < token.size()) {
                    const std::size_t n = co_await t.client.async_read_some(asio::buffer(buf), asio::use_awaitable);
                    got.append(buf.data(), n);
                    seen = std::max(seen, t.client.input_buffer_size());
                }
                CHECK(got == token);
            }
        };
        co_await trickle(trickle_largest, 20);

        // A burst: the server writes 256 KiB at once, so each socket read finds more than it is offered.
        asio::co_spawn(t.io, asio::async_write(t.server, asio::buffer(burst), asio::use_awaitable), asio::detached);
        while (burst_got.size() < burst.size()) {
            const std::size_t n = co_await t.client.async_read_some(asio::buffer(buf), asio::use_awaitable);
            burst_got.append(buf.data(), n);
            burst_largest = std::max(burst_largest, t.client.input_buffer_size());
        }
        std::size_t settling = 0;  // the first read after the burst is offered what the burst's last read left
        co_await trickle(settling, 1);
        co_await trickle(after_burst_largest, 20);
    });
    CHECK(trickle_largest == smallest);
    CHECK(burst_got == burst);
    CHECK(burst_largest == largest);
    CHECK(after_burst_largest == smallest);
    CHECK(t.client.input_buffer_size() == smallest);
}

TEST_CASE("tls_stream: close_notify reads as end of file, a cut connection as truncated", "[integration][tls_stream]") {
    for (const bool clean : {true, false}) {
        CAPTURE(clean);
        tls_pair t;
        boost::system::error_code end;
        std::string got;
        run_test(t.io, [&]() -> asio::awaitable<void> {
            co_await t.connect();
            co_await asio::async_write(t.server, asio::buffer("last", 4), asio::use_awaitable);
            if (clean) {
                // Sends close_notify, then waits for ours, which never comes: the client just reads.
                t.server.async_shutdown([](boost::system::error_code) {});
            } else {
                t.server.next_layer().close();
            }
            std::string buf(64, '\0');
            for (;;) {
                auto [ec, n] = co_await t.client.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
                got.append(buf.data(), n);
                if (ec) {
                    end = ec;
                    break;
                }
            }
            t.client.next_layer().close();
        });
        CHECK(got == "last");
        if (clean) CHECK(end == asio::error::eof);
        else CHECK(end == asio::ssl::error::stream_truncated);
    }
}

TEST_CASE("tls_session_cache: every connection resumes, also when the server sends no new ticket",
          "[integration][tls_stream]") {
    tls_contexts contexts;
    http::tls_session_cache cache(contexts.client.native_handle(), true);
    // The server gives the 1st and 2nd connections two tickets each, the others none: the 3rd and
    // 4th are offered the 2nd's two (each once), the 5th and 6th both the one left, the 1st's.
    for (int i = 0; i < 6; ++i) {
        CAPTURE(i);
        tls_pair t(contexts);
        if (i >= 2) SSL_set_num_tickets(t.server.native_handle(), 0);  // resumes, gives nothing new
        run_test(t.io, [&]() -> asio::awaitable<void> {
            cache.offer(t.client.native_handle());
            co_await t.connect();
            cache.handshake_done(t.client.native_handle());
            // The tickets come after the handshake: reading the server's first bytes reads them.
            co_await asio::async_write(t.server, asio::buffer("hello", 5), asio::use_awaitable);
            std::string got(5, '\0');
            co_await asio::async_read(t.client, asio::buffer(got), asio::use_awaitable);
            CHECK(got == "hello");
            t.client.next_layer().close();  // no close_notify, as most connections end
        });
        CHECK(SSL_session_reused(t.server.native_handle()) == (i > 0 ? 1 : 0));
    }
    CHECK(cache.handshakes() == 6);
    CHECK(cache.resumed() == 5);
    CHECK(cache.sessions() == 1);
}

TEST_CASE("tls_session_cache: a TLS 1.2 session is resumed too", "[integration][tls_stream]") {
    tls_contexts contexts;
    SSL_CTX_set_max_proto_version(contexts.server.native_handle(), TLS1_2_VERSION);
    http::tls_session_cache cache(contexts.client.native_handle(), true);
    for (int i = 0; i < 3; ++i) {
        CAPTURE(i);
        tls_pair t(contexts);
        run_test(t.io, [&]() -> asio::awaitable<void> {
            cache.offer(t.client.native_handle());
            co_await t.connect();  // a TLS 1.2 session comes with the handshake itself
            cache.handshake_done(t.client.native_handle());
            t.client.next_layer().close();
        });
        CHECK(SSL_version(t.server.native_handle()) == TLS1_2_VERSION);
        CHECK(SSL_session_reused(t.server.native_handle()) == (i > 0 ? 1 : 0));
    }
    CHECK(cache.handshakes() == 3);
    CHECK(cache.resumed() == 2);
}

// How an HTTP/2 session stops reading a connection that went idle: it cancels the read alone,
// through the read's cancellation slot (a write under way, the writer's or one the read makes
// itself, must go on: a record cut in half would break the stream).
TEST_CASE("tls_stream: a read stopped through its cancellation slot ends, at any point, and the stream goes on",
          "[integration][tls_stream]") {
    for (int turns = 1; turns < 8; ++turns) {
        CAPTURE(turns);
        tls_pair t;
        run_test(t.io, [&]() -> asio::awaitable<void> {
            co_await t.connect();
            // The stop comes after `turns` turns of the event loop: while the read waits, and while
            // its socket read has completed with the server's session tickets but the operation
            // has not yet run again (it must not read once more). Only the tickets come: the
            // read ends by the stop alone.
            // (The chain ends with the stop, before the read can end: `later` outlives it.)
            asio::cancellation_signal stop;
            std::function<void(int)> later = [&](int left) {
                if (left == 0) stop.emit(asio::cancellation_type::terminal);
                else asio::post(t.io, [&later, left] { later(left - 1); });
            };
            later(turns);
            std::string buf(64, '\0');
            auto [ec, n] = co_await t.client.async_read_some(
                asio::buffer(buf), asio::bind_cancellation_slot(stop.slot(), asio::as_tuple(asio::use_awaitable)));
            CHECK(ec == asio::error::operation_aborted);
            CHECK(n == 0);

            // Both directions go on.
            co_await asio::async_write(t.client, asio::buffer("two", 3), asio::use_awaitable);
            std::string got(3, '\0');
            co_await asio::async_read(t.server, asio::buffer(got), asio::use_awaitable);
            CHECK(got == "two");
            co_await asio::async_write(t.server, asio::buffer("one", 3), asio::use_awaitable);
            got.assign(3, '\0');
            co_await asio::async_read(t.client, asio::buffer(got), asio::use_awaitable);
            CHECK(got == "one");
        }, std::chrono::seconds(20));
    }
}
