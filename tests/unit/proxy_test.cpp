// The sans-IO proxy logic: proxy URLs, the choice between configuration and environment (curl's
// rules), NO_PROXY matching, the CONNECT request bytes and the reply parser, the latter fed whole,
// at every split point and byte by byte.
#include "http/proxy.hpp"

#include <llmstream/error.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <string>

using namespace llmstream;
using namespace llmstream::http;

namespace {

// A fake environment: unset unless listed.
struct fake_env {
    std::map<std::string, std::string> vars;
    env_lookup lookup() const {
        return [this](const char* name) -> const char* {
            const auto it = vars.find(name);
            return it == vars.end() ? nullptr : it->second.c_str();
        };
    }
};

struct choice {
    boost::system::error_code ec;
    std::optional<proxy_endpoint> proxy;
    std::string reason;
};

choice choose(bool tls, std::string_view host, const fake_env& env, proxy_settings settings = {},
              std::string_view port = "") {
    choice c;
    if (port.empty()) port = tls ? "443" : "80";
    c.ec = choose_proxy(tls, host, port, settings, env.lookup(), c.proxy, c.reason);
    return c;
}

struct reply_outcome {
    connect_reply::state st = connect_reply::state::need_more;
    int status = 0;
    std::string reason;
    std::size_t consumed = 0;  // summed over every feed
    bool operator==(const reply_outcome&) const = default;
};

// Feeds `input` in pieces of the given sizes (the last one repeated; empty: all at once).
reply_outcome feed_reply(std::string_view input, std::vector<std::size_t> pieces, connect_reply::limits l = {}) {
    connect_reply reply(l);
    reply_outcome o;
    std::size_t at = 0, k = 0;
    do {
        const std::size_t n = pieces.empty() ? input.size() : pieces[std::min(k++, pieces.size() - 1)];
        const std::string_view piece = input.substr(at, n);
        at += piece.size();
        const auto r = reply.feed(piece);
        o.consumed += r.consumed;
        o.st = r.st;
        REQUIRE(r.consumed <= piece.size());
        if (r.st != connect_reply::state::need_more) break;
        REQUIRE(r.consumed == piece.size());  // buffered, all of it
    } while (at < input.size());
    if (o.st == connect_reply::state::invalid) o.consumed = 0;  // what came before is of no use
    o.status = reply.status();
    o.reason = reply.reason();
    return o;
}

// The same outcome however the bytes are split.
reply_outcome feed_every_way(std::string_view input, connect_reply::limits l = {}) {
    const reply_outcome whole = feed_reply(input, {}, l);
    for (std::size_t split = 1; split < input.size(); ++split) {
        INFO("split at " << split);
        REQUIRE(feed_reply(input, {split, input.size()}, l) == whole);
    }
    REQUIRE(feed_reply(input, {1}, l) == whole);
    return whole;
}

}  // namespace

TEST_CASE("proxy URLs that are accepted", "[proxy]") {
    proxy_endpoint p;

    REQUIRE_FALSE(parse_proxy_url("http://proxy.example:3128", p));
    CHECK(p.host == "proxy.example");
    CHECK(p.port == "3128");
    CHECK(p.username.empty());
    CHECK(p.password.empty());
    CHECK(p.source.empty());
    CHECK(p.display() == "proxy.example:3128");

    REQUIRE_FALSE(parse_proxy_url("http://proxy.example", p));
    CHECK(p.port == "80");  // curl's default for http://
    REQUIRE_FALSE(parse_proxy_url("http://proxy.example/", p));
    CHECK(p.display() == "proxy.example:80");
    REQUIRE_FALSE(parse_proxy_url("HTTP://proxy.example:8080", p));
    CHECK(p.port == "8080");

    // No scheme: http://, as curl does.
    REQUIRE_FALSE(parse_proxy_url("proxy.example:3128", p));
    CHECK(p.host == "proxy.example");
    CHECK(p.port == "3128");
    REQUIRE_FALSE(parse_proxy_url("localhost", p));
    CHECK(p.display() == "localhost:80");
    REQUIRE_FALSE(parse_proxy_url("bob:pw@localhost:8888", p));
    CHECK(p.username == "bob");
    CHECK(p.password == "pw");

    // Userinfo is percent-decoded.
    REQUIRE_FALSE(parse_proxy_url("http://us%20er:pa%40ss%3Aw%2Fd%25@proxy:3128", p));
    CHECK(p.username == "us er");
    CHECK(p.password == "pa@ss:w/d%");
    REQUIRE_FALSE(parse_proxy_url("http://user@proxy", p));
    CHECK(p.username == "user");
    CHECK(p.password.empty());
    REQUIRE_FALSE(parse_proxy_url("http://user:@proxy", p));
    CHECK(p.username == "user");
    REQUIRE_FALSE(parse_proxy_url("http://@proxy", p));
    CHECK(p.username.empty());

    REQUIRE_FALSE(parse_proxy_url("http://[::1]:3128", p));
    CHECK(p.host == "::1");
    CHECK(p.display() == "[::1]:3128");
    REQUIRE_FALSE(parse_proxy_url("[fe80::1]", p));
    CHECK(p.display() == "[fe80::1]:80");
    REQUIRE_FALSE(parse_proxy_url("http://10.0.0.1:08080", p));
    CHECK(p.host == "10.0.0.1");
    CHECK(p.port == "8080");
    REQUIRE_FALSE(parse_proxy_url("http://proxy_1.corp-net.example.:1", p));
    CHECK(p.port == "1");
    REQUIRE_FALSE(parse_proxy_url("http://proxy:65535", p));
}

TEST_CASE("proxy URLs that are refused", "[proxy]") {
    for (const char* url : {
             "", "http://", "http://:3128", "https://proxy:443", "socks5://proxy:1080", "socks5h://proxy",
             "socks4://proxy", "ftp://proxy", "file:///tmp/x", "http://proxy:0", "http://proxy:65536",
             "http://proxy:99999999", "http://proxy:abc", "http://proxy:", "http://proxy:-1",
             "http://proxy/path", "http://proxy//", "http://proxy/?a=1", "http://proxy?x", "http://proxy#frag",
             "http://:pass@proxy",       // a password without a user name
             "http://us%3Aer:p@proxy",   // Basic cannot carry ':' in the user name
             "http://p@ss@proxy",        // '@' must be percent-encoded
             "http://pro xy", "http://proxy%0d%0aX-Evil:%201", "http://pro%00xy", "http://[::1", "http://[v7.x]",
             "http://proxy:80:80", "proxy:3128/x", "  ", "http:proxy",
         }) {
        INFO(url);
        proxy_endpoint p;
        p.host = "stale";
        CHECK(parse_proxy_url(url, p) == errc::invalid_proxy);
        CHECK(p.host.empty());  // reset on failure
    }
}

TEST_CASE("display() and reasons never show credentials", "[proxy]") {
    proxy_endpoint p;
    REQUIRE_FALSE(parse_proxy_url("http://alice:s3cr%65t@proxy.example:3128", p));
    CHECK(p.password == "s3cret");
    CHECK(p.display() == "proxy.example:3128");
    CHECK(p.display().find("s3cret") == std::string::npos);
    CHECK(p.display().find("alice") == std::string::npos);

    fake_env env;
    env.vars["HTTPS_PROXY"] = "http://alice:s3cret@proxy.example:3128";
    auto c = choose(true, "api.openai.com", env);
    REQUIRE(c.proxy);
    CHECK(c.reason == "HTTPS_PROXY is set");

    env.vars["HTTPS_PROXY"] = "socks5://alice:s3cret@proxy.example:1080";
    c = choose(true, "api.openai.com", env);
    CHECK(c.ec == errc::invalid_proxy);
    CHECK_FALSE(c.proxy);
    CHECK(c.reason.find("s3cret") == std::string::npos);
    CHECK(c.reason.find("alice") == std::string::npos);
    CHECK(c.reason.find("HTTPS_PROXY") != std::string::npos);
}

TEST_CASE("the environment: https origins", "[proxy]") {
    fake_env env;
    auto c = choose(true, "api.openai.com", env);
    CHECK_FALSE(c.ec);
    CHECK_FALSE(c.proxy);
    CHECK(c.reason == "no proxy variable is set");

    env.vars["HTTPS_PROXY"] = "http://upper:3128";
    c = choose(true, "api.openai.com", env);
    REQUIRE(c.proxy);
    CHECK(c.proxy->host == "upper");
    CHECK(c.proxy->source == "HTTPS_PROXY");
    CHECK(c.reason == "HTTPS_PROXY is set");

    env.vars["https_proxy"] = "http://lower:3128";
    c = choose(true, "api.openai.com", env);
    REQUIRE(c.proxy);
    CHECK(c.proxy->host == "lower");  // lower case wins, as in curl
    CHECK(c.proxy->source == "https_proxy");

    env.vars["https_proxy"] = "";  // empty counts as unset
    c = choose(true, "api.openai.com", env);
    REQUIRE(c.proxy);
    CHECK(c.proxy->host == "upper");

    // http_proxy and HTTP_PROXY never apply to https origins.
    fake_env http_only;
    http_only.vars["http_proxy"] = "http://p:1";
    http_only.vars["HTTP_PROXY"] = "http://p:1";
    c = choose(true, "api.openai.com", http_only);
    CHECK_FALSE(c.proxy);
    CHECK(c.reason == "no proxy variable is set");
}

TEST_CASE("the environment: http origins and HTTP_PROXY", "[proxy]") {
    fake_env env;
    env.vars["HTTPS_PROXY"] = "http://secure:3128";
    auto c = choose(false, "localhost", env, {}, "11434");
    CHECK_FALSE(c.ec);
    CHECK_FALSE(c.proxy);  // HTTPS_PROXY is for https origins only
    CHECK(c.reason == "no proxy variable is set");

    env.vars["HTTP_PROXY"] = "http://upper:3128";
    c = choose(false, "localhost", env, {}, "11434");
    REQUIRE(c.proxy);
    CHECK(c.proxy->host == "upper");
    CHECK(c.reason == "HTTP_PROXY is set");

    // Under CGI a request's "Proxy:" header becomes HTTP_PROXY (httpoxy): not trusted there.
    env.vars["REQUEST_METHOD"] = "GET";
    c = choose(false, "localhost", env, {}, "11434");
    CHECK_FALSE(c.proxy);
    CHECK(c.reason.find("HTTP_PROXY is ignored under CGI") != std::string::npos);

    env.vars["http_proxy"] = "http://lower:3128";  // the lower-case name is trusted, and wins anyway
    c = choose(false, "localhost", env, {}, "11434");
    REQUIRE(c.proxy);
    CHECK(c.proxy->host == "lower");
    CHECK(c.proxy->source == "http_proxy");
    CHECK(c.reason == "http_proxy is set");
    env.vars.erase("REQUEST_METHOD");
    c = choose(false, "localhost", env, {}, "11434");
    CHECK(c.proxy->host == "lower");
}

TEST_CASE("the environment: ALL_PROXY as the fallback", "[proxy]") {
    for (bool tls : {true, false}) {
        INFO("tls " << tls);
        fake_env env;
        env.vars["ALL_PROXY"] = "http://all-upper:1";
        auto c = choose(tls, "example.com", env);
        REQUIRE(c.proxy);
        CHECK(c.proxy->host == "all-upper");
        CHECK(c.reason == "ALL_PROXY is set");

        env.vars["all_proxy"] = "http://all-lower:1";
        c = choose(tls, "example.com", env);
        REQUIRE(c.proxy);
        CHECK(c.proxy->host == "all-lower");
        CHECK(c.proxy->source == "all_proxy");

        env.vars[tls ? "HTTPS_PROXY" : "http_proxy"] = "http://specific:1";
        c = choose(tls, "example.com", env);
        REQUIRE(c.proxy);
        CHECK(c.proxy->host == "specific");  // the scheme's own variable comes first

        fake_env empty;
        for (const char* n : {"https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"})
            empty.vars[n] = "";
        c = choose(tls, "example.com", empty);
        CHECK_FALSE(c.ec);
        CHECK_FALSE(c.proxy);
        CHECK(c.reason == "no proxy variable is set");
    }
}

TEST_CASE("an explicit proxy URL and from_environment", "[proxy]") {
    fake_env env;
    env.vars["HTTPS_PROXY"] = "http://from-env:1";
    env.vars["NO_PROXY"] = "api.openai.com";

    proxy_settings explicit_proxy;
    explicit_proxy.url = "http://configured:8080";
    auto c = choose(true, "api.anthropic.com", env, explicit_proxy);
    REQUIRE(c.proxy);
    CHECK(c.proxy->host == "configured");
    CHECK(c.proxy->source == "client_config::proxy");
    CHECK(c.reason == "client_config::proxy is set");
    c = choose(false, "example.com", env, explicit_proxy);  // for every origin
    REQUIRE(c.proxy);
    CHECK(c.proxy->host == "configured");

    // The environment's NO_PROXY still applies to an explicit URL...
    c = choose(true, "api.openai.com", env, explicit_proxy);
    CHECK_FALSE(c.proxy);
    CHECK(c.reason == "NO_PROXY matches api.openai.com");
    // ...unless the environment is off.
    explicit_proxy.from_environment = false;
    c = choose(true, "api.openai.com", env, explicit_proxy);
    REQUIRE(c.proxy);
    CHECK(c.proxy->host == "configured");

    // The explicit list.
    explicit_proxy.no_proxy = "localhost, .openai.com";
    c = choose(true, "api.openai.com", env, explicit_proxy);
    CHECK_FALSE(c.proxy);
    CHECK(c.reason == "client_config::proxy.no_proxy matches api.openai.com");

    proxy_settings off;
    off.from_environment = false;
    c = choose(true, "api.anthropic.com", env, off);
    CHECK_FALSE(c.ec);
    CHECK_FALSE(c.proxy);
    CHECK(c.reason.find("from_environment is off") != std::string::npos);

    proxy_settings bad;
    bad.url = "https://configured:8443";
    c = choose(true, "api.anthropic.com", env, bad);
    CHECK(c.ec == errc::invalid_proxy);
    CHECK_FALSE(c.proxy);
    CHECK(c.reason.find("client_config::proxy") != std::string::npos);

    // No lookup function at all: no environment.
    std::optional<proxy_endpoint> out;
    std::string reason;
    CHECK_FALSE(choose_proxy(true, "api.openai.com", "443", proxy_settings{}, env_lookup{}, out, reason));
    CHECK_FALSE(out);
}

TEST_CASE("NO_PROXY from the environment", "[proxy]") {
    fake_env env;
    env.vars["https_proxy"] = "http://p:3128";
    env.vars["NO_PROXY"] = "localhost,api.openai.com";
    auto c = choose(true, "API.OpenAI.com", env);
    CHECK_FALSE(c.proxy);
    CHECK(c.reason == "NO_PROXY matches API.OpenAI.com");
    c = choose(true, "api.anthropic.com", env);
    REQUIRE(c.proxy);
    CHECK(c.reason == "https_proxy is set");

    env.vars["no_proxy"] = "example.org";  // lower case wins; NO_PROXY is then not read
    c = choose(true, "api.openai.com", env);
    CHECK(c.proxy);
    c = choose(true, "www.example.org", env);
    CHECK_FALSE(c.proxy);
    CHECK(c.reason == "no_proxy matches www.example.org");

    env.vars["no_proxy"] = "";  // empty: NO_PROXY counts again
    c = choose(true, "api.openai.com", env);
    CHECK_FALSE(c.proxy);

    // A bypassed proxy is not parsed, so a bad one does not fail that origin.
    env.vars["https_proxy"] = "socks5://p:1080";
    c = choose(true, "api.openai.com", env);
    CHECK_FALSE(c.ec);
    CHECK_FALSE(c.proxy);
    c = choose(true, "api.anthropic.com", env);
    CHECK(c.ec == errc::invalid_proxy);
    CHECK(c.reason.find("https_proxy") != std::string::npos);

    env.vars["https_proxy"] = "http://p:3128";
    env.vars["NO_PROXY"] = "*";
    c = choose(true, "anything.example", env);
    CHECK_FALSE(c.proxy);
    CHECK(c.reason == "NO_PROXY matches anything.example");
}

TEST_CASE("NO_PROXY: names, subdomains and wildcards", "[proxy]") {
    CHECK(no_proxy_matches("example.com", "example.com", "443"));
    CHECK(no_proxy_matches("example.com", "a.example.com", "443"));
    CHECK(no_proxy_matches("example.com", "a.b.example.com", "443"));
    CHECK_FALSE(no_proxy_matches("example.com", "badexample.com", "443"));
    CHECK_FALSE(no_proxy_matches("example.com", "example.com.evil", "443"));
    CHECK_FALSE(no_proxy_matches("a.example.com", "example.com", "443"));
    CHECK(no_proxy_matches(".example.com", "example.com", "443"));
    CHECK(no_proxy_matches(".example.com", "a.example.com", "443"));
    CHECK_FALSE(no_proxy_matches(".example.com", "badexample.com", "443"));
    CHECK(no_proxy_matches("*.example.com", "a.example.com", "443"));
    CHECK_FALSE(no_proxy_matches("*.example.com", "badexample.com", "443"));

    // Case and trailing dots.
    CHECK(no_proxy_matches("EXAMPLE.com", "a.Example.COM", "443"));
    CHECK(no_proxy_matches("example.com.", "example.com", "443"));
    CHECK(no_proxy_matches("example.com", "a.example.com.", "443"));

    // Separators: commas and whitespace, in any mix.
    CHECK(no_proxy_matches("foo.org, example.com", "example.com", "443"));
    CHECK(no_proxy_matches("foo.org example.com", "example.com", "443"));
    CHECK(no_proxy_matches(" ,foo.org,,\texample.com ,", "example.com", "443"));
    CHECK(no_proxy_matches("localhost", "localhost", "11434"));
    CHECK_FALSE(no_proxy_matches("", "example.com", "443"));
    CHECK_FALSE(no_proxy_matches(" , ", "example.com", "443"));

    CHECK(no_proxy_matches("*", "example.com", "443"));
    CHECK(no_proxy_matches("*", "10.0.0.1", "443"));
    CHECK(no_proxy_matches("foo.org, *", "::1", "443"));
}

TEST_CASE("NO_PROXY: ports", "[proxy]") {
    CHECK(no_proxy_matches("example.com:8080", "example.com", "8080"));
    CHECK(no_proxy_matches("example.com:8080", "a.example.com", "8080"));
    CHECK_FALSE(no_proxy_matches("example.com:8080", "example.com", "443"));
    CHECK(no_proxy_matches("localhost:11434", "localhost", "11434"));
    CHECK_FALSE(no_proxy_matches("localhost:11434", "localhost", "80"));
    CHECK(no_proxy_matches("10.0.0.1:80", "10.0.0.1", "80"));
    CHECK_FALSE(no_proxy_matches("10.0.0.1:80", "10.0.0.1", "443"));
    CHECK(no_proxy_matches("[::1]:8080", "::1", "8080"));
    CHECK(no_proxy_matches("[::1]:8080", "[::1]", "8080"));
    CHECK_FALSE(no_proxy_matches("[::1]:8080", "::1", "443"));
    CHECK(no_proxy_matches("*:443", "example.com", "443"));
    CHECK_FALSE(no_proxy_matches("*:443", "example.com", "80"));
}

TEST_CASE("NO_PROXY: IP literals and CIDR ranges", "[proxy]") {
    CHECK(no_proxy_matches("127.0.0.1", "127.0.0.1", "80"));
    CHECK_FALSE(no_proxy_matches("127.0.0.1", "127.0.0.2", "80"));
    CHECK_FALSE(no_proxy_matches("0.0.1", "127.0.0.1", "80"));  // no suffix matching for addresses
    CHECK_FALSE(no_proxy_matches("127.0.0.1", "127.0.0.1.example.com", "80"));
    CHECK(no_proxy_matches("::1", "::1", "80"));
    CHECK(no_proxy_matches("::1", "[::1]", "80"));
    CHECK(no_proxy_matches("[::1]", "::1", "80"));
    CHECK(no_proxy_matches("0:0:0:0:0:0:0:1", "::1", "80"));  // the same address, written another way
    CHECK(no_proxy_matches("FE80::1", "fe80::1", "80"));
    CHECK_FALSE(no_proxy_matches("::1", "::2", "80"));
    CHECK_FALSE(no_proxy_matches("::1", "localhost", "80"));

    CHECK(no_proxy_matches("10.0.0.0/8", "10.1.2.3", "443"));
    CHECK(no_proxy_matches("10.0.0.0/8", "10.255.255.255", "443"));
    CHECK_FALSE(no_proxy_matches("10.0.0.0/8", "11.0.0.1", "443"));
    CHECK(no_proxy_matches("192.168.1.0/24", "192.168.1.77", "443"));
    CHECK_FALSE(no_proxy_matches("192.168.1.0/24", "192.168.2.1", "443"));
    CHECK(no_proxy_matches("172.16.0.0/12", "172.31.0.1", "443"));
    CHECK_FALSE(no_proxy_matches("172.16.0.0/12", "172.32.0.1", "443"));
    CHECK(no_proxy_matches("10.1.2.3/32", "10.1.2.3", "443"));
    CHECK_FALSE(no_proxy_matches("10.1.2.3/32", "10.1.2.4", "443"));
    CHECK(no_proxy_matches("0.0.0.0/0", "8.8.8.8", "443"));
    CHECK(no_proxy_matches("10.9.9.9/8", "10.0.0.1", "443"));  // host bits in the entry are ignored
    CHECK(no_proxy_matches("::1/128", "::1", "443"));
    CHECK_FALSE(no_proxy_matches("::1/128", "::2", "443"));
    CHECK(no_proxy_matches("fe80::/10", "fe80::1234", "443"));
    CHECK(no_proxy_matches("fe80::/10", "[febf::1]", "443"));
    CHECK_FALSE(no_proxy_matches("fe80::/10", "fec0::1", "443"));
    CHECK(no_proxy_matches("[fe80::]/10", "fe80::1", "443"));
    CHECK(no_proxy_matches("fd00::/8", "fd12:3456::1", "443"));
    CHECK_FALSE(no_proxy_matches("10.0.0.0/8", "::ffff:11.0.0.1", "443"));
    CHECK_FALSE(no_proxy_matches("10.0.0.0/8", "fe80::1", "443"));  // families never mix
    CHECK_FALSE(no_proxy_matches("fe80::/10", "10.0.0.1", "443"));
    CHECK_FALSE(no_proxy_matches("10.0.0.0/8", "ten.example.com", "443"));  // ranges only match addresses
}

TEST_CASE("NO_PROXY: garbage entries are ignored", "[proxy]") {
    for (const char* garbage : {
             "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "10.0.0.0/8/8", "example.com/8", "[", "[::1",
             "[::1]x", "[]", ":", ":443", "example.com:", "example.com:0", "example.com:99999", "example.com:x",
             ".", "*.", "..", "a*b.com", "[::1]/", "[::1]/200", "/8", "\x01\x02", "%", "[[::1]]", "::1/12x",
         }) {
        INFO(garbage);
        CHECK_FALSE(no_proxy_matches(garbage, "example.com", "443"));
        CHECK_FALSE(no_proxy_matches(garbage, "10.0.0.1", "443"));
        CHECK_FALSE(no_proxy_matches(garbage, "::1", "443"));
        // Garbage next to a good entry does not hide it.
        CHECK(no_proxy_matches(std::string(garbage) + ",example.com", "example.com", "443"));
    }
    CHECK_FALSE(no_proxy_matches("example.com:8080", "example.com", "not-a-port"));
    CHECK_FALSE(no_proxy_matches("example.com", "", "443"));
}

TEST_CASE("base64 after RFC 4648", "[proxy]") {
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("f") == "Zg==");
    CHECK(base64_encode("fo") == "Zm8=");
    CHECK(base64_encode("foo") == "Zm9v");
    CHECK(base64_encode("foob") == "Zm9vYg==");
    CHECK(base64_encode("fooba") == "Zm9vYmE=");
    CHECK(base64_encode("foobar") == "Zm9vYmFy");
    CHECK(base64_encode(std::string("\xff\xfe\x00", 3)) == "//4A");
    CHECK(base64_encode("\xfb\xff") == "+/8=");
    CHECK(base64_encode("Aladdin:open sesame") == "QWxhZGRpbjpvcGVuIHNlc2FtZQ==");  // RFC 7617
}

TEST_CASE("the CONNECT request and Proxy-Authorization", "[proxy]") {
    proxy_endpoint anonymous;
    REQUIRE_FALSE(parse_proxy_url("http://proxy:3128", anonymous));
    CHECK(proxy_authorization(anonymous).empty());
    CHECK(connect_request("api.openai.com", "443", anonymous) ==
          "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n");

    proxy_endpoint with_user;
    REQUIRE_FALSE(parse_proxy_url("http://Aladdin:open%20sesame@proxy:3128", with_user));
    CHECK(proxy_authorization(with_user) == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    CHECK(connect_request("api.openai.com", "443", with_user) ==
          "CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n"
          "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");

    proxy_endpoint no_password;
    REQUIRE_FALSE(parse_proxy_url("http://bob@proxy", no_password));
    CHECK(proxy_authorization(no_password) == "Basic " + base64_encode("bob:"));

    CHECK(connect_request("::1", "8443", anonymous) == "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n");
    CHECK(connect_request("[::1]", "8443", anonymous) == "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n");
    CHECK(connect_request("10.0.0.1", "443", anonymous) ==
          "CONNECT 10.0.0.1:443 HTTP/1.1\r\nHost: 10.0.0.1:443\r\n\r\n");
    // A decoded host can never split the request into more lines.
    CHECK(connect_request("evil\r\nX-Injected 1", "443", anonymous) ==
          "CONNECT evil%0D%0AX-Injected%201:443 HTTP/1.1\r\nHost: evil%0D%0AX-Injected%201:443\r\n\r\n");
}

TEST_CASE("CONNECT replies that complete", "[proxy]") {
    using st = connect_reply::state;
    auto ok = feed_every_way("HTTP/1.1 200 Connection established\r\n\r\n");
    CHECK(ok.st == st::complete);
    CHECK(ok.status == 200);
    CHECK(ok.reason == "Connection established");
    CHECK(ok.consumed == 39);

    const std::string head10 = "HTTP/1.0 200 OK\r\nProxy-Agent: squid/6\r\nContent-Length: 99\r\n\r\n";
    auto ten = feed_every_way(head10);
    CHECK(ten.st == st::complete);
    CHECK(ten.reason == "OK");
    CHECK(ten.consumed == head10.size());

    // Bytes after the head are not the head's: the count tells the caller they are there.
    auto extra = feed_every_way(head10 + "\x16\x03\x01 tunnel bytes");
    CHECK(extra.st == st::complete);
    CHECK(extra.consumed == head10.size());

    auto no_reason = feed_every_way("HTTP/1.1 200\r\n\r\n");
    CHECK(no_reason.status == 200);
    CHECK(no_reason.reason.empty());
    CHECK(feed_every_way("HTTP/1.1 200 \r\n\r\n").reason.empty());

    auto bare_lf = feed_every_way("HTTP/1.1 200 OK\nVia: 1.1 proxy\n\n");
    CHECK(bare_lf.st == st::complete);
    CHECK(bare_lf.consumed == 32);

    const std::string interim = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
    auto skipped = feed_every_way(interim + "xyz");
    CHECK(skipped.st == st::complete);
    CHECK(skipped.status == 200);
    CHECK(skipped.consumed == interim.size());

    auto refused = feed_every_way("HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\n<b/>\n");
    CHECK(refused.status == 403);
    CHECK(refused.reason == "Forbidden");

    // The reason phrase is bounded and printable.
    auto odd = feed_every_way("HTTP/1.1 502 Bad\tGate\xc3\xa9way!\r\n\r\n");
    CHECK(odd.st == st::complete);
    CHECK(odd.reason == "Bad?Gate??way!");
    auto longer = feed_every_way("HTTP/1.1 403 " + std::string(500, 'r') + "\r\n\r\n");
    CHECK(longer.st == st::complete);
    CHECK(longer.reason == std::string(200, 'r'));
}

TEST_CASE("CONNECT reply fields", "[proxy]") {
    connect_reply reply;
    const std::string head = "HTTP/1.1 407 Proxy Authentication Required\r\n"
                             "proxy-authenticate:  Negotiate \r\nProxy-Authenticate: Basic realm=\"corp\"\r\n"
                             "Content-Length: 0\r\n\r\n";
    CHECK(reply.header("Content-Length").empty());  // nothing before completion
    const auto r = reply.feed(head);
    REQUIRE(r.st == connect_reply::state::complete);
    CHECK(r.consumed == head.size());
    CHECK(reply.status() == 407);
    CHECK(reply.reason() == "Proxy Authentication Required");
    CHECK(reply.header("Proxy-Authenticate") == "Negotiate");  // the first one
    CHECK(reply.header("content-length") == "0");
    CHECK(reply.header("Via").empty());
    CHECK(connect_reply_error(reply.status()) == errc::proxy_auth_required);

    // Done is done: later bytes are not taken.
    const auto again = reply.feed("HTTP/1.1 200 OK\r\n\r\n");
    CHECK(again.st == connect_reply::state::complete);
    CHECK(again.consumed == 0);
    CHECK(reply.status() == 407);
}

TEST_CASE("CONNECT replies that are incomplete or invalid", "[proxy]") {
    using st = connect_reply::state;
    for (const char* partial : {"", "H", "HTTP/1.", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK\r\n",
                                "HTTP/1.1 200 OK\r\n\r", "HTTP/1.1 200 OK\r\nVia: x\r\n"}) {
        INFO(partial);
        const auto o = feed_every_way(partial);
        CHECK(o.st == st::need_more);
        CHECK(o.consumed == std::string_view(partial).size());
        CHECK(o.status == 0);
    }
    for (const char* bad : {
             "HTTP/2 200 OK\r\n\r\n", "HTTP/2.0 200 OK\r\n\r\n", "HTTP/1.2 200 OK\r\n\r\n",
             "HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n",
             "HTTP/1.1 099 Low\r\n\r\n", "http/1.1 200 OK\r\n\r\n", "HTTP/1.1  200 OK\r\n\r\n",
             "HTTP/1.1\r\n\r\n", "HTTP/1.1 101 Switching Protocols\r\n\r\n",
             "HTTP/1.1 200 O\rK\r\n\r\n", "HTTP/1.1 200 OK\x7f\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
             "HTTP/1.1 200 OK\r\nVia: a\r\n  folded\r\n\r\n", "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
             "HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", "\r\n\r\n", "\n\n",
             "SSH-2.0-OpenSSH_9.2\r\n",           // not an HTTP proxy
             "\x16\x03\x01\x00\x2a",               // a TLS server
             "\x05\x00",                         // a SOCKS5 server
             "HTTP/1.1 100 Continue\r\n\r\nHTTP/2",
             "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2\x01" "00 OK\r\n\r\n",
         }) {
        INFO(bad);
        const auto o = feed_every_way(bad);
        CHECK(o.st == st::invalid);
        CHECK(o.status == 0);
        CHECK(o.reason.empty());  // not even an interim reply's
    }
    // Invalid stays invalid.
    connect_reply reply;
    CHECK(reply.feed("XYZ").st == st::invalid);
    CHECK(reply.feed("HTTP/1.1 200 OK\r\n\r\n").st == st::invalid);
    CHECK(reply.status() == 0);
}

TEST_CASE("the CONNECT reply head is bounded", "[proxy]") {
    using st = connect_reply::state;
    const std::string start = "HTTP/1.1 200 OK\r\nX-Pad: ";
    const std::string end = "\r\n\r\n";
    const std::size_t limit = connect_reply::limits{}.head;
    CHECK(limit == 16 * 1024);
    const std::string exact = start + std::string(limit - start.size() - end.size(), 'p') + end;
    REQUIRE(exact.size() == limit);

    auto at_limit = feed_reply(exact, {});
    CHECK(at_limit.st == st::complete);
    CHECK(at_limit.consumed == limit);
    CHECK(feed_reply(exact, {1}) == at_limit);
    CHECK(feed_reply(exact + "more", {7}) == at_limit);

    const std::string over = start + std::string(limit - start.size() - end.size() + 1, 'p') + end;
    CHECK(feed_reply(over, {}).st == st::invalid);
    CHECK(feed_reply(over, {1}).st == st::invalid);
    CHECK(feed_reply(over, {4096}).st == st::invalid);
    // A flood with no end: invalid as soon as the limit is reached, not at the end of the input.
    const std::string flood = start + std::string(10 * limit, 'p');
    CHECK(feed_reply(flood, {}).st == st::invalid);
    CHECK(feed_reply(flood, {1000}).st == st::invalid);

    // Interim replies count towards the limit.
    const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
    CHECK(feed_reply(interim + exact, {}).st == st::invalid);

    // A smaller configured limit, every way.
    const auto small = feed_every_way("HTTP/1.1 200 OK\r\nVia: a-long-proxy-name\r\n\r\n", {32});
    CHECK(small.st == st::invalid);
    CHECK(feed_every_way("HTTP/1.1 200 OK\r\n\r\n", {19}).st == st::complete);
    CHECK(feed_every_way("HTTP/1.1 200 OK\r\n\r\n", {18}).st == st::invalid);
}

TEST_CASE("CONNECT outcomes as errors", "[proxy]") {
    CHECK_FALSE(connect_reply_error(200));
    CHECK_FALSE(connect_reply_error(204));
    CHECK_FALSE(connect_reply_error(299));
    CHECK(connect_reply_error(407) == errc::proxy_auth_required);
    CHECK(connect_reply_error(403) == errc::proxy_tunnel_refused);
    CHECK(connect_reply_error(401) == errc::proxy_auth_required);  // tinyproxy 1.11 asks with 401
    CHECK(connect_reply_error(300) == errc::proxy_tunnel_refused);
    CHECK(connect_reply_error(502) == errc::proxy_tunnel_refused);
    CHECK(connect_reply_error(100) == errc::proxy_tunnel_refused);
    CHECK(connect_reply_error(0) == errc::proxy_tunnel_refused);
}
