#include <llmstream/error.hpp>

#include <catch2/catch.hpp>

TEST_CASE("library error codes have their own category and a message naming the limit", "[error]") {
    const boost::system::error_code ec = llmstream::errc::line_too_long;
    CHECK(std::string(ec.category().name()) == "llmstream");
    CHECK(ec.message().find("max_line_size") != std::string::npos);
    CHECK(ec == llmstream::errc::line_too_long);
    CHECK(ec != llmstream::errc::event_too_large);
    const boost::system::error_code big = llmstream::errc::event_too_large;
    CHECK(big.message().find("max_event_size") != std::string::npos);
}
