// Anthropic Messages and OpenAI Responses end to end: the client against llmstream-mock speaking
// each dialect, behind the providers' own host names pinned to loopback (no real provider is
// asked): streams, whole answers, retries of throttling and overload, terminal errors, errors in
// a 200 stream, the key header (and its redaction), anthropic-version.
#include "collect.hpp"
#include "mock_fixture.hpp"

#include <llmstream/client.hpp>
#include <llmstream/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>

using namespace llmstream;
using namespace llmstream::testing;
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr auto tuple = asio::as_tuple(asio::deferred);

// `preset` with its host pinned to the mock, over http:// on the mock's port.
client_config pinned(const mock_fixture& mock, client_config preset) {
    const std::string scheme = "https://";
    REQUIRE(preset.base_url.rfind(scheme, 0) == 0);
    const std::string rest = preset.base_url.substr(scheme.size());
    const std::string host = rest.substr(0, rest.find('/'));
    const std::string path = rest.substr(host.size());
    preset.base_url = "http://" + host + ":" + std::to_string(mock.port()) + path;
    preset.host_overrides = {{host, "127.0.0.1"}};
    preset.timeouts.total = std::chrono::seconds(30);
    preset.retry.max_retries = 2;
    preset.retry.initial_backoff = std::chrono::milliseconds(1);
    preset.retry.max_backoff = std::chrono::milliseconds(5);
    preset.retry.jitter = jitter_mode::none;
    preset.http = tested_http_version();
    return preset;
}

struct preset_case {
    const char* name;
    client_config config;
};

std::vector<preset_case> presets() {
    using providers::region;
    return {{"anthropic", providers::anthropic("sk-ant-test-key-123456")},
            {"dashscope_anthropic intl", providers::dashscope_anthropic(region::intl, "sk-ds-test-key-123456")},
            {"openai_responses", providers::openai_responses("sk-oa-test-key-123456")},
            {"dashscope_responses cn", providers::dashscope_responses(region::cn, "sk-ds-test-key-123456")}};
}

}  // namespace

TEST_CASE("each new dialect streams and answers whole through its preset's host", "[integration][dialects]") {
    mock_fixture mock;
    for (const auto& p : presets()) {
        INFO(p.name);
        asio::io_context io;
        client c(io.get_executor(), pinned(mock, p.config));
        run_test(io, [&]() -> asio::awaitable<void> {
            auto s = c.chat_stream(mock_request("mock?tokens=6&reasoning=2&keepalive=1"));
            const collected got = co_await collect(s);
            CHECK_FALSE(got.ec);
            CHECK(got.content == expected_text(6));
            CHECK(got.reasoning == expected_text(2));
            CHECK(got.finish == finish_reason::stop);
            REQUIRE(got.use);
            CHECK(got.use->input_tokens == 10);
            CHECK(got.use->output_tokens == 8);
            CHECK(got.use->total_tokens == 18);
            CHECK(s.diagnostics().attempts == 1);

            diagnostics diag;
            auto [ec, whole] = co_await c.async_chat(mock_request("mock?tokens=4&reasoning=1"), diag, tuple);
            CHECK_FALSE(ec);
            CHECK(whole.content == expected_text(4));
            CHECK(whole.reasoning_content == expected_text(1));
            CHECK(whole.finish == finish_reason::stop);
            REQUIRE(whole.usage);
            CHECK(whole.usage->output_tokens == 5);
        });
    }
}

TEST_CASE("new dialects: throttling and overload are retried, billing and auth are not, errors in a 200 stream are classified",
          "[integration][dialects]") {
    mock_fixture mock;
    int k = 0;
    for (const auto& p : presets()) {
        INFO(p.name);
        const bool anthropic = p.config.dialect == api_dialect::anthropic_messages;
        asio::io_context io;
        client c(io.get_executor(), pinned(mock, p.config));
        run_test(io, [&]() -> asio::awaitable<void> {
            for (const int status : {429, 529, 500}) {
                INFO(status);
                const std::string key = "d" + std::to_string(k++);
                auto s = c.chat_stream(mock_request("mock?tokens=3&fail_first=2&status=" + std::to_string(status) + "&key=" + key));
                const collected got = co_await collect(s);
                CHECK_FALSE(got.ec);
                CHECK(got.content == expected_text(3));
                REQUIRE(s.diagnostics().attempt_log.size() == 2);
                CHECK(s.diagnostics().attempt_log[0].error ==
                      (status == 429 ? api_errc::rate_limited : status == 529 ? api_errc::overloaded : api_errc::server_error));
            }
            for (const auto& [status, expected] : {std::pair{401, error_code(api_errc::authentication)},
                                                   std::pair{402, error_code(api_errc::payment_required)},
                                                   std::pair{403, error_code(api_errc::permission_denied)},
                                                   std::pair{400, error_code(api_errc::bad_request)}}) {
                INFO(status);
                auto s = c.chat_stream(mock_request("mock?status=" + std::to_string(status)));
                const collected got = co_await collect(s);
                CHECK(got.ec == expected);
                CHECK(s.diagnostics().attempts == 1);
                CHECK(s.diagnostics().request_id == "mock-request-id");
                if (anthropic) CHECK_FALSE(s.diagnostics().provider_code.empty());
                CHECK_FALSE(s.diagnostics().hint.empty());
            }
            // An error event after text: reported with the text already handed out, not retried.
            auto s = c.chat_stream(mock_request("mock?tokens=5&error_after=2&error_status=529"));
            const collected got = co_await collect(s);
            CHECK(got.ec == (anthropic ? error_code(api_errc::overloaded) : error_code(api_errc::server_error)));
            CHECK(got.content == expected_text(2));
            CHECK(s.diagnostics().http_status == 200);
            auto t = c.chat_stream(mock_request("mock?tokens=5&error_after=1&error_status=429"));
            const collected throttled = co_await collect(t);
            CHECK(throttled.ec == api_errc::rate_limited);
            // A broken event and a stream cut before its end.
            auto m = c.chat_stream(mock_request("mock?tokens=5&malformed_after=1"));
            const collected broken = co_await collect(m);
            CHECK(broken.ec == errc::malformed_response);
            auto n = c.chat_stream(mock_request("mock?tokens=3&no_done=1"));
            const collected cut = co_await collect(n);
            CHECK(cut.ec == errc::truncated_stream);
        });
    }
}

TEST_CASE("Anthropic's key goes in x-api-key (or Bearer when asked), with anthropic-version, and is never reported",
          "[integration][dialects]") {
    mock_fixture mock;
    const std::string key = "sk-ant-secret-0123456789";
    for (const auto scheme : {auth_scheme::automatic, auth_scheme::bearer}) {
        client_config cfg = pinned(mock, providers::anthropic(key));
        cfg.auth = scheme;
        asio::io_context io;
        client c(io.get_executor(), cfg);
        run_test(io, [&]() -> asio::awaitable<void> {
            // The mock answers 400 without anthropic-version and 401 without a key: this works only with both.
            auto ok = c.chat_stream(mock_request("mock?tokens=2"));
            const collected fine = co_await collect(ok);
            CHECK_FALSE(fine.ec);
            // A leaky server repeats the key header in its error message: the key never reaches diagnostics.
            auto s = c.chat_stream(mock_request("mock?status=401&echo_auth=1"));
            const collected rejected = co_await collect(s);
            CHECK(rejected.ec == api_errc::authentication);
            const std::string& message = s.diagnostics().provider_message;
            CHECK(message.find(scheme == auth_scheme::bearer ? "rejected Authorization:" : "rejected x-api-key:") == 0);
            CHECK(message.find(key) == std::string::npos);
            CHECK(message.find("[redacted]") != std::string::npos);
        });
    }
}

TEST_CASE("the DashScope workspace goes to DashScope's hosts and to hosts that say nothing, not to another vendor's",
          "[integration][dialects]") {
    mock_fixture mock;
    const auto echoed = [&](client_config cfg) {
        cfg.workspace = "ws-42";
        asio::io_context io;
        client c(io.get_executor(), cfg);
        std::string message;
        run_test(io, [&]() -> asio::awaitable<void> {
            auto s = c.chat_stream(mock_request("mock?status=401&echo_auth=1"));
            const collected rejected = co_await collect(s);
            CHECK(rejected.ec == api_errc::authentication);
            message = s.diagnostics().provider_message;
        });
        return message;
    };
    using providers::region;
    CHECK(echoed(pinned(mock, providers::dashscope_anthropic(region::intl, "sk-ds-test-key-123456"))).find("(workspace: ws-42)") !=
          std::string::npos);
    CHECK(echoed(mock.config()).find("(workspace: ws-42)") != std::string::npos);  // a local server: the host says nothing
    CHECK(echoed(pinned(mock, providers::anthropic("sk-ant-test-key-123456"))).find("workspace") == std::string::npos);
    CHECK(echoed(pinned(mock, providers::openai_responses("sk-oa-test-key-123456"))).find("workspace") == std::string::npos);
}
