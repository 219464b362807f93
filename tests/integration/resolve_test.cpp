// http::deadline_resolver: a name lookup that hangs cannot hold a request past its deadline or its
// cancel(), and its late answer is harmless. The lookups here are stand-ins (a lookup that never
// answers is what a DNS server that drops queries looks like) plus asio's real one on numeric
// hosts, so nothing leaves the machine.
#include "http/resolve.hpp"

#include <llmstream/error.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

namespace asio = boost::asio;
using boost::system::error_code;
using llmstream::http::deadline_resolver;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

struct outcome {
    error_code ec;
    std::size_t endpoints = 0;
    clock_type::duration took{};
};

// Runs one resolve on `ioc` and returns as soon as it completes (the io_context keeps running
// only as long as `run_for` allows, so a resolve that never completes fails the test).
std::optional<outcome> run_resolve(asio::io_context& ioc, deadline_resolver& r, std::string host, clock_type::duration budget,
                                   clock_type::time_point deadline, std::function<void()> meanwhile = {}) {
    std::optional<outcome> result;
    ioc.restart();
    const auto start = clock_type::now();
    asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
        auto [ec, results] = co_await r.resolve(host, "80", deadline, llmstream::errc::connect_timeout);
        result = outcome{ec, results.size(), clock_type::now() - start};
    }, asio::detached);
    if (meanwhile) meanwhile();
    const auto until = clock_type::now() + budget;
    while (!result && clock_type::now() < until) ioc.run_one_for(until - clock_type::now());
    return result;
}

}  // namespace

TEST_CASE("resolve: a lookup that never answers ends at the deadline with the timeout code") {
    asio::io_context ioc;
    deadline_resolver::handler_type kept;  // the lookup keeps its handler and never calls it
    int cancels = 0;
    deadline_resolver r(ioc.get_executor(), [&](auto, const std::string&, const std::string&, deadline_resolver::handler_type h) {
        kept = std::move(h);
        return std::function<void()>([&cancels] { ++cancels; });
    });
    const auto result = run_resolve(ioc, r, "hangs.example", 5s, clock_type::now() + 200ms);
    REQUIRE(result);
    CHECK(result->ec == llmstream::errc::connect_timeout);
    CHECK(result->took >= 190ms);
    CHECK(result->took < 3s);
    CHECK(cancels == 1);  // the lookup given up on is cancelled
    REQUIRE(kept);
    kept(error_code{}, {});  // the answer comes after the request moved on: ignored, nothing dangles
}

TEST_CASE("resolve: cancel() ends a hanging lookup at once") {
    asio::io_context ioc;
    deadline_resolver r(ioc.get_executor(), [](auto, const std::string&, const std::string&, deadline_resolver::handler_type) {
        return std::function<void()>();
    });
    asio::steady_timer later(ioc, 100ms);
    const auto result = run_resolve(ioc, r, "hangs.example", 5s, clock_type::time_point::max(), [&] {
        later.async_wait([&](error_code) { r.cancel(); });
    });
    REQUIRE(result);
    CHECK(result->ec == asio::error::operation_aborted);
    CHECK(result->took < 3s);
}

TEST_CASE("resolve: an answer that comes late but before the deadline is used, a late answer after it is dropped") {
    asio::io_context ioc;
    auto timer = std::make_shared<asio::steady_timer>(ioc);
    clock_type::duration delay = 100ms;
    deadline_resolver r(ioc.get_executor(), [&](auto ex, const std::string& host, const std::string& port, deadline_resolver::handler_type h) {
        timer->expires_after(delay);
        timer->async_wait([ex, host, port, h = std::move(h)](error_code) {
            h({}, deadline_resolver::results_type::create(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 80), host, port));
        });
        return std::function<void()>();  // not cancellable: the late answer must still be harmless
    });
    auto result = run_resolve(ioc, r, "slow.example", 5s, clock_type::now() + 2s);
    REQUIRE(result);
    CHECK_FALSE(result->ec);
    CHECK(result->endpoints == 1);

    delay = 400ms;
    result = run_resolve(ioc, r, "slower.example", 5s, clock_type::now() + 100ms);
    REQUIRE(result);
    CHECK(result->ec == llmstream::errc::connect_timeout);
    ioc.restart();
    ioc.run_for(600ms);  // the answer arrives with nobody waiting
    CHECK(ioc.stopped());
}

TEST_CASE("resolve: asio's lookup of numeric hosts, and its errors, pass through") {
    asio::io_context ioc;
    deadline_resolver r(ioc.get_executor());
    auto result = run_resolve(ioc, r, "127.0.0.1", 10s, clock_type::now() + 10s);
    REQUIRE(result);
    CHECK_FALSE(result->ec);
    CHECK(result->endpoints >= 1);
    // An invalid service name fails inside getaddrinfo without any query.
    std::optional<outcome> bad;
    asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
        auto [ec, results] = co_await r.resolve("127.0.0.1", "no-such-service-name", clock_type::now() + 10s, llmstream::errc::connect_timeout);
        bad = outcome{ec, results.size(), {}};
    }, asio::detached);
    ioc.restart();
    const auto until = clock_type::now() + 10s;
    while (!bad && clock_type::now() < until) ioc.run_one_for(until - clock_type::now());
    REQUIRE(bad);
    CHECK(bad->ec);
    CHECK(bad->ec != llmstream::errc::connect_timeout);
}
