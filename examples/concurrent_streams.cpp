// concurrent_streams: fan out N prompts at once on one io_context (one thread), show a live
// progress line, then print every answer and the aggregate figures.
//   concurrent_streams [N]    (default 50)
#include "common/endpoint.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace asio = boost::asio;
using std::chrono::steady_clock;

struct totals {
    int done = 0;
    int failed = 0;
    long deltas = 0;
    long bytes = 0;
};

// One generation: read it to the end, keeping the answer and counting as it goes.
asio::awaitable<void> ask(llmstream::client& client, std::string model, std::string prompt, std::string& answer,
                          totals& t) {
    auto s = client.chat_stream({.model = std::move(model), .messages = {{"user", std::move(prompt)}}});
    for (;;) {
        auto [ec, d] = co_await s.async_next(asio::as_tuple(asio::deferred));
        if (ec) {
            answer = "failed: " + s.diagnostics().to_string(ec);
            ++t.failed;
            break;
        }
        if (!d) break;
        answer += d->content;
        ++t.deltas;
        t.bytes += static_cast<long>(d->content.size());
    }
    ++t.done;
}

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::max(1, std::atoi(argv[1])) : 50;
    asio::io_context io(1);
    auto ep = example::pick(io, "mock?tokens=40&pace_ms=20");
    llmstream::client client(io.get_executor(), ep.config);
    std::vector<std::string> answers(static_cast<std::size_t>(n));
    totals t;
    const auto start = steady_clock::now();

    for (int i = 0; i < n; ++i)
        asio::co_spawn(io, ask(client, ep.model, "Give me fact number " + std::to_string(i + 1) + " about the sea.",
                               answers[static_cast<std::size_t>(i)], t),
                       asio::detached);

    // The progress line, redrawn every 100 ms until every stream has finished.
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        asio::steady_timer tick(io);
        while (t.done < n) {
            std::fprintf(stderr, "\r%d/%d done, %ld deltas, %.1f KB", t.done, n, t.deltas, t.bytes / 1024.0);
            tick.expires_after(std::chrono::milliseconds(100));
            co_await tick.async_wait(asio::as_tuple(asio::deferred));
        }
        const double secs = std::chrono::duration<double>(steady_clock::now() - start).count();
        std::fprintf(stderr, "\r%d/%d done, %ld deltas, %.1f KB\n", t.done, n, t.deltas, t.bytes / 1024.0);
        for (int i = 0; i < n; ++i) std::printf("[%d] %s\n", i + 1, answers[static_cast<std::size_t>(i)].c_str());
        std::fprintf(stderr, "%d streams (%d failed) in %.2f s on one thread: %.0f deltas/s\n", n, t.failed, secs,
                     static_cast<double>(t.deltas) / secs);
        if (ep.mock) ep.mock->stop();
    }, asio::detached);

    io.run();
    return t.failed == 0 ? 0 : 1;
}
