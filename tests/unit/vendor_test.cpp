// Whose error codes a server speaks: from the host, and when the host says nothing, from the body.
#include "protocol/error_classifier.hpp"
#include "protocol/json_access.hpp"
#include "protocol/response_stream.hpp"
#include "protocol/vendor.hpp"

#include <llmstream/error.hpp>

#include <catch2/catch.hpp>

using namespace llmstream;
using protocol::vendor_for_host;
using protocol::vendor_of_host;

namespace {

boost::system::error_code decode(vendor v, int status, std::string_view body, diagnostics& diag) {
    protocol::response_head head;
    head.status = status;
    return protocol::decode_error_response(v, head, body, diag);
}

constexpr std::string_view openai_quota =
    R"({"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}})";
// DashScope compatible mode's TPM throttling, as its documentation shows it.
constexpr std::string_view dashscope_quota =
    R"({"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"},"id":"chatcmpl-1","request_id":"5f9b-req"})";

}  // namespace

TEST_CASE("the host names the vendor: every DashScope region and workspace host, DeepSeek, OpenAI",
          "[vendor]") {
    for (const char* host : {"dashscope.aliyuncs.com", "dashscope-intl.aliyuncs.com", "dashscope-us.aliyuncs.com",
                             "dashscope-finance.aliyuncs.com", "cn-hongkong.dashscope.aliyuncs.com",
                             "ws-abc123.ap-southeast-1.maas.aliyuncs.com", "DashScope-Intl.AliyunCS.com",
                             "dashscope.aliyuncs.com."}) {
        INFO(host);
        CHECK(vendor_of_host(host) == vendor::dashscope);
    }
    CHECK(vendor_of_host("api.deepseek.com") == vendor::deepseek);
    CHECK(vendor_of_host("api.openai.com") == vendor::openai);
    CHECK(vendor_of_host("API.OPENAI.COM") == vendor::openai);
    CHECK(vendor_of_host("api.anthropic.com") == vendor::anthropic);
    // Names that merely contain a provider's domain are not the provider's; nor are other aliyuncs.com
    // hosts anyone can create (an OSS bucket must not receive DASHSCOPE_API_KEY).
    for (const char* host : {"127.0.0.1", "localhost", "::1", "my-aliyuncs.com", "aliyuncs.com.evil.example",
                             "my-bucket.oss-cn-hangzhou.aliyuncs.com", "aliyuncs.com", "anthropic.com",
                             "api.openai.com.example", "notapi.deepseek.com", "gateway.internal", ""}) {
        INFO(host);
        CHECK(vendor_of_host(host) == vendor::automatic);
    }
}

TEST_CASE("a configured vendor wins over the host", "[vendor]") {
    CHECK(vendor_for_host(vendor::automatic, "dashscope-intl.aliyuncs.com") == vendor::dashscope);
    CHECK(vendor_for_host(vendor::openai, "dashscope-intl.aliyuncs.com") == vendor::openai);
    CHECK(vendor_for_host(vendor::dashscope, "localhost") == vendor::dashscope);
    CHECK(vendor_for_host(vendor::automatic, "localhost") == vendor::automatic);
}

TEST_CASE("a body that can only be DashScope's is read as DashScope's", "[vendor]") {
    protocol::provider_error e;
    REQUIRE(protocol::parse_provider_error(dashscope_quota, e));
    CHECK(protocol::looks_like_dashscope(e));
    REQUIRE(protocol::parse_provider_error(openai_quota, e));
    CHECK_FALSE(protocol::looks_like_dashscope(e));
    for (const char* code : {"Throttling.RateQuota", "Throttling", "Arrearage", "Model.AccessDenied",
                             "AllocationQuota.FreeTierOnly", "DataInspectionFailed", "BadRequest.TooLarge"}) {
        INFO(code);
        protocol::provider_error d;
        d.code = code;
        CHECK(protocol::looks_like_dashscope(d));
        CHECK(protocol::vendor_for_error(vendor::automatic, d) == vendor::dashscope);
        CHECK(protocol::vendor_for_error(vendor::openai, d) == vendor::openai);
    }
    for (const char* code : {"insufficient_quota", "rate_limit_exceeded", "invalid_api_key", "model_not_found", ""}) {
        INFO(code);
        protocol::provider_error o;
        o.code = code;
        CHECK_FALSE(protocol::looks_like_dashscope(o));
        CHECK(protocol::vendor_for_error(vendor::automatic, o) == vendor::openai);
    }
}

TEST_CASE("insufficient_quota 429: billing in OpenAI's shape, throttling in DashScope's, unless the vendor is named",
          "[vendor][errors]") {
    diagnostics d;
    CHECK(decode(vendor::automatic, 429, openai_quota, d) == api_errc::payment_required);
    CHECK(decode(vendor::automatic, 429, dashscope_quota, d) == api_errc::rate_limited);
    CHECK(is_retryable(api_errc::rate_limited));
    CHECK(d.hint.find("per minute") != std::string::npos);  // DashScope's advice
    CHECK(decode(vendor::openai, 429, dashscope_quota, d) == api_errc::payment_required);
    CHECK(decode(vendor::dashscope, 429, openai_quota, d) == api_errc::rate_limited);
    // Not JSON at all: read as OpenAI's, by status.
    CHECK(decode(vendor::automatic, 429, "<html>slow down</html>", d) == api_errc::rate_limited);
    CHECK(decode(vendor::automatic, 402, "", d) == api_errc::payment_required);
}

TEST_CASE("an in-stream error is read by its own shape too", "[vendor][errors]") {
    const std::string stream = "data: " + std::string(dashscope_quota) + "\n\n";
    protocol::response_stream rs(api_dialect::openai_compatible, vendor::automatic);
    diagnostics diag;
    CHECK(rs.feed(stream, [&](const delta&) {}, diag) == api_errc::rate_limited);
    CHECK(diag.request_id == "5f9b-req");

    protocol::response_stream openai(api_dialect::openai_compatible, vendor::automatic);
    const std::string openai_stream = "data: " + std::string(openai_quota) + "\n\n";
    CHECK(openai.feed(openai_stream, [&](const delta&) {}, diag) == api_errc::payment_required);
}
