// Every row of the error table in docs/providers.md section 4, through the real decoding path.
#include "protocol/error_classifier.hpp"
#include "protocol/stream_decoder.hpp"

#include <boost/asio/error.hpp>

#include <catch2/catch.hpp>

using namespace llmstream;
using protocol::decode_error_response;
using protocol::response_head;

namespace {

struct decoded {
    boost::system::error_code ec;
    diagnostics diag;
};

decoded decode(vendor v, int status, std::string_view body, response_head head = {}) {
    head.status = status;
    decoded d;
    d.ec = decode_error_response(v, head, body, d.diag);
    return d;
}

std::string openai_body(std::string_view code, std::string_view type = "invalid_request_error",
                        std::string_view message = "msg") {
    return std::string(R"({"error":{"message":")") + std::string(message) + R"(","type":")" + std::string(type) +
           R"(","param":null,"code":")" + std::string(code) + R"("}})";
}

std::string dashscope_body(std::string_view code, std::string_view message = "msg") {
    return std::string(R"({"code":")") + std::string(code) + R"(","message":")" + std::string(message) +
           R"(","request_id":"ds-req-1"})";
}

std::string compat_body(std::string_view code, std::string_view message = "msg") {
    return std::string(R"({"error":{"code":")") + std::string(code) + R"(","param":null,"message":")" +
           std::string(message) + R"(","type":")" + std::string(code) + R"("},"id":"chatcmpl-x","request_id":"compat-req"})";
}

}  // namespace

TEST_CASE("bad request: 400 and 422 are terminal", "[errors]") {
    auto d = decode(vendor::dashscope, 400, dashscope_body("InvalidParameter", "Model not exist."));
    CHECK(d.ec == api_errc::bad_request);
    CHECK_FALSE(is_retryable(d.ec));
    CHECK(d.diag.provider_code == "InvalidParameter");
    CHECK(d.diag.provider_message == "Model not exist.");
    CHECK(d.diag.request_id == "ds-req-1");
    CHECK(d.diag.hint.find("request field") != std::string::npos);
    CHECK(decode(vendor::openai, 400, openai_body("invalid_value")).ec == api_errc::bad_request);
    CHECK(decode(vendor::openai, 422, openai_body("")).ec == api_errc::bad_request);
}

TEST_CASE("content filtered: DataInspectionFailed and data_inspection_failed", "[errors]") {
    CHECK(decode(vendor::dashscope, 400, dashscope_body("DataInspectionFailed")).ec == api_errc::content_filtered);
    const auto d = decode(vendor::dashscope, 400, compat_body("data_inspection_failed"));
    CHECK(d.ec == api_errc::content_filtered);
    CHECK(d.diag.request_id == "compat-req");
    CHECK_FALSE(is_retryable(d.ec));
}

TEST_CASE("payment required: 402, 400 Arrearage, 429 overdue bills and used-up quotas", "[errors]") {
    CHECK(decode(vendor::openai, 402, "").ec == api_errc::payment_required);
    CHECK(decode(vendor::dashscope, 400, dashscope_body("Arrearage")).ec == api_errc::payment_required);
    for (auto code : {"PrepaidBillOverdue", "PostpaidBillOverdue", "CommodityNotPurchased"})
        CHECK(decode(vendor::dashscope, 429, dashscope_body(code)).ec == api_errc::payment_required);
    CHECK(decode(vendor::dashscope, 429, dashscope_body("AllocationQuota", "Free allocated quota exceeded.")).ec ==
          api_errc::payment_required);
    for (auto code : {"insufficient_quota", "credit_balance_exhausted", "monthly_spend_limit_exceeded"}) {
        const auto d = decode(vendor::openai, 429, openai_body(code, "insufficient_quota"));
        CHECK(d.ec == api_errc::payment_required);
        CHECK_FALSE(is_retryable(d.ec));
    }
}

TEST_CASE("insufficient_quota means empty balance on OpenAI but TPM throttling on DashScope", "[errors]") {
    CHECK(decode(vendor::openai, 429, openai_body("insufficient_quota")).ec == api_errc::payment_required);
    CHECK(decode(vendor::deepseek, 429, openai_body("insufficient_quota")).ec == api_errc::payment_required);
    const auto d = decode(vendor::dashscope, 429, compat_body("insufficient_quota"));
    CHECK(d.ec == api_errc::rate_limited);
    CHECK(is_retryable(d.ec));
}

TEST_CASE("authentication: 401, with a region hint for DashScope", "[errors]") {
    const auto d = decode(vendor::dashscope, 401, dashscope_body("InvalidApiKey", "Invalid API-key provided."));
    CHECK(d.ec == api_errc::authentication);
    CHECK_FALSE(is_retryable(d.ec));
    CHECK(d.diag.hint.find("region") != std::string::npos);
    CHECK(d.diag.hint.find("DASHSCOPE_API_KEY") != std::string::npos);
    CHECK(decode(vendor::openai, 401, openai_body("invalid_api_key")).ec == api_errc::authentication);
}

TEST_CASE("permission denied: 403 codes, with the sub-workspace hint", "[errors]") {
    for (auto code : {"Model.AccessDenied", "AccessDenied", "Workspace.AccessDenied", "AccessDenied.Unpurchased",
                      "AllocationQuota.FreeTierOnly", "NoPermission"}) {
        const auto d = decode(vendor::dashscope, 403, compat_body(code));
        CHECK(d.ec == api_errc::permission_denied);
        CHECK_FALSE(is_retryable(d.ec));
    }
    const auto d = decode(vendor::dashscope, 403, compat_body("Model.AccessDenied", "Model access denied."));
    CHECK(d.diag.hint.find("sub-workspace") != std::string::npos);
    CHECK(decode(vendor::dashscope, 403, compat_body("AllocationQuota.FreeTierOnly")).diag.hint.find("free-tier") !=
          std::string::npos);
}

TEST_CASE("not found, too large, unsupported input are terminal", "[errors]") {
    for (auto code : {"ModelNotFound", "WorkSpaceNotFound", "model_not_found"})
        CHECK(decode(vendor::dashscope, 404, dashscope_body(code)).ec == api_errc::not_found);
    CHECK(decode(vendor::dashscope, 413, dashscope_body("BadRequest.TooLarge")).ec == api_errc::request_too_large);
    CHECK(decode(vendor::dashscope, 415, dashscope_body("BadRequest.UnsupportedFileFormat")).ec ==
          api_errc::unsupported_input);
    CHECK_FALSE(is_retryable(api_errc::not_found));
    CHECK_FALSE(is_retryable(api_errc::request_too_large));
    CHECK_FALSE(is_retryable(api_errc::unsupported_input));
}

TEST_CASE("rate limited: 429 throttling codes are retryable", "[errors]") {
    for (auto code : {"Throttling", "Throttling.RateQuota", "Throttling.AllocationQuota", "LimitRequests",
                      "limit_requests", "rate_limit_exceeded", "slow_down"}) {
        const auto d = decode(vendor::dashscope, 429, dashscope_body(code));
        CHECK(d.ec == api_errc::rate_limited);
        CHECK(is_retryable(d.ec));
    }
    CHECK(decode(vendor::openai, 429, openai_body("rate_limit_exceeded", "requests")).ec == api_errc::rate_limited);
}

TEST_CASE("timeouts, server errors and overload are retryable", "[errors]") {
    CHECK(decode(vendor::dashscope, 408, dashscope_body("RequestTimeOut")).ec == api_errc::request_timeout);
    CHECK(decode(vendor::openai, 409, "").ec == api_errc::request_timeout);
    for (int status : {500, 502, 504}) {
        const auto d = decode(vendor::dashscope, status, dashscope_body("InternalError.Algo"));
        CHECK(d.ec == api_errc::server_error);
        CHECK(is_retryable(d.ec));
    }
    for (int status : {503, 529}) {
        const auto d = decode(vendor::deepseek, status, openai_body("", "", "Server Overloaded"));
        CHECK(d.ec == api_errc::overloaded);
        CHECK(is_retryable(d.ec));
    }
}

TEST_CASE("a proxy's HTML 502 is classified by status and its text kept, bounded", "[errors]") {
    const std::string html = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>" + std::string(5000, 'x') +
                             "</body></html>";
    const auto d = decode(vendor::openai, 502, html);
    CHECK(d.ec == api_errc::server_error);
    CHECK(is_retryable(d.ec));
    CHECK(d.diag.provider_code.empty());
    CHECK(d.diag.provider_message.rfind("<html> <head><title>502 Bad Gateway", 0) == 0);
    CHECK(d.diag.provider_message.size() <= 1030);
    CHECK(d.diag.hint.find("proxy") != std::string::npos);
}

TEST_CASE("other body shapes: error as a string, numeric codes, empty bodies", "[errors]") {
    auto d = decode(vendor::openai, 404, R"({"error":"model 'llama9' not found"})");
    CHECK(d.ec == api_errc::not_found);
    CHECK(d.diag.provider_message == "model 'llama9' not found");
    d = decode(vendor::openai, 400, R"({"object":"error","message":"bad","type":"BadRequestError","param":null,"code":400})");
    CHECK(d.ec == api_errc::bad_request);
    CHECK(d.diag.provider_code == "400");
    d = decode(vendor::openai, 418, "");
    CHECK(d.ec == api_errc::unexpected_status);
    CHECK_FALSE(is_retryable(d.ec));
}

TEST_CASE("headers: request id, Retry-After in seconds, as a date, retry-after-ms, x-should-retry", "[errors]") {
    response_head head;
    head.request_id = "hdr-req";
    head.retry_after = "7";
    head.should_retry = "false";
    auto d = decode(vendor::openai, 429, openai_body("rate_limit_exceeded"), head);
    CHECK(d.diag.request_id == "hdr-req");
    CHECK(d.diag.retry_after == std::chrono::seconds(7));
    CHECK(d.diag.server_says_retry == false);

    using namespace std::chrono;
    const auto now = sys_days{year{2026} / 11 / 25} + hours{14};
    CHECK(protocol::parse_retry_after("Wed, 25 Nov 2026 14:00:30 GMT", "", now) == seconds(30));
    CHECK(protocol::parse_retry_after("Wed, 25 Nov 2026 13:00:00 GMT", "", now) == milliseconds(0));
    CHECK(protocol::parse_retry_after("2", "1500", now) == milliseconds(1500));
    CHECK(protocol::parse_retry_after("0.5", "", now) == milliseconds(500));
    CHECK_FALSE(protocol::parse_retry_after("-1", "", now));
    CHECK_FALSE(protocol::parse_retry_after("soon", "x", now));
    CHECK_FALSE(protocol::parse_retry_after("Wed, 32 Nov 2026 14:00:30 GMT", "", now));
}

TEST_CASE("in-stream errors without a status are classified by code", "[errors]") {
    CHECK(protocol::classify_error(vendor::dashscope, 0, "Throttling.RateQuota", "", "") == api_errc::rate_limited);
    CHECK(protocol::classify_error(vendor::dashscope, 200, "DataInspectionFailed", "", "") == api_errc::content_filtered);
    CHECK(protocol::classify_error(vendor::openai, 0, "insufficient_quota", "", "") == api_errc::payment_required);
    CHECK(protocol::classify_error(vendor::dashscope, 0, "insufficient_quota", "", "") == api_errc::rate_limited);
    CHECK(protocol::classify_error(vendor::openai, 0, "", "server_error", "") == api_errc::server_error);
}

TEST_CASE("diagnostics read as one paragraph with class, status, provider text, id and hint", "[errors]") {
    const auto d = decode(vendor::dashscope, 403, compat_body("Model.AccessDenied", "Model access denied."));
    diagnostics diag = d.diag;
    diag.attempts = 1;
    const std::string text = diag.to_string(d.ec);
    CHECK(text.find("permission denied (HTTP 403)") == 0);
    CHECK(text.find("[Model.AccessDenied] \"Model access denied.\"") != std::string::npos);
    CHECK(text.find("request id compat-req") != std::string::npos);
    CHECK(text.find("1 attempt") != std::string::npos);
    CHECK(text.find("Hint: ") != std::string::npos);
}

TEST_CASE("a 200 body that is an error object decodes as that error", "[errors]") {
    completion c;
    diagnostics diag;
    const auto ec = protocol::decode_completion(api_dialect::dashscope_native, vendor::dashscope, 200,
                                                dashscope_body("Throttling.RateQuota"), c, diag);
    CHECK(ec == api_errc::rate_limited);
}

TEST_CASE("an echoed API key is redacted from every diagnostics text", "[errors][secrets]") {
    const std::string key = "sk-echo-1234567890";
    llmstream::diagnostics d;
    d.provider_message = "invalid key " + key + " (and again: " + key + ")";
    d.provider_code = key;
    d.hint = "x" + key;
    d.attempt_log.push_back({{}, 401, key, "id-" + key, {}});
    llmstream::protocol::redact_secret(d, key);
    const std::string all = d.provider_message + d.provider_code + d.hint + d.attempt_log[0].provider_code +
                            d.attempt_log[0].request_id + d.to_string(llmstream::api_errc::authentication);
    CHECK(all.find(key) == std::string::npos);
    CHECK(d.provider_message == "invalid key [redacted] (and again: [redacted])");
    // Cut off by the length bound: the start of the key at the very end goes too.
    llmstream::diagnostics cut;
    cut.provider_message = "echo: " + key.substr(0, 9);
    llmstream::protocol::redact_secret(cut, key);
    CHECK(cut.provider_message == "echo: [redacted]");
}

TEST_CASE("with no memory to redact, every text that could hold an echoed key is dropped", "[errors][secrets]") {
    const std::string key = "sk-echo-1234567890";
    llmstream::diagnostics d;
    d.provider_message = "invalid key " + key;
    d.provider_code = key;
    d.request_id = key;
    d.hint = "x" + key;
    d.retry_note = key;
    d.attempt_log.push_back({{}, 401, key, "id-" + key, {}});
    d.http_status = 401;
    llmstream::protocol::drop_provider_text(d);
    const std::string all = d.provider_message + d.provider_code + d.request_id + d.hint + d.retry_note +
                            d.attempt_log[0].provider_code + d.attempt_log[0].request_id +
                            d.to_string(llmstream::api_errc::authentication);
    CHECK(all.find(key) == std::string::npos);
    CHECK(all.find("sk-echo") == std::string::npos);
    CHECK(d.http_status == 401);  // what no server wrote stays
    CHECK(d.attempt_log[0].http_status == 401);
}

TEST_CASE("a failure whose hint could not be stored (out of memory) still prints the code's own hint",
          "[errors]") {
    llmstream::diagnostics d;  // as a request that ran out of memory to its end leaves it: no hint
    d.attempts = 1;
    const std::string text = d.to_string(boost::asio::error::no_memory);
    CHECK(text.find("Hint: " + llmstream::protocol::hint_for_failure(boost::asio::error::no_memory)) != std::string::npos);
    CHECK(d.to_string({}).find("Hint") == std::string::npos);  // no failure, no hint
    d.hint = "the stored one";
    CHECK(d.to_string(boost::asio::error::no_memory).find("Hint: the stored one") != std::string::npos);
}

// ---- Anthropic Messages and OpenAI Responses ----------------------------------------------------

TEST_CASE("Anthropic error bodies: the error type is the provider code, 529 overloaded and 429 retryable, 402 billing",
          "[errors][anthropic]") {
    const auto body = [](std::string_view type) {
        return std::string(R"({"type":"error","error":{"type":")") + std::string(type) +
               R"(","message":"m"},"request_id":"req_011CXw8h"})";
    };
    const std::tuple<int, std::string_view, api_errc> rows[] = {
        {400, "invalid_request_error", api_errc::bad_request}, {401, "authentication_error", api_errc::authentication},
        {402, "billing_error", api_errc::payment_required},    {403, "permission_error", api_errc::permission_denied},
        {404, "not_found_error", api_errc::not_found},          {413, "request_too_large", api_errc::request_too_large},
        {429, "rate_limit_error", api_errc::rate_limited},      {500, "api_error", api_errc::server_error},
        {504, "timeout_error", api_errc::server_error},         {529, "overloaded_error", api_errc::overloaded},
    };
    for (const auto& [status, type, expected] : rows) {
        INFO(status << " " << type);
        const auto d = decode(vendor::anthropic, status, body(type));
        CHECK(d.ec == expected);
        CHECK(d.diag.provider_code == type);
        CHECK(d.diag.request_id == "req_011CXw8h");
        CHECK_FALSE(d.diag.hint.empty());
    }
    CHECK(is_retryable(decode(vendor::anthropic, 529, body("overloaded_error")).ec));
    CHECK(is_retryable(decode(vendor::anthropic, 429, body("rate_limit_error")).ec));
    CHECK_FALSE(is_retryable(decode(vendor::anthropic, 402, body("billing_error")).ec));
}

TEST_CASE("whole Anthropic and Responses bodies decode into a completion, error bodies into their error",
          "[errors][anthropic][responses]") {
    completion c;
    diagnostics diag;
    const std::string message =
        R"({"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[)"
        R"({"type":"thinking","thinking":"hmm","signature":"sig1"},{"type":"text","text":"Hi, \"you\""},)"
        R"({"type":"tool_use","id":"toolu_1","name":"get_weather","input": {"city":"杭州","n":[1,2]}}],)"
        R"("stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":40,"cache_creation_input_tokens":5,"cache_read_input_tokens":10}})";
    REQUIRE_FALSE(protocol::decode_completion(api_dialect::anthropic_messages, vendor::anthropic, 200, message, c, diag));
    CHECK(c.content == "Hi, \"you\"");
    CHECK(c.reasoning_content == "hmm");
    CHECK(c.thinking_blocks == std::vector<thinking_block>{{"hmm", "sig1"}});
    CHECK(c.response_id == "msg_01");
    REQUIRE(c.tool_calls.size() == 1);
    CHECK(c.tool_calls[0] == tool_call{"toolu_1", "get_weather", R"({"city":"杭州","n":[1,2]})"});
    CHECK(c.finish == finish_reason::tool_calls);
    REQUIRE(c.usage);
    CHECK(*c.usage == usage{40, 40, 80, std::nullopt, 10});

    const std::string response =
        R"({"id":"resp_1","object":"response","status":"completed","model":"gpt-4.1","error":null,"incomplete_details":null,)"
        R"("output":[{"type":"reasoning","id":"rs","summary":[{"type":"summary_text","text":"think"}]},)"
        R"({"type":"message","id":"m","role":"assistant","content":[{"type":"output_text","text":"Hello","annotations":[]}]},)"
        R"({"type":"function_call","id":"fc","call_id":"call_1","name":"f","arguments":"{\"a\":1}"}],)"
        R"("usage":{"input_tokens":3,"output_tokens":4,"total_tokens":7,"output_tokens_details":{"reasoning_tokens":2}}})";
    REQUIRE_FALSE(protocol::decode_completion(api_dialect::openai_responses, vendor::openai, 200, response, c, diag));
    CHECK(c.content == "Hello");
    CHECK(c.reasoning_content == "think");
    REQUIRE(c.tool_calls.size() == 1);
    CHECK(c.tool_calls[0] == tool_call{"call_1", "f", R"({"a":1})"});
    CHECK(c.finish == finish_reason::tool_calls);
    CHECK(c.finish_reason_text == "completed");
    CHECK(c.usage->reasoning_tokens == 2);

    // A failed response in a 200 body is its error; an error body with its status is read as one.
    const std::string failed = R"({"id":"resp_2","object":"response","status":"failed","output":[],"error":{"code":"server_error","message":"boom"}})";
    CHECK(protocol::decode_completion(api_dialect::openai_responses, vendor::openai, 200, failed, c, diag) == api_errc::server_error);
    CHECK(diag.provider_code == "server_error");
    CHECK(protocol::decode_completion(api_dialect::anthropic_messages, vendor::anthropic, 200,
                                      R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})", c,
                                      diag) == api_errc::overloaded);
    CHECK(protocol::decode_completion(api_dialect::anthropic_messages, vendor::anthropic, 200, R"({"type":"mystery"})", c, diag) ==
          errc::malformed_response);
    CHECK(diag.hint.find("Anthropic Messages") != std::string::npos);
    CHECK(protocol::decode_completion(api_dialect::openai_responses, vendor::openai, 200, "[]", c, diag) == errc::malformed_response);
}

TEST_CASE("an Anthropic error body from a host that says nothing is read as Anthropic's, not DashScope's", "[errors][anthropic]") {
    // Its top-level request_id would otherwise look like DashScope's.
    const auto d = decode(vendor::automatic, 401,
                          R"({"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_1"})");
    CHECK(d.ec == api_errc::authentication);
    CHECK(d.diag.provider_code == "authentication_error");
    CHECK(d.diag.hint.find("DASHSCOPE") == std::string::npos);
    // An OpenAI body with a null code keeps an empty provider code (the type is not a code).
    const auto o = decode(vendor::openai, 400, R"({"error":{"message":"m","type":"invalid_request_error","param":null,"code":null}})");
    CHECK(o.diag.provider_code.empty());
}
