// JSON string decoding dense in escapes: json_cursor::read_string (which hands over to the AVX2
// block decoder at its first backslash on CPUs that have it) against Boost.JSON, on strings built
// so that escapes, runs of backslashes and multi-byte characters fall on every position of a
// 32-byte block, and the same strings made invalid in the ways a hostile server would.
#include "json/cursor.hpp"
#include "json/unescape.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using llmstream::json::cursor_buffer;
using llmstream::json::json_cursor;

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

// `"\"" + body + "\""` would do, but GCC 12 at -O3 warns about it (-Wrestrict and
// -Wstringop-overflow false positives inside basic_string::insert).
std::string quoted(std::string_view body, std::string_view tail = {}) {
    std::string doc;
    doc.reserve(body.size() + tail.size() + 2);
    doc += '"';
    doc += body;
    doc += '"';
    doc += tail;
    return doc;
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
        const std::string doc = quoted(make_body(rng, round % 2 == 0));
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
            boost::json::parse(quoted(std::string_view(body).substr(0, cut)), ec);
            if (!ec) break;
            --cut;
        }
        const std::string& poison = poisons[rng() % poisons.size()];
        const std::string doc = quoted(body.substr(0, cut) + poison + body.substr(cut));
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
    const std::string a31(31, 'a');  // long enough for the block decoder to take part
    CHECK_FALSE(cursor_read("\"" + a31 + "\\", got));
    CHECK_FALSE(cursor_read("\"" + a31 + "\\\"", got));
}

#if defined(LLMSTREAM_HAS_AVX2_PATHS)
TEST_CASE("the AVX2 block decoder stops where it must and decodes what it took", "[json][unescape]") {
    if (!llmstream::detail::cpu_has_avx2) {
        SUCCEED("this CPU has no AVX2; json_cursor uses its one-escape-per-step path");
        return;
    }
    using llmstream::json::detail::unescape_avx2;
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
        // Exactly as large as the input: the decoder writes nothing at or past dst + (src_end - src).
        std::vector<char> out(padded.size(), '?');
        const auto r = unescape_avx2(padded.data(), padded.data() + padded.size(), out.data());
        INFO("round " << round << ": " << body);
        REQUIRE(static_cast<std::size_t>(r.src - padded.data()) == stop);
        const boost::json::string want = boost::json::parse(quoted(std::string_view(body).substr(0, stop))).as_string();
        REQUIRE(std::string_view(out.data(), static_cast<std::size_t>(r.dst - out.data())) ==
                std::string_view(want.data(), want.size()));

        // With a read limit: it stops earlier, where fewer than 32 bytes remain, never inside an
        // escape, having decoded exactly what it took.
        const std::size_t limit = rng() % (padded.size() + 1);
        const auto cut = unescape_avx2(padded.data(), padded.data() + limit, out.data());
        const auto took = static_cast<std::size_t>(cut.src - padded.data());
        INFO("took " << took << " of " << stop << ", limit " << limit);
        REQUIRE(took <= stop);
        if (took < stop) REQUIRE(limit - took < 32);
        // The cut may split a multi-byte character (its bytes are copied as they are): compare
        // up to the end of that character.
        std::size_t whole = took;
        while (whole < body.size() && (static_cast<unsigned char>(body[whole]) & 0xC0) == 0x80) ++whole;
        const boost::json::string part = boost::json::parse(quoted(std::string_view(body).substr(0, whole))).as_string();
        REQUIRE(std::string(out.data(), static_cast<std::size_t>(cut.dst - out.data())) + body.substr(took, whole - took) ==
                std::string_view(part.data(), part.size()));
    }
}
#endif

// Reading in place (prefix replay reads an event's text where the SSE parser left it): the
// document sits in a heap block of exactly its size, so that a sanitizer build catches any read
// past it. Valid strings followed by tails of every length decode as Boost.JSON decodes them, or
// report near_end only when the closing quote is within 16 bytes of the end; poisoned and cut
// ones are never ok.
TEST_CASE("json strings read in place never read past the document and agree with a loaded read", "[json][unescape]") {
    std::mt19937 rng(20261126);
    cursor_buffer buffer;
    int ok = 0, near_end = 0, malformed = 0;
    const std::vector<std::string> poisons = {std::string("\x01", 1), "\\x", "\\u12G4", "\\ud800x", ""};
    for (int round = 0; round < 20000; ++round) {
        std::string body = make_body(rng, round % 2 == 0);
        const std::string& poison = poisons[rng() % poisons.size()];
        if (!poison.empty()) body.insert(body.size() / 2 * (rng() % 2), poison);
        const std::string tail = std::string(rng() % 40, ' ') + (rng() % 2 ? "}" : "");
        std::string text = quoted(body, tail);
        if (rng() % 4 == 0) text.resize(1 + rng() % text.size());  // cut anywhere, inside escapes too
        const auto exact = std::make_unique<char[]>(text.size());
        std::memcpy(exact.get(), text.data(), text.size());
        const std::string_view doc(exact.get(), text.size());

        std::string got = "stale";
        const auto r = json_cursor::read_string_in_place(doc, buffer.scratch_for(doc.size()), got);
        std::string want;
        json_cursor loaded(buffer, doc);
        const bool valid = loaded.read_string(want);
        INFO("round " << round << ": " << text);
        if (valid) {
            // In place gives up on valid text only near the end: the closing quote less than 16
            // bytes before it.
            const std::size_t quote = loaded.offset() - 1;
            if (doc.size() - quote >= 16) REQUIRE(r.outcome == json_cursor::in_place_string::ok);
            else REQUIRE(r.outcome != json_cursor::in_place_string::malformed);
        } else {
            REQUIRE(r.outcome != json_cursor::in_place_string::ok);
        }
        if (r.outcome == json_cursor::in_place_string::ok) {
            ++ok;
            REQUIRE(r.end == loaded.offset());
            REQUIRE(got == "stale" + want);  // appended
        }
        near_end += r.outcome == json_cursor::in_place_string::near_end ? 1 : 0;
        malformed += r.outcome == json_cursor::in_place_string::malformed ? 1 : 0;
    }
    CHECK(ok > 2000);
    CHECK(near_end > 500);
    CHECK(malformed > 500);
}
