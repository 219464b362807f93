// Hostile servers: each gets a clear error (or, for HTTP/1.0, a correct reply), within its time
// limit, and the client keeps working afterwards.
#include "collect.hpp"
#include "mock_fixture.hpp"

#include <llmstream/client.hpp>
#include <llmstream/error.hpp>

using namespace llmstream;
using namespace llmstream::testing;
namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

struct hostile_case {
    const char* raw;
    boost::system::error_code expected;
};

}  // namespace

TEST_CASE("hostile servers end with a clear error, in time, and the client goes on", "[integration][hostile]") {
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = mock.config();
    cfg.timeouts.first_byte = milliseconds(500);
    cfg.timeouts.idle = milliseconds(2000);
    cfg.timeouts.total = std::chrono::seconds(3);
    client c(io.get_executor(), cfg);
    const hostile_case cases[] = {
        {"huge_line", errc::line_too_long},          // 10 MB, no newline: stops at max_line_size (4 MiB)
        {"drip_headers", errc::first_byte_timeout},  // the head never completes
        {"bad_chunk", errc::invalid_http_response},
        {"bad_status", errc::invalid_http_response},
        // HTTP/2 names it: the header list is over its limit (HTTP/1.1 sees a head over its size).
        {"header_flood", testing_http2() ? errc::response_headers_too_large : errc::invalid_http_response},
        {"endless", errc::deadline_exceeded},        // bytes keep coming, the answer never does
        {"gzip", errc::invalid_http_response},
        {"huge_length", errc::body_too_large},       // fails on the head, before the idle timeout
    };
    for (const auto& k : cases) {
        INFO(k.raw);
        run_test(io, [&]() -> asio::awaitable<void> {
            const auto start = steady_clock::now();
            auto s = c.chat_stream(mock_request(std::string("mock?raw=") + k.raw));
            const collected r = co_await collect(s);
            CHECK(r.ec == k.expected);
            CHECK_FALSE(s.diagnostics().hint.empty());
            CHECK(steady_clock::now() - start < std::chrono::seconds(5));
            const std::string text = s.diagnostics().to_string(r.ec);
            CHECK(text.find("test-key") == std::string::npos);
            // The same client still works.
            auto ok = c.chat_stream(mock_request("mock?tokens=3"));
            const collected o = co_await collect(ok);
            CHECK_FALSE(o.ec);
            CHECK(o.content == expected_text(3));
        });
    }
}

TEST_CASE("an HTTP/1.0 close-delimited event stream is read to its end", "[integration][hostile]") {
    if (testing_http2()) {
        SUCCEED("HTTP/1.0 framing exists only over HTTP/1.1");
        return;
    }
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), mock.config());
    run_test(io, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
            auto s = c.chat_stream(mock_request("mock?raw=http10&tokens=6"));
            const collected r = co_await collect(s);
            CHECK_FALSE(r.ec);
            CHECK(r.content == expected_text(6));
            CHECK(r.finish == finish_reason::stop);
        }
    });
    CHECK(mock.counters().connections == 3);  // never reused: the body ended by closing
}

TEST_CASE("a redirect is reported, never followed, and the key never leaves for another host",
          "[integration][hostile]") {
    mock_fixture mock;
    mock_fixture elsewhere;  // where the redirect points
    asio::io_context io;
    client_config cfg = mock.config();
    cfg.retry.max_retries = 2;  // a redirect is not retried either
    client c(io.get_executor(), cfg);
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request("mock?raw=redirect&location=" + elsewhere.base_url()));
        const collected r = co_await collect(s);
        CHECK(r.ec == api_errc::unexpected_status);
        CHECK(s.diagnostics().http_status == 302);
        CHECK(s.diagnostics().attempts == 1);
        CHECK(s.diagnostics().hint.find("redirects are not followed") != std::string::npos);
        CHECK(s.diagnostics().hint.find(elsewhere.base_url()) != std::string::npos);
    });
    CHECK(elsewhere.counters().requests == 0);
    CHECK(elsewhere.counters().connections == 0);
}

TEST_CASE("a server that echoes the Authorization header does not get the key into diagnostics",
          "[integration][hostile][secrets]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), mock.config());
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request("mock?status=401&echo_auth=1"));
        const collected r = co_await collect(s);
        CHECK(r.ec == api_errc::authentication);
        CHECK(s.diagnostics().provider_message == "rejected Authorization: Bearer [redacted]");
        auto in_stream = c.chat_stream(mock_request("mock?tokens=4&error_after=1&error_status=429&echo_auth=1"));
        const collected x = co_await collect(in_stream);
        CHECK(x.ec == api_errc::rate_limited);
        CHECK(in_stream.diagnostics().to_string(x.ec).find("test-key") == std::string::npos);
        CHECK(in_stream.diagnostics().provider_message.find("[redacted]") != std::string::npos);
    });
}
