// Retrying against llmstream-mock: one case per row of the error table (docs/providers.md section 4),
// with the attempts counted by the server, plus Retry-After, deadlines, x-should-retry, the
// no-replay rule and the client-wide budget under a storm.
#include "collect.hpp"
#include "mock_fixture.hpp"

#include <llmstream/client.hpp>
#include <llmstream/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

using namespace llmstream;
using namespace llmstream::testing;
namespace asio = boost::asio;
using boost::system::error_code;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

constexpr auto tuple = asio::as_tuple(asio::deferred);

// Two retries, 1-5 ms apart: the counts are what matter here, not the waits.
retry_policy quick_policy(int max_retries = 2) {
    retry_policy p;
    p.max_retries = max_retries;
    p.initial_backoff = milliseconds(1);
    p.max_backoff = milliseconds(5);
    p.jitter = jitter_mode::none;
    return p;
}

client_config retrying(const mock_fixture& mock, api_dialect dialect = api_dialect::openai_compatible) {
    client_config c = mock.config(dialect);
    c.retry = quick_policy();
    return c;
}

std::uint64_t server_attempts(const mock_fixture& mock, const std::string& key) {
    const auto counters = mock.counters();
    const auto it = counters.attempts.find(key);
    return it == counters.attempts.end() ? 0 : it->second;
}

struct table_row {
    const char* what;
    api_dialect dialect;
    llmstream::vendor vendor;
    int status;
    const char* code;
    error_code expected;
};

}  // namespace

TEST_CASE("terminal rows of the error table are sent exactly once", "[integration][retry]") {
    const auto openai = api_dialect::openai_compatible;
    const auto native = api_dialect::dashscope_native;
    const table_row rows[] = {
        {"400 bad request", openai, vendor::openai, 400, "invalid_request_error", api_errc::bad_request},
        {"422 bad request", openai, vendor::openai, 422, "", api_errc::bad_request},
        {"400 InvalidParameter", native, vendor::dashscope, 400, "InvalidParameter", api_errc::bad_request},
        {"400 DataInspectionFailed", native, vendor::dashscope, 400, "DataInspectionFailed", api_errc::content_filtered},
        {"402", openai, vendor::openai, 402, "", api_errc::payment_required},
        {"400 Arrearage", native, vendor::dashscope, 400, "Arrearage", api_errc::payment_required},
        {"429 PrepaidBillOverdue", native, vendor::dashscope, 429, "PrepaidBillOverdue", api_errc::payment_required},
        {"429 CommodityNotPurchased", native, vendor::dashscope, 429, "CommodityNotPurchased", api_errc::payment_required},
        {"OpenAI 429 insufficient_quota", openai, vendor::openai, 429, "insufficient_quota", api_errc::payment_required},
        {"401", openai, vendor::openai, 401, "invalid_api_key", api_errc::authentication},
        {"403 Model.AccessDenied", native, vendor::dashscope, 403, "Model.AccessDenied", api_errc::permission_denied},
        {"404", openai, vendor::openai, 404, "model_not_found", api_errc::not_found},
        {"413", native, vendor::dashscope, 413, "BadRequest.TooLarge", api_errc::request_too_large},
        {"415", native, vendor::dashscope, 415, "BadRequest.UnsupportedFileFormat", api_errc::unsupported_input},
    };
    mock_fixture mock;
    int i = 0;
    for (const auto& row : rows) {
        INFO(row.what);
        asio::io_context io;
        client_config cfg = retrying(mock, row.dialect);
        cfg.vendor = row.vendor;
        client c(io.get_executor(), cfg);
        const std::string key = "terminal" + std::to_string(i++);
        run_test(io, [&]() -> asio::awaitable<void> {
            auto s = c.chat_stream(mock_request("mock?status=" + std::to_string(row.status) + "&code=" + row.code +
                                                "&key=" + key));
            const collected r = co_await collect(s);
            CHECK(r.ec == row.expected);
            CHECK_FALSE(is_retryable(r.ec));
            CHECK(s.diagnostics().attempts == 1);
            CHECK(s.diagnostics().attempt_log.empty());
            CHECK(s.diagnostics().retry_note.empty());
            CHECK_FALSE(s.diagnostics().hint.empty());
        });
        CHECK(server_attempts(mock, key) == 1);
    }
}

TEST_CASE("retryable rows of the error table are retried until they succeed", "[integration][retry]") {
    const auto openai = api_dialect::openai_compatible;
    const auto native = api_dialect::dashscope_native;
    const table_row rows[] = {
        {"429 Throttling.RateQuota", native, vendor::dashscope, 429, "Throttling.RateQuota", api_errc::rate_limited},
        {"429 Throttling.AllocationQuota", native, vendor::dashscope, 429, "Throttling.AllocationQuota", api_errc::rate_limited},
        {"DashScope compatible 429 insufficient_quota (TPM)", openai, vendor::dashscope, 429, "insufficient_quota",
         api_errc::rate_limited},
        {"OpenAI 429 rate_limit_exceeded", openai, vendor::openai, 429, "rate_limit_exceeded", api_errc::rate_limited},
        {"408", native, vendor::dashscope, 408, "RequestTimeOut", api_errc::request_timeout},
        {"409", openai, vendor::openai, 409, "", api_errc::request_timeout},
        {"500", native, vendor::dashscope, 500, "InternalError", api_errc::server_error},
        {"502", openai, vendor::openai, 502, "", api_errc::server_error},
        {"503", native, vendor::dashscope, 503, "ModelUnavailable", api_errc::overloaded},
        {"504", openai, vendor::openai, 504, "", api_errc::server_error},
        {"529", openai, vendor::deepseek, 529, "", api_errc::overloaded},
    };
    mock_fixture mock;
    int i = 0;
    for (const auto& row : rows) {
        INFO(row.what);
        asio::io_context io;
        client_config cfg = retrying(mock, row.dialect);
        cfg.vendor = row.vendor;
        client c(io.get_executor(), cfg);
        const std::string key = "retryable" + std::to_string(i++);
        run_test(io, [&]() -> asio::awaitable<void> {
            auto s = c.chat_stream(mock_request("mock?tokens=3&fail_first=2&status=" + std::to_string(row.status) +
                                                "&code=" + row.code + "&key=" + key));
            const collected r = co_await collect(s);
            CHECK_FALSE(r.ec);
            CHECK(r.content == expected_text(3));
            const auto& d = s.diagnostics();
            CHECK(d.attempts == 3);
            REQUIRE(d.attempt_log.size() == 2);
            for (const auto& a : d.attempt_log) {
                CHECK(a.error == row.expected);
                CHECK(a.http_status == row.status);
                if (*row.code) CHECK(a.provider_code == row.code);
            }
            CHECK(d.attempt_log[0].request_id == "mock-request-id-" + key + "-1");
            CHECK(d.request_id == "mock-request-id-" + key + "-3");  // the last attempt's
            CHECK(d.http_status == 200);
        });
        CHECK(server_attempts(mock, key) == 3);
    }
}

TEST_CASE("503, 503, 200 is exactly three attempts, always 503 gives up after three", "[integration][retry]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), retrying(mock));
    run_test(io, [&]() -> asio::awaitable<void> {
        auto ok = c.chat_stream(mock_request("mock?tokens=4&fail_first=2&status=503&key=twice"));
        const collected r = co_await collect(ok);
        CHECK_FALSE(r.ec);
        CHECK(r.content == expected_text(4));

        auto bad = c.chat_stream(mock_request("mock?status=503&key=always"));
        const collected b = co_await collect(bad);
        CHECK(b.ec == api_errc::overloaded);
        CHECK(bad.diagnostics().attempts == 3);
        CHECK(bad.diagnostics().attempt_log.size() == 2);
        CHECK(bad.diagnostics().retry_note == "not retried: retries used up (max_retries = 2)");
        const std::string text = bad.diagnostics().to_string(b.ec);
        CHECK(text.find("3 attempts") != std::string::npos);
        CHECK(text.find("earlier attempts: HTTP 503 [") != std::string::npos);
        CHECK(text.find("request id mock-request-id-always-1") != std::string::npos);
        CHECK(text.find("test-key") == std::string::npos);
    });
    CHECK(server_attempts(mock, "twice") == 3);
    CHECK(server_attempts(mock, "always") == 3);
}

TEST_CASE("429 with Retry-After: 1 then 200 is two attempts at least a second apart", "[integration][retry]") {
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = mock.config();
    cfg.retry = retry_policy{};  // the defaults: Retry-After rules over the computed backoff
    client c(io.get_executor(), cfg);
    run_test(io, [&]() -> asio::awaitable<void> {
        const auto start = steady_clock::now();
        auto s = c.chat_stream(
            mock_request("mock?tokens=2&fail_first=1&status=429&code=rate_limit_exceeded&retry_after=1&key=ra"));
        const collected r = co_await collect(s);
        const auto elapsed = steady_clock::now() - start;
        CHECK_FALSE(r.ec);
        CHECK(r.content == expected_text(2));
        CHECK(elapsed >= std::chrono::seconds(1));
        CHECK(s.diagnostics().attempts == 2);
        CHECK(s.diagnostics().retry_wait == std::chrono::seconds(1));
        REQUIRE(s.diagnostics().attempt_log.size() == 1);
        CHECK(s.diagnostics().attempt_log[0].wait_before_next == std::chrono::seconds(1));
        CHECK(s.diagnostics().attempt_log[0].error == api_errc::rate_limited);
    });
    CHECK(server_attempts(mock, "ra") == 2);
}

TEST_CASE("a Retry-After beyond max_retry_after or past the deadline fails at once and says why",
          "[integration][retry]") {
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = retrying(mock);
    cfg.retry.max_retry_after = std::chrono::seconds(30);
    cfg.timeouts.total = std::chrono::seconds(5);
    client c(io.get_executor(), cfg);
    run_test(io, [&]() -> asio::awaitable<void> {
        const auto start = steady_clock::now();
        auto s = c.chat_stream(mock_request("mock?status=429&code=rate_limit_exceeded&retry_after=120&key=long"));
        const collected r = co_await collect(s);
        CHECK(r.ec == api_errc::rate_limited);
        CHECK(s.diagnostics().retry_note ==
              "not retried: the server asked to wait 120 s, longer than max_retry_after (30 s)");

        auto d = c.chat_stream(mock_request("mock?status=503&retry_after=10&key=deadline"));
        const collected x = co_await collect(d);
        CHECK(x.ec == api_errc::overloaded);  // the last error, not a deadline the client chose not to wait for
        CHECK(d.diagnostics().retry_note == "not retried: waiting 10 s would pass the request's deadline");
        CHECK(steady_clock::now() - start < std::chrono::seconds(3));
    });
    CHECK(server_attempts(mock, "long") == 1);
    CHECK(server_attempts(mock, "deadline") == 1);
}

TEST_CASE("x-should-retry from the server overrides the error class", "[integration][retry]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), retrying(mock));
    run_test(io, [&]() -> asio::awaitable<void> {
        auto no = c.chat_stream(mock_request("mock?status=503&should_retry=false&key=no"));
        const collected a = co_await collect(no);
        CHECK(a.ec == api_errc::overloaded);
        CHECK(no.diagnostics().retry_note.find("x-should-retry: false") != std::string::npos);

        auto yes = c.chat_stream(mock_request("mock?status=400&should_retry=true&key=yes"));
        const collected b = co_await collect(yes);
        CHECK(b.ec == api_errc::bad_request);
        CHECK(yes.diagnostics().attempts == 3);
    });
    CHECK(server_attempts(mock, "no") == 1);
    CHECK(server_attempts(mock, "yes") == 3);
}

TEST_CASE("network failures before the first delta are retried", "[integration][retry]") {
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = retrying(mock);
    cfg.timeouts.first_byte = milliseconds(500);  // under the 2 s slow head below; wide for sanitizer builds
    client c(io.get_executor(), cfg);
    run_test(io, [&]() -> asio::awaitable<void> {
        auto reset = c.chat_stream(mock_request("mock?tokens=3&fail_first=2&reset_before_headers=1&key=reset"));
        const collected r = co_await collect(reset);
        CHECK_FALSE(r.ec);
        CHECK(r.content == expected_text(3));
        CHECK(reset.diagnostics().attempts == 3);

        auto slow = c.chat_stream(mock_request("mock?tokens=3&fail_first=1&slow_headers_ms=2000&key=slow"));
        const collected s = co_await collect(slow);
        CHECK_FALSE(s.ec);
        REQUIRE(slow.diagnostics().attempt_log.size() == 1);
        CHECK(slow.diagnostics().attempt_log[0].error == errc::first_byte_timeout);
    });
    CHECK(server_attempts(mock, "reset") == 3);
    CHECK(server_attempts(mock, "slow") == 2);

    // Nothing listens on a port that was just freed: refused three times.
    unsigned short closed_port = 0;
    {
        asio::ip::tcp::acceptor a(io, {asio::ip::address_v4::loopback(), 0});
        closed_port = a.local_endpoint().port();
    }
    client_config refused = retrying(mock);
    refused.base_url = "http://127.0.0.1:" + std::to_string(closed_port) + "/v1";
    client rc(io.get_executor(), refused);
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = rc.chat_stream(mock_request("mock"));
        const collected r = co_await collect(s);
        CHECK(r.ec == asio::error::connection_refused);
        CHECK(s.diagnostics().attempts == 3);
        CHECK(s.diagnostics().hint.find("nothing accepts connections") != std::string::npos);
    });
}

TEST_CASE("a DashScope in-stream error with HTTP_STATUS 429 before any delta is retried", "[integration][retry]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), retrying(mock, api_dialect::dashscope_native));
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request(
            "mock?tokens=3&fail_first=1&error_after=0&error_status=429&code=Throttling.RateQuota&key=instream"));
        const collected r = co_await collect(s);
        CHECK_FALSE(r.ec);
        CHECK(r.content == expected_text(3));
        REQUIRE(s.diagnostics().attempt_log.size() == 1);
        CHECK(s.diagnostics().attempt_log[0].error == api_errc::rate_limited);
        CHECK(s.diagnostics().attempt_log[0].http_status == 429);
    });
    CHECK(server_attempts(mock, "instream") == 2);
}

TEST_CASE("after the first delta nothing is retried: delivered text stays, diagnostics count it",
          "[integration][retry]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), retrying(mock, api_dialect::dashscope_native));
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request("mock?tokens=10&reset_after=3&key=cut"));
        const collected r = co_await collect(s);
        CHECK(r.ec == errc::connection_closed);
        CHECK(is_retryable(r.ec));  // retryable in itself, but deltas were already delivered
        CHECK(r.content == expected_text(3));
        CHECK(s.diagnostics().attempts == 1);
        CHECK(s.diagnostics().deltas_delivered == static_cast<std::size_t>(r.deltas));
        CHECK(r.deltas == 3);
        CHECK(s.diagnostics().retry_note.find("3 deltas") != std::string::npos);
    });
    CHECK(server_attempts(mock, "cut") == 1);
}

TEST_CASE("a request's own retry policy overrides the client's, non-streaming calls retry too",
          "[integration][retry]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), mock.config());  // max_retries = 0
    run_test(io, [&]() -> asio::awaitable<void> {
        auto req = mock_request("mock?tokens=2&fail_first=1&status=500&key=override");
        req.retry = quick_policy(1);
        auto s = c.chat_stream(std::move(req));
        const collected s_result = co_await collect(s);
        CHECK_FALSE(s_result.ec);
        CHECK(s.diagnostics().attempts == 2);

        auto once = c.chat_stream(mock_request("mock?tokens=2&fail_first=1&status=500&key=default"));
        const collected once_result = co_await collect(once);
        CHECK(once_result.ec == api_errc::server_error);
        CHECK(once.diagnostics().retry_note == "not retried: retrying is off (max_retries = 0)");

        auto whole = mock_request("mock?tokens=4&fail_first=2&status=502&key=whole");
        whole.retry = quick_policy(2);
        diagnostics diag;
        auto [ec, done] = co_await c.async_chat(std::move(whole), diag, tuple);
        CHECK_FALSE(ec);
        CHECK(done.content == expected_text(4));
        CHECK(diag.attempts == 3);
    });
    CHECK(server_attempts(mock, "override") == 2);
    CHECK(server_attempts(mock, "default") == 1);
    CHECK(server_attempts(mock, "whole") == 3);
}

TEST_CASE("cancelling during the wait between attempts ends the stream at once", "[integration][retry]") {
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = retrying(mock);
    client c(io.get_executor(), cfg);
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request("mock?status=503&retry_after=20&key=cancel"));
        asio::steady_timer t(io, milliseconds(200));
        co_await t.async_wait(tuple);
        const auto start = steady_clock::now();
        s.cancel();
        const collected r = co_await collect(s);
        CHECK(r.ec == asio::error::operation_aborted);
        CHECK(steady_clock::now() - start < std::chrono::seconds(2));
    });
    CHECK(server_attempts(mock, "cancel") == 1);
}

TEST_CASE("a storm of 1,000 streams against an always-503 server stays within the retry budget",
          "[integration][retry][budget]") {
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = retrying(mock);
    cfg.retry_budget.ratio = 0.2;
    cfg.retry_budget.min_retries_per_second = 1.0;
    cfg.retry_budget.window = std::chrono::seconds(60);  // the whole test is one window
    client c(io.get_executor(), cfg);
    constexpr int streams = 1000;
    int failed = 0;
    int budget_notes = 0;
    int retried = 0;
    run_test(io, [&]() -> asio::awaitable<void> {
        std::vector<stream> all;
        for (int i = 0; i < streams; ++i) all.push_back(c.chat_stream(mock_request("mock?status=503&key=storm")));
        for (auto& s : all) {
            const collected r = co_await collect(s);
            if (r.ec == api_errc::overloaded) ++failed;
            if (s.diagnostics().retry_note.find("retry budget") != std::string::npos) ++budget_notes;
            retried += s.diagnostics().attempts - 1;
        }
    });
    // Allowed: the floor (1/s over 60 s) plus a fifth of the 1,000 first attempts.
    const std::uint64_t allowed_retries = 60 + streams / 5;
    const std::uint64_t seen = server_attempts(mock, "storm");
    INFO("attempts seen by the server: " << seen);
    CHECK(failed == streams);
    CHECK(seen == static_cast<std::uint64_t>(streams + retried));
    CHECK(seen <= streams + allowed_retries);
    CHECK(seen >= streams + allowed_retries - 1);  // the budget is used, not wasted (fractions round down)
    CHECK(budget_notes > 0);
}
