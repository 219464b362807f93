// HTTP/2 against real third-party servers from Debian, started and stopped by the tests: nginx
// (h2 over TLS with a throwaway CA, and its GOAWAY after keepalive_requests streams) and nghttpd
// (h2c with prior knowledge). The same streams, checked byte for byte.
#include "../support/nginx.hpp"
#include "../support/test_ca.hpp"
#include "collect.hpp"
#include "mock/scenario.hpp"
#include "mock_fixture.hpp"

#include <llmstream/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>

using namespace llmstream;
using namespace llmstream::testing;
namespace asio = boost::asio;
using std::chrono::steady_clock;

namespace {

constexpr auto tuple = asio::as_tuple(asio::deferred);

// An OpenAI-compatible event stream of `tokens` tokens, as llmstream-mock sends it.
std::string openai_stream(int tokens) {
    mock::scenario s;
    std::string out = mock::openai_chunk(boost::json::object{{"role", "assistant"}, {"content", ""}}, nullptr);
    for (int i = 0; i < tokens; ++i) out += mock::openai_chunk(boost::json::object{{"content", mock::token_text(s, i)}}, nullptr);
    out += mock::openai_chunk(boost::json::object{}, "stop") + "data: [DONE]\n\n";
    return out;
}

struct load_result {
    int good = 0;
    int attempts = 0;
    std::string first_error;
};

// `n` streams, `in_flight` at a time, each checked against `tokens` tokens.
load_result run_load(client& c, asio::io_context& io, int n, int in_flight, int tokens) {
    load_result out;
    int started = 0, done = 0;
    run_test(io, [&]() -> asio::awaitable<void> {
        asio::steady_timer all_done(co_await asio::this_coro::executor, steady_clock::time_point::max());
        for (int w = 0; w < in_flight; ++w) {
            asio::co_spawn(
                io,
                [&]() -> asio::awaitable<void> {
                    while (started < n) {
                        ++started;
                        auto s = c.chat_stream(mock_request("any-model"));
                        const collected r = co_await collect(s);
                        if (!r.ec && r.content == expected_text(tokens)) ++out.good;
                        else if (out.first_error.empty()) out.first_error = s.diagnostics().to_string(r.ec);
                        out.attempts += s.diagnostics().attempts;
                        if (++done == n) all_done.cancel();
                    }
                },
                asio::detached);
        }
        co_await all_done.async_wait(tuple);
    }, std::chrono::seconds(120));
    return out;
}

// nginx over TLS with the throwaway CA's certificate, and a client that trusts that CA.
nginx_server::options nginx_tls(const test_ca& ca) {
    nginx_server::options o;
    o.cert_file = ca.cert_file();
    o.key_file = ca.key_file();
    return o;
}
client_config tls_config(const nginx_server& nginx, const test_ca& ca) {
    client_config cfg = providers::custom(nginx.base_url(), "k");
    cfg.tls.ca_file = ca.ca_file();
    return cfg;
}

}  // namespace

TEST_CASE("nginx over TLS: h2 by ALPN, 256 streams on two connections (128 each), exact content",
          "[integration][http2][nginx]") {
    test_ca ca("DNS:localhost");
    nginx_server nginx(nginx_tls(ca), {{"v1/chat/completions", openai_stream(40)}});
    asio::io_context io;
    client c(io.get_executor(), tls_config(nginx, ca));  // http = automatic
    const load_result r = run_load(c, io, 256, 256, 40);
    INFO(r.first_error << "\n" << nginx.error_log());
    CHECK(r.good == 256);
    CHECK(r.attempts == 256);
    const auto [requests, connections] = nginx.requests_and_connections();
    CHECK(requests == 256);
    CHECK(connections <= 3);  // 128 streams per connection; one more may open while SETTINGS are on their way
    CHECK(nginx.access_log().find("HTTP/2.0") != std::string::npos);
    CHECK(nginx.access_log().find("HTTP/1.1") == std::string::npos);
}

TEST_CASE("nginx closes a connection after keepalive_requests streams (GOAWAY): none costs an attempt",
          "[integration][http2][nginx]") {
    test_ca ca("DNS:localhost");
    nginx_server::options o = nginx_tls(ca);
    o.keepalive_requests = 30;
    nginx_server nginx(o, {{"v1/chat/completions", openai_stream(10)}});
    asio::io_context io;
    client_config cfg = tls_config(nginx, ca);
    cfg.retry.max_retries = 0;  // a stream above GOAWAY's last stream id must go again without a retry
    client c(io.get_executor(), cfg);
    const load_result r = run_load(c, io, 1000, 100, 10);
    INFO(r.first_error << "\n" << nginx.error_log());
    CHECK(r.good == 1000);
    CHECK(r.attempts == 1000);
    const auto [requests, connections] = nginx.requests_and_connections();
    CHECK(connections >= 1000 / 30);
}

TEST_CASE("nginx without h2: automatic falls back to HTTP/1.1 by ALPN", "[integration][http2][nginx]") {
    test_ca ca("DNS:localhost");
    nginx_server::options o;
    o.cert_file = ca.cert_file();
    o.key_file = ca.key_file();
    o.http2 = false;
    nginx_server nginx(o, {{"v1/chat/completions", openai_stream(7)}});
    asio::io_context io;
    client_config cfg = providers::custom(nginx.base_url(), "k");
    cfg.tls.ca_file = ca.ca_file();
    client c(io.get_executor(), cfg);
    const load_result r = run_load(c, io, 20, 5, 7);
    INFO(r.first_error);
    CHECK(r.good == 20);
    CHECK(nginx.access_log().find("HTTP/1.1") != std::string::npos);
    CHECK(nginx.access_log().find("HTTP/2.0") == std::string::npos);
}

TEST_CASE("nghttpd: h2c with prior knowledge, many streams and a non-streaming call", "[integration][http2][nghttpd]") {
    const std::string exe = server_process::find_program({"/usr/sbin/nghttpd", "/usr/bin/nghttpd", "/usr/local/bin/nghttpd"});
    if (exe.empty()) FAIL("nghttpd is not installed: run scripts/install-deps (Debian package nghttp2-server)");
    const auto dir = std::filesystem::temp_directory_path() / ("llmstream-nghttpd-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir / "v1" / "chat");
    // nghttpd knows no type for this path: the client reads the body whole, as a completion.
    std::ofstream(dir / "v1" / "chat" / "completions")
        << R"({"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant",)"
        << R"("content":"hello over h2c"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}})";
    server_process nghttpd;
    unsigned short port = 0;
    for (int i = 0; i < 5 && !nghttpd.running(); ++i) {
        port = server_process::free_port();
        nghttpd.start({exe, "--no-tls", "-d", dir.string(), std::to_string(port)}, port);
    }
    REQUIRE(nghttpd.running());
    asio::io_context io;
    client_config cfg = providers::custom("http://127.0.0.1:" + std::to_string(port) + "/v1", "k");
    cfg.http = http_version::http2;
    client c(io.get_executor(), cfg);
    run_test(io, [&]() -> asio::awaitable<void> {
        diagnostics diag;
        auto [ec, done] = co_await c.async_chat(mock_request("m"), diag, tuple);
        CHECK_FALSE(ec);
        CHECK(done.content == "hello over h2c");
        REQUIRE(done.usage);
        CHECK(done.usage->output_tokens == 4);
        int good = 0, finished = 0;
        asio::steady_timer all_done(co_await asio::this_coro::executor, steady_clock::time_point::max());
        for (int i = 0; i < 50; ++i) {
            asio::co_spawn(
                io,
                [&]() -> asio::awaitable<void> {
                    auto s = c.chat_stream(mock_request("m"));
                    const collected r = co_await collect(s);
                    if (!r.ec && r.content == "hello over h2c") ++good;
                    if (++finished == 50) all_done.cancel();
                },
                asio::detached);
        }
        co_await all_done.async_wait(tuple);
        CHECK(good == 50);
    });
    CHECK(c.pool_stats().open == 1);
    nghttpd.stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
}

TEST_CASE("nginx resets each stream whose body it did not read: no flood on a busy connection",
          "[integration][http2][nginx]") {
    test_ca ca("DNS:localhost");
    nginx_server nginx(nginx_tls(ca), {{"v1/chat/completions", openai_stream(3)}});
    asio::io_context io;
    client_config cfg = tls_config(nginx, ca);
    cfg.http2.max_control_frames_per_second = 50;  // far fewer than the resets of 1,500 requests
    client c(io.get_executor(), cfg);
    const load_result r = run_load(c, io, 1500, 100, 3);
    INFO(r.first_error << "\n" << nginx.error_log());
    CHECK(r.good == 1500);
    CHECK(r.attempts == 1500);
}
