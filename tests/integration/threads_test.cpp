// The multi-core pattern: one io_context thread and one client per core, sharing nothing; work
// reaches each client only through its executor. Run under ThreadSanitizer by scripts/test.
#include "collect.hpp"
#include "mock_fixture.hpp"

#include <llmstream/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <future>

using namespace llmstream;
using namespace llmstream::testing;
namespace asio = boost::asio;

TEST_CASE("one client per io_context thread: streams on every thread get exactly their content",
          "[integration][threads]") {
    mock_fixture mock;
    constexpr int threads = 3;
    constexpr int streams_per_thread = 100;
    std::atomic<int> exact{0};
    std::atomic<int> failed{0};

    struct worker {
        asio::io_context io{1};
        std::unique_ptr<client> c;
        std::thread thread;
    };
    std::vector<std::unique_ptr<worker>> workers;
    for (int t = 0; t < threads; ++t) {
        auto w = std::make_unique<worker>();
        w->c = std::make_unique<client>(w->io.get_executor(), mock.config());
        workers.push_back(std::move(w));
    }
    // Everything a thread's client does is started by posting to its executor.
    for (int t = 0; t < threads; ++t) {
        worker& w = *workers[static_cast<std::size_t>(t)];
        asio::post(w.io, [&w, &exact, &failed, t] {
            for (int i = 0; i < streams_per_thread; ++i) {
                const int tokens = 1 + (t * streams_per_thread + i) % 17;
                asio::co_spawn(w.io, [&w, &exact, &failed, tokens]() -> asio::awaitable<void> {
                    auto s = w.c->chat_stream(mock_request("mock?tokens=" + std::to_string(tokens)));
                    const collected r = co_await collect(s);
                    if (!r.ec && r.content == expected_text(tokens)) ++exact;
                    else ++failed;
                }, asio::detached);
            }
        });
        w.thread = std::thread([&w] { w.io.run(); });
    }
    for (auto& w : workers) w->thread.join();
    // Each client is idle again, inspected on its own thread.
    for (auto& w : workers) {
        std::promise<pool_stats> p;
        w->io.restart();
        asio::post(w->io, [&] { p.set_value(w->c->pool_stats()); });
        w->io.run();
        const pool_stats s = p.get_future().get();
        CHECK(s.open == s.idle);
        CHECK(s.waiting == 0);
    }
    CHECK(failed == 0);
    CHECK(exact == threads * streams_per_thread);
}
