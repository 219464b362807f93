// TLS against llmstream-mock with a throwaway CA: success with the right CA and host name,
// refusal with the wrong CA or the wrong host name; session resumption; connections opened in turns.
#include "../support/test_ca.hpp"
#include "mock_fixture.hpp"

#include <llmstream/client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>

#include <string>
#include <vector>

using namespace llmstream;
using namespace llmstream::testing;
namespace asio = boost::asio;

namespace {

// Streams one request on `c` to its end: its error, if any, and the text before it.
asio::awaitable<std::pair<boost::system::error_code, std::string>> stream_text(client& c, std::string model) {
    auto s = c.chat_stream(mock_request(std::move(model)));
    std::string text;
    for (;;) {
        auto [ec, d] = co_await s.async_next(asio::as_tuple(asio::deferred));
        if (ec || !d) co_return std::make_pair(ec, text);
        text += d->content;
    }
}

std::pair<boost::system::error_code, std::string> stream_once(const client_config& cfg) {
    asio::io_context io;
    client c(io.get_executor(), cfg);
    std::pair<boost::system::error_code, std::string> result;
    run_test(io, [&]() -> asio::awaitable<void> { result = co_await stream_text(c, "mock?tokens=5"); });
    return result;
}

}  // namespace

TEST_CASE("TLS: verified against the test CA and the host name", "[integration][tls]") {
    test_ca ca("DNS:localhost");
    tls_mock_fixture mock(ca.cert_file(), ca.key_file());
    client_config cfg = providers::custom("https://localhost:" + std::to_string(mock.port()) + "/v1", "k");
    cfg.tls.ca_file = ca.ca_file();
    auto [ec, text] = stream_once(cfg);
    CHECK_FALSE(ec);
    CHECK(text == "tok0 tok1 tok2 tok3 tok4");
}

TEST_CASE("TLS: a certificate from an unknown CA is refused", "[integration][tls]") {
    test_ca ca("DNS:localhost");
    test_ca other("DNS:localhost");
    tls_mock_fixture mock(ca.cert_file(), ca.key_file());
    client_config cfg = providers::custom("https://localhost:" + std::to_string(mock.port()) + "/v1", "k");
    cfg.tls.ca_file = other.ca_file();
    auto [ec, text] = stream_once(cfg);
    CHECK(ec);
    CHECK(ec.category() == asio::error::get_ssl_category());
    CHECK(text.empty());
}

TEST_CASE("TLS: a certificate for another host name is refused", "[integration][tls]") {
    test_ca ca("DNS:some-other-host.example");
    tls_mock_fixture mock(ca.cert_file(), ca.key_file());
    client_config cfg = providers::custom("https://localhost:" + std::to_string(mock.port()) + "/v1", "k");
    cfg.tls.ca_file = ca.ca_file();
    auto [ec, text] = stream_once(cfg);
    CHECK(ec);
    CHECK(ec.category() == asio::error::get_ssl_category());
}

TEST_CASE("TLS: on a kept-alive connection, the next response's head is still under the first-byte limit",
          "[integration][tls]") {
    test_ca ca("DNS:localhost");
    tls_mock_fixture mock(ca.cert_file(), ca.key_file(), /*http1_only=*/true);
    client_config cfg = providers::custom(mock.base_url(), "k");
    cfg.tls.ca_file = ca.ca_file();
    cfg.http = http_version::http1;
    cfg.pool.max_connections = 1;
    cfg.timeouts.first_byte = std::chrono::milliseconds(300);
    cfg.retry.max_retries = 0;
    asio::io_context io;
    client c(io.get_executor(), cfg);
    run_test(io, [&]() -> asio::awaitable<void> {
        {  // a streamed body first: its reads bypass the connection's timer while the watchdog keeps time
            const auto [ec, text] = co_await stream_text(c, "mock?tokens=5");
            REQUIRE_FALSE(ec);
            CHECK(text == "tok0 tok1 tok2 tok3 tok4");
        }
        const auto start = std::chrono::steady_clock::now();
        auto s = c.chat_stream(mock_request("mock?slow_headers_ms=3000"));
        auto [ec, d] = co_await s.async_next(asio::as_tuple(asio::deferred));
        CHECK(ec == errc::first_byte_timeout);
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2500));
    });
    CHECK(mock.counters().connections == 1);  // the second request went on the kept-alive connection
}

TEST_CASE("TLS: a new connection resumes the session the server gave an earlier one", "[integration][tls]") {
    test_ca ca("DNS:localhost");
    for (const bool resume : {true, false}) {
        CAPTURE(resume);
        tls_mock_fixture mock(ca.cert_file(), ca.key_file());
        client_config cfg = providers::custom(mock.base_url(), "k");
        cfg.tls.ca_file = ca.ca_file();
        cfg.tls.resume_sessions = resume;
        cfg.http = tested_http_version();
        cfg.pool.idle_timeout = std::chrono::milliseconds(1);  // each request finds the last connection expired
        asio::io_context io;
        client c(io.get_executor(), cfg);
        std::vector<std::string> texts;
        run_test(io, [&]() -> asio::awaitable<void> {
            asio::steady_timer pause(io);
            for (int i = 0; i < 3; ++i) {
                const auto [ec, text] = co_await stream_text(c, "mock?tokens=3");
                REQUIRE_FALSE(ec);
                texts.push_back(text);
                pause.expires_after(std::chrono::milliseconds(20));
                co_await pause.async_wait(asio::as_tuple(asio::deferred));
            }
        });
        CHECK(texts == std::vector<std::string>(3, "tok0 tok1 tok2"));
        CHECK(mock.counters().connections == 3);
        CHECK(c.pool_stats().tls_handshakes == 3);
        CHECK(c.pool_stats().tls_resumed == (resume ? 2u : 0u));
        CHECK(mock.counters().tls_resumed == (resume ? 2u : 0u));  // as the server saw it
    }
}

TEST_CASE("TLS: connections are opened in turns of pool.max_connecting, and a failed one gives its turn back",
          "[integration][tls]") {
    // A listener that never answers: the TCP connection is made (the kernel's backlog), the TLS
    // handshake never ends, so the first request holds its turn until its connect timeout.
    using std::chrono::milliseconds;
    asio::io_context io;
    asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
    client_config cfg = providers::custom("https://127.0.0.1:" + std::to_string(silent.local_endpoint().port()) + "/v1", "k");
    cfg.http = http_version::http1;  // a connection per request
    cfg.pool.max_connecting = 1;
    cfg.pool.wait_timeout = milliseconds(200);
    cfg.timeouts.connect = milliseconds(900);
    cfg.retry.max_retries = 0;
    client c(io.get_executor(), cfg);
    using clock = std::chrono::steady_clock;
    struct outcome {
        boost::system::error_code ec;
        clock::duration took{};
        std::string hint;
    };
    auto run_one = [&](outcome& out, bool& done) -> asio::awaitable<void> {
        const auto start = clock::now();
        auto s = c.chat_stream(mock_request("m"));
        auto [ec, d] = co_await s.async_next(asio::as_tuple(asio::deferred));
        out = {ec, clock::now() - start, s.diagnostics().hint};
        done = true;
    };
    outcome first, second, third;
    bool first_done = false, second_done = false, third_done = false;
    pool_stats while_second_waits;
    run_test(io, [&]() -> asio::awaitable<void> {
        asio::co_spawn(io, run_one(first, first_done), asio::detached);
        asio::steady_timer later(io, milliseconds(50));
        co_await later.async_wait(asio::as_tuple(asio::deferred));
        asio::co_spawn(io, run_one(second, second_done), asio::detached);  // waits for the turn the first holds
        later.expires_after(milliseconds(50));
        co_await later.async_wait(asio::as_tuple(asio::deferred));
        while_second_waits = c.pool_stats();
        for (int i = 0; i < 500 && !(first_done && second_done); ++i) {  // the first gives its turn back
            later.expires_after(milliseconds(10));
            co_await later.async_wait(asio::as_tuple(asio::deferred));
        }
        co_await run_one(third, third_done);
    });
    REQUIRE(first_done);
    REQUIRE(second_done);
    REQUIRE(third_done);
    CHECK(while_second_waits.connecting == 1);
    CHECK(while_second_waits.waiting == 1);
    CHECK(first.ec == errc::connect_timeout);
    CHECK(second.ec == errc::pool_wait_timeout);
    CHECK(second.took >= milliseconds(190));
    CHECK(second.took < milliseconds(800));
    CHECK(second.hint.find("connections being opened at once (pool.max_connecting)") != std::string::npos);
    CHECK(third.ec == errc::connect_timeout);  // it got its turn and connected (to nobody)
    CHECK(third.took >= milliseconds(850));
    CHECK(c.pool_stats().open == 0);
}
