// The vendor told from the host: every row of the error table through providers::custom() with
// DashScope's own host names, pinned to llmstream-mock by a host override (no real provider is
// ever asked), and the body shape deciding when the host says nothing.
#include "collect.hpp"
#include "mock_fixture.hpp"

#include <llmstream/client.hpp>
#include <llmstream/error.hpp>

using namespace llmstream;
using namespace llmstream::testing;
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

struct row {
    const char* what;
    api_dialect dialect;
    int status;
    const char* code;
    error_code expected;
};

// A client for `host`, the mock behind it, with the vendor left to the client to tell.
client_config pinned(const mock_fixture& mock, const std::string& host, api_dialect dialect) {
    const std::string path = dialect == api_dialect::openai_compatible ? "/compatible-mode/v1" : "/api/v1";
    client_config c = providers::custom("http://" + host + ":" + std::to_string(mock.port()) + path, "test-key", dialect);
    c.host_overrides = {{host, "127.0.0.1"}};
    c.timeouts.total = std::chrono::seconds(30);
    c.retry.max_retries = 2;
    c.retry.initial_backoff = std::chrono::milliseconds(1);
    c.retry.max_backoff = std::chrono::milliseconds(5);
    c.retry.jitter = jitter_mode::none;
    return c;
}

std::uint64_t server_attempts(const mock_fixture& mock, const std::string& key) {
    const auto counters = mock.counters();
    const auto it = counters.attempts.find(key);
    return it == counters.attempts.end() ? 0 : it->second;
}

// Sends `query` (with fail_first=2: two failures, then the reply) and checks the class, the
// retry decision and the number of attempts the server saw.
void check_row(mock_fixture& mock, const client_config& cfg, const row& r, const std::string& key,
               const std::string& extra = {}) {
    INFO(r.what << " via " << cfg.base_url);
    asio::io_context io;
    client c(io.get_executor(), cfg);
    const bool retryable = is_retryable(r.expected);
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request("mock?tokens=2&fail_first=2&status=" + std::to_string(r.status) +
                                            "&code=" + r.code + "&key=" + key + extra));
        const collected got = co_await collect(s);
        const auto& d = s.diagnostics();
        if (retryable) {
            CHECK_FALSE(got.ec);
            CHECK(got.content == expected_text(2));
            REQUIRE(d.attempt_log.size() == 2);
            CHECK(d.attempt_log[0].error == r.expected);
        } else {
            CHECK(got.ec == r.expected);
            CHECK(d.attempts == 1);
            CHECK_FALSE(d.hint.empty());
        }
    });
    CHECK(server_attempts(mock, key) == (retryable ? 3u : 1u));
}

constexpr auto compat = api_dialect::openai_compatible;
constexpr auto native = api_dialect::dashscope_native;

// docs/providers.md section 4 as DashScope serves it, in both of its dialects.
const row dashscope_rows[] = {
    {"400 InvalidParameter", native, 400, "InvalidParameter", api_errc::bad_request},
    {"400 invalid_request_error", compat, 400, "invalid_request_error", api_errc::bad_request},
    {"400 DataInspectionFailed", native, 400, "DataInspectionFailed", api_errc::content_filtered},
    {"400 data_inspection_failed", compat, 400, "data_inspection_failed", api_errc::content_filtered},
    {"400 Arrearage", native, 400, "Arrearage", api_errc::payment_required},
    {"400 Arrearage (compatible)", compat, 400, "Arrearage", api_errc::payment_required},
    {"429 PrepaidBillOverdue", native, 429, "PrepaidBillOverdue", api_errc::payment_required},
    {"429 CommodityNotPurchased", compat, 429, "CommodityNotPurchased", api_errc::payment_required},
    {"401 InvalidApiKey", native, 401, "InvalidApiKey", api_errc::authentication},
    {"401 invalid_api_key", compat, 401, "invalid_api_key", api_errc::authentication},
    {"403 Model.AccessDenied", compat, 403, "Model.AccessDenied", api_errc::permission_denied},
    {"403 AllocationQuota.FreeTierOnly", native, 403, "AllocationQuota.FreeTierOnly", api_errc::permission_denied},
    {"404 ModelNotFound", native, 404, "ModelNotFound", api_errc::not_found},
    {"404 model_not_found", compat, 404, "model_not_found", api_errc::not_found},
    {"413 BadRequest.TooLarge", native, 413, "BadRequest.TooLarge", api_errc::request_too_large},
    {"415 BadRequest.UnsupportedFileFormat", native, 415, "BadRequest.UnsupportedFileFormat",
     api_errc::unsupported_input},
    {"429 insufficient_quota (TPM throttling)", compat, 429, "insufficient_quota", api_errc::rate_limited},
    {"429 Throttling.RateQuota", native, 429, "Throttling.RateQuota", api_errc::rate_limited},
    {"429 Throttling.AllocationQuota", compat, 429, "Throttling.AllocationQuota", api_errc::rate_limited},
    {"429 limit_requests", compat, 429, "limit_requests", api_errc::rate_limited},
    {"408 RequestTimeOut", native, 408, "RequestTimeOut", api_errc::request_timeout},
    {"500 InternalError", native, 500, "InternalError", api_errc::server_error},
    {"500 internal_error", compat, 500, "internal_error", api_errc::server_error},
    {"503 ModelUnavailable", compat, 503, "ModelUnavailable", api_errc::overloaded},
};

}  // namespace

TEST_CASE("every row of the error table through custom() with DashScope's hosts reads DashScope's codes",
          "[integration][vendor]") {
    mock_fixture mock;
    int i = 0;
    for (const char* host : {"dashscope-intl.aliyuncs.com", "dashscope.aliyuncs.com",
                             "ws-test1.ap-southeast-1.maas.aliyuncs.com"}) {
        for (const auto& r : dashscope_rows) {
            check_row(mock, pinned(mock, host, r.dialect), r, "ds" + std::to_string(i++));
        }
    }
}

TEST_CASE("the OpenAI and DeepSeek hosts read insufficient_quota as billing, whatever the body looks like",
          "[integration][vendor]") {
    mock_fixture mock;
    const row billing{"429 insufficient_quota", compat, 429, "insufficient_quota", api_errc::payment_required};
    check_row(mock, pinned(mock, "api.openai.com", compat), billing, "oa1");
    check_row(mock, pinned(mock, "api.openai.com", compat), billing, "oa2", "&errors=openai");
    check_row(mock, pinned(mock, "api.deepseek.com", compat), billing, "deepseek1");
    const row throttled{"429 rate_limit_exceeded", compat, 429, "rate_limit_exceeded", api_errc::rate_limited};
    check_row(mock, pinned(mock, "api.openai.com", compat), throttled, "oa3", "&errors=openai");
}

TEST_CASE("a host that says nothing: the error body's shape decides, and a named vendor overrides both",
          "[integration][vendor]") {
    mock_fixture mock;
    const row throttled{"429 insufficient_quota in DashScope's shape", compat, 429, "insufficient_quota",
                        api_errc::rate_limited};
    const row billing{"429 insufficient_quota in OpenAI's shape", compat, 429, "insufficient_quota",
                      api_errc::payment_required};
    client_config local = mock.config();
    local.retry = pinned(mock, "localhost", compat).retry;
    REQUIRE(local.vendor == vendor::automatic);
    check_row(mock, local, throttled, "local1");            // the mock's default: DashScope's shape
    check_row(mock, local, billing, "local2", "&errors=openai");

    // DashScope's own codes are DashScope's wherever they come from.
    check_row(mock, local, {"429 Throttling.RateQuota", compat, 429, "Throttling.RateQuota", api_errc::rate_limited},
              "local3", "&errors=openai");

    client_config named = pinned(mock, "dashscope-intl.aliyuncs.com", compat);
    named.vendor = vendor::openai;  // the override: read as OpenAI's even on DashScope's host
    check_row(mock, named, {"429 insufficient_quota, vendor openai", compat, 429, "insufficient_quota",
                            api_errc::payment_required}, "named1");
    local.vendor = vendor::dashscope;
    check_row(mock, local, {"429 insufficient_quota, vendor dashscope", compat, 429, "insufficient_quota",
                            api_errc::rate_limited}, "named2", "&errors=openai");
}

TEST_CASE("an in-stream insufficient_quota on a DashScope host is throttling, not billing", "[integration][vendor]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), pinned(mock, "dashscope-intl.aliyuncs.com", compat));
    run_test(io, [&]() -> asio::awaitable<void> {
        // The error event follows the role-only first delta, so it is reported, not retried.
        auto s = c.chat_stream(mock_request("mock?tokens=3&error_after=0&code=insufficient_quota&errors=openai"));
        const collected got = co_await collect(s);
        CHECK(got.ec == api_errc::rate_limited);
        CHECK(s.diagnostics().provider_code == "insufficient_quota");
        CHECK(s.diagnostics().hint.find("per minute") != std::string::npos);
    });
    client plain(io.get_executor(), mock.config());  // the host says nothing, the body is OpenAI's
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = plain.chat_stream(mock_request("mock?tokens=3&error_after=0&code=insufficient_quota&errors=openai"));
        const collected got = co_await collect(s);
        CHECK(got.ec == api_errc::payment_required);
    });
}
