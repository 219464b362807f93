// JSON string decoding dense in escapes: json_cursor::read_string (which hands over to the AVX2
// block decoder at its first backslash on CPUs that have it) against Boost.JSON, on strings built
// so that escapes, runs of backslashes and multi-byte characters fall on every position of a
// 32-byte block, and the same strings made invalid in the ways a hostile server would.
#include "protocol/json_cursor.hpp"
#include "protocol/json_unescape.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

using llmstream::protocol::cursor_buffer;
using llmstream::protocol::json_cursor;

namespace {

// Pieces a string body is made of; each is complete, so any concatenation is a valid body.
const std::vector<std::string> pieces = {
    "a", "bc", "\xC3\xA9", "\xE5\x80\xBC", "\xF0\x9F\x98\x80",                 // plain, 2-, 3-, 4-byte
    "\\n", "\\t", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\r",                     // one-letter escapes
    "\\\\\\\\", "\\\\\\\"", "\\\\n", "\\\\\\n",                                  // runs of backslashes
    "\\u00e9", "\\u4E2D", "\\ud83d\\ude00", "\\u0041", "\\u005C",                 // \u escapes
};

std::string make_body(std::mt19937& rng, bool with_unicode_escapes) {
    std::string body;
    const std::size_t target = rng() % 300;
    while (body.size() < target) {
        if (rng() % 4 == 0) body.append(rng() % 40, 'x');  // shifts everything after it in the block
        const std::string& p = pieces[rng() % pieces.size()];
        if (!with_unicode_escapes && p.rfind("\\u", 0) == 0) continue;
        body += p;
    }
    return body;
}

bool cursor_read(const std::string& doc, std::string& out) {
    cursor_buffer buffer;
    json_cursor c(buffer, doc);
    return c.read_string(out) && c.at_end();
}

}  // namespace

TEST_CASE("json strings with dense escapes decode exactly as Boost.JSON decodes them", "[json][unescape]") {
    std::mt19937 rng(20261125);
    for (int round = 0; round < 20000; ++round) {
        const std::string doc = "\"" + make_body(rng, round % 2 == 0) + "\"";
        INFO("round " << round << ": " << doc);
        const boost::json::string want = boost::json::parse(doc).as_string();
        std::string got = "stale";
        REQUIRE(cursor_read(doc, got));
        REQUIRE(got == std::string_view(want.data(), want.size()));
    }
}

TEST_CASE("json strings made invalid anywhere are rejected", "[json][unescape]") {
    const std::vector<std::string> poisons = {std::string("\x01", 1), "\x1F", "\\x", "\\u12G4", "\\uZ", "\\ ", "\\\x01",
                                              std::string("\0", 1)};
    std::mt19937 rng(7);
    for (int round = 0; round < 20000; ++round) {
        std::string body = make_body(rng, round % 2 == 0);
        // Insert at a piece boundary found by re-parsing is awkward; instead cut the body at a point
        // where the text before it decodes on its own (Boost.JSON says so), then poison there.
        std::size_t cut = body.empty() ? 0 : rng() % (body.size() + 1);
        while (cut > 0) {
            boost::system::error_code ec;
            boost::json::parse("\"" + body.substr(0, cut) + "\"", ec);
            if (!ec) break;
            --cut;
        }
        const std::string& poison = poisons[rng() % poisons.size()];
        const std::string doc = "\"" + body.substr(0, cut) + poison + body.substr(cut) + "\"";
        INFO("round " << round << ": " << doc);
        boost::system::error_code ec;
        boost::json::parse(doc, ec);
        REQUIRE(ec);  // the poison really makes it invalid
        std::string got;
        REQUIRE_FALSE(cursor_read(doc, got));
    }
    // A string cut off inside an escape or before its closing quote.
    std::string got;
    CHECK_FALSE(cursor_read("\"abc\\", got));
    CHECK_FALSE(cursor_read("\"abc\\n", got));
    CHECK_FALSE(cursor_read("\"" + std::string(31, 'a') + "\\", got));
    CHECK_FALSE(cursor_read("\"" + std::string(31, 'a') + "\\\"", got));
}

#if defined(LLMSTREAM_HAS_AVX2_PATHS)
TEST_CASE("the AVX2 block decoder stops where it must and decodes what it took", "[json][unescape]") {
    if (!llmstream::detail::cpu_has_avx2) {
        SUCCEED("this CPU has no AVX2; json_cursor uses its one-escape-per-step path");
        return;
    }
    using llmstream::protocol::detail::unescape_avx2;
    std::mt19937 rng(42);
    for (int round = 0; round < 20000; ++round) {
        const std::string body = make_body(rng, round % 2 == 0);
        // The decoder stops at the first \u escape (left to json_cursor) or at the closing quote.
        std::size_t stop = body.size();
        for (std::size_t i = 0; i + 1 < body.size(); ++i) {
            if (body[i] != '\\') continue;
            if (body[i + 1] == 'u') {
                stop = i;
                break;
            }
            ++i;  // skip the escaped byte
        }
        std::string padded = body + "\"";
        padded.append(64, '\0');
        std::string out(body.size() + 64, '?');
        const auto r = unescape_avx2(padded.data(), out.data());
        INFO("round " << round << ": " << body);
        REQUIRE(static_cast<std::size_t>(r.src - padded.data()) == stop);
        const boost::json::string want = boost::json::parse("\"" + body.substr(0, stop) + "\"").as_string();
        REQUIRE(std::string_view(out.data(), static_cast<std::size_t>(r.dst - out.data())) ==
                std::string_view(want.data(), want.size()));
    }
}
#endif
