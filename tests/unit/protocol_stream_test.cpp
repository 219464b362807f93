// Golden recorded streams for both dialects, decoded at every split point of the body.
#include "protocol/response_stream.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

using namespace llmstream;
using protocol::response_stream;

namespace {

std::string golden(const std::string& name) {
    std::ifstream in(std::string(LLMSTREAM_GOLDEN_DIR) + "/" + name, std::ios::binary);
    REQUIRE(in);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct outcome {
    completion result;
    std::vector<std::string> contents;  // content of each delta, to see how text was cut
    boost::system::error_code ec;
    diagnostics diag;
};

outcome decode(const std::string& body, api_dialect dialect, vendor v, bool cumulative, std::vector<std::size_t> cuts) {
    response_stream stream(dialect, v, cumulative);
    completion_accumulator acc;
    outcome out;
    std::size_t begin = 0;
    cuts.push_back(body.size());
    for (std::size_t end : cuts) {
        out.ec = stream.feed(std::string_view(body).substr(begin, end - begin),
                             [&](const delta& d) {
                                 acc.add(d);
                                 if (!d.content.empty()) out.contents.push_back(d.content);
                             },
                             out.diag);
        begin = end;
        if (out.ec) break;
    }
    if (!out.ec) out.ec = stream.finish(out.diag);
    out.result = acc.take();
    return out;
}

// Decodes whole, then at every split point; every way must give the same answer.
outcome decode_every_way(const std::string& name, api_dialect dialect, vendor v = vendor::openai, bool cumulative = false) {
    const std::string body = golden(name);
    outcome whole = decode(body, dialect, v, cumulative, {});
    for (std::size_t cut = 1; cut < body.size(); ++cut) {
        outcome split = decode(body, dialect, v, cumulative, {cut});
        INFO(name << " split at " << cut);
        REQUIRE(split.ec == whole.ec);
        REQUIRE(split.result.content == whole.result.content);
        REQUIRE(split.result.reasoning_content == whole.result.reasoning_content);
        REQUIRE(split.result.tool_calls == whole.result.tool_calls);
        REQUIRE(split.result.thinking_blocks == whole.result.thinking_blocks);
        REQUIRE(split.result.usage == whole.result.usage);
        REQUIRE(split.result.finish == whole.result.finish);
        REQUIRE(split.diag.provider_code == whole.diag.provider_code);
    }
    return whole;
}

}  // namespace

TEST_CASE("OpenAI stream: role, escaped and Chinese content, null content, usage chunk, [DONE]", "[protocol][golden]") {
    const auto o = decode_every_way("openai_basic.sse", api_dialect::openai_compatible);
    CHECK_FALSE(o.ec);
    CHECK(o.result.role == "assistant");
    CHECK(o.result.content == "你好，世界 \"quoted\"\n中");
    CHECK(o.contents == std::vector<std::string>{"你好", "，世界 \"quoted\"\n中"});
    CHECK(o.result.finish == finish_reason::stop);
    CHECK(o.result.finish_reason_text == "stop");
    REQUIRE(o.result.usage);
    CHECK(o.result.usage->input_tokens == 9);
    CHECK(o.result.usage->output_tokens == 4);
    CHECK(o.result.usage->total_tokens == 13);
    CHECK(o.result.usage->cached_tokens == 0);
    CHECK(o.result.model == "gpt-4o-mini");
    CHECK(o.result.response_id == "chatcmpl-1");
}

TEST_CASE("Qwen thinking stream: reasoning then content, CRLF, keep-alive comments", "[protocol][golden]") {
    const auto o = decode_every_way("qwen_thinking_crlf.sse", api_dialect::openai_compatible, vendor::dashscope);
    CHECK_FALSE(o.ec);
    CHECK(o.result.reasoning_content == "用户在问我是谁。");
    CHECK(o.result.content == "我是通义千问。");
    CHECK(o.result.finish == finish_reason::stop);
    REQUIRE(o.result.usage);
    CHECK(o.result.usage->reasoning_tokens == 14);
}

TEST_CASE("OpenAI tool calls arrive in fragments merged per index", "[protocol][golden]") {
    const auto o = decode_every_way("openai_tool_calls.sse", api_dialect::openai_compatible);
    CHECK_FALSE(o.ec);
    CHECK(o.result.finish == finish_reason::tool_calls);
    REQUIRE(o.result.tool_calls.size() == 2);
    CHECK(o.result.tool_calls[0] == tool_call{"call_abc123", "get_weather", R"({"city":"杭州"})"});
    CHECK(o.result.tool_calls[1] == tool_call{"call_def456", "get_time", R"({"tz":"Asia/Shanghai"})"});
}

TEST_CASE("an OpenAI in-stream error event ends the stream with a classified error", "[protocol][golden]") {
    const auto o = decode_every_way("openai_in_stream_error.sse", api_dialect::openai_compatible);
    CHECK(o.ec == api_errc::server_error);
    CHECK(is_retryable(o.ec));
    CHECK(o.result.content == "Hi");
    CHECK(o.diag.provider_code == "server_error");
    CHECK(o.diag.provider_message == "The server had an error while processing your request.");
}

TEST_CASE("DashScope compatible mode: a native error frame after a 200 takes its status from the comment",
          "[protocol][golden]") {
    const auto o = decode_every_way("dashscope_compatible_error_frame.sse", api_dialect::openai_compatible, vendor::dashscope);
    CHECK(o.ec == api_errc::rate_limited);
    CHECK(o.diag.http_status == 429);
    CHECK(o.diag.provider_code == "Throttling.RateQuota");
    CHECK(o.diag.request_id == "req-429");
    CHECK_FALSE(o.diag.hint.empty());
}

TEST_CASE("DashScope native frames: finish_reason \"null\", reasoning, usage once at the end", "[protocol][golden]") {
    const auto o = decode_every_way("dashscope_native.sse", api_dialect::dashscope_native, vendor::dashscope);
    CHECK_FALSE(o.ec);
    CHECK(o.result.reasoning_content == "思考");
    CHECK(o.result.content == "I am 通义千问.");
    CHECK(o.result.finish == finish_reason::stop);
    CHECK(o.result.request_id == "5bfd1e5b");
    REQUIRE(o.result.usage);
    CHECK(o.result.usage->input_tokens == 29);
    CHECK(o.result.usage->output_tokens == 8);
    CHECK(o.result.usage->total_tokens == 37);
    CHECK(o.result.usage->reasoning_tokens == 2);
}

TEST_CASE("the role, like the identity fields, is in the delta where it first appears or changes", "[protocol]") {
    // DashScope repeats role "assistant" in every frame: handed out once, and again on a change.
    auto frame = [](const char* content, const char* role) {
        return std::string("data:{\"output\":{\"choices\":[{\"message\":{\"content\":\"") + content +
               "\",\"role\":\"" + role +
               "\"},\"finish_reason\":\"null\"}]},\"usage\":{\"total_tokens\":3,\"output_tokens\":1,"
               "\"input_tokens\":2},\"request_id\":\"r1\"}\n\n";
    };
    const std::string body = frame("a", "assistant") + frame("b", "assistant") + frame("c", "assistant") +
                             frame("d", "tool") + frame("e", "tool") + frame("f", "assistant");
    for (std::size_t cut = 0; cut < body.size(); cut += 7) {
        response_stream stream(api_dialect::dashscope_native, vendor::dashscope, false);
        std::vector<std::string> roles, request_ids;
        diagnostics diag;
        auto on_delta = [&](const delta& d) {
            roles.push_back(d.role);
            request_ids.push_back(d.request_id);
        };
        REQUIRE_FALSE(stream.feed(std::string_view(body).substr(0, cut), on_delta, diag));
        REQUIRE_FALSE(stream.feed(std::string_view(body).substr(cut), on_delta, diag));
        INFO("split at " << cut);
        CHECK(roles == std::vector<std::string>{"assistant", "", "", "tool", "", "assistant"});
        CHECK(request_ids == std::vector<std::string>{"r1", "", "", "", "", ""});
    }
}

TEST_CASE("DashScope native cumulative output (incremental_output=false) is turned into deltas", "[protocol][golden]") {
    const auto o = decode_every_way("dashscope_native_cumulative.sse", api_dialect::dashscope_native, vendor::dashscope, true);
    CHECK_FALSE(o.ec);
    CHECK(o.result.content == "我是通义千问。");
    CHECK(o.contents == std::vector<std::string>{"我是", "通义", "千问。"});
}

TEST_CASE("cumulative output that rewrites earlier text is a malformed response", "[protocol]") {
    const std::string body =
        "data:{\"output\":{\"choices\":[{\"message\":{\"content\":\"abc\"},\"finish_reason\":\"null\"}]}}\n\n"
        "data:{\"output\":{\"choices\":[{\"message\":{\"content\":\"abX\"},\"finish_reason\":\"null\"}]}}\n\n";
    const auto o = decode(body, api_dialect::dashscope_native, vendor::dashscope, true, {});
    CHECK(o.ec == errc::malformed_response);
    CHECK(o.diag.hint.find("incremental_output") != std::string::npos);
}

TEST_CASE("DashScope native event:error takes the real status from :HTTP_STATUS", "[protocol][golden]") {
    const auto o = decode_every_way("dashscope_native_error.sse", api_dialect::dashscope_native, vendor::dashscope);
    CHECK(o.ec == api_errc::rate_limited);
    CHECK(o.diag.http_status == 429);  // the official SDKs lose this and report 400
    CHECK(o.diag.provider_code == "Throttling.RateQuota");
    CHECK(o.diag.request_id == "r-err");
    CHECK(o.result.content == "Hel");
}

TEST_CASE(":HTTP_STATUS comments give the status of the error after them only when they are one", "[protocol]") {
    const auto status_after = [](std::string_view comment) {
        protocol::stream_decoder d(api_dialect::dashscope_native, vendor::dashscope);
        d.on_comment("HTTP_STATUS/503");
        d.on_comment(comment);
        const sse::event ev{"error", R"({"code":"Throttling","message":"m"})", {}};
        delta out;
        diagnostics diag;
        CHECK(d.on_event(ev, out, diag));
        return diag.http_status;
    };
    CHECK(status_after("HTTP_STATUS/429") == 429);
    CHECK(status_after("HTTP_STATUS/200") == 200);
    CHECK(status_after("HTTP_STATUS/599") == 599);
    CHECK(status_after("HTTP_STATUS/100") == 100);
    for (std::string_view not_a_status : {"HTTP_STATUS/600", "HTTP_STATUS/999", "HTTP_STATUS/099", "HTTP_STATUS/4x9",
                                          "HTTP_STATUS/4290", "HTTP_STATUS/42", "HTTP_STATUS/", "HTTP_STATUS/ 429",
                                          "HTTP_STATUS/-42", "HTTP_STATUS", " HTTP_STATUS/429"}) {
        INFO(not_a_status);
        CHECK(status_after(not_a_status) == 503);
    }
}

TEST_CASE("DashScope native tool calls merge by index", "[protocol][golden]") {
    const auto o = decode_every_way("dashscope_native_tool_calls.sse", api_dialect::dashscope_native, vendor::dashscope);
    CHECK_FALSE(o.ec);
    CHECK(o.result.finish == finish_reason::tool_calls);
    REQUIRE(o.result.tool_calls.size() == 1);
    CHECK(o.result.tool_calls[0] == tool_call{"call_1", "get_weather", R"({"city":"北京"})"});
}

TEST_CASE("a stream cut off before [DONE] or a finish_reason is truncated and retryable", "[protocol]") {
    const std::string body = golden("openai_basic.sse");
    const auto cut = body.find("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1732000000,"
                               "\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},");
    REQUIRE(cut != std::string::npos);
    const auto o = decode(body.substr(0, cut + 20), api_dialect::openai_compatible, vendor::openai, false, {});
    CHECK(o.ec == errc::truncated_stream);
    CHECK(is_retryable(o.ec));
    CHECK_FALSE(o.diag.hint.empty());

    const std::string native = golden("dashscope_native.sse");
    const auto n = decode(native.substr(0, native.rfind("id:4")), api_dialect::dashscope_native, vendor::dashscope, false, {});
    CHECK(n.ec == errc::truncated_stream);
}

TEST_CASE("garbage in a stream is a malformed_response, not a crash", "[protocol]") {
    for (const std::string body : {"data: {not json}\n\n", "data: [1,2]\n\n", "data: {\"choices\":5}\n\n",
                                   "data: {\"choices\":[{\"delta\":{\"content\":7}}]}\n\n", "data: {} trailing\n\n",
                                   "data: <html>502 Bad Gateway</html>\n\n"}) {
        INFO(body);
        const auto o = decode(body, api_dialect::openai_compatible, vendor::openai, false, {});
        CHECK(o.ec == errc::malformed_response);
        CHECK_FALSE(is_retryable(o.ec));
    }
}

TEST_CASE("a total derived from counts whose sum does not fit stays unknown", "[protocol]") {
    // Found by review: input + output overflowed int64 (undefined behaviour) for absurd counts.
    const std::string body =
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5000000000000000000,\"completion_tokens\":5000000000000000000}}\n\n"
        "data: [DONE]\n\n";
    const auto o = decode(body, api_dialect::openai_compatible, vendor::openai, false, {});
    REQUIRE_FALSE(o.ec);
    REQUIRE(o.result.usage);
    CHECK(o.result.usage->input_tokens == 5000000000000000000);
    CHECK(o.result.usage->output_tokens == 5000000000000000000);
    CHECK(o.result.usage->total_tokens == 0);
}

TEST_CASE("events after [DONE] are ignored and blank data keep-alives are skipped", "[protocol]") {
    const std::string body = "data: \n\ndata: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n"
                             "data: [DONE]\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\n";
    const auto o = decode(body, api_dialect::openai_compatible, vendor::openai, false, {});
    CHECK_FALSE(o.ec);
    CHECK(o.result.content == "a");
}

TEST_CASE("the SSE limits surface through the response stream", "[protocol]") {
    response_stream stream(api_dialect::openai_compatible, vendor::openai, false, {.max_line_size = 64, .max_event_size = 64});
    diagnostics diag;
    const auto ec = stream.feed("data: " + std::string(100, 'x') + "\n\n", [](const delta&) {}, diag);
    CHECK(ec == errc::line_too_long);
    CHECK_FALSE(diag.hint.empty());
}

TEST_CASE("a size limit clears the last attempt's provider fields and keeps the call's record", "[protocol]") {
    response_stream stream(api_dialect::openai_compatible, vendor::openai, false, {.max_line_size = 64, .max_event_size = 64});
    diagnostics diag;
    // What the call had gathered before this attempt.
    diag.attempts = 2;
    diag.attempt_log.push_back({errc::connection_closed, 503, "ServiceUnavailable", "rid-1", std::chrono::milliseconds(250)});
    diag.retry_wait = std::chrono::milliseconds(250);
    diag.deltas_delivered = 3;
    diag.retry_note = "a note";
    // What this attempt had met so far.
    diag.http_status = 200;
    diag.provider_code = "stale-code";
    diag.provider_message = "stale message";
    diag.request_id = "rid-2";
    diag.retry_after = std::chrono::milliseconds(5);
    diag.server_says_retry = true;
    const auto ec = stream.feed("data: " + std::string(100, 'x') + "\n\n", [](const delta&) {}, diag);
    CHECK(ec == errc::line_too_long);
    CHECK(diag.attempts == 2);
    REQUIRE(diag.attempt_log.size() == 1);
    CHECK(diag.attempt_log[0].request_id == "rid-1");
    CHECK(diag.retry_wait == std::chrono::milliseconds(250));
    CHECK(diag.deltas_delivered == 3);
    CHECK(diag.retry_note == "a note");
    CHECK(diag.http_status == 200);    // the response that broke the limit
    CHECK(diag.request_id == "rid-2");
    CHECK(diag.provider_code.empty());
    CHECK(diag.provider_message.empty());
    CHECK_FALSE(diag.retry_after);
    CHECK_FALSE(diag.server_says_retry);
    CHECK(diag.hint.find("size limit") != std::string::npos);
}

// ---- Anthropic Messages and OpenAI Responses: typed events --------------------------------------

TEST_CASE("Anthropic stream: thinking, text, two tool calls by block index, ping and unknown events ignored",
          "[protocol][golden][anthropic]") {
    const auto o = decode_every_way("anthropic_thinking_tool_use.sse", api_dialect::anthropic_messages, vendor::anthropic);
    CHECK_FALSE(o.ec);
    CHECK(o.result.role == "assistant");
    CHECK(o.result.model == "claude-sonnet-4-5");
    CHECK(o.result.response_id == "msg_014p7gG3wDgGV9EUtLvnow3U");
    CHECK(o.result.reasoning_content == "用户要杭州的天气。");
    // signature_delta closes the block: its text and signature, to send back.
    CHECK(o.result.thinking_blocks ==
          std::vector<thinking_block>{{"用户要杭州的天气。", "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}});
    CHECK(o.result.content == "Okay, \"checking\"\n");
    REQUIRE(o.result.tool_calls.size() == 2);
    CHECK(o.result.tool_calls[0] == tool_call{"toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", R"({"city": "杭州"})"});
    CHECK(o.result.tool_calls[1] == tool_call{"toolu_02", "get_time", R"({"tz":"Asia/Shanghai"})"});
    CHECK(o.result.finish == finish_reason::tool_calls);
    CHECK(o.result.finish_reason_text == "tool_use");
    REQUIRE(o.result.usage);
    // The prompt is input + cache writes + cache reads; output from message_delta (cumulative).
    CHECK(o.result.usage->input_tokens == 572);
    CHECK(o.result.usage->cached_tokens == 100);
    CHECK(o.result.usage->output_tokens == 89);
    CHECK(o.result.usage->total_tokens == 661);
}

TEST_CASE("Anthropic stream: each thinking block keeps its own signature, a signature that is not a string is skipped",
          "[protocol][anthropic]") {
    const auto event = [](std::string_view type, std::string_view json) {
        return "event: " + std::string(type) + "\ndata: " + std::string(json) + "\n\n";
    };
    const std::string body =
        event("message_start", R"({"type":"message_start","message":{"id":"m","model":"c","role":"assistant"}})") +
        event("content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":"","signature":""}})") +
        event("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"First, "}})") +
        event("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"the city."}})") +
        event("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"A"}})") +
        event("content_block_start", R"({"type":"content_block_start","index":1,"content_block":{"type":"thinking","thinking":"","signature":{}}})") +
        event("content_block_delta", R"({"type":"content_block_delta","index":1,"delta":{"type":"thinking_delta","thinking":"Then the time."}})") +
        event("content_block_delta", R"({"type":"content_block_delta","index":1,"delta":{"type":"signature_delta","signature":"B"}})") +
        event("content_block_start", R"({"type":"content_block_start","index":2,"content_block":{"type":"text","text":""}})") +
        event("content_block_delta", R"({"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"Sunny."}})") +
        event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"end_turn"}})");
    const outcome o = decode(body, api_dialect::anthropic_messages, vendor::anthropic, false, {});
    REQUIRE_FALSE(o.ec);
    CHECK(o.result.reasoning_content == "First, the city.Then the time.");
    CHECK(o.result.thinking_blocks == std::vector<thinking_block>{{"First, the city.", "A"}, {"Then the time.", "B"}});
    CHECK(o.result.content == "Sunny.");
}

TEST_CASE("Anthropic error event after a 200: overloaded_error is overloaded and retryable", "[protocol][golden][anthropic]") {
    const auto o = decode_every_way("anthropic_overloaded.sse", api_dialect::anthropic_messages, vendor::anthropic);
    CHECK(o.ec == api_errc::overloaded);
    CHECK(is_retryable(o.ec));
    CHECK(o.result.content == "Hi");
    CHECK(o.diag.http_status == 200);
    CHECK(o.diag.provider_code == "overloaded_error");
    CHECK(o.diag.provider_message == "Overloaded");
    CHECK_FALSE(o.diag.hint.empty());
}

TEST_CASE("Responses stream: reasoning summary, text, usage from response.completed, no [DONE]",
          "[protocol][golden][responses]") {
    const auto o = decode_every_way("openai_responses_reasoning_text.sse", api_dialect::openai_responses);
    CHECK_FALSE(o.ec);
    CHECK(o.result.response_id == "resp_684b3e43");
    CHECK(o.result.model == "o4-mini");
    CHECK(o.result.role == "assistant");
    CHECK(o.result.reasoning_content == "用户在问我是谁。");
    CHECK(o.result.content == "I'm an \"assistant\"\n你好");
    CHECK(o.contents == std::vector<std::string>{"I'm", " an \"assistant\"\n你好"});
    CHECK(o.result.finish == finish_reason::stop);
    CHECK(o.result.finish_reason_text == "completed");
    REQUIRE(o.result.usage);
    CHECK(*o.result.usage == usage{10, 16, 26, 7, 4});
}

TEST_CASE("Responses tool calls: arguments by output_index, interleaved, finish tool_calls", "[protocol][golden][responses]") {
    const auto o = decode_every_way("openai_responses_tool_calls.sse", api_dialect::openai_responses);
    CHECK_FALSE(o.ec);
    REQUIRE(o.result.tool_calls.size() == 2);
    CHECK(o.result.tool_calls[0] == tool_call{"call_ydtV", "get_weather", R"({"city":"杭州"})"});
    CHECK(o.result.tool_calls[1] == tool_call{"call_2", "get_time", R"({"tz":"Asia/Shanghai"})"});
    CHECK(o.result.finish == finish_reason::tool_calls);
    REQUIRE(o.result.usage);
    CHECK(o.result.usage->total_tokens == 70);
}

TEST_CASE("Responses response.failed and error events are classified errors", "[protocol][golden][responses]") {
    const auto failed = decode_every_way("openai_responses_failed.sse", api_dialect::openai_responses);
    CHECK(failed.ec == api_errc::rate_limited);
    CHECK(failed.result.content == "Hi");
    CHECK(failed.diag.provider_code == "rate_limit_exceeded");
    CHECK(failed.diag.provider_message == "Rate limit reached for gpt-4.1");

    const auto nested = decode_every_way("openai_responses_error_event.sse", api_dialect::openai_responses);
    CHECK(nested.ec == api_errc::server_error);
    CHECK(is_retryable(nested.ec));
    CHECK(nested.diag.provider_code == "server_error");
}

TEST_CASE("Responses response.incomplete (max_output_tokens) is finish length, with CRLF framing", "[protocol][golden][responses]") {
    const auto o = decode_every_way("openai_responses_incomplete_crlf.sse", api_dialect::openai_responses, vendor::dashscope);
    CHECK_FALSE(o.ec);
    CHECK(o.result.content == "partial");
    CHECK(o.result.finish == finish_reason::length);
    CHECK(o.result.finish_reason_text == "max_output_tokens");
    REQUIRE(o.result.usage);
    CHECK(o.result.usage->output_tokens == 1);
}

TEST_CASE("typed-event streams cut before their end are truncated, and protocol breaks are malformed", "[protocol][anthropic][responses]") {
    const std::string anthropic = golden("anthropic_thinking_tool_use.sse");
    const auto cut = decode(anthropic.substr(0, anthropic.find("event: message_delta")), api_dialect::anthropic_messages,
                            vendor::anthropic, false, {});
    CHECK(cut.ec == errc::truncated_stream);
    CHECK(cut.diag.hint.find("message_stop") != std::string::npos);
    // message_delta with a stop_reason is the end, even when message_stop is lost.
    const auto no_stop = decode(anthropic.substr(0, anthropic.find("event: message_stop")), api_dialect::anthropic_messages,
                                vendor::anthropic, false, {});
    CHECK_FALSE(no_stop.ec);

    const std::string responses = golden("openai_responses_reasoning_text.sse");
    const auto rcut = decode(responses.substr(0, responses.find("event: response.completed")), api_dialect::openai_responses,
                             vendor::openai, false, {});
    CHECK(rcut.ec == errc::truncated_stream);

    const std::vector<std::pair<api_dialect, std::string>> broken{
        // arguments for a block that never started as a tool call
        {api_dialect::anthropic_messages,
         "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":5,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n"},
        // a hostile block index
        {api_dialect::anthropic_messages,
         "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":99999999999,\"content_block\":{\"type\":\"tool_use\",\"id\":\"x\",\"name\":\"f\"}}\n\n"},
        // not JSON
        {api_dialect::anthropic_messages, "event: message_start\ndata: {\"type\":\"message_start\",\n\n"},
        // arguments for an output item that is not a function call
        {api_dialect::openai_responses,
         "event: response.function_call_arguments.delta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"output_index\":0,\"delta\":\"{\"}\n\n"},
        // a terminal event that did not end
        {api_dialect::openai_responses,
         "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"status\":\"in_progress\"}}\n\n"},
        {api_dialect::openai_responses, "event: response.output_text.delta\ndata: [1,2]\n\n"},
    };
    for (const auto& [dialect, body] : broken) {
        INFO(body);
        const auto o = decode(body, dialect, vendor::openai, false, {});
        CHECK(o.ec == errc::malformed_response);
        CHECK(o.diag.hint.find(dialect == api_dialect::anthropic_messages ? "Anthropic Messages" : "OpenAI Responses") !=
              std::string::npos);
    }
}

TEST_CASE("typed events: the server's own tools, usage overlaid field by field, unknown shapes, refusals, whole arguments",
          "[protocol][anthropic][responses]") {
    const auto ev = [](std::string_view type, std::string_view json) {
        return "event: " + std::string(type) + "\ndata: " + std::string(json) + "\n\n";
    };
    // Anthropic: a web search the server runs itself is not the caller's tool call; cache counts from
    // message_start stay when message_delta repeats only some counts; unknown events of any shape are skipped.
    const std::string anthropic =
        ev("message_start", R"({"type":"message_start","message":{"id":"m","model":"c","role":"assistant","usage":{"input_tokens":5,"cache_read_input_tokens":100,"cache_creation_input_tokens":7,"output_tokens":1}}})") +
        ev("content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}})") +
        ev("content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\"query\":\"x\"}"}})") +
        ev("content_block_stop", R"({"type":"content_block_stop","index":0})") +
        ev("future_event", R"({"type":"future_event","delta":"text","index":"first","message":[1],"content_block":null})") +
        ev("future_event", R"({"type":"future_event","index":123456789012})") +
        ev("content_block_start", R"({"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}})") +
        ev("content_block_delta", R"({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"found it"}})") +
        ev("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":5,"output_tokens":30,"cache_read_input_tokens":null}})") +
        ev("message_stop", R"({"type":"message_stop"})");
    for (std::size_t cut = 1; cut < anthropic.size(); cut += 7) {
        const auto o = decode(anthropic, api_dialect::anthropic_messages, vendor::anthropic, false, {cut});
        INFO("split at " << cut);
        REQUIRE_FALSE(o.ec);
        CHECK(o.result.tool_calls.empty());
        CHECK(o.result.content == "found it");
        REQUIRE(o.result.usage);
        CHECK(*o.result.usage == usage{112, 30, 142, std::nullopt, 100});
    }

    // Responses: arguments only in .done; an unknown event with odd shapes; a refusal.
    const std::string responses =
        ev("response.created", R"({"type":"response.created","response":{"id":"r","model":"m","status":"in_progress"}})") +
        ev("response.output_item.added", R"({"type":"response.output_item.added","output_index":0,"item":{"type":"function_call","call_id":"call_1","name":"f","arguments":""}})") +
        ev("response.function_call_arguments.done", R"({"type":"response.function_call_arguments.done","output_index":0,"item_id":"fc","arguments":"{\"a\":1}"})") +
        ev("response.future", R"({"type":"response.future","delta":{"x":1},"output_index":99999999,"item":"?"})") +
        ev("response.completed", R"({"type":"response.completed","response":{"id":"r","usage":{"input_tokens":1,"output_tokens":2}}})");
    const auto r = decode(responses, api_dialect::openai_responses, vendor::openai, false, {});
    REQUIRE_FALSE(r.ec);
    REQUIRE(r.result.tool_calls.size() == 1);
    CHECK(r.result.tool_calls[0] == tool_call{"call_1", "f", R"({"a":1})"});
    CHECK(r.result.finish == finish_reason::tool_calls);  // the event said completed; the status was left out
    CHECK(r.result.usage->total_tokens == 3);

    const std::string refusal =
        ev("response.refusal.delta", R"({"type":"response.refusal.delta","output_index":0,"content_index":0,"delta":"I can't help with that."})") +
        ev("response.completed", R"({"type":"response.completed","response":{"status":"completed"}})");
    const auto f = decode(refusal, api_dialect::openai_responses, vendor::openai, false, {});
    REQUIRE_FALSE(f.ec);
    CHECK(f.result.content == "I can't help with that.");
    CHECK(f.result.finish == finish_reason::content_filter);

    // In-stream errors the classes name: billing is not retried, an invalid prompt is the request's fault.
    const auto billing = decode(ev("error", R"({"type":"error","error":{"type":"billing_error","message":"credit"}})"),
                                api_dialect::anthropic_messages, vendor::automatic, false, {});
    CHECK(billing.ec == api_errc::payment_required);
    const auto prompt = decode(ev("response.failed", R"({"type":"response.failed","response":{"status":"failed","error":{"code":"invalid_prompt","message":"no"}}})"),
                               api_dialect::openai_responses, vendor::openai, false, {});
    CHECK(prompt.ec == api_errc::bad_request);
}
