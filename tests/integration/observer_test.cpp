// The observer's hooks against llmstream-mock: their order and contents per request (success,
// retries, a terminal failure, a non-streaming call, a cancelled stream), the metrics collector on
// top of them, and error_with_diagnostics from the default completion token.
#include "collect.hpp"
#include "mock_fixture.hpp"

#include <llmstream/client.hpp>
#include <llmstream/error.hpp>
#include <llmstream/metrics.hpp>
#include <llmstream/observer.hpp>
#include <llmstream/with_diagnostics.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>

#include <string>
#include <vector>

using namespace llmstream;
using namespace llmstream::testing;
namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

constexpr auto tuple = asio::as_tuple(asio::deferred);

// Writes every hook call as one line, and keeps the last request_ended's details.
struct recorder : observer {
    std::vector<std::string> events;
    std::vector<std::uint64_t> ids;
    request_context last_context{};  // views copied out below while they are valid
    std::string model, provider, address;
    int port = 0;
    bool streaming = false;
    boost::system::error_code end_error;
    std::optional<usage> end_usage;
    std::optional<std::chrono::nanoseconds> end_ttfd;
    std::chrono::nanoseconds end_duration{0};
    std::size_t end_deltas = 0;
    int end_attempts = 0;
    std::string end_provider_code, end_text;

    void note(const request_context& r, std::string line) {
        ids.push_back(r.id);
        model = std::string(r.model);
        provider = std::string(r.provider);
        address = std::string(r.server_address);
        port = r.server_port;
        streaming = r.streaming;
        CHECK(r.operation == "chat");
        events.push_back(std::move(line));
    }
    void request_started(const request_context& r) noexcept override { note(r, "start"); }
    void attempt_started(const request_context& r, int attempt) noexcept override {
        note(r, "attempt " + std::to_string(attempt));
    }
    void retry_scheduled(const request_context& r, const retry_event& e) noexcept override {
        note(r, "retry " + std::to_string(e.attempt) + " " + error_class_name(e.error) + " " +
                    std::to_string(e.http_status) + " " + std::string(e.provider_code) + " wait " +
                    std::to_string(e.wait.count()));
    }
    void first_delta(const request_context& r, std::chrono::nanoseconds since) noexcept override {
        CHECK(since.count() > 0);
        note(r, "first delta");
    }
    void request_ended(const request_context& r, const request_result& res) noexcept override {
        note(r, std::string("end ") + error_class_name(res.error));
        end_error = res.error;
        end_usage = res.usage;
        end_ttfd = res.time_to_first_delta;
        end_duration = res.duration;
        end_deltas = res.deltas;
        REQUIRE(res.diagnostics);
        end_attempts = res.diagnostics->attempts;
        end_provider_code = res.diagnostics->provider_code;
        end_text = res.diagnostics->to_string(res.error);
    }
};

retry_policy quick_policy() {
    retry_policy p;
    p.max_retries = 2;
    p.initial_backoff = milliseconds(1);
    p.max_backoff = milliseconds(1);
    p.jitter = jitter_mode::none;
    return p;
}

}  // namespace

TEST_CASE("observer: a streamed request, start to end", "[integration][observer]") {
    mock_fixture mock;
    asio::io_context io;
    auto rec = std::make_shared<recorder>();
    auto config = mock.config();
    config.observer = rec;
    client c(io.get_executor(), config);
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request("mock?tokens=5"));
        const collected r = co_await collect(s);
        REQUIRE_FALSE(r.ec);
        const std::vector<std::string> expected{"start", "attempt 1", "first delta", "end ok"};
        CHECK(rec->events == expected);
        CHECK(rec->model == "mock?tokens=5");
        CHECK(rec->provider == "openai");  // an OpenAI-compatible server of unknown vendor
        CHECK(rec->address == "127.0.0.1");
        CHECK(rec->port == mock.port());
        CHECK(rec->streaming);
        CHECK_FALSE(rec->end_error);
        REQUIRE(rec->end_usage);
        CHECK(rec->end_usage->output_tokens == 5);
        CHECK(rec->end_usage->input_tokens == 10);
        CHECK(rec->end_deltas == static_cast<std::size_t>(r.deltas));
        REQUIRE(rec->end_ttfd);
        CHECK(*rec->end_ttfd <= rec->end_duration);
        CHECK(rec->end_attempts == 1);
        // One request: the same id in every event; the next request gets the next id.
        for (auto id : rec->ids) CHECK(id == rec->ids.front());
        const auto first_id = rec->ids.front();
        auto s2 = c.chat_stream(mock_request("mock?tokens=1"));
        (void)co_await collect(s2);
        CHECK(rec->ids.back() == first_id + 1);
    });
}

TEST_CASE("observer: retries are reported with their reason and wait", "[integration][observer]") {
    mock_fixture mock;
    asio::io_context io;
    auto rec = std::make_shared<recorder>();
    auto config = mock.config();
    config.observer = rec;
    config.retry = quick_policy();
    client c(io.get_executor(), config);
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request("mock?tokens=2&fail_first=2&status=429&code=Throttling.RateQuota&key=obs-retry"));
        const collected r = co_await collect(s);
        REQUIRE_FALSE(r.ec);
        const std::vector<std::string> expected{"start",
                                                "attempt 1",
                                                "retry 1 rate_limited 429 Throttling.RateQuota wait 1",
                                                "attempt 2",
                                                "retry 2 rate_limited 429 Throttling.RateQuota wait 1",
                                                "attempt 3",
                                                "first delta",
                                                "end ok"};
        CHECK(rec->events == expected);
        CHECK(rec->end_attempts == 3);
    });
}

TEST_CASE("observer: a terminal failure, a non-streaming call and a cancelled stream", "[integration][observer]") {
    mock_fixture mock;
    asio::io_context io;
    auto rec = std::make_shared<recorder>();
    auto config = mock.config();
    config.observer = rec;
    config.api_key = "sk-observer-secret-1234";
    client c(io.get_executor(), config);
    run_test(io, [&]() -> asio::awaitable<void> {
        // The server echoes the Authorization header into its message: the observer never sees the key.
        auto s = c.chat_stream(mock_request("mock?status=403&code=Model.AccessDenied&echo_auth=1"));
        const collected r = co_await collect(s);
        CHECK(r.ec == api_errc::permission_denied);
        const std::vector<std::string> failed{"start", "attempt 1", "end permission_denied"};
        CHECK(rec->events == failed);
        CHECK(rec->end_error == api_errc::permission_denied);
        CHECK(rec->end_provider_code == "Model.AccessDenied");
        CHECK_FALSE(rec->end_usage);
        CHECK_FALSE(rec->end_ttfd);
        CHECK(rec->end_text.find("sk-observer-secret-1234") == std::string::npos);
        CHECK(rec->end_text.find("Model.AccessDenied") != std::string::npos);

        rec->events.clear();
        diagnostics diag;
        auto [ec, done] = co_await c.async_chat(mock_request("mock?tokens=4"), diag, tuple);
        REQUIRE_FALSE(ec);
        const std::vector<std::string> whole{"start", "attempt 1", "end ok"};  // no chunks, no first delta
        CHECK(rec->events == whole);
        CHECK_FALSE(rec->streaming);
        REQUIRE(rec->end_usage);
        CHECK(rec->end_usage->output_tokens == 4);
        CHECK(rec->end_deltas == 0);

        rec->events.clear();
        auto slow = c.chat_stream(mock_request("mock?tokens=200&pace_ms=20"));
        const collected part = co_await collect(slow, 2);
        CHECK(part.deltas == 2);
        slow.cancel();
        auto [cec, d] = co_await slow.async_next(tuple);
        CHECK(cec == asio::error::operation_aborted);
        const std::vector<std::string> cancelled{"start", "attempt 1", "first delta", "end cancelled"};
        CHECK(rec->events == cancelled);
        CHECK(rec->end_error == asio::error::operation_aborted);
    });
}

TEST_CASE("metrics: the GenAI series from real requests, rendered as Prometheus text", "[integration][observer]") {
    mock_fixture mock;
    asio::io_context io;
    auto m = std::make_shared<metrics>();
    auto config = mock.config();
    config.observer = m;
    config.retry = quick_policy();
    client c(io.get_executor(), config);
    run_test(io, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
            auto s = c.chat_stream(mock_request("mock?tokens=3"));
            const collected s_result = co_await collect(s);
            REQUIRE_FALSE(s_result.ec);
        }
        auto throttled = c.chat_stream(mock_request("mock?tokens=3&fail_first=1&status=429&code=Throttling&key=m1"));
        const collected throttled_result = co_await collect(throttled);
        REQUIRE_FALSE(throttled_result.ec);
        auto denied = c.chat_stream(mock_request("mock?status=403&code=Model.AccessDenied"));
        const collected denied_result = co_await collect(denied);
        CHECK(denied_result.ec == api_errc::permission_denied);
    });
    m->record_pool(c.pool_stats());
    const std::string text = m->render();
    INFO(text);
    const std::string port = std::to_string(mock.port());
    const std::string ok = "gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"openai\",gen_ai_request_model=\"mock?tokens=3\","
                           "server_address=\"127.0.0.1\",server_port=\"" + port + "\"";
    CHECK(text.find("# TYPE gen_ai_client_operation_duration_seconds histogram\n") != std::string::npos);
    CHECK(text.find("gen_ai_client_operation_duration_seconds_count{" + ok + "} 3\n") != std::string::npos);
    CHECK(text.find("gen_ai_client_operation_duration_seconds_bucket{" + ok + ",le=\"+Inf\"} 3\n") != std::string::npos);
    CHECK(text.find("gen_ai_client_token_usage_sum{" + ok + ",gen_ai_token_type=\"output\"} 9\n") != std::string::npos);
    CHECK(text.find("gen_ai_client_token_usage_sum{" + ok + ",gen_ai_token_type=\"input\"} 30\n") != std::string::npos);
    // 3 tokens fall in the (1, 4] bucket.
    CHECK(text.find("gen_ai_client_token_usage_bucket{" + ok + ",gen_ai_token_type=\"output\",le=\"1\"} 0\n") !=
          std::string::npos);
    CHECK(text.find("gen_ai_client_token_usage_bucket{" + ok + ",gen_ai_token_type=\"output\",le=\"4\"} 3\n") !=
          std::string::npos);
    CHECK(text.find("gen_ai_client_operation_time_to_first_chunk_seconds_count{" + ok + "} 3\n") != std::string::npos);
    CHECK(text.find("llmstream_requests_in_flight{" + ok + "} 0\n") != std::string::npos);
    const std::string throttled =
        "gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"openai\",gen_ai_request_model=\"mock?tokens=3&fail_first=1&"
        "status=429&code=Throttling&key=m1\",server_address=\"127.0.0.1\",server_port=\"" + port + "\"";
    CHECK(text.find("llmstream_retries_total{" + throttled + ",error_type=\"rate_limited\"} 1\n") != std::string::npos);
    CHECK(text.find("llmstream_throttles_total{" + throttled + "} 1\n") != std::string::npos);
    CHECK(text.find(",error_type=\"permission_denied\"} 1\n") != std::string::npos);
    const auto pool = c.pool_stats();
    CHECK(text.find("llmstream_pool_connections{server_address=\"127.0.0.1\",server_port=\"" + port +
                    "\",state=\"open\"} " + std::to_string(pool.open) + "\n") != std::string::npos);
    CHECK(text.find("llmstream_pool_waiting_requests{server_address=\"127.0.0.1\",server_port=\"" + port + "\"} 0\n") !=
          std::string::npos);
    CHECK(text.find("test-key") == std::string::npos);
}

TEST_CASE("the default token throws error_with_diagnostics: the whole story in one exception", "[integration]") {
    mock_fixture mock;
    asio::io_context io;
    auto config = mock.config();
    config.api_key = "sk-exception-secret-5678";
    client c(io.get_executor(), config);
    run_test(io, [&]() -> asio::awaitable<void> {
        auto bad = c.chat_stream(mock_request("mock?status=403&code=Model.AccessDenied&key=exc&echo_auth=1"));
        bool threw = false;
        try {
            co_await bad.async_next();
        } catch (const error_with_diagnostics& e) {
            threw = true;
            CHECK(e.code() == api_errc::permission_denied);
            CHECK(e.diagnostics().http_status == 403);
            CHECK(e.diagnostics().provider_code == "Model.AccessDenied");
            CHECK(e.diagnostics().request_id == "mock-request-id-exc-1");
            const std::string what = e.what();
            CHECK(what == bad.diagnostics().to_string(e.code()));
            CHECK(what.find("Model.AccessDenied") != std::string::npos);
            CHECK(what.find("Hint: ") != std::string::npos);
            CHECK(what.find("sk-exception-secret-5678") == std::string::npos);
        }
        CHECK(threw);

        // It is a boost::system::system_error too, and async_chat throws it the same way.
        diagnostics diag;
        threw = false;
        try {
            (void)co_await c.async_chat(mock_request("mock?status=401&code=invalid_api_key"), diag);
        } catch (const boost::system::system_error& e) {
            threw = true;
            CHECK(e.code() == api_errc::authentication);
            const auto* full = dynamic_cast<const error_with_diagnostics*>(&e);
            REQUIRE(full != nullptr);
            CHECK(full->diagnostics().http_status == 401);
            CHECK(diag.http_status == 401);
        }
        CHECK(threw);

        // Success through the default token: the completion itself.
        const completion done = co_await c.async_chat(mock_request("mock?tokens=2"), diag);
        CHECK(done.content == expected_text(2));

        // with_diagnostics() wraps other tokens too: a plain callback gets the exception_ptr.
        std::exception_ptr failure;
        bool called = false;
        auto cb = c.chat_stream(mock_request("mock?status=404&code=model_not_found"));
        cb.async_next(with_diagnostics([&](std::exception_ptr e, const delta* d) {
            called = true;
            failure = e;
            CHECK(d == nullptr);
        }));
        asio::steady_timer wait(co_await asio::this_coro::executor);
        for (int i = 0; i < 500 && !called; ++i) {
            wait.expires_after(milliseconds(10));
            co_await wait.async_wait(tuple);
        }
        REQUIRE(called);
        REQUIRE(failure);
        try {
            std::rethrow_exception(failure);
        } catch (const error_with_diagnostics& e) {
            CHECK(e.code() == api_errc::not_found);
            CHECK(e.diagnostics().http_status == 404);
        }
    });
}
