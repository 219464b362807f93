// cancel_and_timeout: three ways to stop waiting.
//   1. stop reading early: cancel() (or destroy the stream) once you have enough;
//   2. a whole-request deadline: client_config::timeouts.total -> errc::deadline_exceeded;
//   3. a limit on each async_next: race it against a timer (the loser is cancelled).
// Each ends at once, frees its connection, and says what happened.
#include "common/endpoint.hpp"

#include <llmstream/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdio>

namespace asio = boost::asio;
using namespace std::chrono_literals;

int main() {
    asio::io_context io(1);
    auto ep = example::pick(io, "mock?tokens=200&pace_ms=20");
    // With the embedded mock each part gets its own script; a real model just gets a long question.
    auto model = [&](const char* mock_model) { return ep.mock ? std::string(mock_model) : ep.model; };
    const std::string essay = "Write a long essay about the history of timekeeping.";
    int failures = 0;

    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        // 1. Enough after five pieces of text.
        {
            llmstream::client client(io.get_executor(), ep.config);
            auto s = client.chat_stream({.model = model("mock?tokens=200&pace_ms=20"), .messages = {{"user", essay}}});
            int pieces = 0;
            while (pieces < 5) {
                auto [ec, d] = co_await s.async_next(asio::as_tuple(asio::deferred));
                if (ec || !d) break;
                if (!d->content.empty()) ++pieces;
            }
            s.cancel();  // destroying `s` would do the same
            auto [ec, d] = co_await s.async_next(asio::as_tuple(asio::deferred));
            std::printf("1. stopped after %d pieces; the next async_next says: %s\n", pieces, ec.message().c_str());
            if (ec != asio::error::operation_aborted) ++failures;
        }
        // 2. The whole request may take at most one second.
        {
            llmstream::client_config cfg = ep.config;
            cfg.timeouts.total = 1s;
            llmstream::client client(io.get_executor(), cfg);
            auto s = client.chat_stream({.model = model("mock?tokens=200&pace_ms=20"), .messages = {{"user", essay}}});
            for (;;) {
                auto [ec, d] = co_await s.async_next(asio::as_tuple(asio::deferred));
                if (!ec && d) continue;
                std::printf("2. with a 1 s deadline: %s\n", ec ? ec.message().c_str() : "finished in time");
                if (ec && ec != llmstream::errc::deadline_exceeded) ++failures;
                break;
            }
        }
        // 3. Wait at most 300 ms for each delta: race async_next against a timer. The loser is
        //    cancelled through its cancellation slot, and cancelling async_next aborts the stream.
        {
            using namespace asio::experimental::awaitable_operators;
            llmstream::client client(io.get_executor(), ep.config);
            auto s = client.chat_stream({.model = model("mock?tokens=20&stall_after=3"), .messages = {{"user", essay}}});
            asio::steady_timer watchdog(io);
            for (;;) {
                watchdog.expires_after(300ms);
                auto result = co_await (s.async_next(asio::as_tuple(asio::use_awaitable)) ||
                                        watchdog.async_wait(asio::as_tuple(asio::use_awaitable)));
                if (result.index() == 1) {
                    std::printf("3. waiting at most 300 ms per delta: no delta in time, the stream is cancelled\n");
                    break;
                }
                auto [ec, d] = std::get<0>(result);
                if (!ec && d) continue;
                std::printf("3. waiting at most 300 ms per delta: %s\n", ec ? ec.message().c_str() : "finished in time");
                break;
            }
        }
        if (ep.mock) ep.mock->stop();
    }, asio::detached);
    io.run();
    return failures == 0 ? 0 : 1;
}
