// The client's own rate limits (client_config::limits) against llmstream-mock playing a
// rate-limited provider (mock::options::requests_per_minute): admission keeps the client under
// the server's limit, waits end with a clear error, cancellation ends them, the line keeps its
// order, and a provider throttle holds the next attempt back.
#include "limits_support.hpp"

#include <llmstream/client.hpp>
#include <llmstream/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <vector>

using namespace llmstream;
using namespace llmstream::testing;
namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::steady_clock;


TEST_CASE("a client held to the provider's rate limit meets no 429", "[integration][limits]") {
    SECTION("without limits, a burst past the server's limit is throttled") {
        mock_fixture mock(rate_limited_server(1200));  // 20 a second, 20 at once
        asio::io_context io;
        client c(io.get_executor(), mock.config());
        const int ok = burst_on(io, {&c}, 40);
        CHECK(mock.counters().throttled > 0);
        CHECK(ok < 40);
    }
    SECTION("with limits a little under the server's, every request succeeds on its first attempt") {
        mock_fixture mock(rate_limited_server(1200));
        asio::io_context io;
        client_config cfg = mock.config();
        cfg.limits.requests_per_minute = 1000;  // a sixth under the server's: arrival jitter on a loaded machine stays inside it
        client c(io.get_executor(), cfg);
        CHECK(burst_on(io, {&c}, 40) == 40);
        CHECK(mock.counters().throttled == 0);
        CHECK(mock.counters().requests == 40);
    }
}

TEST_CASE("a wait that would pass max_wait or the deadline fails at once, saying which", "[integration][limits]") {
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = mock.config();
    cfg.limits.requests_per_minute = 6;  // one every 10 s, one at once
    cfg.limits.max_wait = std::chrono::seconds(5);
    SECTION("max_wait") {
        client c(io.get_executor(), cfg);
        run_test(io, [&]() -> asio::awaitable<void> {
            auto first = c.chat_stream(mock_request("mock?tokens=2"));
            CHECK_FALSE((co_await collect(first)).ec);
            const auto t = steady_clock::now();
            auto second = c.chat_stream(mock_request("mock?tokens=2"));
            const collected r = co_await collect(second);
            CHECK(r.ec == errc::rate_limit_wait_exceeded);
            CHECK(steady_clock::now() - t < std::chrono::seconds(4));  // not after waiting max_wait in vain
            CHECK(second.diagnostics().attempts == 0);
            const std::string hint = second.diagnostics().hint;
            CHECK(hint.find("limits.requests_per_minute") != std::string::npos);
            CHECK(hint.find("limits.max_wait") != std::string::npos);
            CHECK(second.diagnostics().to_string(r.ec).find(hint) != std::string::npos);
        });
        CHECK(mock.counters().requests == 1);
    }
    SECTION("the request's deadline") {
        cfg.limits.max_wait = std::chrono::seconds(60);
        cfg.timeouts.total = std::chrono::seconds(3);
        client c(io.get_executor(), cfg);
        run_test(io, [&]() -> asio::awaitable<void> {
            auto first = c.chat_stream(mock_request("mock?tokens=2"));
            CHECK_FALSE((co_await collect(first)).ec);
            auto second = c.chat_stream(mock_request("mock?tokens=2"));
            const collected r = co_await collect(second);
            CHECK(r.ec == errc::rate_limit_wait_exceeded);
            CHECK(second.diagnostics().hint.find("deadline") != std::string::npos);
        });
    }
}

TEST_CASE("cancelling a request ends its wait for admission at once", "[integration][limits]") {
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = mock.config();
    cfg.limits.requests_per_minute = 6;
    client c(io.get_executor(), cfg);
    run_test(io, [&]() -> asio::awaitable<void> {
        auto first = c.chat_stream(mock_request("mock?tokens=2"));
        CHECK_FALSE((co_await collect(first)).ec);
        auto waiting = c.chat_stream(mock_request("mock?tokens=2"));
        asio::steady_timer t(io, milliseconds(100));
        co_await t.async_wait(asio::as_tuple(asio::deferred));
        const auto cancelled_at = steady_clock::now();
        waiting.cancel();
        const collected r = co_await collect(waiting);
        CHECK(r.ec == asio::error::operation_aborted);
        CHECK(steady_clock::now() - cancelled_at < std::chrono::seconds(5));  // not the 10 s the limit wanted
        CHECK(waiting.diagnostics().attempts == 0);
    });
    CHECK(mock.counters().requests == 1);
}

TEST_CASE("requests held by max_in_flight go in arrival order, per model", "[integration][limits]") {
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = mock.config();
    cfg.limits.max_in_flight = 1;
    client c(io.get_executor(), cfg);
    std::vector<int> finished;
    std::vector<milliseconds> waited(5);
    constexpr int n = 5;
    for (int i = 0; i < n; ++i) {
        asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
            // Four requests of one model, and a fifth of another model (its own line): it is not
            // held by them, and its stream is short, so it finishes first.
            auto s = c.chat_stream(mock_request(i < 4 ? "mock?tokens=4&pace_ms=25" : "mock?tokens=1"));
            const collected r = co_await collect(s);
            CHECK_FALSE(r.ec);
            finished.push_back(i);
            waited[i] = s.diagnostics().admission_wait;
        }, asio::detached);
    }
    run_until(io, [&] { return finished.size() == n; });
    CHECK(finished == std::vector<int>{4, 0, 1, 2, 3});
    CHECK(waited[0] == milliseconds(0));
    CHECK(waited[4] == milliseconds(0));
    for (int i = 1; i < 4; ++i) CHECK(waited[i] > waited[i - 1]);  // each waited for the one before it
}

TEST_CASE("a provider throttle holds the retry back for the cool-down", "[integration][limits]") {
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = mock.config();
    cfg.retry.max_retries = 2;
    cfg.retry.initial_backoff = milliseconds(1);
    cfg.retry.max_backoff = milliseconds(5);
    cfg.retry.jitter = jitter_mode::none;
    cfg.limits.max_in_flight = 100;  // any limit turns the governor on
    cfg.limits.throttle_cooldown = milliseconds(300);
    client c(io.get_executor(), cfg);
    run_test(io, [&]() -> asio::awaitable<void> {
        const auto start = std::chrono::steady_clock::now();
        auto s = c.chat_stream(mock_request("mock?fail_first=1&status=429&code=Throttling.RateQuota&key=cool&tokens=2"));
        const collected r = co_await collect(s);
        CHECK_FALSE(r.ec);
        CHECK(s.diagnostics().attempts == 2);
        CHECK(std::chrono::steady_clock::now() - start >= milliseconds(300));
        // The cool-down starts at the 429; the 1 ms backoff runs inside it, and the figure is in whole ms.
        CHECK(s.diagnostics().admission_wait >= milliseconds(290));
        CHECK(s.diagnostics().retry_wait < milliseconds(100));  // the wait was the governor's, not the backoff's
    });
}
