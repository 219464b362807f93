// Support for the rate-limit tests: a mock playing a rate-limited provider, and bursts of
// requests started at once.
#pragma once

#include "collect.hpp"
#include "mock_fixture.hpp"

#include <llmstream/client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <vector>

namespace llmstream::testing {

/// llmstream-mock throttling past `rpm` requests a minute per model, with a burst of one second.
inline mock::options rate_limited_server(std::uint32_t rpm) {
    mock::options o;
    o.requests_per_minute = rpm;
    o.rate_burst_ms = 1000;
    return o;
}

/// Runs `io` until `done()` (checked every 5 ms), at most 30 s.
inline void run_until(boost::asio::io_context& io, const std::function<bool()>& done) {
    run_test(io, [&]() -> boost::asio::awaitable<void> {
        boost::asio::steady_timer t(io);
        for (int i = 0; i < 6000 && !done(); ++i) {
            t.expires_after(std::chrono::milliseconds(5));
            co_await t.async_wait(boost::asio::as_tuple(boost::asio::deferred));
        }
    });
}

/// Starts `n` requests on each client at once and reads them all; returns how many ended with
/// their exact content.
inline int burst_on(boost::asio::io_context& io, const std::vector<client*>& clients, int n) {
    int ok = 0, done = 0;
    const int total = n * static_cast<int>(clients.size());
    for (client* c : clients) {
        for (int i = 0; i < n; ++i) {
            boost::asio::co_spawn(io, [&, c]() -> boost::asio::awaitable<void> {
                auto s = c->chat_stream(mock_request("mock?tokens=3"));
                const collected r = co_await collect(s);
                if (!r.ec && r.content == expected_text(3)) ++ok;
                ++done;
            }, boost::asio::detached);
        }
    }
    run_until(io, [&] { return done == total; });
    REQUIRE(done == total);
    return ok;
}

}  // namespace llmstream::testing
