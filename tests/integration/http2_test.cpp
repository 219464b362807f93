// What HTTP/2 adds, against llmstream-mock: many streams on one connection, a new connection only
// when all are full, a slow reader that holds back only its own stream, cancellation by
// RST_STREAM with the connection staying up, GOAWAY and REFUSED_STREAM sent again without counting
// an attempt, other resets and floods as clear errors, ALPN with its HTTP/1.1 fallback, PING
// before reuse, and an idle connection that lets io_context::run() return.
#include "../support/test_ca.hpp"
#include "collect.hpp"
#include "mock_fixture.hpp"

#include <llmstream/client.hpp>
#include <llmstream/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <thread>
#include <vector>

using namespace llmstream;
using namespace llmstream::testing;
namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

constexpr auto tuple = asio::as_tuple(asio::deferred);

client_config h2_config(const mock_fixture& mock) {
    client_config c = mock.config();
    c.http = http_version::http2;
    return c;
}

// Runs `n` streams of `model` at once; returns how many ended with exactly `tokens` tokens.
asio::awaitable<int> run_concurrently(client& c, int n, const std::string& model, int tokens) {
    int done = 0, good = 0;
    asio::steady_timer all_done(co_await asio::this_coro::executor, steady_clock::time_point::max());
    for (int i = 0; i < n; ++i) {
        asio::co_spawn(
            c.get_executor(),
            [&]() -> asio::awaitable<void> {
                auto s = c.chat_stream(mock_request(model));
                const collected r = co_await collect(s);
                if (!r.ec && r.content == expected_text(tokens)) ++good;
                if (++done == n) all_done.cancel();
            },
            asio::detached);
    }
    co_await all_done.async_wait(tuple);
    co_return good;
}

}  // namespace

TEST_CASE("http2: 100 concurrent streams share one connection", "[integration][http2]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), h2_config(mock));
    run_test(io, [&]() -> asio::awaitable<void> {
        {
            const int good = co_await run_concurrently(c, 100, "mock?tokens=20&pace_ms=5", 20);
            CHECK(good == 100);
        }
    });
    const auto counters = mock.counters();
    CHECK(counters.connections == 1);
    CHECK(counters.h2_connections == 1);
    CHECK(c.pool_stats().open == 1);
}

TEST_CASE("http2: a new connection opens only when every one is full (the server's stream limit)",
          "[integration][http2]") {
    mock::options opts;
    opts.h2_max_concurrent_streams = 10;
    mock_fixture mock(opts);
    asio::io_context io;
    client c(io.get_executor(), h2_config(mock));
    run_test(io, [&]() -> asio::awaitable<void> {
        {
            const int good = co_await run_concurrently(c, 50, "mock?tokens=20&pace_ms=20", 20);
            CHECK(good == 50);
        }
    });
    CHECK(mock.counters().connections == 5);

    // Our own cap works the same way, and pool.max_connections bounds the connections.
    client_config cfg = h2_config(mock);
    cfg.http2.max_concurrent_streams = 4;
    cfg.pool.max_connections = 3;
    client capped(io.get_executor(), cfg);
    const auto before = mock.counters().connections;
    run_test(io, [&]() -> asio::awaitable<void> {
        {
            const int good = co_await run_concurrently(capped, 30, "mock?tokens=5&pace_ms=5", 5);
            CHECK(good == 30);
        }
    });
    CHECK(mock.counters().connections - before == 3);
}

TEST_CASE("http2: a stalled reader holds back only its own stream, 99 others finish", "[integration][http2]") {
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = h2_config(mock);
    cfg.max_buffered_deltas = 4;
    cfg.http2.stream_window = 16 * 1024;  // the stalled stream's window is small, the connection's large
    cfg.timeouts.idle = milliseconds(300);  // a stream held back by its own reader is not idle
    client c(io.get_executor(), cfg);
    run_test(io, [&]() -> asio::awaitable<void> {
        // 4,000 tokens of ~40 bytes each: far beyond one stream window.
        const std::string big = "mock?tokens=4000&word=" + std::string(32, 'w');
        auto stalled = c.chat_stream(mock_request(big));
        auto first = co_await stalled.async_next(tuple);
        REQUIRE_FALSE(std::get<0>(first));
        // The reader now stops reading the stalled stream.
        const auto start = steady_clock::now();
        {
            const int good = co_await run_concurrently(c, 99, "mock?tokens=50", 50);
            CHECK(good == 99);
        }
        CHECK(steady_clock::now() - start < std::chrono::seconds(10));
        CHECK(mock.counters().connections == 1);  // all on the connection the stalled stream is on
        asio::steady_timer stall(co_await asio::this_coro::executor, milliseconds(800));
        co_await stall.async_wait(tuple);  // longer than timeouts.idle
        // The stalled stream resumes when read, and nothing was lost.
        std::string text = std::get<1>(first)->content;
        for (;;) {
            auto [ec, d] = co_await stalled.async_next(tuple);
            REQUIRE_FALSE(ec);
            if (!d) break;
            text += d->content;
        }
        CHECK(text == expected_text(4000, std::string(32, 'w')));
    });
}

TEST_CASE("http2: cancelling a stream resets only it, the connection stays up for the others",
          "[integration][http2]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), h2_config(mock));
    run_test(io, [&]() -> asio::awaitable<void> {
        auto keep = c.chat_stream(mock_request("mock?tokens=30&pace_ms=10"));
        auto drop = c.chat_stream(mock_request("mock?tokens=200&pace_ms=10"));
        const collected part = co_await collect(drop, 2);
        CHECK(part.deltas == 2);
        drop.cancel();
        auto [ec, d] = co_await drop.async_next(tuple);
        CHECK(ec == asio::error::operation_aborted);
        const collected whole = co_await collect(keep);
        CHECK_FALSE(whole.ec);
        CHECK(whole.content == expected_text(30));
        // A later stream rides the same connection.
        auto again = c.chat_stream(mock_request("mock?tokens=3"));
        const collected a = co_await collect(again);
        CHECK(a.content == expected_text(3));
        // Destroying a stream mid-way resets it too.
        {
            auto gone = c.chat_stream(mock_request("mock?tokens=200&pace_ms=10"));
            (void)co_await collect(gone, 1);
        }
        // The second reset reaches the mock soon after: wait for it, at most 2 s (not a fixed settle).
        asio::steady_timer settle(co_await asio::this_coro::executor);
        for (int i = 0; i < 200 && mock.counters().streams_reset < 2; ++i) {
            settle.expires_after(milliseconds(10));
            co_await settle.async_wait(tuple);
        }
    });
    const auto counters = mock.counters();
    CHECK(counters.streams_reset == 2);
    CHECK(counters.connections == 1);
}

TEST_CASE("http2: GOAWAY after N streams (nginx's keepalive_requests): every request succeeds in one attempt",
          "[integration][http2]") {
    mock::options opts;
    opts.h2_max_streams_per_connection = 7;
    mock_fixture mock(opts);
    asio::io_context io;
    client_config cfg = h2_config(mock);
    cfg.retry.max_retries = 0;  // a stream above the last stream id must not need a retry
    client c(io.get_executor(), cfg);
    int attempts_total = 0;
    run_test(io, [&]() -> asio::awaitable<void> {
        int done = 0, good = 0;
        const int n = 200;
        asio::steady_timer all_done(co_await asio::this_coro::executor, steady_clock::time_point::max());
        // 20 workers, 10 requests each, back to back: streams keep arriving while GOAWAYs go out.
        for (int w = 0; w < 20; ++w) {
            asio::co_spawn(
                io,
                [&]() -> asio::awaitable<void> {
                    for (int i = 0; i < 10; ++i) {
                        auto s = c.chat_stream(mock_request("mock?tokens=5&pace_ms=1"));
                        const collected r = co_await collect(s);
                        if (!r.ec && r.content == expected_text(5)) ++good;
                        attempts_total += s.diagnostics().attempts;
                        ++done;
                    }
                    if (done == n) all_done.cancel();
                },
                asio::detached);
        }
        co_await all_done.async_wait(tuple);
        CHECK(good == n);
    });
    CHECK(attempts_total == 200);  // no stream above a GOAWAY's last stream id counted as an attempt
    CHECK(mock.counters().connections >= 200 / 7);
}

TEST_CASE("http2: REFUSED_STREAM is sent again at once, other resets are errors with a hint", "[integration][http2]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), h2_config(mock));
    run_test(io, [&]() -> asio::awaitable<void> {
        auto refused = c.chat_stream(mock_request("mock?tokens=4&rst=7&fail_first=2&key=refused"));
        const collected r = co_await collect(refused);
        CHECK_FALSE(r.ec);
        CHECK(r.content == expected_text(4));
        CHECK(refused.diagnostics().attempts == 1);  // refused streams were never processed: not attempts

        auto reset = c.chat_stream(mock_request("mock?tokens=4&rst=2"));
        const collected x = co_await collect(reset);
        CHECK(x.ec == errc::http2_stream_reset);
        CHECK(is_retryable(x.ec));
        CHECK_FALSE(reset.diagnostics().hint.empty());

        auto flood = c.chat_stream(mock_request("mock?raw=ping_flood"));
        const collected f = co_await collect(flood);
        CHECK(f.ec == errc::http2_flood);
        CHECK_FALSE(is_retryable(f.ec));

        // The client goes on (on a new connection after the flood).
        auto ok = c.chat_stream(mock_request("mock?tokens=3"));
        const collected o = co_await collect(ok);
        CHECK(o.content == expected_text(3));
    });
    CHECK(mock.counters().attempts.at("refused") == 3);
}

TEST_CASE("http2: ALPN picks h2 over TLS, falls back to HTTP/1.1, and http2 refuses to", "[integration][http2][tls]") {
    test_ca ca("DNS:localhost");
    asio::io_context io;
    auto config_for = [&](const tls_mock_fixture& m, http_version v) {
        client_config cfg = providers::custom(m.base_url(), "k");
        cfg.tls.ca_file = ca.ca_file();
        cfg.http = v;
        return cfg;
    };
    {
        tls_mock_fixture h2(ca.cert_file(), ca.key_file());
        client c(io.get_executor(), config_for(h2, http_version::automatic));
        run_test(io, [&]() -> asio::awaitable<void> {
            {
                const int good = co_await run_concurrently(c, 20, "mock?tokens=5&pace_ms=5", 5);
                CHECK(good == 20);
            }
        });
        CHECK(h2.counters().connections == 1);
        CHECK(h2.counters().h2_connections == 1);
    }
    {
        tls_mock_fixture old(ca.cert_file(), ca.key_file(), /*http1_only=*/true);
        client c(io.get_executor(), config_for(old, http_version::automatic));
        run_test(io, [&]() -> asio::awaitable<void> {
            {
                const int good = co_await run_concurrently(c, 20, "mock?tokens=5&pace_ms=5", 5);
                CHECK(good == 20);
            }
        });
        CHECK(old.counters().h2_connections == 0);
        CHECK(old.counters().connections >= 2);  // one stream per connection

        client strict(io.get_executor(), config_for(old, http_version::http2));
        run_test(io, [&]() -> asio::awaitable<void> {
            auto s = strict.chat_stream(mock_request("mock?tokens=5"));
            const collected r = co_await collect(s);
            CHECK(r.ec == errc::http2_not_negotiated);
            CHECK(s.diagnostics().hint.find("http/1.1") != std::string::npos);
        });
    }
}

TEST_CASE("http2: an idle connection is PINGed before reuse after ping_after_idle, and io.run() returns",
          "[integration][http2]") {
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = h2_config(mock);
    cfg.http2.ping_after_idle = milliseconds(50);
    client c(io.get_executor(), cfg);
    std::string first, second;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto s = c.chat_stream(mock_request("mock?tokens=3"));
            const collected s_result = co_await collect(s);
            first = s_result.content;
        },
        asio::detached);
    const auto start = steady_clock::now();
    io.run();  // returns: the pooled idle connection does no I/O
    CHECK(steady_clock::now() - start < std::chrono::seconds(5));
    CHECK(first == expected_text(3));
    CHECK(c.pool_stats().idle == 1);
    std::this_thread::sleep_for(milliseconds(100));
    io.restart();
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto s = c.chat_stream(mock_request("mock?tokens=4"));
            const collected s_result = co_await collect(s);
            second = s_result.content;
        },
        asio::detached);
    io.run();
    CHECK(second == expected_text(4));
    CHECK(mock.counters().connections == 1);
    CHECK(mock.counters().pings == 1);
}

TEST_CASE("http2: a connection the pool opens waits its turn at pool.max_connecting like an HTTP/1.1 one",
          "[integration][http2]") {
    // A listener that never answers: each connection being opened holds its turn. One stream per
    // connection: when the third request joins the line, the pool opens a second connection for
    // the first in line, the second request, which then waits for a turn at the gate.
    asio::io_context io;
    asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
    client_config cfg = providers::custom("https://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/v1", "k");
    cfg.http = http_version::http2;
    cfg.http2.max_concurrent_streams = 1;
    cfg.pool.max_connecting = 1;
    cfg.pool.wait_timeout = milliseconds(200);
    cfg.timeouts.connect = milliseconds(900);
    cfg.retry.max_retries = 0;
    client c(io.get_executor(), cfg);
    struct outcome {
        boost::system::error_code ec;
        std::string hint;
        bool done = false;
    };
    auto run_one = [&](outcome& out) -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request("m"));
        auto [ec, d] = co_await s.async_next(tuple);
        out = {ec, s.diagnostics().hint, true};
    };
    outcome first, second, third;
    pool_stats while_waiting;
    run_test(io, [&]() -> asio::awaitable<void> {
        asio::steady_timer later(io);
        for (outcome* o : {&first, &second, &third}) {
            asio::co_spawn(io, run_one(*o), asio::detached);
            later.expires_after(milliseconds(40));
            co_await later.async_wait(tuple);
        }
        while_waiting = c.pool_stats();
        for (int i = 0; i < 500 && !(first.done && second.done && third.done); ++i) {
            later.expires_after(milliseconds(10));
            co_await later.async_wait(tuple);
        }
    });
    REQUIRE(first.done);
    REQUIRE(second.done);
    REQUIRE(third.done);
    CHECK(while_waiting.connecting == 1);  // the first's; the second waits for a turn
    CHECK(while_waiting.waiting == 2);     // the second at the gate, the third in the HTTP/2 pool
    CHECK(first.ec == errc::connect_timeout);
    CHECK(second.ec == errc::pool_wait_timeout);
    CHECK(second.hint.find("connections being opened at once (pool.max_connecting)") != std::string::npos);
    CHECK(third.ec);
    CHECK(c.pool_stats().open == 0);
    CHECK(c.pool_stats().connecting == 0);
}

TEST_CASE("http2: cancelling while the connection is being opened ends the request at once", "[integration][http2]") {
    // A listener that accepts and never answers: the TLS handshake cannot finish.
    asio::io_context io;
    asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
    asio::ip::tcp::socket accepted(io);
    silent.async_accept(accepted, [](boost::system::error_code) {});
    client_config cfg = providers::custom("https://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/v1", "k");
    cfg.http = http_version::http2;
    cfg.timeouts.connect = std::chrono::seconds(30);
    client c(io.get_executor(), cfg);
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request("m"));
        asio::steady_timer soon(co_await asio::this_coro::executor, milliseconds(200));
        co_await soon.async_wait(tuple);
        const auto start = steady_clock::now();
        s.cancel();
        auto [ec, d] = co_await s.async_next(tuple);
        CHECK(ec == asio::error::operation_aborted);
        CHECK(steady_clock::now() - start < std::chrono::seconds(2));
    });
    CHECK(c.pool_stats().open == 0);  // the connection being opened was given up
}
