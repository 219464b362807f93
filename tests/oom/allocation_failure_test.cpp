// Allocation failure, swept: a whole stream's life (request, connect, head, body, end) is run once
// for each of its allocations on the client's thread, with that one allocation failing. Whatever
// fails, the stream ends: with its exact content (the failure was absorbed), with an error code,
// or with std::bad_alloc thrown to the caller of chat_stream or async_next. Never a hang, an
// exception out of io_context::run from the library's own handlers, or a crash; the sanitizer
// passes add "never a leak". This executable replaces the global operator new, so it is its own.
//
// To find where a failure goes wrong: LLMSTREAM_OOM_LIST=1 prints how each run ended,
// LLMSTREAM_OOM_FROM=N starts the sweep at allocation N, and LLMSTREAM_OOM_TRACE=1 prints the
// backtrace of each failed allocation (addr2line -C -f -i -e THIS_PROGRAM ADDRESS reads it).
#include "integration/collect.hpp"
#include "integration/mock_fixture.hpp"

#include <llmstream/client.hpp>
#include <llmstream/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <execinfo.h>
#include <climits>
#include <cstdio>
#include <functional>
#include <cstdlib>
#include <exception>
#include <map>
#include <new>
#include <string>

namespace {

// The failure switch, per thread: the mock's thread and Catch's own bookkeeping are never armed.
thread_local long allocations_until_failure = -1;  // -1: nothing fails
thread_local long allocations_seen = 0;            // counted while armed

void* allocate(std::size_t size, std::size_t alignment, bool may_throw) {
    if (allocations_until_failure >= 0) {
        ++allocations_seen;
        if (allocations_until_failure-- == 0) {
            if (std::getenv("LLMSTREAM_OOM_TRACE")) {
                void* frames[40];
                backtrace_symbols_fd(frames, backtrace(frames, 40), 2);
            }
            if (may_throw) throw std::bad_alloc();
            return nullptr;
        }
    }
    if (size == 0) size = 1;
    void* p = alignment <= alignof(std::max_align_t)
                  ? std::malloc(size)
                  : std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
    if (!p && may_throw) throw std::bad_alloc();
    return p;
}

// A std::bad_alloc that meets a noexcept function ends the process: its backtrace says where.
const bool terminate_prints_backtrace = [] {
    std::set_terminate([] {
        void* frames[60];
        backtrace_symbols_fd(frames, backtrace(frames, 60), 2);
        std::abort();
    });
    return true;
}();

}  // namespace

void* operator new(std::size_t n) { return allocate(n, 0, true); }
void* operator new[](std::size_t n) { return allocate(n, 0, true); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return allocate(n, 0, false); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return allocate(n, 0, false); }
void* operator new(std::size_t n, std::align_val_t a) { return allocate(n, static_cast<std::size_t>(a), true); }
void* operator new[](std::size_t n, std::align_val_t a) { return allocate(n, static_cast<std::size_t>(a), true); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return allocate(n, static_cast<std::size_t>(a), false);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return allocate(n, static_cast<std::size_t>(a), false);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace llmstream;
using namespace llmstream::testing;
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

struct outcome {
    bool ended = false;             // the reader saw the stream's end (success or an error code)
    bool threw_to_caller = false;   // chat_stream or async_next threw std::bad_alloc
    int escaped_run = 0;            // std::bad_alloc came out of io_context::run (see run_once)
    bool hung = false;              // nothing ended within the time limit
    error_code ec;
    std::string hint;               // the diagnostics' hint, when it ended with an error
    std::string content;
    long allocations = 0;           // allocations made while armed
};

// One request for `model` with `config`, the allocation number `fail_at` (from 0, counted on this
// thread from chat_stream on) failing; fail_at < 0: none fails, and the outcome counts them.
outcome run_once(const client_config& config, long fail_at, const std::string& model) {
    outcome o;
    o.content.reserve(4096);  // the reader's own appends must not allocate while armed
    asio::io_context io;
    auto c = std::make_unique<client>(io.get_executor(), config);
    chat_request request = mock_request(model);
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            allocations_seen = 0;
            allocations_until_failure = fail_at < 0 ? LONG_MAX : fail_at;
            try {
                stream s = c->chat_stream(std::move(request));
                for (;;) {
                    auto [ec, d] = co_await s.async_next(asio::as_tuple(asio::deferred));
                    if (ec || !d) {
                        o.ended = true;
                        o.ec = ec;
                        if (ec) o.hint = s.diagnostics().hint;
                        break;
                    }
                    o.content += d->content;
                }
            } catch (const std::bad_alloc&) {
                o.threw_to_caller = true;
            }
            o.allocations = allocations_seen;
            allocations_until_failure = -1;
        },
        [&](std::exception_ptr) { done = true; });
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done && std::chrono::steady_clock::now() < limit) {
        try {
            if (io.run_one_for(std::chrono::milliseconds(100)) == 0 && io.stopped()) break;
        } catch (const std::bad_alloc&) {
            // Asio 1.81: an operation that failed to start inside a coroutine leaves run() with
            // the exception and destroys that coroutine. Run on, as Asio's documentation says.
            ++o.escaped_run;
        }
    }
    allocations_until_failure = -1;
    o.hung = !done;
    c.reset();  // the client, its pool and its streams go before the io_context
    io.restart();
    io.poll();
    return o;
}

// Fails each allocation of a request in turn. `model(n)` is the mock's model for run n (runs
// that must not share the mock's per-key state take a key of the same length each). Without a
// failure the request ends with `expected_content` and `expected_ec`; with one, the same way, or
// with another error, or with std::bad_alloc to the caller.
void sweep(const client_config& config, const std::function<std::string(long)>& model,
           const std::string& expected_content, error_code expected_ec) {
    const outcome clean = run_once(config, -1, model(-1));
    REQUIRE(clean.ended);
    REQUIRE(clean.ec == expected_ec);
    REQUIRE(clean.content == expected_content);
    const long total = clean.allocations;
    // A request allocates: the sweep below would test nothing if the count were not seen.
    REQUIRE(total > 10);

    std::map<std::string, int> endings;  // how the failures ended, for the log
    int ended_with_no_memory = 0;
    const char* from = std::getenv("LLMSTREAM_OOM_FROM");
    for (long n = from ? std::atol(from) : 0; n < total; ++n) {
        const outcome o = run_once(config, n, model(n));
        INFO("allocation " << n << " of " << total << " failed: " << (o.threw_to_caller ? "thrown" : o.ec.message()));
        if (std::getenv("LLMSTREAM_OOM_LIST"))
            std::fprintf(stderr, "%ld: %s\n", n, o.threw_to_caller ? "std::bad_alloc to the caller" : o.ec.message().c_str());
        if (o.escaped_run) ++endings["(std::bad_alloc out of io_context::run first)"];
        REQUIRE_FALSE(o.hung);
        REQUIRE((o.ended || o.threw_to_caller));
        if (o.threw_to_caller) {
            ++endings["std::bad_alloc to the caller"];
        } else if (o.ec == expected_ec) {
            // Absorbed: then nothing may be missing.
            CHECK(o.content == expected_content);
            ++endings[expected_ec ? "as without the failure" : "complete"];
        } else {
            ++endings[o.ec.message()];
            CHECK_FALSE(o.hint.empty());  // every end the failure caused says what to do
            ended_with_no_memory += o.ec == asio::error::no_memory;
        }
    }
    for (const auto& [how, count] : endings) WARN(count << " of " << total << ": " << how);
    // The library's own handling was reached, not only the caller's: some failure inside the
    // request ended it with no_memory.
    CHECK(ended_with_no_memory > 0);
}

}  // namespace

std::function<std::string(long)> always(std::string model) {
    return [model = std::move(model)](long) { return model; };
}

TEST_CASE("a failed allocation anywhere in a stream's life ends it cleanly", "[oom]") {
    mock_fixture mock;
    sweep(mock.config(), always("mock?tokens=5&reasoning=2"), expected_text(5), {});
}

TEST_CASE("a failed allocation anywhere in an error response's handling ends the request cleanly", "[oom]") {
    mock_fixture mock;
    sweep(mock.config(), always("mock?status=429&code=Throttling.RateQuota"), "", api_errc::rate_limited);
}

TEST_CASE("a failed allocation anywhere in a retried request ends it cleanly", "[oom]") {
    mock_fixture mock;
    client_config config = mock.config();
    config.retry.max_retries = 1;
    config.retry.initial_backoff = std::chrono::milliseconds(1);
    config.retry.max_backoff = std::chrono::milliseconds(2);
    config.retry.jitter = jitter_mode::none;
    // The mock fails the first attempt of each key: a key per run, all of one length.
    auto model = [](long n) {
        const std::string number = std::to_string(n + 1);
        return "mock?tokens=5&fail_first=1&status=503&key=oom-" + std::string(8 - number.size(), '0') + number;
    };
    sweep(config, model, expected_text(5), {});
}

TEST_CASE("a failed allocation anywhere in a DashScope native stream ends it cleanly", "[oom]") {
    mock_fixture mock;
    sweep(mock.config(api_dialect::dashscope_native), always("mock?tokens=5"), expected_text(5), {});
}
