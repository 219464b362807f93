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
#include "support/scoped_environment.hpp"
#include "support/test_ca.hpp"
#include "failing_allocator.hpp"
#include "http/tls_stream.hpp"

#include <llmstream/client.hpp>
#include <llmstream/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/error.hpp>

#include <catch2/catch.hpp>

#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <new>
#include <string>

using namespace llmstream;
using namespace llmstream::testing;
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

struct outcome {
    bool fired = false;             // the allocation meant to fail was made, and failed
    bool ended = false;             // the reader saw the stream's end (success or an error code)
    bool threw_to_caller = false;   // chat_stream or async_next threw std::bad_alloc
    bool caller_destroyed = false;  // (of those) Asio destroyed the caller's coroutine instead
    int escaped_run = 0;            // std::bad_alloc came out of io_context::run (see run_request)
    bool hung = false;              // nothing ended within the time limit
    error_code ec;
    std::string hint;               // the diagnostics' hint, when it ended with an error
    std::string text;               // and their to_string (once memory is back)
    std::string content;
    long allocations = 0;           // allocations made while armed
};

// One request for `model` on `c`, the allocation number `fail_at` (from 0, counted on this thread
// from chat_stream on) failing; fail_at < 0: none fails, and the outcome counts the allocations.
enum class api { stream, whole };  // chat_stream and async_next, or async_chat
// One allocation fails, or that one and every one after it until the request has ended (memory
// that ran out for good, and came back only once the request was over).
enum class failing { one, from_then_on };

outcome run_request(asio::io_context& io, client& c, long fail_at, const std::string& model, api how,
                    failing mode = failing::one) {
    outcome o;
    o.content.reserve(4096);  // the reader's own appends must not allocate while armed
    chat_request request = mock_request(model);
    diagnostics whole_diag;
    bool done = false;       // co_spawn's completion ran
    bool destroyed = false;  // or the coroutine was destroyed unresumed
    io.restart();
    // A named coroutine function, called below: the request waits for it to end (or be destroyed).
    const auto body = [&]() -> asio::awaitable<void> {
        // Asio 1.81 reports an exception from an operation's start inside a coroutine (say
        // async_chat's) by destroying the coroutine unresumed: for the caller, that is
        // std::bad_alloc out of io_context::run, and this frame is gone.
        // (Then co_spawn's completion never runs: `destroyed` ends the wait instead.)
        struct frame_end {
            outcome& o;
            bool& destroyed;
            bool returned = false;
            ~frame_end() {
                if (returned) return;
                o.threw_to_caller = true;
                o.caller_destroyed = true;
                destroyed = true;
            }
        } end{o, destroyed};
        if (mode == failing::from_then_on) failing_allocator::arm_exhausted(fail_at);
        else failing_allocator::arm(fail_at);
        try {
            if (how == api::whole) {
                auto [ec, whole] = co_await c.async_chat(std::move(request), whole_diag, asio::as_tuple(asio::deferred));
                failing_allocator::disarm();
                o.ended = true;
                o.ec = ec;
                o.content = whole.content;
                if (ec) {
                    o.hint = whole_diag.hint;
                    o.text = whole_diag.to_string(ec);
                }
                end.returned = true;
                co_return;
            }
            stream s = c.chat_stream(std::move(request));
            for (;;) {
                auto [ec, d] = co_await s.async_next(asio::as_tuple(asio::deferred));
                if (ec || !d) {
                    o.ended = true;
                    o.ec = ec;
                    break;
                }
                o.content += d->content;
            }
            failing_allocator::disarm();  // the test's own copy below must not fail
            if (o.ec) {
                o.hint = s.diagnostics().hint;
                o.text = s.diagnostics().to_string(o.ec);
            }
        } catch (const std::bad_alloc&) {
            o.threw_to_caller = true;
        }
        failing_allocator::disarm();
        end.returned = true;
    };
    asio::co_spawn(io, body(), [&](std::exception_ptr) { done = true; });
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done && !destroyed && std::chrono::steady_clock::now() < limit) {
        try {
            if (io.run_one_for(std::chrono::milliseconds(100)) == 0 && io.stopped()) break;
        } catch (const std::bad_alloc&) {
            // Asio 1.81: an operation that failed to start inside a coroutine leaves run() with
            // the exception and destroys that coroutine. Run on, as Asio's documentation says.
            ++o.escaped_run;
        }
    }
    failing_allocator::disarm();
    o.allocations = failing_allocator::seen();
    o.fired = failing_allocator::fired();
    o.hung = !done && !destroyed;
    return o;
}

// Fails each allocation of a request in turn, until a run makes fewer allocations than the one
// that would fail. `model(n)` is the mock's model for request n (requests that must not share the
// mock's per-key state take a key of the same length each). Without a failure the request ends
// with `expected_content` and `expected_ec`; with one, the same way, or with another error, or
// with std::bad_alloc to the caller. Then a second request on the same client, nothing failing,
// ends as without the failure: the first left nothing behind in the client (one connection at
// most, so a connection slot or a session that the failure leaked would hold it up).
struct sweep_options {
    api how = api::stream;
    failing mode = failing::one;
    // > 0: about that many runs, failing every (allocations / runs)th allocation, for requests
    // that make thousands (a TLS handshake); LLMSTREAM_OOM_STRIDE=1 makes it every one.
    long runs = 0;
    // OpenSSL reports some of its failed allocations as errors of its own (a decode error, an
    // internal error): a caused end may be one of those too.
    bool openssl_reports = false;
};

void sweep(client_config config, const std::function<std::string(long)>& model, const std::string& expected_content,
           error_code expected_ec, sweep_options options = {}) {
    const api how = options.how;
    const failing mode = options.mode;
    const long runs = options.runs;
    config.pool.max_connections = 1;
    config.pool.wait_timeout = std::chrono::seconds(3);
    long request_number = 0;
    const auto same_as_clean = [&](const outcome& o) {
        return o.ended && o.ec == expected_ec && o.content == expected_content;
    };
    long total = 0;
    {
        asio::io_context io;
        client c(io.get_executor(), config);
        const outcome clean = run_request(io, c, -1, model(request_number++), how);
        REQUIRE(same_as_clean(clean));
        total = clean.allocations;
    }
    // A request allocates: the sweep below would test nothing if the count were not seen.
    REQUIRE(total > 10);

    std::map<std::string, int> endings;  // how the failures ended, for the log
    int ended_with_no_memory = 0;
    const char* from = std::getenv("LLMSTREAM_OOM_FROM");
    const char* stride_env = std::getenv("LLMSTREAM_OOM_STRIDE");
    const long stride = stride_env ? std::max(1L, std::atol(stride_env)) : runs > 0 ? std::max(1L, total / runs) : 1;
    if (stride > 1) WARN("every " << stride << "th allocation of about " << total << " fails in turn");
    long n = from ? std::atol(from) : 0;
    for (;; n += stride) {
        asio::io_context io;
        auto c = std::make_unique<client>(io.get_executor(), config);
        const outcome o = run_request(io, *c, n, model(request_number++), how, mode);
        INFO("allocation " << n << " (of about " << total << ") failed: "
                           << (o.threw_to_caller ? "thrown to the caller" : o.ec.message()));
        if (std::getenv("LLMSTREAM_OOM_LIST"))
            std::fprintf(stderr, "%ld: %s%s\n", n, o.threw_to_caller ? "std::bad_alloc to the caller" : o.ec.message().c_str(),
                         o.fired ? "" : " (nothing failed)");
        REQUIRE_FALSE(o.hung);
        REQUIRE((o.ended || o.threw_to_caller));
        if (!o.fired) {  // past the request's last allocation: the sweep is over
            CHECK(same_as_clean(o));
            break;
        }
        REQUIRE(n < 10 * total);  // bounded, whatever the allocation count does
        if (o.escaped_run) ++endings["(std::bad_alloc out of io_context::run first)"];
        if (o.threw_to_caller) {
            ++endings[o.caller_destroyed ? "std::bad_alloc to the caller (its coroutine destroyed)"
                                         : "std::bad_alloc to the caller"];
        } else if (o.ec == expected_ec) {
            // Absorbed: then nothing may be missing.
            CHECK(o.content == expected_content);
            ++endings[expected_ec ? "as without the failure" : "complete"];
        } else {
            ++endings[o.ec.message()];
            // An end the failure caused says what happened (not, say, a connect timeout after
            // waiting it out) and what to do.
            CHECK((o.ec == asio::error::no_memory ||
                   (options.openssl_reports && o.ec.category() == asio::error::get_ssl_category())));
            // A hint takes memory: with none left until the end, none is stored, and the
            // printed diagnostics give the code's own.
            if (mode == failing::one) CHECK_FALSE(o.hint.empty());
            CHECK(o.text.find("Hint: ") != std::string::npos);
            ended_with_no_memory += o.ec == asio::error::no_memory;
        }
        const outcome next = run_request(io, *c, -1, model(request_number++), how);
        INFO("the next request on the same client: " << (next.threw_to_caller ? "thrown" : next.ec.message()) << " ended " << next.ended << " content [" << next.content << "]");
        CHECK_FALSE(next.hung);
        CHECK(same_as_clean(next));
        c.reset();  // the client, its pool and its streams go before the io_context
        io.restart();
        io.poll();
    }
    for (const auto& [how, count] : endings) WARN(count << " of " << n << ": " << how);
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

TEST_CASE("a failed allocation anywhere in a whole (async_chat) request ends it cleanly", "[oom]") {
    mock_fixture mock;
    sweep(mock.config(), always("mock?tokens=5"), expected_text(5), {}, {.how = api::whole});
}

TEST_CASE("a failed allocation anywhere in a DashScope native stream ends it cleanly", "[oom]") {
    mock_fixture mock;
    sweep(mock.config(api_dialect::dashscope_native), always("mock?tokens=5"), expected_text(5), {});
}

// Memory that runs out for good: from one allocation on, every allocation on the client's thread
// fails until the reader has seen the stream end (or the caller got std::bad_alloc). Ending a
// stream, telling its reader and giving its connection back must not need memory.
TEST_CASE("memory that runs out for good anywhere in a stream's life ends it cleanly", "[oom]") {
    mock_fixture mock;
    sweep(mock.config(), always("mock?tokens=5&reasoning=2"), expected_text(5), {}, {.mode = failing::from_then_on});
}

TEST_CASE("memory that runs out for good anywhere in a whole (async_chat) request ends it cleanly", "[oom]") {
    mock_fixture mock;
    sweep(mock.config(), always("mock?tokens=5"), expected_text(5), {}, {.how = api::whole, .mode = failing::from_then_on});
}

// Over TLS, with OpenSSL's allocations failing too (the handshake, the certificate check, the
// records): a sample of them, as a request makes thousands.
void sweep_over_tls(failing mode) {
    REQUIRE(failing_allocator::covers_openssl());
    test_ca ca("DNS:localhost");
    tls_mock_fixture mock(ca.cert_file(), ca.key_file());
    client_config config = providers::custom("https://localhost:" + std::to_string(mock.port()) + "/v1", "k");
    config.tls.ca_file = ca.ca_file();
    config.http = tested_http_version();
    sweep(config, always("mock?tokens=5"), expected_text(5), {}, {.mode = mode, .runs = 200, .openssl_reports = true});
}

TEST_CASE("a failed allocation anywhere in a TLS stream's life, OpenSSL's included, ends it cleanly", "[oom]") {
    sweep_over_tls(failing::one);
}

TEST_CASE("memory that runs out for good anywhere in a TLS stream's life, OpenSSL's included, ends it cleanly",
          "[oom]") {
    sweep_over_tls(failing::from_then_on);
}

// The TLS client context and engine, without a connection: two failures the sweeps above accept
// as OpenSSL's own reports ("openssl_reports"), held to account here.

TEST_CASE("a TLS client context made while memory runs out is not made or trusts all its certificates",
          "[openssl]") {
    // A context that is made holds every trusted certificate, each valid. OpenSSL keeps a
    // certificate's first check, a failed one included: a CA certificate whose check ran out of
    // memory would fail every later handshake of the client (the context checks them all as it
    // is made). And OpenSSL's own load of the system's store ignores its failures: one that ran
    // out of memory left out CAs, silently.
    REQUIRE(failing_allocator::covers_openssl());
    // The system's trust store is a test CA of its own here (OpenSSL reads these variables at each
    // load): a few thousand allocations to sweep, not the bundle's hundreds of thousands.
    // The system's bundle holds two CAs: OpenSSL 3.0 counts a bundle whose second could not be
    // added as loaded.
    test_ca system_ca("DNS:system"), system_ca_2("DNS:system2"), ca("DNS:localhost");
    const auto bundle = std::filesystem::path(system_ca.ca_file()).parent_path() / "system-bundle.pem";
    {
        std::ofstream out(bundle);
        out << std::ifstream(system_ca.ca_file()).rdbuf() << std::ifstream(system_ca_2.ca_file()).rdbuf();
    }
    scoped_environment trust_store({{"SSL_CERT_FILE", bundle.string()}, {"SSL_CERT_DIR", "/nonexistent"}});
    tls_options tls;
    tls.ca_file = ca.ca_file();
    http::make_client_tls_context(tls);  // OpenSSL's one-time set-up is not counted
    failing_allocator::arm(-1);
    http::make_client_tls_context(tls);
    const long total = failing_allocator::seen();
    failing_allocator::disarm();
    const auto mode = GENERATE(failing::one, failing::from_then_on);
    CAPTURE(mode == failing::one ? "one allocation fails" : "memory stays exhausted");
    std::map<std::string, int> endings;
    for (long n = 0; n < total; ++n) {
        CAPTURE(n, total);
        if (mode == failing::one) failing_allocator::arm(n);
        else failing_allocator::arm_exhausted(n);
        std::unique_ptr<asio::ssl::context> context;
        bool out_of_memory = false;
        try {
            context = http::make_client_tls_context(tls);
        } catch (const std::bad_alloc&) {
            out_of_memory = true;  // (counted once memory is back: with it exhausted, a map takes none)
        } catch (const std::exception& e) {
            failing_allocator::disarm();
            FAIL_CHECK("not std::bad_alloc: " << e.what());
        }
        const bool fired = failing_allocator::fired();
        failing_allocator::disarm();
        if (out_of_memory) ++endings["bad_alloc"];
        if (!context) continue;
        ++endings[fired ? "made (absorbed)" : "made"];
        STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(SSL_CTX_get_cert_store(context->native_handle()));
        int certificates = 0;
        for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i)
            if (X509* certificate = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i))) {
                ++certificates;
                CHECK_FALSE(X509_get_extension_flags(certificate) & EXFLAG_INVALID);
            }
        CHECK(certificates == 3);  // the system's two and ca_file's: none left out
    }
    std::printf("%ld allocations\n", total);
    for (const auto& [ending, runs] : endings) std::printf("  %s: %d\n", ending.c_str(), runs);
    CHECK(endings["bad_alloc"] > 0);
}

TEST_CASE("a TLS handshake whose records cannot be stored fails with no_memory", "[openssl]") {
    // OpenSSL writes its records through our BIO into the engine's output; when that cannot grow,
    // the failed write must read as out of memory, not as an unexplained failure. Only our
    // allocations fail here (OpenSSL's own report themselves).
    REQUIRE(failing_allocator::covers_openssl());
    const auto context = http::make_client_tls_context({});
    long failed = 0;
    for (long n = 0;; ++n) {
        REQUIRE(n < 100);
        CAPTURE(n);
        http::tls_engine engine(*context);
        http::tls_engine::result r;
        bool threw = false;
        failing_allocator::spare_openssl(true);
        failing_allocator::arm(n);
        try {
            r = engine.handshake();
        } catch (const std::bad_alloc&) {
            threw = true;
        }
        const bool fired = failing_allocator::fired();
        failing_allocator::disarm();
        failing_allocator::spare_openssl(false);
        if (!fired) {
            CHECK(r.next == http::tls_engine::want::input);  // the ClientHello is out, the answer awaited
            CHECK(engine.has_output());
            break;
        }
        ++failed;
        CHECK_FALSE(threw);
        CHECK(r.next == http::tls_engine::want::failed);
        CHECK(r.ec == asio::error::no_memory);
    }
    CHECK(failed >= 1);
}
