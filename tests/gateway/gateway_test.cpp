// llmstream-gateway's server, tested whole: an in-process llmstream-mock upstream, the gateway on
// its own thread (one io_context, one client), and browsers played by raw sockets on a third:
// 1,000 concurrent event streams relayed byte for byte, 500 browsers leaving after the second
// token (their upstream generations cancelled), hostile clients, upstream failures as
// `event: error`, /metrics, /healthz and the page.
#include "../integration/collect.hpp"
#include "../integration/mock_fixture.hpp"
#include "gateway.hpp"

#include <llmstream/client.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include <sys/resource.h>

#include <future>
#include <thread>

using namespace llmstream;
using namespace llmstream::testing;
namespace asio = boost::asio;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

constexpr auto tuple = asio::as_tuple(asio::deferred);

// The gateway with its own io_context and client on its own thread, relaying `upstream`.
class gateway_fixture {
public:
    gateway_fixture(client_config upstream, gateway::options opts) {
        upstream.observer = metrics_;
        client_ = std::make_unique<client>(io_.get_executor(), upstream);
        server_ = std::make_unique<gateway::server>(io_, *client_, opts, metrics_, counters_);
        server_->start();
        thread_ = std::thread([this] { io_.run(); });
    }
    ~gateway_fixture() {
        asio::post(io_, [this] {
            server_->stop();
            work_.reset();
        });
        thread_.join();
    }
    unsigned short port() const { return server_->port(); }
    const gateway::counters& counters() const { return *counters_; }
    /// The client's pool, read on the gateway's thread.
    pool_stats upstream_pool() {
        std::promise<pool_stats> p;
        asio::post(io_, [&] { p.set_value(client_->pool_stats()); });
        return p.get_future().get();
    }

private:
    asio::io_context io_;
    asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
    std::shared_ptr<metrics> metrics_ = std::make_shared<metrics>();
    std::shared_ptr<gateway::counters> counters_ = std::make_shared<gateway::counters>();
    std::unique_ptr<client> client_;
    std::unique_ptr<gateway::server> server_;
    std::thread thread_;
};

std::string url_encode(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
        else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// What a browser saw: the status, the events in order, the text of the deltas.
struct browser_result {
    int status = 0;
    std::string head;
    std::vector<std::pair<std::string, std::string>> events;  // type, data
    std::string content;
    int deltas = 0;
    bool closed_by_us = false;
};

// A browser: GET `target`, read the chunked event stream; leave after `leave_after` deltas.
asio::awaitable<browser_result> browse(unsigned short port, std::string target, int leave_after = -1) {
    browser_result r;
    tcp::socket socket(co_await asio::this_coro::executor);
    auto [cec] = co_await socket.async_connect({asio::ip::make_address("127.0.0.1"), port}, tuple);
    if (cec) co_return r;
    const std::string request = "GET " + target + " HTTP/1.1\r\nHost: gateway\r\nAccept: text/event-stream\r\n\r\n";
    auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(request), tuple);
    if (wec) co_return r;
    std::string raw;  // the bytes received, head then chunked body
    std::string body;
    std::size_t parsed = 0;  // of raw: past the head and the chunks decoded so far
    bool head_done = false;
    char buf[4096];
    for (;;) {
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), tuple);
        if (ec) break;
        raw.append(buf, n);
        if (!head_done) {
            const auto end = raw.find("\r\n\r\n");
            if (end == std::string::npos) continue;
            r.head = raw.substr(0, end);
            r.status = std::atoi(r.head.c_str() + 9);
            head_done = true;
            parsed = end + 4;
        }
        // De-chunk (the gateway sends chunked event streams; other answers carry Content-Length).
        if (r.head.find("chunked") != std::string::npos) {
            for (;;) {
                const auto line_end = raw.find("\r\n", parsed);
                if (line_end == std::string::npos) break;
                const std::size_t size = std::strtoul(raw.c_str() + parsed, nullptr, 16);
                if (raw.size() < line_end + 2 + size + 2) break;
                body.append(raw, line_end + 2, size);
                parsed = line_end + 2 + size + 2;
            }
        } else {
            body = raw.substr(parsed);
        }
        // Events so far.
        std::size_t at;
        while ((at = body.find("\n\n")) != std::string::npos) {
            const std::string block = body.substr(0, at);
            body.erase(0, at + 2);
            std::string type = "message", data;
            std::size_t pos = 0;
            while (pos <= block.size()) {
                auto nl = block.find('\n', pos);
                if (nl == std::string::npos) nl = block.size();
                const std::string_view line(block.data() + pos, nl - pos);
                if (line.rfind("event: ", 0) == 0) type = std::string(line.substr(7));
                else if (line.rfind("data: ", 0) == 0) data += line.substr(6);
                else if (!line.empty() && line[0] == ':') type = "comment";
                pos = nl + 1;
            }
            if (type == "delta") {
                ++r.deltas;
                r.content += json::parse(data).at("content").as_string().c_str();
            }
            r.events.emplace_back(type, data);
        }
        if (leave_after >= 0 && r.deltas >= leave_after) {
            r.closed_by_us = true;
            break;
        }
    }
    error_code ignored;
    socket.close(ignored);
    co_return r;
}

// A plain request/response (for /, /metrics, the 4xx): the whole answer as text.
asio::awaitable<std::string> fetch(unsigned short port, std::string request) {
    tcp::socket socket(co_await asio::this_coro::executor);
    auto [cec] = co_await socket.async_connect({asio::ip::make_address("127.0.0.1"), port}, tuple);
    if (cec) co_return std::string();
    co_await asio::async_write(socket, asio::buffer(request), tuple);
    std::string out;
    char buf[4096];
    for (;;) {
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), tuple);
        if (ec) break;
        out.append(buf, n);
        if (out.find("\r\n\r\n") != std::string::npos) {
            const auto at = out.find("Content-Length: ");
            if (at != std::string::npos) {
                const std::size_t length = std::strtoul(out.c_str() + at + 16, nullptr, 10);
                if (out.size() >= out.find("\r\n\r\n") + 4 + length) break;
            }
        }
    }
    co_return out;
}

std::string get(const std::string& target) { return "GET " + target + " HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n"; }

// Runs `make()` on a fresh io_context thread of the test (the browsers' side).
template <class Make>
auto on_browsers(Make make) {
    asio::io_context io;
    using result_type = typename decltype(make())::value_type;
    result_type result{};
    bool done = false;
    asio::co_spawn(io, make(), [&](std::exception_ptr e, result_type value) {
        if (e) std::rethrow_exception(e);
        result = std::move(value);
        done = true;
    });
    io.run_for(std::chrono::seconds(120));
    REQUIRE(done);
    return result;
}

gateway::options test_options() {
    gateway::options o;
    o.port = 0;
    o.model = "mock?tokens=10";
    o.head_timeout = milliseconds(500);
    return o;
}

long metric(const std::string& text, const std::string& line_start) {
    const auto at = text.find(line_start);
    if (at == std::string::npos) return -1;
    return std::atol(text.c_str() + at + line_start.size());
}

void raise_open_files_limit() {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

}  // namespace

TEST_CASE("gateway: 1,000 browsers at once, every byte relayed, 500 leave and their generations are cancelled",
          "[gateway]") {
    raise_open_files_limit();
    mock_fixture mock;
    client_config upstream = mock.config();
    upstream.pool.max_connections = 2000;
    gateway_fixture gw(upstream, test_options());
    const std::string model = url_encode("mock?tokens=20&pace_ms=40");  // 760 ms for a departure to reach the mock
    struct totals {
        int exact = 0, left = 0, status_ok = 0;
    };
    const totals t = on_browsers([&]() -> asio::awaitable<totals> {
        totals out;
        int finished = 0;
        asio::steady_timer all_done(co_await asio::this_coro::executor, steady_clock::time_point::max());
        for (int i = 0; i < 1000; ++i) {
            const bool leaves = i % 2 == 1;
            asio::co_spawn(
                co_await asio::this_coro::executor,
                [&, leaves]() -> asio::awaitable<void> {
                    const browser_result r =
                        co_await browse(gw.port(), "/v1/stream?prompt=hello&model=" + model, leaves ? 2 : -1);
                    if (r.status == 200) ++out.status_ok;
                    if (!leaves && r.content == expected_text(20) && r.events.back().first == "done") ++out.exact;
                    // A leaver reads until it has two deltas; one read may bring a few more.
                    if (leaves && r.closed_by_us && r.deltas >= 2 && expected_text(20).rfind(r.content, 0) == 0 &&
                        r.content != expected_text(20))
                        ++out.left;
                    if (++finished == 1000) all_done.cancel();
                },
                asio::detached);
        }
        co_await all_done.async_wait(tuple);
        co_return out;
    });
    CHECK(t.status_ok == 1000);
    CHECK(t.exact == 500);
    CHECK(t.left == 500);
    // The gateway notices each departure and the mock sees its generation end early.
    const auto limit = steady_clock::now() + std::chrono::seconds(20);
    while ((gw.counters().streams_in_flight.load() != 0 || mock.counters().streams_reset < 500) &&
           steady_clock::now() < limit)
        std::this_thread::sleep_for(milliseconds(20));
    CHECK(gw.counters().streams_in_flight.load() == 0);
    CHECK(gw.counters().streams_abandoned.load() == 500);
    CHECK(gw.counters().streams_done.load() == 500);
    CHECK(mock.counters().streams_reset == 500);
    const pool_stats pool = gw.upstream_pool();
    CHECK(pool.open == pool.idle);  // nothing in use: every cancelled connection was closed or returned
    CHECK(pool.waiting == 0);
    const std::string metrics = on_browsers([&]() -> asio::awaitable<std::string> { co_return co_await fetch(gw.port(), get("/metrics")); });
    CHECK(metric(metrics, "llmstream_gateway_streams_in_flight ") == 0);
    CHECK(metric(metrics, "llmstream_gateway_streams_total{outcome=\"abandoned\"} ") == 500);
}

TEST_CASE("gateway: upstream failures reach the browser as event: error with class and hint, delivered text kept",
          "[gateway]") {
    mock_fixture mock;
    client_config upstream = mock.config();
    upstream.retry.max_retries = 2;
    upstream.retry.initial_backoff = milliseconds(1);
    upstream.retry.max_backoff = milliseconds(2);
    upstream.retry.jitter = jitter_mode::none;
    upstream.api_key = "sk-gateway-secret-9999";
    gateway_fixture gw(upstream, test_options());
    struct row {
        std::string model;
        std::string cls;
        int status;
        std::string delivered;
    };
    const std::vector<row> rows = {
        {"mock?status=403&code=Model.AccessDenied", "permission_denied", 403, ""},
        {"mock?status=402", "payment_required", 402, ""},
        {"mock?status=429&code=Throttling.RateQuota&fail_first=10&key=gw429", "rate_limited", 429, ""},
        {"mock?tokens=10&reset_after=3&pace_ms=5", "connection_closed", 200, expected_text(3)},
        {"mock?status=401&code=invalid_api_key&echo_auth=1", "authentication", 401, ""},
    };
    for (const auto& x : rows) {
        INFO(x.model);
        const browser_result r = on_browsers([&]() -> asio::awaitable<browser_result> {
            co_return co_await browse(gw.port(), "/v1/stream?prompt=hi&model=" + url_encode(x.model));
        });
        CHECK(r.status == 200);
        REQUIRE_FALSE(r.events.empty());
        CHECK(r.events.back().first == "error");
        const json::object e = json::parse(r.events.back().second).as_object();
        CHECK(e.at("class").as_string() == x.cls);
        CHECK(e.at("status").as_int64() == x.status);
        CHECK_FALSE(e.at("hint").as_string().empty());
        CHECK(std::string(e.at("line").as_string().c_str()).rfind("llmstream: " + x.cls, 0) == 0);
        CHECK(r.content == x.delivered);
        CHECK(r.events.back().second.find("sk-gateway-secret-9999") == std::string::npos);
    }
    CHECK(mock.counters().attempts.at("gw429") == 3);  // retried twice, then reported
}

TEST_CASE("gateway: hostile and bad clients get a clear answer or are cut off, and the gateway goes on",
          "[gateway]") {
    mock_fixture mock;
    gateway::options opts = test_options();
    opts.max_prompt_bytes = 1000;
    gateway_fixture gw(mock.config(), opts);
    const unsigned short port = gw.port();
    on_browsers([&]() -> asio::awaitable<int> {
        // Bad requests: a clear 4xx.
        const std::string answer1 = co_await fetch(port, get("/v1/stream"));
        CHECK(answer1.rfind("HTTP/1.1 400", 0) == 0);
        const std::string answer2 = co_await fetch(port, get("/v1/stream?prompt="));
        CHECK(answer2.rfind("HTTP/1.1 400", 0) == 0);
        const std::string answer3 = co_await fetch(port, get("/v1/stream?prompt=" + std::string(1001, 'x')));
        CHECK(answer3.rfind("HTTP/1.1 413", 0) == 0);
        const std::string answer4 = co_await fetch(port, get("/nowhere"));
        CHECK(answer4.rfind("HTTP/1.1 404", 0) == 0);
        const std::string answer5 = co_await fetch(port, "POST /v1/stream HTTP/1.1\r\nHost: g\r\nContent-Length: 5\r\n\r\nhello");
        CHECK(answer5.rfind("HTTP/1.1 413", 0) == 0);
        // A head far too large: 431.
        const std::string huge = "GET / HTTP/1.1\r\nHost: g\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n";
        const std::string answer6 = co_await fetch(port, huge);
        CHECK(answer6.rfind("HTTP/1.1 431", 0) == 0);
        // A head that drips (slowloris): cut off after head_timeout, without an answer.
        {
            tcp::socket s(co_await asio::this_coro::executor);
            co_await s.async_connect({asio::ip::make_address("127.0.0.1"), port}, tuple);
            co_await asio::async_write(s, asio::buffer(std::string("GET / HTTP/1.1\r\nHo")), tuple);
            const auto start = steady_clock::now();
            char c;
            auto [ec, n] = co_await s.async_read_some(asio::buffer(&c, 1), tuple);
            CHECK(ec);  // closed by the gateway
            CHECK(steady_clock::now() - start < std::chrono::seconds(3));
        }
        // Not HTTP at all.
        {
            tcp::socket s(co_await asio::this_coro::executor);
            co_await s.async_connect({asio::ip::make_address("127.0.0.1"), port}, tuple);
            co_await asio::async_write(s, asio::buffer(std::string("\x16\x03\x01\x02\x00garbage\r\n\r\n")), tuple);
            char c;
            auto [ec, n] = co_await s.async_read_some(asio::buffer(&c, 1), tuple);
            (void)n;
            CHECK(ec);
        }
        // A browser that half-closes right after asking: taken as gone; its generation is cancelled.
        {
            tcp::socket s(co_await asio::this_coro::executor);
            co_await s.async_connect({asio::ip::make_address("127.0.0.1"), port}, tuple);
            co_await asio::async_write(s, asio::buffer(get("/v1/stream?prompt=hi&model=" + url_encode("mock?tokens=50&pace_ms=20"))), tuple);
            s.shutdown(tcp::socket::shutdown_send);
            asio::steady_timer t(co_await asio::this_coro::executor, milliseconds(300));
            co_await t.async_wait(tuple);
        }
        // Still serving.
        const browser_result ok = co_await browse(port, "/v1/stream?prompt=hi");
        CHECK(ok.content == expected_text(10));
        const std::string answer7 = co_await fetch(port, get("/healthz"));
        CHECK(answer7.find("\r\n\r\nok") != std::string::npos);
        const std::string page = co_await fetch(port, get("/"));
        CHECK(page.rfind("HTTP/1.1 200", 0) == 0);
        CHECK(page.find("id=\"answer\"") != std::string::npos);
        co_return 0;
    });
    CHECK(gw.counters().streams_abandoned.load() >= 1);
}

TEST_CASE("gateway: too many streams at once get 503 with Retry-After", "[gateway]") {
    mock_fixture mock;
    gateway::options opts = test_options();
    opts.max_streams = 2;
    gateway_fixture gw(mock.config(), opts);
    on_browsers([&]() -> asio::awaitable<int> {
        // 1.2 s each: both are still streaming when the third asks, 400 ms in (room for a slow start).
        const std::string slow = "/v1/stream?prompt=hi&model=" + url_encode("mock?tokens=30&pace_ms=40");
        int finished = 0;
        asio::steady_timer both(co_await asio::this_coro::executor, steady_clock::time_point::max());
        for (int i = 0; i < 2; ++i)
            asio::co_spawn(
                co_await asio::this_coro::executor,
                [&]() -> asio::awaitable<void> {
                    (void)co_await browse(gw.port(), slow);
                    if (++finished == 2) both.cancel();
                },
                asio::detached);
        asio::steady_timer t(co_await asio::this_coro::executor, milliseconds(400));
        co_await t.async_wait(tuple);
        const std::string busy = co_await fetch(gw.port(), get(slow));
        CHECK(busy.rfind("HTTP/1.1 503", 0) == 0);
        CHECK(busy.find("Retry-After: 1") != std::string::npos);
        co_await both.async_wait(tuple);
        co_return 0;
    });
    CHECK(gw.counters().rejected_busy.load() == 1);
}

TEST_CASE("gateway: a silent model gets keep-alive comments", "[gateway]") {
    mock_fixture mock;
    gateway::options opts = test_options();
    opts.keepalive_interval = milliseconds(100);
    gateway_fixture gw(mock.config(), opts);
    const browser_result r = on_browsers([&]() -> asio::awaitable<browser_result> {
        co_return co_await browse(gw.port(), "/v1/stream?prompt=hi&model=" + url_encode("mock?tokens=3&slow_headers_ms=450"));
    });
    int comments = 0;
    for (const auto& e : r.events) comments += e.first == "comment";
    CHECK(comments >= 2);
    CHECK(r.content == expected_text(3));
}

TEST_CASE("gateway: a browser that stops reading slows only its own stream", "[gateway]") {
    mock_fixture mock;
    gateway_fixture gw(mock.config(), test_options());
    // About 4 MB of deltas for the stalled browser: far more than the sockets' buffers hold.
    const std::string big = "/v1/stream?prompt=hi&model=" + url_encode("mock?tokens=40000&coalesce=100&word=" + std::string(64, 'w'));
    on_browsers([&]() -> asio::awaitable<int> {
        tcp::socket stalled(co_await asio::this_coro::executor);
        co_await stalled.async_connect({asio::ip::make_address("127.0.0.1"), gw.port()}, tuple);
        co_await asio::async_write(stalled, asio::buffer(get(big)), tuple);  // and never reads
        asio::steady_timer t(co_await asio::this_coro::executor, milliseconds(500));
        co_await t.async_wait(tuple);
        const auto start = steady_clock::now();
        int good = 0, finished = 0;
        asio::steady_timer all(co_await asio::this_coro::executor, steady_clock::time_point::max());
        for (int i = 0; i < 20; ++i)
            asio::co_spawn(
                co_await asio::this_coro::executor,
                [&]() -> asio::awaitable<void> {
                    const browser_result r = co_await browse(gw.port(), "/v1/stream?prompt=hi&model=" + url_encode("mock?tokens=30"));
                    if (r.content == expected_text(30)) ++good;
                    if (++finished == 20) all.cancel();
                },
                asio::detached);
        co_await all.async_wait(tuple);
        CHECK(good == 20);
        CHECK(steady_clock::now() - start < std::chrono::seconds(5));
        CHECK(gw.counters().streams_in_flight.load() == 1);  // the stalled one is still open, held back
        co_return 0;
    });
}
