// Prefix replay (stream_decoder) must be invisible: every event decodes to exactly what a full
// decode gives, including errors. Each case runs the same events through a decoder with replay
// and one without, compares every delta and error, and checks that replay really happened
// where the events allow it (so that the comparison is not vacuous).
#include "protocol/response_stream.hpp"
#include "protocol/stream_decoder.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace llmstream;
using protocol::stream_decoder;

namespace {

struct step_result {
    boost::system::error_code ec;
    delta out;
    std::string hint, provider_code, provider_message, request_id;
    int status = 0;
};

void require_same(const step_result& a, const step_result& b) {
    REQUIRE(a.ec == b.ec);
    REQUIRE(a.out == b.out);
    REQUIRE(a.hint == b.hint);
    REQUIRE(a.provider_code == b.provider_code);
    REQUIRE(a.provider_message == b.provider_message);
    REQUIRE(a.request_id == b.request_id);
    REQUIRE(a.status == b.status);
}

struct wire_event {
    std::string type = "message";
    std::string data;
};

std::size_t last_suffixes = 0;  // suffix replays in the last compare()

// Decodes `events` with and without replay; returns how many events were replayed (prefix), and
// leaves in last_suffixes how many of those had their suffix replayed too.
std::size_t compare(api_dialect dialect, const std::vector<wire_event>& events, bool cumulative = false) {
    const vendor v = dialect == api_dialect::dashscope_native ? vendor::dashscope : vendor::openai;
    stream_decoder replaying(dialect, v, cumulative);
    stream_decoder full(dialect, v, cumulative);
    full.set_prefix_replay(false);
    for (std::size_t i = 0; i < events.size(); ++i) {
        const sse::event ev{events[i].type, events[i].data, {}};
        step_result a, b;
        diagnostics da, db;
        a.ec = replaying.on_event(ev, a.out, da);
        b.ec = full.on_event(ev, b.out, db);
        for (auto [r, d] : {std::pair{&a, &da}, std::pair{&b, &db}}) {
            r->hint = d->hint;
            r->provider_code = d->provider_code;
            r->provider_message = d->provider_message;
            r->request_id = d->request_id;
            r->status = d->http_status;
        }
        INFO("event " << i << ": " << events[i].data);
        require_same(a, b);
        REQUIRE(replaying.done() == full.done());
    }
    REQUIRE(full.replayed_events() == 0);
    last_suffixes = replaying.replayed_suffixes();
    return replaying.replayed_events();
}

std::string chunk(std::string_view delta_fields, std::string_view tail = R"(,"logprobs":null,"finish_reason":null}]})") {
    return std::string(R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{)") +
           std::string(delta_fields) + "}" + std::string(tail);
}

std::vector<wire_event> sse_events(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    std::ostringstream ss;
    ss << in.rdbuf();
    std::vector<wire_event> events;
    sse::parser parser;
    const auto ec = parser.feed(ss.str(), [&](const sse::event& e) { events.push_back({std::string(e.type), std::string(e.data)}); });
    REQUIRE_FALSE(ec);
    return events;
}

}  // namespace

TEST_CASE("prefix replay: a typical OpenAI-compatible stream is replayed and decodes the same") {
    std::vector<wire_event> events{
        {"message", chunk(R"("role":"assistant","content":"")")},
        {"message", chunk(R"("content":"Hello")")},
        {"message", chunk(R"("content":", \"world\"\n")")},
        {"message", chunk(R"("content":"\u4f60\ud83d\ude00")")},
        {"message", chunk(R"("content":"")", R"(,"logprobs":null,"finish_reason":"stop"}]})")},
        {"message", R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}})"},
        {"message", "[DONE]"},
    };
    CHECK(compare(api_dialect::openai_compatible, events) == 3);

    // Servers that repeat the role (and a request id) in every chunk, before the text.
    std::vector<wire_event> role_every_time;
    for (const char* text : {"a", "b", "c"})
        role_every_time.push_back({"message", R"({"request_id":"r-1","choices":[{"delta":{"role":"assistant","content":")" +
                                                  std::string(text) + R"("}}]})"});
    CHECK(compare(api_dialect::openai_compatible, role_every_time) == 2);
}

TEST_CASE("prefix replay: suffixes that differ, repeat keys or carry errors decode the same") {
    std::vector<wire_event> events{
        {"message", chunk(R"("content":"a")")},
        // The same prefix with a different tail: finish reason, usage, extra keys, a second choice.
        {"message", chunk(R"("content":"b","role":"assistant")")},
        {"message", chunk(R"("content":"c")", R"(,"finish_reason":"length"},{"index":1,"delta":{"content":"x"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}})")},
        // A repeated key after the text value wins, as in a full decode.
        {"message", chunk(R"("content":"d","content":"e","reasoning_content":"r")")},
        {"message", chunk(R"("content":"f")", R"(}],"choices":[{"delta":{"content":"g"}}]})")},
        // Identity fields after the text value.
        {"message", chunk(R"("content":"h")", R"(}],"model":"other","id":"chatcmpl-2"})")},
        // Whitespace after the prefix.
        {"message", chunk(R"("content":"i"   ,  "role" : "assistant" )")},
        // An error object after the text value: reported as the error.
        {"message", chunk(R"("content":"j")", R"(}],"error":{"code":"server_error","message":"boom"}})")},
    };
    CHECK(compare(api_dialect::openai_compatible, events) >= 6);
}

TEST_CASE("prefix replay: malformed events after a matching prefix fail as a full decode does") {
    const std::vector<std::string> broken_tails{
        "",                                    // cut off after the text
        R"(,"logprobs":null)",                 // unclosed objects
        R"(}]}})",                             // one bracket too many
        R"(,"finish_reason":nul}]})",          // a broken literal
        R"(}]} trailing)",                     // bytes after the document
        R"(,"x":[1,2,}]})",                    // trailing comma
    };
    for (const std::string& tail : broken_tails) {
        std::vector<wire_event> events{{"message", chunk(R"("content":"ok")")},
                                       {"message", chunk(R"("content":"no")", tail)}};
        INFO("tail: " << tail);
        CHECK(compare(api_dialect::openai_compatible, events) == 1);
    }
    // A broken text value itself: an invalid escape, a raw control character, no closing quote.
    for (const std::string& text : {std::string(R"("bad \q")"), std::string("\"tab\there\""), std::string(R"("open)")}) {
        std::vector<wire_event> events{{"message", chunk(R"("content":"ok")")},
                                       {"message", chunk(R"("content":)" + text)}};
        INFO("text: " << text);
        CHECK(compare(api_dialect::openai_compatible, events) == 1);
    }
}

TEST_CASE("prefix replay: prefixes holding more than identity fields are never replayed") {
    // Usage, tool calls, a finish reason or an error key before the text: not replayable.
    const std::vector<std::string> prefixes{
        R"({"usage":{"prompt_tokens":1},"choices":[{"delta":{"content":")",
        R"({"choices":[{"finish_reason":"stop","delta":{"content":")",
        R"({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{"}}],"content":")",
        R"({"error":{"message":"x"},"error":null,"choices":[{"delta":{"content":")",
        R"({"message":"note","choices":[{"delta":{"content":")",
    };
    for (const std::string& prefix : prefixes) {
        std::vector<wire_event> events{{"message", prefix + R"(a"}}]})"}, {"message", prefix + R"(b"}}]})"},
                                       {"message", prefix + R"(c"}}]})"}};
        INFO("prefix: " << prefix);
        CHECK(compare(api_dialect::openai_compatible, events) == 0);
    }
}

TEST_CASE("prefix replay: DashScope native frames, in-stream errors and cumulative output") {
    auto frame = [](std::string_view text, int tokens, std::string_view finish = "null") {
        return R"({"output":{"choices":[{"message":{"content":")" + std::string(text) +
               R"(","role":"assistant"},"finish_reason":")" + std::string(finish) + R"("}]},"usage":{"total_tokens":)" +
               std::to_string(10 + tokens) + R"(,"output_tokens":)" + std::to_string(tokens) +
               R"(,"input_tokens":10},"request_id":"req-1"})";
    };
    std::vector<wire_event> events{
        {"result", frame("你", 1)},
        {"result", frame("好", 2)},
        {"result", frame("!", 3)},
        {"result", frame("", 3, "stop")},
    };
    CHECK(compare(api_dialect::dashscope_native, events) == 3);

    std::vector<wire_event> with_error{
        {"result", frame("a", 1)},
        {"result", frame("b", 2)},
        {"error", R"({"code":"Throttling.RateQuota","message":"Requests rate limit exceeded","request_id":"req-1"})"},
    };
    CHECK(compare(api_dialect::dashscope_native, with_error) == 1);

    // Usage before output: read in the prefix, so never replayed.
    std::vector<wire_event> usage_first{
        {"result", R"({"usage":{"output_tokens":1},"output":{"choices":[{"message":{"content":"a"}}]}})"},
        {"result", R"({"usage":{"output_tokens":1},"output":{"choices":[{"message":{"content":"b"}}]}})"},
        {"result", R"({"usage":{"output_tokens":1},"output":{"choices":[{"message":{"content":"c"}}],"finish_reason":"stop"}})"},
    };
    CHECK(compare(api_dialect::dashscope_native, usage_first) == 0);

    std::vector<wire_event> cumulative{
        {"result", frame("Hel", 1)},
        {"result", frame("Hello", 2)},
        {"result", frame("Hello, wo", 3)},
        {"result", frame("Hi", 4)},  // rewrites the text: an error either way
    };
    CHECK(compare(api_dialect::dashscope_native, cumulative, true) == 3);
}

TEST_CASE("prefix replay: the golden streams decode the same with and without replay") {
    const std::string dir = LLMSTREAM_GOLDEN_DIR;
    std::size_t replayed = 0;
    for (const char* name : {"openai_basic.sse", "openai_in_stream_error.sse", "openai_tool_calls.sse", "qwen_thinking_crlf.sse",
                             "dashscope_compatible_error_frame.sse"}) {
        INFO(name);
        replayed += compare(api_dialect::openai_compatible, sse_events(dir + "/" + name));
    }
    for (const char* name : {"dashscope_native.sse", "dashscope_native_error.sse", "dashscope_native_tool_calls.sse"}) {
        INFO(name);
        replayed += compare(api_dialect::dashscope_native, sse_events(dir + "/" + name));
    }
    INFO("dashscope_native_cumulative.sse");
    replayed += compare(api_dialect::dashscope_native, sse_events(dir + "/dashscope_native_cumulative.sse"), true);
    CHECK(replayed >= 10);
}

TEST_CASE("prefix replay: suffixes are replayed only when they cannot set the text field") {
    // The same suffix every time: replayed after the first.
    std::vector<wire_event> same;
    for (const char* text : {"a", "b", "c", "d"}) same.push_back({"message", chunk(R"("content":")" + std::string(text) + "\"")});
    CHECK(compare(api_dialect::openai_compatible, same) == 3);
    CHECK(last_suffixes == 2);

    // The other text field, a role, tool calls and usage after the text: kept and restored.
    std::vector<wire_event> rich;
    for (const char* text : {"a", "b", "c", "d"})
        rich.push_back({"message", chunk(R"("content":")" + std::string(text) +
                                             R"(","reasoning_content":"r","role":"assistant","tool_calls":[{"index":1,"id":"t","function":{"name":"f","arguments":"{}"}}])",
                                         R"(,"finish_reason":null}],"usage":{"prompt_tokens":1,"completion_tokens":2},"model":"m2"})")});
    CHECK(compare(api_dialect::openai_compatible, rich) == 3);
    CHECK(last_suffixes == 2);

    // Reasoning text followed by "content": null: the other field, so replayed.
    std::vector<wire_event> reasoning;
    for (const char* text : {"a", "b", "c"})
        reasoning.push_back({"message", chunk(R"("reasoning_content":")" + std::string(text) + R"(","content":null)")});
    CHECK(compare(api_dialect::openai_compatible, reasoning) == 2);
    CHECK(last_suffixes == 1);

    // The text's own field again after it: never a suffix replay, and the last value wins.
    std::vector<wire_event> again;
    for (const char* text : {"a", "b", "c", "d"})
        again.push_back({"message", chunk(R"("content":")" + std::string(text) + R"(","content":"x")")});
    CHECK(compare(api_dialect::openai_compatible, again) == 3);
    CHECK(last_suffixes == 0);
    std::vector<wire_event> again_reasoning;
    for (const char* text : {"a", "b", "c"})
        again_reasoning.push_back({"message", chunk(R"("reasoning_content":")" + std::string(text) + R"(","reasoning_content":"y")")});
    CHECK(compare(api_dialect::openai_compatible, again_reasoning) == 2);
    CHECK(last_suffixes == 0);

    // Identity fields that change between events with the same prefix and suffix: a different
    // prefix in between changes the last model handed out, and replay must still restore it.
    std::vector<wire_event> models{
        {"message", chunk(R"("content":"a")")},
        {"message", chunk(R"("content":"b")")},
        {"message", chunk(R"("content":"c")")},
        {"message", R"({"id":"chatcmpl-1","model":"other","choices":[],"usage":{"prompt_tokens":1}})"},
        {"message", chunk(R"("content":"d")")},
        {"message", chunk(R"("content":"e")")},
    };
    CHECK(compare(api_dialect::openai_compatible, models) == 4);
    CHECK(last_suffixes >= 2);

    // DashScope native frames carry a running usage count after the text: the suffix is the same
    // but for the usage object, which is read afresh in each frame (the usage hole).
    std::vector<wire_event> native;
    for (int i = 1; i <= 12; ++i)
        native.push_back({"result", R"({"output":{"choices":[{"message":{"content":"t)" + std::to_string(i) +
                                        R"(","role":"assistant"},"finish_reason":"null"}]},"usage":{"output_tokens":)" +
                                        std::to_string(i * 7) + R"(},"request_id":"r"})"});
    native.push_back({"result", R"({"output":{"choices":[{"message":{"content":"","role":"assistant"},"finish_reason":"stop"}]},"usage":{"output_tokens":99,"input_tokens":3},"request_id":"r"})"});
    CHECK(compare(api_dialect::dashscope_native, native) == 12);
    CHECK(last_suffixes == 10);
    // ... or does not change at all.
    for (auto& e : native) e.data = R"({"output":{"choices":[{"message":{"content":"t","role":"assistant"},"finish_reason":"null"}]},"usage":{"output_tokens":5},"request_id":"r"})";
    CHECK(compare(api_dialect::dashscope_native, native) == 12);
    CHECK(last_suffixes == 11);

    // Across the usage hole: a usage object of another shape, whitespace, null, a malformed or
    // non-integer count, other bytes before or after the hole, and what follows the hole setting
    // fields. Each frame must decode as a full decode does.
    auto hole_frame = [](std::string_view usage, std::string_view after = R"(,"request_id":"r"})",
                         std::string_view before = R"(","role":"assistant"},"finish_reason":"null"}]},"usage":)") {
        return R"({"output":{"choices":[{"message":{"content":"t)" + std::string(before) + std::string(usage) +
               std::string(after);
    };
    const std::vector<std::string> odd_frames{
        hole_frame(R"({"input_tokens":4,"output_tokens":3,"total_tokens":100})"),
        hole_frame(R"( { "output_tokens" : 4 } )"),
        hole_frame(R"({"output_tokens":5,"output_tokens_details":{"reasoning_tokens":2}})"),
        hole_frame("null"),
        hole_frame(R"({"output_tokens":6})", R"(,"request_id":"other"})"),
        hole_frame(R"({"output_tokens":7})", R"(,"request_id":"r","usage":{"output_tokens":70}})"),
        hole_frame(R"({"output_tokens":8})", R"(,"request_id":"r","code":"Throttling"})"),
        hole_frame(R"({"output_tokens":10})", R"(,"request_id":"r")"),  // unterminated
        hole_frame(R"({"output_tokens":1.5})"),
        hole_frame(R"({"output_tokens":-1})"),
        hole_frame(R"({"output_tokens":13)"),
        hole_frame(R"({"output_tokens":013})"),
        hole_frame(R"({"output_tokens":})"),
        hole_frame(R"({"output_tokens":"5"})"),
        hole_frame(R"({"output_tokens":12345678901234567890})"),
        hole_frame(R"({"output_tokens":1234567890123456789})"),
        hole_frame(R"({"output_tokens":2e3})"),
        hole_frame(R"({"output_tokens":3,"total_tokens":9})"),
        hole_frame(R"({"output_tokens":15})", R"(,"request_id":"r"})", R"(","role":"assistant"},"finish_reason":"stop"}]},"usage":)"),
    };
    // Each odd frame follows three plain ones, so that it meets a kept suffix with a usage hole.
    std::vector<wire_event> holes;
    int tokens = 1;
    for (const std::string& odd : odd_frames) {
        for (int i = 0; i < 3; ++i) holes.push_back({"result", hole_frame(R"({"output_tokens":)" + std::to_string(tokens++) + "}")});
        holes.push_back({"result", odd});
    }
    holes.push_back({"result", R"({"output":{"choices":[{"message":{"content":"end"},"finish_reason":"stop"}]}})"});
    compare(api_dialect::dashscope_native, holes);
    CHECK(last_suffixes >= odd_frames.size());  // at least the third plain frame of each group
    // The final frame hands out the running usage, here read across the hole (its total derived).
    std::vector<wire_event> handed_out;
    for (int i = 1; i <= 5; ++i) handed_out.push_back({"result", hole_frame(R"({"input_tokens":7,"output_tokens":)" + std::to_string(i * 11) + "}")});
    handed_out.push_back({"result", R"({"output":{"choices":[{"message":{"content":""},"finish_reason":"stop"}]}})"});
    compare(api_dialect::dashscope_native, handed_out);
    CHECK(last_suffixes == 3);

    // A suffix with two usage objects has no hole (the later one wins): it is kept as it is,
    // usage included, and streams whose suffix changes every time stop recording. A suffix kept
    // while later frames moved the running usage on restores the usage it carried, which the
    // final frame (without usage of its own) hands out.
    std::vector<wire_event> frozen;
    auto usage_frame = [](int tokens) {
        return R"({"output":{"choices":[{"message":{"content":"t","role":"assistant"},"finish_reason":"null"}]},"usage":{"output_tokens":1},"usage":{"output_tokens":)" +
               std::to_string(tokens) + R"(}})";
    };
    // Frame 2 keeps its suffix, frames 3-9 replace it (7 misses), frame 10 no longer does.
    for (int i = 1; i <= 10; ++i) frozen.push_back({"result", usage_frame(i)});
    frozen.push_back({"result", usage_frame(9)});
    frozen.push_back({"result", R"({"output":{"choices":[{"message":{"content":"end"},"finish_reason":"stop"}]}})"});
    CHECK(compare(api_dialect::dashscope_native, frozen) == 11);
    CHECK(last_suffixes == 1);

    // Identity fields in a kept suffix are handed out when they differ from the last ones handed
    // out. The decoder remembers that they were equal only until one of those changes: here a
    // usage chunk (decoded in full, not replayable, so the suffix stays kept) changes the model
    // between two replays of the same suffix.
    const std::string model_frame = R"({"choices":[{"index":0,"delta":{"content":"t"}}],"model":"m1"})";
    const std::vector<wire_event> model_changes{
        {"message", model_frame},
        {"message", model_frame},
        {"message", model_frame},
        {"message", R"({"choices":[],"model":"m2","usage":{"prompt_tokens":1,"completion_tokens":2}})"},
        {"message", model_frame},
        {"message", model_frame},
    };
    CHECK(compare(api_dialect::openai_compatible, model_changes) == 4);
    CHECK(last_suffixes == 3);

    // The same for the role, handed out like the identity fields: a frame decoded in full hands
    // out another role between two replays of a suffix that sets "assistant".
    const std::string role_frame = R"({"choices":[{"index":0,"delta":{"content":"t","role":"assistant"}}]})";
    const std::vector<wire_event> role_changes{
        {"message", role_frame},
        {"message", role_frame},
        {"message", role_frame},
        {"message", R"({"choices":[{"index":0,"delta":{"role":"tool"}}]})"},
        {"message", role_frame},
        {"message", role_frame},
    };
    CHECK(compare(api_dialect::openai_compatible, role_changes) == 4);
    CHECK(last_suffixes == 3);

    // "usage": null leaves the running count alone; replaying a suffix holding it must too
    // (found by review: the suffix once restored the count it had seen).
    std::vector<wire_event> null_usage{
        {"result", R"({"output":{"choices":[{"message":{"content":"a"}}]},"usage":null})"},
        {"result", R"({"output":{"choices":[{"message":{"content":"b"}}]},"usage":null})"},
        {"result", R"({"usage":{"input_tokens":5,"output_tokens":7}})"},
        {"result", R"({"output":{"choices":[{"message":{"content":"c"}}]},"usage":null})"},
        {"result", R"({"output":{"finish_reason":"stop"}})"},
    };
    CHECK(compare(api_dialect::dashscope_native, null_usage) == 2);
    CHECK(last_suffixes == 1);
}

TEST_CASE("prefix replay: usage counts of every length read across the hole as a full read does") {
    // The slots are read 8 bytes at a time: counts of 1 to 20 digits, leading zeros, a sign, a
    // fraction or exponent right after 1 to 9 digits, and other bytes after the slot, each in a
    // frame that meets a kept suffix with slots, then handed out by a final frame without usage.
    std::mt19937 rng(20261126);
    auto digits = [&](int n) {
        std::string s;
        for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + rng() % 10));
        if (rng() % 3 != 0 && s.size() > 1 && s[0] == '0') s[0] = '1';
        return s;
    };
    auto frame = [](const std::string& total, const std::string& output, std::string_view after = R"(},"request_id":"r"})") {
        return R"({"output":{"choices":[{"message":{"content":"t","role":"assistant"},"finish_reason":"null"}]},"usage":{"total_tokens":)" +
               total + R"(,"output_tokens":)" + output + R"(,"input_tokens":3)" + std::string(after);
    };
    static const std::vector<std::string> odd_tails{"", "", "", "", ".5", "e2", "E1", "x", " ", "-", "\"", "}"};
    std::size_t suffixes = 0, plain = 0;
    auto is_plain = [](const std::string& n) {
        return n.size() <= 18 && n.find_first_not_of("0123456789") == std::string::npos && (n.size() == 1 || n[0] != '0');
    };
    for (int round = 0; round < 3000; ++round) {
        std::string total = digits(1 + static_cast<int>(rng() % 20));
        std::string output = digits(1 + static_cast<int>(rng() % 9)) + odd_tails[rng() % odd_tails.size()];
        if (rng() % 10 == 0) output = "-" + output;
        if (is_plain(total) && is_plain(output)) ++plain;
        std::vector<wire_event> events{
            {"result", frame("10", "1")},
            {"result", frame("11", "2")},
            {"result", frame(total, output)},
            {"result", R"({"output":{"choices":[{"message":{"content":""},"finish_reason":"stop"}]}})"},
        };
        INFO("total " << total << ", output " << output);
        compare(api_dialect::dashscope_native, events);
        suffixes += last_suffixes;
    }
    // Frame 3 is replayed whenever its counts are plain integers (and sometimes otherwise, when
    // the bytes after them still match).
    CHECK(plain > 500);
    CHECK(suffixes >= plain);
}

TEST_CASE("prefix replay: counts of the kept widths are compared in one pass, as a full read reads them") {
    // A kept suffix whose counts have the widths of the frame's is compared in one pass and its
    // slots read 8 digits at a time; when a width changes, the frame is matched slot by slot and
    // its bytes are kept instead. Streams of frames whose counts keep or change their widths,
    // with odd bytes inside the slots (a leading zero, a sign, letters, a quote) or in the fixed
    // text next to them; the final frame hands out the running count.
    std::mt19937 rng(26112026);
    static const std::string odd = "x-+.eE \"}0:,";
    auto count = [&](std::size_t width) {
        std::string s;
        for (std::size_t i = 0; i < width; ++i) s.push_back(static_cast<char>('0' + rng() % 10));
        if (s.size() > 1 && s[0] == '0') s[0] = '1';
        if (rng() % 4 == 0) s[rng() % s.size()] = odd[rng() % odd.size()];
        return s;
    };
    auto next_width = [&](std::size_t w) {
        switch (rng() % 8) {
        case 0: return std::size_t{1} + rng() % 20;
        case 1: return w + 1;
        case 2: return w > 1 ? w - 1 : w;
        default: return w;
        }
    };
    auto frame = [&](const std::string& total, const std::string& output, const std::string& input) {
        std::string f = R"({"output":{"choices":[{"message":{"content":"t","role":"assistant"},"finish_reason":"null"}]},"usage":{"total_tokens":)" +
                        total + R"(,"output_tokens":)" + output + R"(,"input_tokens":)" + input + R"(},"request_id":"r"})";
        if (rng() % 16 == 0) {  // a fixed byte after the text changes
            const std::size_t at = f.find("\"role\"") + rng() % (f.size() - f.find("\"role\""));
            f[at] = odd[rng() % odd.size()];
        }
        return f;
    };
    std::size_t suffixes = 0;
    for (int round = 0; round < 5000; ++round) {
        std::size_t wt = 1 + rng() % 12, wo = 1 + rng() % 8, wi = 1 + rng() % 8;
        std::vector<wire_event> events{{"result", frame("10", "1", "9")}};
        const int frames = 2 + static_cast<int>(rng() % 6);
        for (int i = 0; i < frames; ++i) {
            wt = next_width(wt);
            wo = next_width(wo);
            wi = next_width(wi);
            events.push_back({"result", frame(count(wt), count(wo), count(wi))});
        }
        events.push_back({"result", R"({"output":{"choices":[{"message":{"content":""},"finish_reason":"stop"}]}})"});
        compare(api_dialect::dashscope_native, events);
        suffixes += last_suffixes;
    }
    CHECK(suffixes > 1500);  // about 2,000: the rest have odd bytes, which a full read follows

    // Found by review: an 8-digit slot holds no padding '0', so eight NUL bytes make the word 0,
    // which the slot's cache once took for a count it had read. Replay must fail the frame as a
    // full read does, and hand out the same usage.
    const std::string nul_count(8, '\0');
    for (const std::vector<std::string>& totals : {std::vector<std::string>{"12345678", "12345679", nul_count},
                                                   std::vector<std::string>{"30", "77777777", nul_count}}) {
        std::vector<wire_event> nul_frames;
        int output = 1;
        for (const std::string& total : totals)
            nul_frames.push_back({"result", R"({"output":{"choices":[{"message":{"content":"t","role":"assistant"},"finish_reason":"null"}]},"usage":{"total_tokens":)" +
                                                total + R"(,"output_tokens":)" + std::to_string(output++) + R"(,"input_tokens":29},"request_id":"r"})"});
        nul_frames.push_back({"result", R"({"output":{"choices":[{"message":{"content":""},"finish_reason":"stop"}]}})"});
        compare(api_dialect::dashscope_native, nul_frames);
    }
}

TEST_CASE("prefix replay of Anthropic text deltas decodes the same as a full read", "[replay][anthropic]") {
    std::vector<wire_event> golden_events = sse_events(std::string(LLMSTREAM_GOLDEN_DIR) + "/anthropic_thinking_tool_use.sse");
    CHECK(compare(api_dialect::anthropic_messages, golden_events) == 0);  // one delta per block: nothing to replay

    const auto delta_event = [](int index, std::string_view kind, std::string_view text_json, std::string_view tail = "}}") {
        const std::string key = kind == "text_delta" ? "text" : "thinking";
        return wire_event{"content_block_delta", R"({"type":"content_block_delta","index":)" + std::to_string(index) +
                                                     R"(,"delta":{"type":")" + std::string(kind) + R"(",")" + key +
                                                     R"(":)" + std::string(text_json) + std::string(tail)};
    };
    std::vector<wire_event> events{
        {"message_start", R"({"type":"message_start","message":{"id":"m","model":"c","role":"assistant","usage":{"input_tokens":3}}})"},
        {"content_block_start", R"({"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}})"},
        delta_event(0, "thinking_delta", R"("hmm")"),
        delta_event(0, "thinking_delta", R"("\u4f60 \"q\"\n")"),
        delta_event(0, "thinking_delta", R"(null)"),                      // not a string: read in full
        delta_event(0, "thinking_delta", R"("x"  )", " } }"),            // other bytes after: read in full
        delta_event(0, "thinking_delta", R"("bad \q")"),                  // a broken escape: the full read says so
        delta_event(0, "thinking_delta", R"("y")"),
        // A key its type does not keep: a full read hands out nothing (found by review), so never a template.
        {"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","text":"a"}})"},
        {"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","text":"b"}})"},
        {"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x","thinking":"a"}})"},
        {"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x","thinking":"b"}})"},
        {"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta"},"content_block":{"text":"a"}})"},
        {"content_block_delta", R"({"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta"},"content_block":{"text":"b"}})"},
        {"content_block_start", R"({"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}})"},
        delta_event(1, "text_delta", R"("Hello")"),
        delta_event(1, "text_delta", R"(", world")"),
        delta_event(1, "text_delta", R"("a", "text": "b")"),              // a second text after: read in full
        {"ping", R"({"type": "ping"})"},
        delta_event(1, "text_delta", R"("!")"),  // after a prefix with two texts: read in full, kept again
        delta_event(1, "text_delta", R"(" more")"),
        delta_event(1, "text_delta", "\"raw\ttab\""),                       // a control character: malformed either way
        delta_event(1, "text_delta", R"("")"),
        {"not_a_delta", R"({"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"?"}})"},
        {"message_delta", R"({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}})"},
    };
    // Replayed: the second thinking delta, ", world", " more" and "".
    CHECK(compare(api_dialect::anthropic_messages, events) == 4);
}

TEST_CASE("prefix replay of Responses text deltas: sequence numbers as holes, other members after the text",
          "[replay][responses]") {
    std::vector<wire_event> golden_events =
        sse_events(std::string(LLMSTREAM_GOLDEN_DIR) + "/openai_responses_reasoning_text.sse");
    CHECK(compare(api_dialect::openai_responses, golden_events) == 1);  // the second output_text.delta

    const auto delta_event = [](std::string_view sequence, std::string_view text_json, std::string_view tail,
                                std::string_view type = "response.output_text.delta") {
        return wire_event{std::string(type), R"({"type":")" + std::string(type) + R"(","sequence_number":)" + std::string(sequence) +
                                                 R"(,"item_id":"msg_1","output_index":0,"content_index":0,"delta":)" +
                                                 std::string(text_json) + std::string(tail)};
    };
    std::vector<wire_event> events{
        {"response.created", R"({"type":"response.created","sequence_number":0,"response":{"id":"r","model":"m","status":"in_progress"}})"},
        delta_event("1", R"("Hel")", R"(,"logprobs":[],"obfuscation":"abc"})"),
        delta_event("2", R"("lo")", R"(,"logprobs":[],"obfuscation":"defgh"})"),         // other padding: members that do not matter
        delta_event("10", R"(" \u4f60\n")", R"(,"logprobs":[],"obfuscation":"x"})"),     // a wider number
        delta_event("11", R"("a")", R"(,"delta":"b","logprobs":[]})"),                   // a second delta after: read in full
        delta_event("12", R"("c")", R"(,"type":"response.refusal.delta"})"),             // the type after: read in full
        delta_event("013", R"("d")", R"(,"logprobs":[]})"),                              // not a number JSON allows
        delta_event("-1", R"("e")", R"(,"logprobs":[]})"),
        delta_event("1.5", R"("f")", R"(,"logprobs":[]})"),
        delta_event("14", R"("g")", R"(,"logprobs":[)"),                                 // broken after the text
        delta_event("15", R"("h")", R"(,"logprobs":[],"obfuscation":"y"} )"),
        delta_event("16", R"(null)", R"(,"logprobs":[]})"),
        delta_event("17", R"("i")", R"(,"logprobs":[]})", "response.reasoning_summary_text.delta"),
        delta_event("18", R"("j")", R"(,"logprobs":[]})", "response.reasoning_summary_text.delta"),
        delta_event("19", R"("k")", R"(,"logprobs":[],"obfuscation":"zz"})"),
        {"response.completed", R"({"type":"response.completed","sequence_number":20,"response":{"status":"completed"}})"},
    };
    // Replayed: "lo", " 你\n", "h", "j" (after "i" set a reasoning template), and not "k" (the
    // template is the reasoning event's).
    CHECK(compare(api_dialect::openai_responses, events) == 4);
}

namespace {

struct stream_outcome {
    boost::system::error_code ec;
    std::vector<delta> deltas;
    std::string hint;
    std::size_t events = 0;
};

// Feeds `body` to a response_stream in chunks of `piece` bytes (0: whole).
stream_outcome run_stream(protocol::response_stream& s, std::string_view body, std::size_t piece) {
    stream_outcome r;
    diagnostics diag;
    if (piece == 0) piece = body.size() + 1;
    for (std::size_t off = 0; off < body.size() && !r.ec; off += piece)
        r.ec = s.feed(body.substr(off, piece), [&](const delta& d) { r.deltas.push_back(d); }, diag);
    if (!r.ec) r.ec = s.finish(diag);
    r.hint = diag.hint;
    r.events = s.events();
    return r;
}

// Feeds `body` whole, then split at every byte, with whole-event replay and with replay off: the
// same deltas, errors and event counts. Returns the whole-event replays of the whole feed.
std::size_t compare_bytes(api_dialect dialect, std::string_view body, sse::limits lim = {}) {
    const vendor v = dialect == api_dialect::anthropic_messages ? vendor::anthropic : vendor::openai;
    std::size_t whole = 0;
    for (std::size_t piece = 0; piece <= body.size(); piece = piece == 0 ? 1 : piece * 2 + 1) {
        protocol::response_stream replaying(dialect, v, false, lim);
        protocol::response_stream full(dialect, v, false, lim);
        full.set_prefix_replay(false);
        const stream_outcome a = run_stream(replaying, body, piece);
        const stream_outcome b = run_stream(full, body, piece);
        INFO("chunks of " << piece << " bytes");
        REQUIRE(a.ec == b.ec);
        REQUIRE(a.hint == b.hint);
        REQUIRE(a.events == b.events);
        REQUIRE(a.deltas == b.deltas);
        REQUIRE(full.replayed_events() == 0);
        if (piece == 0) whole = replaying.replayed_whole_events();
    }
    return whole;
}

std::string anthropic_delta(std::string_view text_json, std::string_view kind = "text_delta", int index = 1) {
    const std::string key = kind == "text_delta" ? "text" : "thinking";
    return "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":" + std::to_string(index) +
           ",\"delta\":{\"type\":\"" + std::string(kind) + "\",\"" + key + "\":" + std::string(text_json) + "}}\n\n";
}

const std::string anthropic_start =
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"role\":\"assistant\","
    "\"usage\":{\"input_tokens\":3}}}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n";
const std::string anthropic_end =
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":9}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

}  // namespace

TEST_CASE("whole-event replay: Anthropic text deltas taken from their bytes decode as a full read, at every split",
          "[replay][anthropic]") {
    SECTION("plain text, then UTF-8, an empty text, comments and a ping between") {
        const std::string body = anthropic_start + anthropic_delta(R"("Hello")") + anthropic_delta(R"(", world")") +
                                 anthropic_delta("\"\xe4\xbd\xa0\xe5\xa5\xbd, a longer text of more than sixteen bytes\"") +
                                 ": keep-alive\n" + anthropic_delta(R"("")") +
                                 "event: ping\ndata: {\"type\": \"ping\"}\n\n" + anthropic_delta(R"("!")") + anthropic_end;
        CHECK(compare_bytes(api_dialect::anthropic_messages, body) == 4);
    }
    SECTION("what the template cannot take is parsed as usual") {
        const std::string body =
            anthropic_start + anthropic_delta(R"("a")") +
            anthropic_delta(R"("esc\"aped\n")") +                                         // an escape
            anthropic_delta("\"bad \xff utf-8\"") +                                        // invalid UTF-8: replaced by the parser
            anthropic_delta("\"cut \xe4\xbd\"") +                                          // a cut sequence
            anthropic_delta("\"raw\ttab\"").substr(0, 0) +                                 // (kept out: malformed ends the stream)
            "event: content_block_delta\r\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"crlf\"}}\r\n\r\n" +
            "event:content_block_delta\ndata:{\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"tight\"}}\n\n" +
            "id: 7\n" + anthropic_delta(R"("with an id")") +                               // an id line first
            "retry: 10\n" + anthropic_delta(R"("with retry")") +
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\n"
            "data: \"delta\":{\"type\":\"text_delta\",\"text\":\"two data lines\"}}\n\n" +
            anthropic_delta(R"("more")") +  // read in full: the last template had two lines, none was kept
            anthropic_delta(R"(" and more")") +
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}} \n\n" +
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"y\"}}\nid: 8\n\n" +
            anthropic_delta(R"("z")", "thinking_delta") +                                 // another type: another template
            anthropic_delta(R"("zz")", "thinking_delta") + anthropic_delta(R"("q")", "text_delta", 2) + anthropic_end +
            anthropic_delta(R"("after the end")");
        // Replayed whole: " and more", "zz" (the others differ from the template in their bytes).
        CHECK(compare_bytes(api_dialect::anthropic_messages, body) == 2);
    }
    SECTION("a malformed text ends the stream as a full read does") {
        const std::string body = anthropic_start + anthropic_delta(R"("a")") + anthropic_delta("\"raw\ttab\"") + anthropic_end;
        CHECK(compare_bytes(api_dialect::anthropic_messages, body) == 0);
    }
    SECTION("an event over the size limits fails as a full read does") {
        const std::string big(300, 'x');
        const std::string body = anthropic_start + anthropic_delta(R"("a")") + anthropic_delta(R"("b")") +
                                 anthropic_delta("\"" + big + "\"") + anthropic_end;
        CHECK(compare_bytes(api_dialect::anthropic_messages, body, {.max_line_size = 256, .max_event_size = 4096}) == 1);
        CHECK(compare_bytes(api_dialect::anthropic_messages, body, {.max_line_size = 4096, .max_event_size = 256}) == 1);
        CHECK(compare_bytes(api_dialect::anthropic_messages, body, {.max_line_size = 4096, .max_event_size = 4096}) == 2);
    }
}

TEST_CASE("whole-event replay: Responses deltas with other sequence numbers and padding decode as a full read",
          "[replay][responses]") {
    const auto delta_event = [](std::string_view sequence, std::string_view text_json, std::string_view tail) {
        return "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":" +
               std::string(sequence) + ",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":" +
               std::string(text_json) + std::string(tail) + "\n\n";
    };
    const std::string body =
        "event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"r\",\"model\":\"m\","
        "\"status\":\"in_progress\"}}\n\n" +
        delta_event("1", R"("Hel")", R"(,"logprobs":[],"obfuscation":"abc"})") +
        delta_event("2", R"("lo")", R"(,"logprobs":[],"obfuscation":"defgh"})") +            // other padding: replayed
        delta_event("3", R"(" w")", R"(,"logprobs":[],"obfuscation":""})") +                 // empty padding: replayed
        delta_event("10", R"("or")", R"(,"logprobs":[],"obfuscation":"q\"z"})") +            // an escape in the padding
        delta_event("11", R"("ld")", R"(,"logprobs":[],"obfuscation":"p)" "\xc3\xa9" R"("})") +  // non-ASCII padding
        delta_event("13", R"("?")", R"(,"logprobs":[1],"obfuscation":"a"})") +               // other bytes outside the holes
        delta_event("14", R"("a")", R"(,"logprobs":[],"obfuscation":7})") +                  // not a string
        delta_event("15", R"("b")", R"(,"logprobs":[],"obfuscation":"xy"})") +               // replayed
        delta_event("99999999999999999999", R"("c")", R"(,"logprobs":[],"obfuscation":"a"})") +  // too wide for a hole
        delta_event("012", R"("!")", R"(,"logprobs":[],"obfuscation":"a"})") +               // a number JSON does not allow
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":20,\"response\":{\"status\":"
        "\"completed\"}}\n\n";
    CHECK(compare_bytes(api_dialect::openai_responses, body) == 3);
}

TEST_CASE("whole-event replay: chat chunks that carry only text decode as a full read, at every split", "[replay][chat]") {
    const auto event = [](std::string_view delta_fields, std::string_view tail = R"(,"logprobs":null,"finish_reason":null}]})") {
        return "data: " + chunk(delta_fields, tail) + "\n\n";
    };
    SECTION("the template is learnt from a chunk replayed with its suffix, and taken while nothing but the text changes") {
        const std::string body = event(R"("role":"assistant","content":"")") + event(R"("content":"Hello")") +
                                 event(R"("content":", world")") +                     // prefix replay, suffix kept
                                 event(R"("content":" again")") +                      // suffix replayed: learnt
                                 event(R"("content":" one")") +                        // whole
                                 event(R"("content":"\u4f60 \"q\"")") +                // escapes: parsed (and learnt again)
                                 event("\"content\":\"\xe4\xbd\xa0\xe5\xa5\xbd, a longer text of more than sixteen bytes\"") +  // whole
                                 ": keep-alive\n" + event(R"("content":"")") +         // whole (an empty text hands out nothing)
                                 event(R"("content":"x")", R"(,"logprobs":null,"finish_reason":"stop"}]})") +  // other bytes: parsed
                                 "data: [DONE]\n\n" + event(R"("content":"after the end")");
        CHECK(compare_bytes(api_dialect::openai_compatible, body) == 3);
    }
    SECTION("an identity field that changes and changes back is handed out again, so the template waits") {
        const std::string other_model = std::string(R"({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m2",)") +
                                        R"("choices":[{"index":0,"delta":{"content":"b"},"logprobs":null,"finish_reason":null}]})";
        const std::string body = event(R"("content":"a")") + event(R"("content":"a")") + event(R"("content":"a")") +  // learnt
                                 event(R"("content":"whole")") + "data: " + other_model + "\n\n" +
                                 event(R"("content":"m again")") +                     // hands out model "m": parsed
                                 event(R"("content":"c")") + event(R"("content":"d")") +  // prefix replay, then suffix: learnt
                                 event(R"("content":"whole again")") + event(R"("content":"e")", R"(}]})") +
                                 "data: [DONE]\n\n";
        CHECK(compare_bytes(api_dialect::openai_compatible, body) == 2);
    }
    SECTION("a chunk replayed with more than its text is no template") {
        const std::string finish = R"(,"logprobs":null,"finish_reason":"length"}]})";
        const std::string usage = R"(,"finish_reason":null}],"usage":{"prompt_tokens":1,"completion_tokens":2}})";
        std::string body;
        for (const std::string* tail : {&finish, &usage})
            for (const char* text : {"a", "b", "c", "d"}) body += event(std::string(R"("content":")") + text + "\"", *tail);
        for (const char* text : {"a", "b", "c", "d"})  // the other text after it
            body += event(std::string(R"("content":")") + text + R"(","reasoning_content":"r")");
        CHECK(compare_bytes(api_dialect::openai_compatible, body) == 0);
    }
    SECTION("reasoning text, and lines the template does not take") {
        const std::string body =
            event(R"("reasoning_content":"think")") + event(R"("reasoning_content":"ing")") + event(R"("reasoning_content":" more")") +
            event(R"("reasoning_content":" whole")") +                                                  // whole
            "data:" + chunk(R"("reasoning_content":"tight")") + "\n\n" +                               // no space after the colon
            "data: " + chunk(R"("reasoning_content":"crlf")") + "\r\n\r\n" +                         // whole: CR LF line ends
            "data: " + chunk(R"("reasoning_content":"mixed")") + "\r\n\n" + "data: " + chunk(R"("reasoning_content":"mixed")") + "\n\r\n" +
            "data: " + chunk(R"("reasoning_content":"cr")") + "\r\r" +
            "id: 7\n" + event(R"("reasoning_content":"with an id")") +
            "event: message\n" + event(R"("reasoning_content":"named")") +
            "data: " + chunk(R"("reasoning_content":"two")") + "\ndata: \n\n" +                        // two data lines
            event(R"("reasoning_content":"raw)" "\t" R"(tab")") +                                      // malformed: ends the stream
            event(R"("reasoning_content":"never read")");
        CHECK(compare_bytes(api_dialect::openai_compatible, body) == 2);
    }
}

TEST_CASE("prefix replay: OpenAI's obfuscation padding after the choices is a hole in the suffix", "[replay][chat]") {
    const auto padded = [](std::string_view text, std::string_view padding_json) {
        return chunk(std::string(R"("content":")") + std::string(text) + "\"",
                     std::string(R"(,"logprobs":null,"finish_reason":null}],"obfuscation":)") + std::string(padding_json) + "}");
    };
    std::vector<wire_event> events{
        {"message", padded("a", R"("x1")")},
        {"message", padded("b", R"("Zq9")")},           // suffix kept
        {"message", padded("c", R"("")")},              // replayed with its suffix: empty padding
        {"message", padded("d", R"("abcdefghijklmn")")},  // longer padding
        {"message", padded("e", R"("q\"z")")},          // an escape: read after the text
        {"message", padded("f", "\"p\xc3\xa9\"")},      // non-ASCII: read after the text
        {"message", padded("g", "7")},                  // not a string
        {"message", padded("h", R"("ok")")},            // suffix kept again
        {"message", padded("h2", R"("okay")")},         // replayed
        {"message", padded("l", R"("x","model":"m2")")},  // looks like padding between the bytes: another member
        {"message", chunk(R"("content":"i")", R"(,"logprobs":null,"finish_reason":"stop"}],"obfuscation":"k"})")},
        {"message", padded("j", R"("x","obfuscation":"y")")},  // not the last member alone: read
        {"message", padded("k", R"("tab	")")},          // a control character: malformed in a full read too
    };
    CHECK(compare(api_dialect::openai_compatible, events) == 12);
    CHECK(last_suffixes == 3);
}

TEST_CASE("whole-event replay: OpenAI chunks with obfuscation padding are taken whole", "[replay][chat]") {
    const auto event = [](std::string_view text, std::string_view padding) {
        return "data: " +
               chunk(std::string(R"("content":")") + std::string(text) + "\"",
                     std::string(R"(,"logprobs":null,"finish_reason":null}],"obfuscation":")") + std::string(padding) + "\"}") +
               "\n\n";
    };
    const std::string body = "data: " + chunk(R"("role":"assistant","content":"")") + "\n\n" + event("Hello", "a1") +
                             event(",", "xyz") + event(" world", "Q") +  // suffix replayed: learnt
                             event(" whole", "padding0123") + event(" again", "") +  // whole
                             event(" esc", "q\\\"z") + event(" high", "\xc3\xa9") +  // read in full
                             event(" last", "b") +                                    // whole
                             "data: " + chunk(R"("content":"")", R"(,"logprobs":null,"finish_reason":"stop"}],"obfuscation":"s"})") +
                             "\n\n" + "data: [DONE]\n\n";
    CHECK(compare_bytes(api_dialect::openai_compatible, body) == 3);
}
