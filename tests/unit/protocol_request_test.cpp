// Request encoders: checked by parsing what they produce.
#include "protocol/request_encoder.hpp"
#include "protocol/stream_decoder.hpp"

#include <llmstream/error.hpp>

#include <boost/json.hpp>

#include <catch2/catch.hpp>

using namespace llmstream;
namespace bjson = boost::json;

namespace {

chat_request basic_request() {
    chat_request req;
    req.model = "qwen-plus";
    req.messages = {{"system", "You are a helpful assistant."}, {"user", "Who are you? \"quote\" \\ \n 你好 \x01"}};
    return req;
}

bjson::object encode_ok(api_dialect d, const chat_request& req, protocol::encoded_request* out = nullptr,
                       bool streaming = true) {
    protocol::encoded_request enc;
    diagnostics diag;
    const auto ec = protocol::encode_request(d, req, streaming, enc, diag);
    INFO(diag.hint);
    REQUIRE_FALSE(ec);
    if (out) *out = enc;
    return bjson::parse(enc.body).as_object();
}

}  // namespace

TEST_CASE("OpenAI-compatible body: messages, stream options, sampling, stop, seed", "[request]") {
    chat_request req = basic_request();
    req.temperature = 0.7;
    req.top_p = 0.9;
    req.max_tokens = 1024;
    req.seed = 42;
    req.stop = {"\n\n", "END"};
    protocol::encoded_request enc;
    const bjson::object body = encode_ok(api_dialect::openai_compatible, req, &enc);
    CHECK(enc.target == "/chat/completions");
    CHECK_FALSE(enc.dashscope_sse_header);
    CHECK(body.at("model") == "qwen-plus");
    CHECK(body.at("stream") == true);
    CHECK(body.at("stream_options") == bjson::object{{"include_usage", true}});
    CHECK(body.at("messages").as_array().size() == 2);
    CHECK(body.at("messages").at(1).at("content") == "Who are you? \"quote\" \\ \n 你好 \x01");
    CHECK(body.at("temperature") == 0.7);
    CHECK(body.at("top_p") == 0.9);
    CHECK(body.at("max_tokens") == 1024);
    CHECK(body.at("seed") == 42);
    CHECK(body.at("stop") == bjson::array{"\n\n", "END"});
    CHECK_FALSE(body.contains("tools"));
}

TEST_CASE("non-streaming requests send stream:false and no stream_options", "[request]") {
    chat_request req = basic_request();
    const bjson::object body = encode_ok(api_dialect::openai_compatible, req, nullptr, false);
    CHECK(body.at("stream") == false);
    CHECK_FALSE(body.contains("stream_options"));
}

TEST_CASE("content parts, tools, tool_choice, response_format and tool history", "[request]") {
    chat_request req = basic_request();
    req.messages.push_back({.role = "user", .parts = {content_part::text("what is this?"), content_part::image("https://x/y.png")}});
    req.messages.push_back({.role = "assistant", .tool_calls = {{"call_1", "get_weather", R"({"city":"北京"})"}}});
    req.messages.push_back({.role = "tool", .content = "sunny", .tool_call_id = "call_1"});
    req.tools = {{"get_weather", "Weather by city", R"({"type":"object","properties":{"city":{"type":"string"}}})"}};
    req.tool_choice = "get_weather";
    req.response_format = "json_object";
    const bjson::object body = encode_ok(api_dialect::openai_compatible, req);
    const auto& msgs = body.at("messages").as_array();
    CHECK(msgs[2].at("content") == bjson::parse(R"([{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}])"));
    CHECK(msgs[3].at("content").is_null());
    CHECK(msgs[3].at("tool_calls") == bjson::parse(R"([{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"北京\"}"}}])"));
    CHECK(msgs[4].at("tool_call_id") == "call_1");
    CHECK(body.at("tools") == bjson::parse(R"([{"type":"function","function":{"name":"get_weather","description":"Weather by city","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}])"));
    CHECK(body.at("tool_choice") == bjson::parse(R"({"type":"function","function":{"name":"get_weather"}})"));
    CHECK(body.at("response_format") == bjson::object{{"type", "json_object"}});

    req.tool_choice = "auto";
    req.response_format = R"({"type":"json_schema","json_schema":{"name":"x","schema":{}}})";
    const bjson::object body2 = encode_ok(api_dialect::openai_compatible, req);
    CHECK(body2.at("tool_choice") == "auto");
    CHECK(body2.at("response_format").at("type") == "json_schema");
}

TEST_CASE("extra fields are merged untouched and override", "[request]") {
    chat_request req = basic_request();
    req.temperature = 0.1;
    req.extra = R"({"enable_thinking":true,"thinking_budget":50,"temperature":0.3,"nested":{"a":[1,"x"]}})";
    const bjson::object body = encode_ok(api_dialect::openai_compatible, req);
    CHECK(body.at("enable_thinking") == true);
    CHECK(body.at("thinking_budget") == 50);
    CHECK(body.at("temperature") == 0.3);
    CHECK(body.at("nested") == bjson::parse(R"({"a":[1,"x"]})"));
}

TEST_CASE("DashScope native body: input.messages, parameters, the SSE header", "[request]") {
    chat_request req = basic_request();
    req.max_tokens = 100;
    req.extra = R"({"enable_search":true})";
    protocol::encoded_request enc;
    const bjson::object body = encode_ok(api_dialect::dashscope_native, req, &enc);
    CHECK(enc.target == "/services/aigc/text-generation/generation");
    CHECK(enc.dashscope_sse_header);
    CHECK_FALSE(enc.cumulative_output);
    CHECK(body.at("model") == "qwen-plus");
    CHECK(body.at("input").at("messages").as_array().size() == 2);
    const auto& p = body.at("parameters");
    CHECK(p.at("result_format") == "message");
    CHECK(p.at("incremental_output") == true);
    CHECK(p.at("max_tokens") == 100);
    CHECK(p.at("enable_search") == true);
    CHECK_FALSE(body.contains("messages"));
    CHECK_FALSE(body.contains("stream"));

    req.extra = R"({"incremental_output":false})";
    encode_ok(api_dialect::dashscope_native, req, &enc);
    CHECK(enc.cumulative_output);

    req.extra.clear();
    const bjson::object plain = encode_ok(api_dialect::dashscope_native, req, &enc, false);
    CHECK_FALSE(enc.dashscope_sse_header);
    CHECK_FALSE(plain.at("parameters").as_object().contains("incremental_output"));

    req.messages.push_back({.role = "user", .parts = {content_part::image("https://x/y.png"), content_part::text("?")}});
    const bjson::object mm = encode_ok(api_dialect::dashscope_native, req, &enc);
    CHECK(enc.target == "/services/aigc/multimodal-generation/generation");
    CHECK(mm.at("input").at("messages").at(2).at("content") == bjson::parse(R"([{"image":"https://x/y.png"},{"text":"?"}])"));
}

TEST_CASE("bad input gets errc::invalid_request naming the field", "[request]") {
    auto expect_invalid = [](chat_request req, std::string_view field) {
        protocol::encoded_request enc;
        diagnostics diag;
        CHECK(protocol::encode_request(api_dialect::openai_compatible, req, true, enc, diag) == errc::invalid_request);
        CHECK(diag.hint.find(field) != std::string::npos);
        CHECK(enc.body.empty());
    };
    chat_request req = basic_request();
    req.extra = "[1]";
    expect_invalid(req, "extra is not a JSON object");
    req.extra = "{bad";
    expect_invalid(req, "extra is not valid JSON");
    req = basic_request();
    req.model.clear();
    expect_invalid(req, "model");
    req = basic_request();
    req.messages.clear();
    expect_invalid(req, "messages");
    req = basic_request();
    req.messages[1].content = "bad \xff utf-8";
    expect_invalid(req, "messages[1].content is not valid UTF-8");
    req = basic_request();
    req.tools = {{"f", "", "not json"}};
    expect_invalid(req, "tools[0].parameters");
    req = basic_request();
    req.response_format = "yaml";
    expect_invalid(req, "response_format");
}

TEST_CASE("non-streaming bodies decode to a completion in both dialects", "[request][completion]") {
    completion c;
    diagnostics diag;
    const std::string openai = R"({"id":"chatcmpl-9","object":"chat.completion","model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!","reasoning_content":"hm","tool_calls":[{"id":"call_z","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}})";
    // DeepSeek keeps idle connections alive with blank lines before the JSON body.
    REQUIRE_FALSE(protocol::decode_completion(api_dialect::openai_compatible, vendor::deepseek, 200, "\n\n\n" + openai, c, diag));
    CHECK(c.content == "Hello!");
    CHECK(c.reasoning_content == "hm");
    CHECK(c.finish == finish_reason::tool_calls);
    CHECK(c.tool_calls == std::vector<tool_call>{{"call_z", "f", "{}"}});
    CHECK(c.usage->total_tokens == 7);
    CHECK(c.response_id == "chatcmpl-9");

    const std::string native = R"({"output":{"choices":[{"finish_reason":"stop","message":{"role":"assistant","content":"我是通义千问。"}}]},"usage":{"total_tokens":40,"output_tokens":10,"input_tokens":30},"request_id":"r-1"})";
    REQUIRE_FALSE(protocol::decode_completion(api_dialect::dashscope_native, vendor::dashscope, 200, native, c, diag));
    CHECK(c.content == "我是通义千问。");
    CHECK(c.finish == finish_reason::stop);
    CHECK(c.request_id == "r-1");
    REQUIRE(c.usage);
    CHECK(c.usage->output_tokens == 10);

    const std::string text_format = R"({"output":{"text":"plain","finish_reason":"stop"},"usage":{"input_tokens":1,"output_tokens":1},"request_id":"r-2"})";
    REQUIRE_FALSE(protocol::decode_completion(api_dialect::dashscope_native, vendor::dashscope, 200, text_format, c, diag));
    CHECK(c.content == "plain");
    CHECK(c.usage->total_tokens == 2);

    CHECK(protocol::decode_completion(api_dialect::openai_compatible, vendor::openai, 200, "<html>", c, diag) ==
          errc::malformed_response);
}

// ---- Anthropic Messages and OpenAI Responses ----------------------------------------------------

namespace {
chat_request tool_round_trip() {
    chat_request req;
    req.model = "qwen-plus";
    req.messages = {{"system", "Be terse."},
                    {"user", "Weather in Hangzhou and the time?"},
                    {"assistant", "Checking.", {}, {}, {}, {{"call_1", "get_weather", R"({"city":"杭州"})"}, {"call_2", "get_time", ""}}},
                    {"tool", "15°C", {}, {}, "call_1"},
                    {"tool", "12:00", {}, {}, "call_2"}};
    req.tools = {{"get_weather", "Weather of a city", R"({"type":"object","properties":{"city":{"type":"string"}}})"}};
    req.tool_choice = "required";
    return req;
}
}  // namespace

TEST_CASE("Anthropic body: system on top, max_tokens required, tool_use and tool_result turns, tools, extra", "[request][anthropic]") {
    chat_request req = tool_round_trip();
    req.temperature = 0.5;
    req.stop = {"END"};
    req.extra = R"({"thinking":{"type":"enabled","budget_tokens":1024}})";
    protocol::encoded_request enc;
    const bjson::object body = encode_ok(api_dialect::anthropic_messages, req, &enc);
    CHECK(enc.target == "/v1/messages");
    CHECK_FALSE(enc.dashscope_sse_header);
    CHECK(body.at("model") == "qwen-plus");
    CHECK(body.at("max_tokens") == protocol::anthropic_messages::default_max_tokens);
    CHECK(body.at("stream") == true);
    CHECK(body.at("system") == "Be terse.");
    CHECK(body.at("temperature") == 0.5);
    CHECK(body.at("stop_sequences") == bjson::array{"END"});
    CHECK(body.at("thinking").at("budget_tokens") == 1024);
    const bjson::array& m = body.at("messages").as_array();
    REQUIRE(m.size() == 3);  // user, assistant, one user turn holding both results
    CHECK(m[0] == bjson::object{{"role", "user"}, {"content", "Weather in Hangzhou and the time?"}});
    const bjson::array& a = m[1].at("content").as_array();
    REQUIRE(a.size() == 3);
    CHECK(a[0] == bjson::object{{"type", "text"}, {"text", "Checking."}});
    CHECK(a[1] == bjson::object{{"type", "tool_use"}, {"id", "call_1"}, {"name", "get_weather"}, {"input", bjson::object{{"city", "杭州"}}}});
    CHECK(a[2].at("input") == bjson::object{});  // no arguments: an empty object
    const bjson::array& results = m[2].at("content").as_array();
    REQUIRE(results.size() == 2);
    CHECK(results[0] == bjson::object{{"type", "tool_result"}, {"tool_use_id", "call_1"}, {"content", "15°C"}});
    CHECK(results[1].at("tool_use_id") == "call_2");
    CHECK(body.at("tools").at(0) == bjson::object{{"name", "get_weather"}, {"description", "Weather of a city"},
                                                  {"input_schema", bjson::parse(req.tools[0].parameters)}});
    CHECK(body.at("tool_choice") == bjson::object{{"type", "any"}});

    req.max_tokens = 99;
    req.tool_choice = "get_weather";
    const bjson::object whole = encode_ok(api_dialect::anthropic_messages, req, nullptr, false);
    CHECK(whole.at("max_tokens") == 99);
    CHECK_FALSE(whole.contains("stream"));
    CHECK(whole.at("tool_choice") == bjson::object{{"type", "tool"}, {"name", "get_weather"}});

    chat_request image;
    image.model = "m";
    image.messages = {{"user", "", {content_part::text("what is it?"), content_part::image("data:image/png;base64,iVBOR"),
                                    content_part::image("https://example.com/a.jpg")}}};
    const bjson::object ib = encode_ok(api_dialect::anthropic_messages, image);
    const bjson::array& parts = ib.at("messages").at(0).at("content").as_array();
    REQUIRE(parts.size() == 3);
    CHECK(parts[1].at("source") == bjson::object{{"type", "base64"}, {"media_type", "image/png"}, {"data", "iVBOR"}});
    CHECK(parts[2].at("source") == bjson::object{{"type", "url"}, {"url", "https://example.com/a.jpg"}});
}

TEST_CASE("Responses body: instructions, input items, function_call and its output, flat tools, max_output_tokens",
          "[request][responses]") {
    chat_request req = tool_round_trip();
    req.max_tokens = 256;
    req.response_format = R"({"type":"json_schema","json_schema":{"name":"w","schema":{"type":"object"},"strict":true}})";
    protocol::encoded_request enc;
    const bjson::object body = encode_ok(api_dialect::openai_responses, req, &enc);
    CHECK(enc.target == "/responses");
    CHECK(body.at("instructions") == "Be terse.");
    CHECK(body.at("max_output_tokens") == 256);
    CHECK(body.at("stream") == true);
    const bjson::array& in = body.at("input").as_array();
    REQUIRE(in.size() == 6);
    CHECK(in[0] == bjson::object{{"role", "user"}, {"content", "Weather in Hangzhou and the time?"}});
    CHECK(in[1] == bjson::object{{"role", "assistant"}, {"content", "Checking."}});
    CHECK(in[2] == bjson::object{{"type", "function_call"}, {"call_id", "call_1"}, {"name", "get_weather"}, {"arguments", R"({"city":"杭州"})"}});
    CHECK(in[3].at("arguments") == "{}");
    CHECK(in[4] == bjson::object{{"type", "function_call_output"}, {"call_id", "call_1"}, {"output", "15°C"}});
    CHECK(body.at("tools").at(0) == bjson::object{{"type", "function"}, {"name", "get_weather"}, {"strict", false},
                                                  {"description", "Weather of a city"},
                                                  {"parameters", bjson::parse(req.tools[0].parameters)}});
    CHECK(body.at("tool_choice") == "required");
    CHECK(body.at("text").at("format") ==
          bjson::object{{"type", "json_schema"}, {"name", "w"}, {"schema", bjson::object{{"type", "object"}}}, {"strict", true}});
}

TEST_CASE("what a dialect cannot carry is a clear invalid_request", "[request][anthropic][responses]") {
    const auto fails = [](api_dialect d, const chat_request& req, std::string_view says) {
        protocol::encoded_request enc;
        diagnostics diag;
        CHECK(protocol::encode_request(d, req, true, enc, diag) == errc::invalid_request);
        INFO(diag.hint);
        CHECK(diag.hint.find(says) != std::string::npos);
    };
    chat_request seed = basic_request();
    seed.seed = 1;
    fails(api_dialect::anthropic_messages, seed, "seed is not part of Anthropic Messages");
    fails(api_dialect::openai_responses, seed, "seed is not part of OpenAI Responses");
    chat_request stop = basic_request();
    stop.stop = {"x"};
    fails(api_dialect::openai_responses, stop, "stop is not part of OpenAI Responses");
    chat_request only_system;
    only_system.model = "m";
    only_system.messages = {{"system", "s"}};
    fails(api_dialect::anthropic_messages, only_system, "only system messages");
    chat_request bad_args = tool_round_trip();
    bad_args.messages[2].tool_calls[0].arguments = "[1]";
    fails(api_dialect::anthropic_messages, bad_args, "tool_calls.arguments is not a JSON object");
    chat_request orphan;
    orphan.model = "m";
    orphan.messages = {{"user", "u"}, {"tool", "r"}};
    fails(api_dialect::anthropic_messages, orphan, "tool_call_id is empty");
    fails(api_dialect::openai_responses, orphan, "tool_call_id is empty");
    chat_request odd_role;
    odd_role.model = "m";
    odd_role.messages = {{"narrator", "x"}};
    fails(api_dialect::anthropic_messages, odd_role, "\"narrator\"");
    chat_request empty_turn;
    empty_turn.model = "m";
    empty_turn.messages = {{"user", ""}};
    fails(api_dialect::anthropic_messages, empty_turn, "messages[0].content is empty");
    chat_request audio;
    audio.model = "m";
    audio.messages = {{"user", "", {content_part{content_part::kind::audio_url, "https://a/b.wav"}}}};
    fails(api_dialect::anthropic_messages, audio, "audio and video");
    fails(api_dialect::openai_responses, audio, "audio and video");
}

TEST_CASE("Anthropic body: an assistant turn's signed thinking blocks go back first, unsigned ones and other dialects never",
          "[request][anthropic]") {
    chat_request req = tool_round_trip();
    message& assistant = req.messages.at(2);
    REQUIRE(assistant.role == "assistant");
    // Without a signature (DashScope's are empty): no thinking block.
    assistant.thinking_blocks = {{"The user wants the weather.", ""}};
    bjson::array a = encode_ok(api_dialect::anthropic_messages, req).at("messages").at(1).at("content").as_array();
    REQUIRE(a.size() == 3);
    CHECK(a[0].at("type") == "text");
    // Signed blocks, each as the response carried it, first and in order.
    assistant.thinking_blocks = {{"The user wants the weather.", "EqQBCgIY"}, {"", ""}, {"Then the time.", "Zm9v"}};
    a = encode_ok(api_dialect::anthropic_messages, req).at("messages").at(1).at("content").as_array();
    REQUIRE(a.size() == 5);
    CHECK(a[0] == bjson::object{{"type", "thinking"}, {"thinking", "The user wants the weather."}, {"signature", "EqQBCgIY"}});
    CHECK(a[1] == bjson::object{{"type", "thinking"}, {"thinking", "Then the time."}, {"signature", "Zm9v"}});
    CHECK(a[2].at("type") == "text");
    CHECK(a[3].at("type") == "tool_use");
    // A turn of thinking and text only is sent as blocks too.
    assistant.tool_calls.clear();
    a = encode_ok(api_dialect::anthropic_messages, req).at("messages").at(1).at("content").as_array();
    REQUIRE(a.size() == 3);
    CHECK(a[2] == bjson::object{{"type", "text"}, {"text", "Checking."}});
    // Other dialects never send thinking back (DeepSeek rejects it).
    for (const api_dialect d : {api_dialect::openai_compatible, api_dialect::dashscope_native, api_dialect::openai_responses}) {
        const std::string body = bjson::serialize(encode_ok(d, req));
        CHECK(body.find("The user wants the weather.") == std::string::npos);
        CHECK(body.find("EqQBCgIY") == std::string::npos);
    }
    // Thinking alone is still an empty turn; text that is not UTF-8 is refused.
    const auto fails = [&](std::string_view says) {
        protocol::encoded_request enc;
        diagnostics diag;
        CHECK(protocol::encode_request(api_dialect::anthropic_messages, req, true, enc, diag) == errc::invalid_request);
        INFO(diag.hint);
        CHECK(diag.hint.find(says) != std::string::npos);
    };
    assistant.content.clear();
    fails("messages[2].content is empty");
    assistant.content = "ok";
    assistant.thinking_blocks = {{"\xC3", "s"}};
    fails("thinking_blocks.thinking");
}
