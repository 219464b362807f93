// Through a real HTTP proxy (tinyproxy on loopback): an http origin in absolute form, an https
// origin through a CONNECT tunnel (TLS with the origin itself), NO_PROXY bypass, wrong or missing
// credentials, a refused tunnel and a proxy that is not there. The proxy's password never shows
// in diagnostics.
#include "../support/test_ca.hpp"
#include "../support/tinyproxy.hpp"
#include "collect.hpp"
#include "mock_fixture.hpp"

#include <llmstream/client.hpp>
#include <llmstream/error.hpp>

using namespace llmstream;
using namespace llmstream::testing;
namespace asio = boost::asio;

namespace {

const std::string proxy_password = "PROXY-PW-91c4e";

struct outcome {
    collected got;
    diagnostics diag;
};

outcome stream_once(const client_config& cfg, const std::string& model = "mock?tokens=5") {
    asio::io_context io;
    client c(io.get_executor(), cfg);
    outcome out;
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request(model));
        out.got = co_await collect(s);
        out.diag = s.diagnostics();
    });
    return out;
}

void check_no_password(const diagnostics& d) {
    const std::string text = d.hint + "|" + d.provider_message + "|" + d.retry_note + "|" + d.request_id;
    INFO(text);
    CHECK(text.find(proxy_password) == std::string::npos);
    CHECK(text.find("PROXY-PW") == std::string::npos);
}

client_config no_environment(client_config c) {
    c.proxy.from_environment = false;  // the test's own settings only, whatever the shell exports
    return c;
}

}  // namespace

TEST_CASE("proxy: an http origin goes through the proxy in absolute form", "[integration][proxy]") {
    tinyproxy proxy({"user", proxy_password, {}});
    mock_fixture mock;
    auto cfg = no_environment(mock.config());
    cfg.http = http_version::http1;  // absolute form is HTTP/1.1's (h2c cannot go through an HTTP proxy)
    cfg.proxy.url = proxy.url_with("user", proxy_password);
    const auto r = stream_once(cfg);
    CHECK_FALSE(r.got.ec);
    CHECK(r.got.content == expected_text(5));
    CHECK(mock.counters().requests == 1);
    const std::string log = proxy.log();
    INFO(log);
    CHECK(log.find("POST http://127.0.0.1:" + std::to_string(mock.port()) + "/v1/chat/completions") !=
          std::string::npos);
}

TEST_CASE("proxy: an https origin goes through a CONNECT tunnel, verified against the origin's certificate",
          "[integration][proxy][tls]") {
    tinyproxy proxy({"user", proxy_password, {}});
    test_ca ca("DNS:localhost");
    tls_mock_fixture mock(ca.cert_file(), ca.key_file());
    auto cfg = no_environment(providers::custom(mock.base_url(), "k"));
    cfg.tls.ca_file = ca.ca_file();
    cfg.retry.max_retries = 0;
    cfg.proxy.url = proxy.url_with("user", proxy_password);
    const auto r = stream_once(cfg);
    CHECK_FALSE(r.got.ec);
    CHECK(r.got.content == expected_text(5));
    CHECK(mock.counters().requests == 1);
    const std::string log = proxy.log();
    INFO(log);
    CHECK(log.find("CONNECT localhost:" + std::to_string(mock.port())) != std::string::npos);
    // The proxy saw a tunnel, never the request inside it.
    CHECK(log.find("/v1/chat/completions") == std::string::npos);

    // The tunnel does not replace certificate checks: a CA that did not sign the origin is refused.
    test_ca other("DNS:localhost");
    cfg.tls.ca_file = other.ca_file();
    const auto refused = stream_once(cfg);
    CHECK(is_tls_error(refused.got.ec));
    CHECK(refused.got.content.empty());
}

TEST_CASE("proxy: a wrong or missing password is proxy_auth_required, and the password is never shown",
          "[integration][proxy][tls]") {
    tinyproxy proxy({"user", proxy_password, {}});
    test_ca ca("DNS:localhost");
    tls_mock_fixture mock(ca.cert_file(), ca.key_file());
    auto cfg = no_environment(providers::custom(mock.base_url(), "k"));
    cfg.tls.ca_file = ca.ca_file();
    cfg.retry.max_retries = 2;  // a credentials failure is final: exactly one attempt

    cfg.proxy.url = proxy.url_with("user", proxy_password + "-wrong");
    auto r = stream_once(cfg);
    CHECK(r.got.ec == errc::proxy_auth_required);
    CHECK_FALSE(is_retryable(r.got.ec));
    CHECK(r.diag.attempts == 1);
    CHECK(r.diag.hint.find("127.0.0.1:" + std::to_string(proxy.port())) != std::string::npos);
    CHECK(r.diag.hint.find("wrong") != std::string::npos);
    check_no_password(r.diag);
    CHECK(mock.counters().requests == 0);

    cfg.proxy.url = proxy.url();
    r = stream_once(cfg);
    CHECK(r.got.ec == errc::proxy_auth_required);
    CHECK(r.diag.hint.find("put them in the proxy URL") != std::string::npos);
}

TEST_CASE("proxy: a tunnel the proxy's rules forbid is proxy_tunnel_refused", "[integration][proxy][tls]") {
    test_ca ca("DNS:localhost");
    tls_mock_fixture mock(ca.cert_file(), ca.key_file());
    // CONNECT only to port 443 (and the mock is elsewhere).
    tinyproxy proxy({"", "", {443}});
    auto cfg = no_environment(providers::custom(mock.base_url(), "k"));
    cfg.tls.ca_file = ca.ca_file();
    cfg.retry.max_retries = 0;
    cfg.proxy.url = proxy.url();
    const auto r = stream_once(cfg);
    CHECK(r.got.ec == errc::proxy_tunnel_refused);
    CHECK(r.diag.http_status >= 400);
    CHECK(r.diag.hint.find("localhost:" + std::to_string(mock.port())) != std::string::npos);
    CHECK(mock.counters().requests == 0);
}

TEST_CASE("proxy: a proxy that is not listening is proxy_unreachable, named in the hint", "[integration][proxy]") {
    mock_fixture mock;
    unsigned short dead_port = 0;
    {
        tinyproxy gone;  // a port that was just free, and is closed again
        dead_port = gone.port();
    }
    auto cfg = no_environment(mock.config());
    cfg.http = http_version::http1;  // an http origin through a proxy is HTTP/1.1's absolute form
    cfg.proxy.url = "http://user:" + proxy_password + "@127.0.0.1:" + std::to_string(dead_port);
    const auto r = stream_once(cfg);
    CHECK(r.got.ec == errc::proxy_unreachable);
    CHECK(r.diag.hint.find("127.0.0.1:" + std::to_string(dead_port)) != std::string::npos);
    check_no_password(r.diag);
    CHECK(mock.counters().requests == 0);
}

TEST_CASE("proxy: hosts in no_proxy are reached directly", "[integration][proxy]") {
    tinyproxy proxy;
    mock_fixture mock;
    auto cfg = no_environment(mock.config());
    cfg.proxy.url = proxy.url();
    cfg.proxy.no_proxy = "example.com, 127.0.0.1";
    const auto r = stream_once(cfg);
    CHECK_FALSE(r.got.ec);
    CHECK(r.got.content == expected_text(5));
    CHECK(proxy.log().find("Request") == std::string::npos);
}

TEST_CASE("proxy: a malformed proxy URL is refused when the client is made, without echoing it",
          "[integration][proxy]") {
    asio::io_context io;
    client_config cfg = providers::custom("http://127.0.0.1:9/v1", "k");
    cfg.proxy.from_environment = false;
    cfg.proxy.url = "socks5://user:" + proxy_password + "@127.0.0.1:1080";
    try {
        client c(io.get_executor(), cfg);
        FAIL("a socks proxy was accepted");
    } catch (const std::invalid_argument& e) {
        const std::string what = e.what();
        INFO(what);
        CHECK(what.find("proxy") != std::string::npos);
        CHECK(what.find(proxy_password) == std::string::npos);
    }
}
