// Base URLs into origins: what is accepted, how each part is read, and what is refused.
#include "http/origin.hpp"

#include <llmstream/error.hpp>

#include <catch2/catch.hpp>

using namespace llmstream;
using namespace llmstream::http;

TEST_CASE("base URLs give scheme, host, port, Host header and path prefix", "[origin]") {
    origin o;
    REQUIRE_FALSE(parse_origin("https://dashscope-intl.aliyuncs.com/compatible-mode/v1/", o));
    CHECK(o.tls);
    CHECK(o.host == "dashscope-intl.aliyuncs.com");
    CHECK(o.port == "443");
    CHECK(o.host_header == "dashscope-intl.aliyuncs.com");
    CHECK(o.path_prefix == "/compatible-mode/v1");

    REQUIRE_FALSE(parse_origin("http://127.0.0.1:8080", o));
    CHECK_FALSE(o.tls);
    CHECK(o.host == "127.0.0.1");
    CHECK(o.port == "8080");
    CHECK(o.host_header == "127.0.0.1:8080");
    CHECK(o.path_prefix.empty());

    REQUIRE_FALSE(parse_origin("http://[::1]:9/v1", o));
    CHECK(o.host == "::1");
    CHECK(o.host_header == "[::1]:9");

    REQUIRE_FALSE(parse_origin("http://local_server/v1", o));
    CHECK(o.host == "local_server");
}

TEST_CASE("base URLs that are not http(s)://host[:port][/path] are refused", "[origin]") {
    origin o;
    for (const char* bad : {"", "api.openai.com/v1", "ftp://example.com", "https://", "https://user:pw@example.com",
                            "https://example.com/v1?x=1", "https://example.com/v1#f"}) {
        INFO(bad);
        CHECK(parse_origin(bad, o) == make_error_code(errc::invalid_base_url));
    }
}

TEST_CASE("a host that percent-decodes to a header line or a space is refused", "[origin]") {
    // The decoded host goes into DNS, SNI and a proxy's CONNECT line: CR/LF there would add a line.
    origin o;
    for (const char* bad : {"https://evil%0d%0aX-Injected:%201.example/v1", "https://a%20b.example/v1",
                            "https://example%2ecom/v1", "http://ex!ample.com/"}) {
        INFO(bad);
        CHECK(parse_origin(bad, o) == make_error_code(errc::invalid_base_url));
        CHECK(o.host.empty());
    }
}
