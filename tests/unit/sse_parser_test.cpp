// WHATWG HTML 9.2.6 event-stream interpretation, one rule per test case. Every input is also fed
// split at every byte offset and one byte at a time: results must not depend on chunking.
#include "../support/sse_collect.hpp"

#include <llmstream/sse.hpp>

#include <catch2/catch.hpp>

#include <climits>
#include <cstdlib>
#include <random>
#include <stdexcept>

using llmstream::errc;
using llmstream::sse::limits;
using llmstream::sse::parser;
using namespace llmstream::testing;
using namespace std::string_literals;

namespace {

// Parses `input` whole, split at every offset and byte by byte; requires identical results and,
// when no limit was hit, agreement with the naive reference transcription of the standard.
parse_record parse_every_way(std::string_view input, limits lim = {}) {
    const parse_record whole = parse_whole(input, lim);
    for (std::size_t cut = 1; cut < input.size(); ++cut) {
        INFO("split at byte " << cut);
        REQUIRE(parse_pieces(input, {cut}, lim) == whole);
    }
    REQUIRE(parse_bytewise(input, lim) == whole);
    if (!whole.error) {
        const reference_result ref = reference_parse(std::string(input));
        REQUIRE(whole.events == ref.events);
        REQUIRE(whole.retry_ms == ref.retry_ms);
        REQUIRE(whole.last_event_id == ref.last_event_id);
    }
    return whole;
}

std::vector<recorded_event> events_of(std::string_view input) { return parse_every_way(input).events; }

// `input` parses the same whole and cut at `cuts`, and as the reference transcription does.
void same_as_reference(const std::string& input, const std::vector<std::size_t>& cuts) {
    const parse_record whole = parse_whole(input);
    REQUIRE(parse_pieces(input, cuts) == whole);
    const reference_result ref = reference_parse(input);
    REQUIRE(whole.events == ref.events);
    REQUIRE(whole.retry_ms == ref.retry_ms);
    REQUIRE(whole.last_event_id == ref.last_event_id);
}

const std::string fffd = "\xEF\xBF\xBD";

}  // namespace

TEST_CASE("a data line followed by a blank line dispatches a message event", "[sse]") {
    CHECK(events_of("data: hello\n\n") == std::vector<recorded_event>{{"message", "hello", ""}});
    CHECK(events_of("data: a\n\ndata: b\n\n") ==
          std::vector<recorded_event>{{"message", "a", ""}, {"message", "b", ""}});
}

TEST_CASE("one leading byte order mark is skipped, a second one is not", "[sse]") {
    CHECK(events_of("\xEF\xBB\xBF" "data: a\n\n") == std::vector<recorded_event>{{"message", "a", ""}});
    // The second BOM becomes part of the field name "\uFEFFdata", an unknown field.
    CHECK(events_of("\xEF\xBB\xBF\xEF\xBB\xBF" "data: a\n\n").empty());
    // A BOM later in the stream is ordinary data.
    CHECK(events_of("data: \xEF\xBB\xBFx\n\n") == std::vector<recorded_event>{{"message", "\xEF\xBB\xBFx", ""}});
    // A partial BOM is ordinary (invalid) text.
    CHECK(events_of("\xEF\xBB" "data: a\n\n").empty());
    CHECK(events_of("\xEF\xBB\n" "data: a\n\n") == std::vector<recorded_event>{{"message", "a", ""}});
}

TEST_CASE("lines end at CRLF, LF or CR, in any mix", "[sse]") {
    const std::vector<recorded_event> abc{{"message", "a", ""}, {"message", "b", ""}, {"message", "c", ""}};
    CHECK(events_of("data: a\r\n\r\ndata: b\r\n\r\ndata: c\r\n\r\n") == abc);
    CHECK(events_of("data: a\r\rdata: b\r\rdata: c\r\r") == abc);
    CHECK(events_of("data: a\r\n\ndata: b\r\rdata: c\n\r\n") == abc);
    // LF CR is two line ends, not one.
    CHECK(events_of("data: a\n\rdata: b\n\n") ==
          std::vector<recorded_event>{{"message", "a", ""}, {"message", "b", ""}});
    // CR CR LF: the CR LF pair is one line end; so this is an event, then nothing.
    CHECK(events_of("data: x\r\r\n") == std::vector<recorded_event>{{"message", "x", ""}});
}

TEST_CASE("a CR at the end of one chunk and an LF at the start of the next are one line end", "[sse]") {
    const std::string input = "data: a\r\ndata: b\r\n\r\n";
    const auto r = parse_pieces(input, {8, 9, 18, 19});
    CHECK(r.events == std::vector<recorded_event>{{"message", "a\nb", ""}});
}

TEST_CASE("comment lines are ignored by plain feed and handed out by the comment overload", "[sse]") {
    const std::string input = ": keep-alive\nevent:error\n:HTTP_STATUS/429\ndata:{}\n\n:\n";
    const auto r = parse_every_way(input);
    CHECK(r.events == std::vector<recorded_event>{{"error", "{}", ""}});
    CHECK(r.comments == std::vector<std::string>{" keep-alive", "HTTP_STATUS/429", ""});
    CHECK(r.order == std::vector<std::string>{"c", "c", "e", "c"});

    parser p;
    int events = 0;
    CHECK_FALSE(p.feed(input, [&](const auto&) { ++events; }));
    CHECK(events == 1);
}

TEST_CASE("a field without a colon has the whole line as its name and an empty value", "[sse]") {
    // "data" appends an empty line to the buffer, so the event is dispatched with empty data.
    CHECK(events_of("data\n\n") == std::vector<recorded_event>{{"message", "", ""}});
    CHECK(events_of("data\ndata\n\n") == std::vector<recorded_event>{{"message", "\n", ""}});
    CHECK(events_of("data:\n\n") == std::vector<recorded_event>{{"message", "", ""}});
    CHECK(events_of("event\ndata: x\n\n") == std::vector<recorded_event>{{"message", "x", ""}});
}

TEST_CASE("exactly one space after the colon is stripped", "[sse]") {
    CHECK(events_of("data:no-space\n\n") == std::vector<recorded_event>{{"message", "no-space", ""}});
    CHECK(events_of("data: one\n\n") == std::vector<recorded_event>{{"message", "one", ""}});
    CHECK(events_of("data:  two\n\n") == std::vector<recorded_event>{{"message", " two", ""}});
    CHECK(events_of("data:\tx\n\n") == std::vector<recorded_event>{{"message", "\tx", ""}});
    CHECK(events_of("data: a:b: c\n\n") == std::vector<recorded_event>{{"message", "a:b: c", ""}});
}

TEST_CASE("data lines are joined with LF and the final LF is removed", "[sse]") {
    CHECK(events_of("data: a\ndata: b\ndata:\ndata: c\n\n") ==
          std::vector<recorded_event>{{"message", "a\nb\n\nc", ""}});
    CHECK(events_of("data: YHOO\ndata: +2\ndata: 10\n\n") ==
          std::vector<recorded_event>{{"message", "YHOO\n+2\n10", ""}});
}

TEST_CASE("an event with an empty data buffer is not dispatched and resets the type", "[sse]") {
    CHECK(events_of("event: add\n\n").empty());
    CHECK(events_of("event: add\n\ndata: x\n\n") == std::vector<recorded_event>{{"message", "x", ""}});
    CHECK(events_of("id: 7\nretry: 10\n\n").empty());
}

TEST_CASE("the event type defaults to message and resets after each dispatch", "[sse]") {
    CHECK(events_of("event: add\ndata: 1\n\ndata: 2\n\nevent:\ndata: 3\n\n") ==
          std::vector<recorded_event>{{"add", "1", ""}, {"message", "2", ""}, {"message", "3", ""}});
    // The last event line wins.
    CHECK(events_of("event: a\nevent: b\ndata: x\n\n") == std::vector<recorded_event>{{"b", "x", ""}});
}

TEST_CASE("the id persists across events, an empty id clears it, an id with NUL is ignored", "[sse]") {
    const auto r = parse_every_way("id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\nid: 2\n\nid: 3\0x\ndata: d\n\n"s);
    CHECK(r.events == std::vector<recorded_event>{
                          {"message", "a", "1"}, {"message", "b", "1"}, {"message", "c", ""}, {"message", "d", "2"}});
    CHECK(r.last_event_id == "2");
    // The last event ID is updated at a blank line even when nothing is dispatched.
    CHECK(parse_every_way("id: 9\n\n").last_event_id == "9");
    // ...and not before the blank line.
    CHECK(parse_every_way("id: 1\n\nid: 5\n").last_event_id == "1");
}

TEST_CASE("retry is set only by a value of ASCII digits", "[sse]") {
    CHECK(parse_every_way("retry: 3000\n").retry_ms == 3000);
    CHECK(parse_every_way("retry: 0\n").retry_ms == 0);
    CHECK(parse_every_way("retry: 3000\nretry: 12a\n").retry_ms == 3000);
    CHECK_FALSE(parse_every_way("retry: -1\n").retry_ms);
    CHECK_FALSE(parse_every_way("retry:  5\n").retry_ms);  // " 5" is not all digits
    CHECK_FALSE(parse_every_way("retry:\n").retry_ms);
    CHECK_FALSE(parse_every_way("retry: 1.5\n").retry_ms);
    CHECK_FALSE(parse_every_way("retry: \xD9\xA3\n").retry_ms);  // ARABIC-INDIC DIGIT THREE
    // Absurd values saturate instead of overflowing.
    CHECK(parse_every_way("retry: 99999999999999999999999999\n").retry_ms == LLONG_MAX);
}

TEST_CASE("unknown fields are ignored and field names are case-sensitive", "[sse]") {
    CHECK(events_of("foo: bar\ndata: x\nData: y\n data: z\n\n") == std::vector<recorded_event>{{"message", "x", ""}});
}

TEST_CASE("an unfinished event at the end of the stream is not dispatched", "[sse]") {
    auto r = parse_every_way("data: a\n\ndata: b\n");
    CHECK(r.events == std::vector<recorded_event>{{"message", "a", ""}});
    CHECK(r.partial);
    r = parse_every_way("data: a\n\ndata: b");
    CHECK(r.events == std::vector<recorded_event>{{"message", "a", ""}});
    CHECK(r.partial);
    CHECK_FALSE(parse_every_way("data: a\n\n").partial);
    CHECK_FALSE(parse_every_way(": only a comment\n").partial);
}

TEST_CASE("invalid UTF-8 is replaced with U+FFFD as the WHATWG decoder does", "[sse]") {
    CHECK(events_of("data: a\xFF" "b\n\n") == std::vector<recorded_event>{{"message", "a" + fffd + "b", ""}});
    // A truncated sequence before the line end is one replacement.
    CHECK(events_of("data: \xE2\x82\n\n") == std::vector<recorded_event>{{"message", fffd, ""}});
    // A surrogate: ED then A0 is out of range, so three replacements.
    CHECK(events_of("data: \xED\xA0\x80\n\n") == std::vector<recorded_event>{{"message", fffd + fffd + fffd, ""}});
    // Overlong encodings.
    CHECK(events_of("data: \xC0\xAF\n\n") == std::vector<recorded_event>{{"message", fffd + fffd, ""}});
    CHECK(events_of("data: \xF0\x9F\x98x\n\n") == std::vector<recorded_event>{{"message", fffd + "x", ""}});
    // Valid multi-byte text passes through unchanged, in the event type and id as well.
    CHECK(events_of("event: 结果\nid: \xF0\x9F\x98\x80\ndata: 你好\n\n") ==
          std::vector<recorded_event>{{"结果", "你好", "\xF0\x9F\x98\x80"}});
    CHECK(events_of("event: \x80\ndata: x\n\n") == std::vector<recorded_event>{{fffd, "x", ""}});
}

TEST_CASE("comments are handed out with invalid UTF-8 replaced", "[sse]") {
    CHECK(parse_every_way(":\xFFx\n").comments == std::vector<std::string>{fffd + "x"});
}

TEST_CASE("a line over the limit fails with line_too_long after the events before it", "[sse][limits]") {
    const limits lim{.max_line_size = 16, .max_event_size = 1024};
    const std::string ok_line = "data: 0123456789";  // exactly 16 bytes
    auto r = parse_every_way(ok_line + "\n\n", lim);
    CHECK_FALSE(r.error);
    CHECK(r.events.size() == 1);

    r = parse_every_way("data: a\n\n" + ok_line + "X\n\ndata: b\n\n", lim);
    CHECK(r.error == errc::line_too_long);
    CHECK(r.events == std::vector<recorded_event>{{"message", "a", ""}});
    // A comment line counts too; so does a line that never ends.
    CHECK(parse_every_way(":" + std::string(16, 'c') + "\n", lim).error == errc::line_too_long);
    CHECK(parse_every_way(std::string(17, 'x'), lim).error == errc::line_too_long);
}

TEST_CASE("an event over the limit fails with event_too_large", "[sse][limits]") {
    const limits lim{.max_line_size = 64, .max_event_size = 10};
    CHECK_FALSE(parse_every_way("data: 01234\ndata: 5678\n\n", lim).error);  // 5 + 1 + 4 = 10
    auto r = parse_every_way("data: 01234\ndata: 56789\n\ndata: z\n\n", lim);
    CHECK(r.error == errc::event_too_large);
    CHECK(r.events.empty());
}

TEST_CASE("after an error the parser keeps failing until reset", "[sse][limits]") {
    parser p({.max_line_size = 8, .max_event_size = 8});
    int events = 0;
    auto count = [&](const auto&) { ++events; };
    CHECK(p.feed("data: too long\n\n", count) == errc::line_too_long);
    CHECK(p.feed("data: a\n\n", count) == errc::line_too_long);
    CHECK(events == 0);
    p.reset();
    CHECK_FALSE(p.feed("data: a\n\n", count));
    CHECK(events == 1);
}

TEST_CASE("reset forgets the id, retry and a partial line", "[sse]") {
    parser p;
    auto ignore = [](const auto&) {};
    CHECK_FALSE(p.feed("id: 4\nretry: 5\n\ndata: par", ignore));
    CHECK(p.last_event_id() == "4");
    CHECK(p.retry());
    CHECK(p.has_partial_event());
    p.reset();
    CHECK(p.last_event_id().empty());
    CHECK_FALSE(p.retry());
    CHECK_FALSE(p.has_partial_event());
    std::vector<std::string> data;
    CHECK_FALSE(p.feed("\xEF\xBB\xBF" "data: x\n\n", [&](const auto& e) { data.emplace_back(e.data); }));
    CHECK(data == std::vector<std::string>{"x"});  // a BOM is skipped again after reset
}

TEST_CASE("reset inside a callback starts a new stream with the rest of the chunk", "[sse]") {
    parser p;
    std::vector<std::string> seen;
    bool first = true;
    CHECK_FALSE(p.feed("id: 7\ndata: a\n\n\xEF\xBB\xBF" "event: e\ndata: b\n\ndata: c\n\n", [&](const auto& e) {
        seen.push_back(std::string(e.type) + "/" + std::string(e.data) + "/" + std::string(e.id));
        if (first) p.reset();  // the ID is forgotten, and the BOM starts the new stream
        first = false;
    }));
    CHECK(seen == std::vector<std::string>{"message/a/7", "e/b/", "message/c/"});
    CHECK(p.last_event_id().empty());
}

TEST_CASE("reset inside a comment callback starts a new stream with the rest of the chunk", "[sse]") {
    parser p;
    std::vector<std::string> seen;
    CHECK_FALSE(p.feed(
        "id: 7\nevent: e\ndata: a\n:stop\r\n\xEF\xBB\xBF" "data: b\n\n",
        [&](const auto& e) { seen.push_back(std::string(e.type) + "/" + std::string(e.data) + "/" + std::string(e.id)); },
        [&](std::string_view c) {
            seen.emplace_back(c);
            p.reset();  // the ID, type and data so far are forgotten; the BOM starts the new stream
        }));
    CHECK(seen == std::vector<std::string>{"stop", "message/b/"});
    CHECK(p.last_event_id().empty());
}

TEST_CASE("after a callback throws, the last event ID no longer depends on the chunk", "[sse]") {
    // The ID, type and data of an event are views of the chunk while it lasts: an exception
    // leaving feed must not leave last_event_id() pointing into the caller's buffer.
    for (const bool from_comment : {false, true}) {
        INFO("thrown from the " << (from_comment ? "comment" : "event") << " callback");
        parser p;
        std::string chunk = "id: 41\ndata: a\n\nid: 42\nevent: e\n:x\ndata: b\n\n";
        auto on_event = [&](const llmstream::sse::event& e) {
            if (!from_comment && e.data == "b") throw std::runtime_error("from on_event");
        };
        auto on_comment = [&](std::string_view) {
            if (from_comment) throw std::runtime_error("from on_comment");
        };
        CHECK_THROWS_AS(p.feed(chunk, on_event, on_comment), std::runtime_error);
        chunk.assign(chunk.size(), 'z');
        CHECK(p.last_event_id() == (from_comment ? "41" : "42"));
        if (!from_comment) {  // the event handed out is done with: nothing of it is left over
            std::vector<std::string> data;
            CHECK_FALSE(p.feed("data: next\n\n", [&](const llmstream::sse::event& e) { data.emplace_back(e.data); }));
            CHECK(data == std::vector<std::string>{"next"});
        }
    }
}

TEST_CASE("the last event ID and a partial event's type outlive the chunk they came in", "[sse]") {
    parser p;
    std::vector<recorded_event> events;
    auto on_event = [&](const llmstream::sse::event& e) {
        events.push_back({std::string(e.type), std::string(e.data), std::string(e.id)});
    };
    std::string chunk = "id: 1\ndata: a\n\nid: 2\nevent: later\ndata: b\n";
    CHECK_FALSE(p.feed(chunk, on_event));
    chunk.assign(chunk.size(), 'z');
    CHECK(p.last_event_id() == "1");
    chunk.assign(1, '\n');  // (assigning "\n" trips GCC 12's -O3 -Wstringop-overflow, a false positive)
    CHECK_FALSE(p.feed(chunk, on_event));
    CHECK(events == std::vector<recorded_event>{{"message", "a", "1"}, {"later", "b", "2"}});
    CHECK(p.last_event_id() == "2");
}

namespace {
std::vector<std::string> seen_by_functions;
void record_event(const llmstream::sse::event& e) { seen_by_functions.emplace_back(e.data); }
void record_comment(std::string_view c) {
    std::string line(1, ':');
    line.append(c);  // (":" + std::string(c) trips GCC 12's -O3 -Wstringop-overflow, a false positive)
    seen_by_functions.push_back(std::move(line));
}
}  // namespace

TEST_CASE("plain functions and const function objects work as callbacks", "[sse]") {
    parser p;
    seen_by_functions.clear();
    CHECK_FALSE(p.feed("data: a\n\n", record_event));
    CHECK_FALSE(p.feed(":c\ndata: b\n\n", record_event, record_comment));
    const auto counted = [](const llmstream::sse::event& e) { seen_by_functions.push_back("const " + std::string(e.data)); };
    CHECK_FALSE(p.feed("data: d\n\n", counted));
    CHECK(seen_by_functions == std::vector<std::string>{"a", ":c", "b", "const d"});
}

TEST_CASE("zero limits are rejected", "[sse][limits]") {
    CHECK_THROWS_AS(parser(limits{.max_line_size = 0}), std::invalid_argument);
    CHECK_THROWS_AS(parser(limits{.max_event_size = 0}), std::invalid_argument);
}

TEST_CASE("a one-line event inside one chunk is handed out as a view of the input", "[sse][zero-copy]") {
    const std::string chunk = "data: {\"x\":1}\n\ndata: a\ndata: b\n\n";
    parser p;
    std::vector<bool> points_into_chunk;
    CHECK_FALSE(p.feed(chunk, [&](const auto& e) {
        points_into_chunk.push_back(e.data.data() >= chunk.data() && e.data.data() < chunk.data() + chunk.size());
    }));
    CHECK(points_into_chunk == std::vector<bool>{true, false});
}

TEST_CASE("the WHATWG examples parse as the standard says", "[sse]") {
    CHECK(events_of(": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n") ==
          std::vector<recorded_event>{{"message", "first event", "1"}, {"message", "second event", ""}});
    CHECK(events_of("data\n\ndata\ndata\n\ndata:") ==
          std::vector<recorded_event>{{"message", "", ""}, {"message", "\n", ""}});
    CHECK(events_of("data:test\n\ndata: test\n\n") ==
          std::vector<recorded_event>{{"message", "test", ""}, {"message", "test", ""}});
}

TEST_CASE("random streams agree with the reference for random chunkings", "[sse][random]") {
    std::mt19937 rng(20261125);
    const std::vector<std::string> atoms{"data", "event", "id", "retry", ":", " ", "\n", "\r", "\r\n", "x",
                                         "12", "\xE4\xBD\xA0", "\xFF", "\xE4", "\0"s, "\xEF\xBB\xBF", "data: y\n\n"};
    for (int round = 0; round < 2000; ++round) {
        std::string input;
        const int n = std::uniform_int_distribution<int>(0, 40)(rng);
        for (int i = 0; i < n; ++i) input += atoms[std::uniform_int_distribution<std::size_t>(0, atoms.size() - 1)(rng)];
        std::vector<std::size_t> cuts;
        for (std::size_t i = 1; i < input.size(); ++i)
            if (rng() % 3 == 0) cuts.push_back(i);
        INFO("round " << round);
        same_as_reference(input, cuts);
    }
}

// The block scanners (portable and AVX2) against a byte-by-byte reference, on random buffers
// of every length up to 300 with CR, LF and non-ASCII bytes at random places, from every kind
// of start offset.
#include "sse/line_scan.hpp"

#if defined(LLMSTREAM_HAS_AVX2_PATHS)
TEST_CASE("LLMSTREAM_DISABLE_AVX2 selects the SSE2 paths", "[sse]") {
    // scripts/test runs the unit tests once more with it set: they must then take the SSE2 paths.
    const char* off = std::getenv("LLMSTREAM_DISABLE_AVX2");
    const bool disabled = off != nullptr && *off != '\0' && std::string_view(off) != "0";
    const bool cpu = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("popcnt");
    CHECK(llmstream::detail::cpu_has_avx2 == (cpu && !disabled));
}
#endif

TEST_CASE("block scanners find the first block with a CR or LF and note non-ASCII bytes", "[sse]") {
    using namespace llmstream::sse::detail;
    std::mt19937 rng(7);
    std::string buf;
    [[maybe_unused]] int checked_avx2 = 0;
    for (int round = 0; round < 20000; ++round) {
        const std::size_t n = 1 + rng() % 300;
        buf.assign(n, 'a');
        const int specials = static_cast<int>(rng() % 7);
        for (int k = 0; k < specials; ++k) {
            static constexpr char kinds[] = {'\n', '\r', '\x80', '\xE4', '\xFF', '"', '\0'};
            buf[rng() % n] = kinds[rng() % sizeof kinds];
        }
        const char* const begin = buf.data();
        const char* const end = begin + n;
        // Expected: the block (64-byte steps from begin) holding the first CR or LF, else the
        // last block; its masks over the bytes before end; any non-ASCII byte in earlier blocks.
        std::size_t first_eol = n;
        for (std::size_t i = 0; i < n; ++i)
            if (buf[i] == '\n' || buf[i] == '\r') {
                first_eol = i;
                break;
            }
        const std::size_t block = first_eol < n ? first_eol / 64 * 64 : (n - 1) / 64 * 64;
        block_masks want{0, 0};
        const char* first_high = nullptr;
        const char* last_high = nullptr;
        for (std::size_t i = 0; i < n; ++i) {
            const auto c = static_cast<unsigned char>(buf[i]);
            if (i < block && c >= 0x80) {
                if (first_high == nullptr) first_high = begin + i;
                last_high = begin + i;
            }
            if (i >= block && i < block + 64) {
                want.eol |= std::uint64_t{c == '\n' || c == '\r'} << (i - block);
                want.high |= std::uint64_t{c >= 0x80} << (i - block);
            }
        }
        INFO("n=" << n << " round=" << round);
        auto check = [&](const eol_block& got) {
            REQUIRE(got.at == begin + block);
            REQUIRE(got.masks.eol == want.eol);
            REQUIRE(got.masks.high == want.high);
            REQUIRE(got.first_high == first_high);
            REQUIRE(got.last_high == last_high);
        };
        check(find_eol_block(begin, end));
        check(find_eol_block_with<block_masks_baseline>(begin, end));
#if defined(LLMSTREAM_HAS_AVX2_PATHS)
        if (llmstream::detail::cpu_has_avx2) {
            check(find_eol_block_avx2(begin, end));
            ++checked_avx2;
        }
#endif
    }
#if defined(LLMSTREAM_HAS_AVX2_PATHS)
    if (llmstream::detail::cpu_has_avx2) CHECK(checked_avx2 == 20000);
#endif
}

TEST_CASE("random streams of long and short lines agree with the reference for random chunkings", "[sse][random]") {
    // Lines of 0 to 200 bytes, several per 64-byte block or spanning several blocks, so that
    // line ends are found in a block masked for an earlier line, at block edges and at chunk ends.
    std::mt19937 rng(20261126);
    const std::vector<std::string> starts{"data:", "data: ", "id:", "id: ", "event:", "event: ", ":", "retry:", "x:", ""};
    const std::vector<std::string> ends{"\n", "\r", "\r\n", "\n\n", "\r\n\r\n"};
    for (int round = 0; round < 3000; ++round) {
        std::string input;
        const int lines = std::uniform_int_distribution<int>(0, 30)(rng);
        for (int i = 0; i < lines; ++i) {
            input += starts[rng() % starts.size()];
            const std::size_t length = rng() % 4 == 0 ? rng() % 200 : rng() % 12;
            for (std::size_t k = 0; k < length; ++k) {
                const unsigned r = rng() % 40;
                input += r == 0 ? "\xE4\xBD\xA0" : r == 1 ? "\xFF" : r == 2 ? "\x80" : std::string(1, static_cast<char>('a' + r % 26));
            }
            input += ends[rng() % ends.size()];
        }
        std::vector<std::size_t> cuts;
        for (std::size_t i = 1; i < input.size(); ++i)
            if (rng() % 40 == 0) cuts.push_back(i);
        INFO("round " << round);
        same_as_reference(input, cuts);
    }
}

// Short spans are validated byte by byte, longer ones by simdjson: both must agree with simdjson
// on every string of one or two bytes, and on random strings of valid and broken sequences
// (overlong forms, surrogates, values past U+10FFFF, cut and stray continuation bytes).
#include "sse/utf8.hpp"

#include <simdjson.h>

TEST_CASE("UTF-8 validation of short spans agrees with simdjson", "[sse][utf8]") {
    using llmstream::sse::detail::is_valid_utf8;
    auto same = [](const std::string& s) {
        INFO("bytes " << s.size());
        REQUIRE(is_valid_utf8(s) == simdjson::validate_utf8(s.data(), s.size()));
    };
    std::string s;
    for (int a = 0; a < 256; ++a) {
        same(std::string(1, static_cast<char>(a)));
        for (int b = 0; b < 256; ++b) same({static_cast<char>(a), static_cast<char>(b)});
    }
    // Every string of 3 and 4 bytes drawn from the bytes at the edges of the table's ranges.
    const std::string edges = "\x00\x7F\x80\x8F\x90\x9F\xA0\xBF\xC0\xC1\xC2\xDF\xE0\xE1\xEC\xED\xEE\xEF\xF0\xF1\xF3\xF4\xF5\xFF"s;
    std::size_t disagreements = 0, edge_strings = 0;
    std::string first_disagreement;
    for (const char a : edges)
        for (const char b : edges)
            for (const char c : edges)
                for (int d = -1; d < static_cast<int>(edges.size()); ++d) {
                    s = {a, b, c};
                    if (d >= 0) s.push_back(edges[static_cast<std::size_t>(d)]);
                    ++edge_strings;
                    if (is_valid_utf8(s) != simdjson::validate_utf8(s.data(), s.size()) && disagreements++ == 0)
                        first_disagreement = s;
                }
    INFO("first disagreement, as bytes: " << [&] {
        std::string hex;
        for (const char c : first_disagreement) hex += std::to_string(static_cast<unsigned char>(c)) + " ";
        return hex;
    }());
    CHECK(edge_strings == 24u * 24u * 24u * 25u);
    REQUIRE(disagreements == 0);
    const std::vector<std::string> pieces{"a", "\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xE0\x9F\xBF", "\xED\x9F\xBF",
                                          "\xED\xA0\x80", "\xEF\xBF\xBF", "\xF0\x90\x80\x80", "\xF0\x8F\xBF\xBF",
                                          "\xF4\x8F\xBF\xBF", "\xF4\x90\x80\x80", "\xC0\x80", "\xC1\xBF", "\xF5\x80\x80\x80",
                                          "\x80", "\xBF", "\xE4\xBD", "\xF0\x9F\x98", "\xE4\xBD\xA0", "\xFF"};
    std::mt19937 rng(11);
    int valid = 0;
    for (int round = 0; round < 50000; ++round) {
        s.clear();
        const int n = static_cast<int>(rng() % 12);
        for (int i = 0; i < n; ++i) s += pieces[rng() % pieces.size()];
        same(s);
        valid += simdjson::validate_utf8(s.data(), s.size()) ? 1 : 0;
    }
    CHECK(valid > 1000);  // both outcomes were exercised
}

#include "sse/parser_core.hpp"

TEST_CASE("parser_core's event shortcut is offered the bytes at event boundaries only, within the limits") {
    llmstream::sse::detail::parser_core p({.max_line_size = 64, .max_event_size = 32});
    std::vector<std::string> offered, events;
    // Takes every event that starts with "data: take" (through its blank line).
    const auto shortcut = [&](std::string_view rest) -> std::size_t {
        offered.emplace_back(rest);
        if (rest.substr(0, 10) != "data: take") return 0;
        const auto blank = rest.find("\n\n");
        return blank == std::string_view::npos ? 0 : blank + 2;
    };
    const std::string stream = "id: 1\ndata: a\n\n: note\ndata: take 1\n\ndata: b\ndata: take 2\n\n"
                               "data: take 3, much longer than the limits allow for an event\n\n";
    const auto ec = p.feed(stream, [&](const llmstream::sse::event& e) { events.emplace_back(e.data); }, [](std::string_view) {}, shortcut);
    CHECK(ec == errc::event_too_large);  // the long event was parsed as usual, and broke the limit
    CHECK(events == std::vector<std::string>{"a", "b\ntake 2"});
    REQUIRE(offered.size() == 5);
    CHECK(offered[0].substr(0, 6) == "id: 1\n");
    CHECK(offered[1].substr(0, 7) == ": note\n");  // a comment is no field: still a boundary
    CHECK(offered[2].substr(0, 15) == "data: take 1\n\nd");
    CHECK(offered[3].substr(0, 8) == "data: b\n");  // "data: take 2" is inside that event: not offered
    CHECK(offered[4].size() == 32);                 // min(max_line_size, max_event_size)
    CHECK(p.last_event_id() == "1");                // a taken event has no id line: the last ID stays
}
