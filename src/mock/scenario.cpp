#include "scenario.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>

namespace llmstream::mock {

namespace json = boost::json;

namespace {

int to_int(std::string_view s, int fallback) {
    int v = fallback;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

}  // namespace

scenario parse_scenario(std::string_view model) {
    scenario s;
    const auto q = model.find('?');
    if (q == std::string_view::npos) return s;
    std::string_view rest = model.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        const auto eq = pair.find('=');
        const std::string_view k = pair.substr(0, eq);
        const std::string_view v = eq == std::string_view::npos ? std::string_view("1") : pair.substr(eq + 1);
        if (k == "tokens") s.tokens = to_int(v, s.tokens);
        else if (k == "reasoning") s.reasoning = to_int(v, 0);
        else if (k == "word") s.word = std::string(v);
        else if (k == "pace_ms") s.pace_ms = to_int(v, 0);
        else if (k == "coalesce") s.coalesce = std::max(1, to_int(v, 1));
        else if (k == "status") s.status = to_int(v, 200);
        else if (k == "code") s.code = std::string(v);
        else if (k == "message") s.message = std::string(v);
        else if (k == "echo_auth") s.echo_auth = v != "0";
        else if (k == "retry_after") s.retry_after = std::string(v);
        else if (k == "retry_after_ms") s.retry_after_ms = std::string(v);
        else if (k == "should_retry") s.should_retry = std::string(v);
        else if (k == "fail_first") s.fail_first = to_int(v, 0);
        else if (k == "key") s.key = std::string(v);
        else if (k == "reset_before_headers") s.reset_before_headers = v != "0";
        else if (k == "reset_after") s.reset_after = to_int(v, -1);
        else if (k == "stall_after") s.stall_after = to_int(v, -1);
        else if (k == "error_after") s.error_after = to_int(v, -1);
        else if (k == "error_status") s.error_status = to_int(v, 429);
        else if (k == "malformed_after") s.malformed_after = to_int(v, -1);
        else if (k == "slow_headers_ms") s.slow_headers_ms = to_int(v, 0);
        else if (k == "keepalive") s.keepalive = v != "0";
        else if (k == "cumulative") s.cumulative = v != "0";
        else if (k == "no_done") s.no_done = v != "0";
        else if (k == "close") s.close = v != "0";
        else if (k == "demo") s.demo = v != "0";
        else if (k == "raw") s.raw = std::string(v);
        else if (k == "location") s.location = std::string(v);
        else if (k == "errors") s.openai_errors = v == "openai";
        else if (k == "rst") s.rst = to_int(v, 2);
        else if (k == "stamp") s.stamp = v != "0";
        else if (k == "spread_ms") s.spread_ms = to_int(v, 0);
    }
    return s;
}

std::string anthropic_error_type(int status) {
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503:
    case 529: return "overloaded_error";
    case 504: return "timeout_error";
    default: return "api_error";
    }
}

std::string typed_event(std::string_view type, const json::object& fields) {
    json::object o{{"type", type}};
    for (const auto& kv : fields) o[kv.key()] = kv.value();
    return "event: " + std::string(type) + "\ndata: " + json::serialize(o) + "\n\n";
}

std::string error_body(dialect d, int status, std::string code, std::string message, bool openai_shape) {
    if (message.empty()) message = "mock error " + std::to_string(status);
    if (d == dialect::anthropic)  // {"type":"error","error":{"type","message"},"request_id"}; a code names the type
        return json::serialize(json::object{{"type", "error"},
                                            {"error", json::object{{"type", code.empty() ? anthropic_error_type(status) : code},
                                                                   {"message", message}}},
                                            {"request_id", "req_mock"}});
    if (d == dialect::responses) openai_shape = true;  // OpenAI's shape: no request_id in the body
    if (code.empty()) {
        switch (status) {
        case 400: code = d == dialect::native ? "InvalidParameter" : "invalid_request_error"; break;
        case 401: code = d == dialect::native ? "InvalidApiKey" : "invalid_api_key"; break;
        case 403: code = "Model.AccessDenied"; break;
        case 404: code = d == dialect::native ? "ModelNotFound" : "model_not_found"; break;
        case 429: code = d == dialect::native ? "Throttling.RateQuota" : "rate_limit_exceeded"; break;
        case 503: code = "ModelUnavailable"; break;
        default: code = d == dialect::native ? "InternalError" : "server_error"; break;
        }
    }
    if (message.empty()) message = "mock error " + std::to_string(status);
    if (d == dialect::native)
        return json::serialize(json::object{{"code", code}, {"message", message}, {"request_id", "mock-request-id"}});
    if (openai_shape)
        return json::serialize(json::object{
            {"error", json::object{{"message", message}, {"type", code}, {"param", nullptr}, {"code", code}}}});
    return json::serialize(json::object{
        {"error", json::object{{"code", code}, {"param", nullptr}, {"message", message}, {"type", code}}},
        {"id", "chatcmpl-mock"},
        {"request_id", "mock-request-id"}});
}

namespace {
constexpr std::string_view demo_answer[] = {
    "I", " am", " llmstream-mock,", " a", " local", " server", " that", " speaks", " the", " OpenAI-compatible",
    " and", " DashScope", " native", " APIs.", " Set", " DASHSCOPE_API_KEY,", " OPENAI_API_KEY", " or",
    " DEEPSEEK_API_KEY", " to", " talk", " to", " a", " real", " model;", " until", " then,", " every",
    " token", " you", " see", " was", " streamed", " over", " HTTP", " from", " this", " machine.\n"};

}  // namespace

std::string token_text(const scenario& s, int i) {
    if (s.demo) return std::string(demo_answer[static_cast<std::size_t>(i) % std::size(demo_answer)]);
    if (s.stamp) {  // when the token was made, for latency measurements on this machine
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch()).count();
        return (i == 0 ? "t" : " t") + std::to_string(ns);
    }
    return (i == 0 ? "" : " ") + s.word + std::to_string(i);
}

std::string openai_chunk(const json::object& delta, const char* finish) {
    json::object choice{{"index", 0}, {"delta", delta}, {"logprobs", nullptr}};
    if (finish) choice["finish_reason"] = finish;
    else choice["finish_reason"] = nullptr;
    json::object chunk{{"id", "chatcmpl-mock"},
                       {"object", "chat.completion.chunk"},
                       {"created", 1732000000},
                       {"model", "mock"},
                       {"choices", json::array{std::move(choice)}}};
    return "data: " + json::serialize(chunk) + "\n\n";
}

std::string native_frame(int id, const std::string& content, const std::string& reasoning, const char* finish,
                         int output_tokens) {
    json::object message{{"content", content}, {"role", "assistant"}};
    if (!reasoning.empty()) message["reasoning_content"] = reasoning;
    json::object frame{
        {"output", json::object{{"choices", json::array{json::object{{"message", message}, {"finish_reason", finish}}}}}},
        {"usage", json::object{{"total_tokens", 10 + output_tokens}, {"output_tokens", output_tokens}, {"input_tokens", 10}}},
        {"request_id", "mock-request-id"}};
    return "id:" + std::to_string(id) + "\nevent:result\n:HTTP_STATUS/200\ndata:" + json::serialize(frame) + "\n\n";
}

}  // namespace llmstream::mock
