// Limits shared on Redis (rate_limits::redis) against a real redis-server the test starts: two
// clients (as two processes would) keep to one limit together; when Redis goes away every request
// still completes by the local limits, the first one says so, none waits past max_wait; when it is
// back, sharing resumes; a wrong password is an outage too, and is never printed.
#include "limits_support.hpp"
#include "support/redis_server.hpp"
#include "support/test_ca.hpp"

#include <llmstream/client.hpp>
#include <llmstream/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>

#include <stdexcept>

using namespace llmstream;
using namespace llmstream::testing;
namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

// One request; its diagnostics.
diagnostics one_request(asio::io_context& io, client& c, boost::system::error_code& ec) {
    diagnostics d;
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request("mock?tokens=2"));
        const collected r = co_await collect(s);
        ec = r.ec;
        d = s.diagnostics();
    });
    return d;
}

}  // namespace

TEST_CASE("two clients sharing limits on Redis keep to one limit together", "[integration][limits][redis]") {
    redis_server redis;
    SECTION("each told the whole limit, without Redis: together they are throttled") {
        mock_fixture mock(rate_limited_server(1200));  // 20 a second, 20 at once
        asio::io_context io;
        client_config cfg = mock.config();
        cfg.limits.requests_per_minute = 1000;  // each under the server's limit, the two together far over it
        client a(io.get_executor(), cfg), b(io.get_executor(), cfg);
        burst_on(io, {&a, &b}, 20);
        CHECK(mock.counters().throttled > 0);
    }
    SECTION("the same limits shared on Redis: no 429, every request succeeds") {
        mock_fixture mock(rate_limited_server(1200));
        asio::io_context io;
        client_config cfg = mock.config();
        cfg.limits.requests_per_minute = 1000;  // a sixth under the server's: arrival jitter on a loaded machine stays inside it
        cfg.limits.redis = redis.url();
        cfg.limits.redis_timeout = milliseconds(500);  // sanitizer builds are slow; an outage is another test
        client a(io.get_executor(), cfg), b(io.get_executor(), cfg);
        CHECK(burst_on(io, {&a, &b}, 20) == 40);
        CHECK(mock.counters().throttled == 0);
        const auto keys = redis.keys("llmstream:limits:*");
        REQUIRE(keys.size() == 1);  // one key and model
        CHECK(keys[0].find("test-key") == std::string::npos);  // a fingerprint, never the API key
        CHECK(keys[0].find("mock?tokens=3") != std::string::npos);
    }
}

TEST_CASE("Redis going away: local limits take over at once and say so once, sharing resumes when it is back",
          "[integration][limits][redis]") {
    redis_server redis;
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = mock.config();
    cfg.limits.requests_per_minute = 6000;
    cfg.limits.max_wait = std::chrono::seconds(2);
    cfg.limits.redis = redis.url();
    cfg.limits.redis_timeout = milliseconds(500);
    client c(io.get_executor(), cfg);
    boost::system::error_code ec;

    diagnostics d = one_request(io, c, ec);
    CHECK_FALSE(ec);
    CHECK(d.admission_note.empty());
    CHECK(redis.keys("llmstream:limits:*").size() == 1);

    redis.stop();
    const auto t = steady_clock::now();
    d = one_request(io, c, ec);
    CHECK_FALSE(ec);
    CHECK(steady_clock::now() - t < std::chrono::seconds(2));  // never past max_wait
    CHECK(d.admission_note.find("Redis at 127.0.0.1:" + std::to_string(redis.port()) + " could not be reached") !=
          std::string::npos);
    CHECK(d.to_string(ec).find("admitted by this process's own limits") != std::string::npos);
    d = one_request(io, c, ec);  // the same outage: said once
    CHECK_FALSE(ec);
    CHECK(d.admission_note.empty());

    REQUIRE(redis.start());  // back, empty
    CHECK(redis.keys("llmstream:limits:*").empty());
    // Redis is asked again a second after it failed.
    const auto back = steady_clock::now();
    while (redis.keys("llmstream:limits:*").empty() && steady_clock::now() - back < std::chrono::seconds(10)) {
        d = one_request(io, c, ec);
        CHECK_FALSE(ec);
        std::this_thread::sleep_for(milliseconds(200));
    }
    CHECK(redis.keys("llmstream:limits:*").size() == 1);
}

TEST_CASE("a Redis that refuses the password is an outage, and the password is never printed",
          "[integration][limits][redis]") {
    const std::string password = "redis-SECRET-5b1e";
    redis_server redis(password);
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = mock.config();
    cfg.limits.requests_per_minute = 6000;
    cfg.limits.redis = "redis://:wrong-SECRET-9d2c@127.0.0.1:" + std::to_string(redis.port());
    cfg.limits.redis_timeout = milliseconds(500);
    client c(io.get_executor(), cfg);
    boost::system::error_code ec;
    const diagnostics d = one_request(io, c, ec);
    CHECK_FALSE(ec);
    const std::string text = d.to_string(ec);
    CHECK(text.find("refused the credentials") != std::string::npos);
    CHECK(text.find("SECRET") == std::string::npos);
    CHECK(redis.keys("llmstream:limits:*").empty());

    // With the right password, it is used.
    cfg.limits.redis = redis.url();
    client right(io.get_executor(), cfg);
    const diagnostics ok = one_request(io, right, ec);
    CHECK_FALSE(ec);
    CHECK(ok.admission_note.empty());
    CHECK(redis.keys("llmstream:limits:*").size() == 1);

    // A URL the client cannot use is refused at once, without echoing it.
    cfg.limits.redis = "https://:wrong-SECRET-9d2c@127.0.0.1:1";
    try {
        client bad(io.get_executor(), cfg);
        FAIL("an https:// URL was accepted for Redis");
    } catch (const std::invalid_argument& e) {
        CHECK(std::string(e.what()).find("redis://") != std::string::npos);
        CHECK(std::string(e.what()).find("SECRET") == std::string::npos);
    }
}

TEST_CASE("rediss://: Redis over TLS, its certificate checked as client_config::tls says",
          "[integration][limits][redis]") {
    test_ca ca("DNS:localhost");
    redis_server redis("", redis_server::tls_files{ca.cert_file(), ca.key_file(), ca.ca_file()});
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = mock.config();
    cfg.limits.requests_per_minute = 6000;
    cfg.limits.redis = redis.url();
    cfg.limits.redis_timeout = milliseconds(1000);
    boost::system::error_code ec;
    {
        client unknown_ca(io.get_executor(), cfg);  // the test CA is not trusted: an outage, said so
        const diagnostics d = one_request(io, unknown_ca, ec);
        CHECK_FALSE(ec);
        CHECK(d.admission_note.find("failed the TLS handshake") != std::string::npos);
        CHECK(redis.keys("llmstream:limits:*").empty());
    }
    cfg.tls.ca_file = ca.ca_file();
    client trusted(io.get_executor(), cfg);
    const diagnostics d = one_request(io, trusted, ec);
    CHECK_FALSE(ec);
    CHECK(d.admission_note.empty());
    CHECK(redis.keys("llmstream:limits:*").size() == 1);
}

TEST_CASE("on Redis a token limit of any size is kept, and only successes grow the adaptive rate",
          "[integration][limits][redis]") {
    redis_server redis;
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = mock.config();
    cfg.limits.adaptive = true;
    cfg.limits.adaptive_start_rpm = 600;
    cfg.limits.tokens_per_minute = 100'000'000;  // under a microsecond a token
    cfg.limits.redis = redis.url();
    cfg.limits.redis_timeout = milliseconds(500);
    cfg.limits.key = "fleet";
    client c(io.get_executor(), cfg);
    const std::string failing = "llmstream:limits:fleet:mock?reset_before_headers=1";
    for (int i = 0; i < 3; ++i) {
        run_test(io, [&]() -> asio::awaitable<void> {
            auto s = c.chat_stream(mock_request("mock?reset_before_headers=1"));
            const collected r = co_await collect(s);
            CHECK(r.ec);
        });
    }
    CHECK_FALSE(redis.hget(failing, "ttat").empty());  // the token limit is on
    CHECK(redis.hget(failing, "rate").empty());         // dropped connections are no successes

    boost::system::error_code ec;
    one_request(io, c, ec);
    CHECK_FALSE(ec);
    const std::string ok = "llmstream:limits:fleet:mock?tokens=2";
    std::string rate;
    run_until(io, [&] {  // the success is reported without waiting: let it go out
        rate = redis.hget(ok, "rate");
        return !rate.empty();
    });
    CHECK(rate == "660");  // slow start: one success adds 60 a minute
}

TEST_CASE("Redis killed in the middle of a run: every request completes, none waits past max_wait",
          "[integration][limits][redis]") {
    redis_server redis;
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = mock.config();
    cfg.limits.requests_per_minute = 1200;  // 20 a second, 20 at once: 60 requests take about 2 s
    cfg.limits.max_wait = std::chrono::seconds(10);
    cfg.limits.redis = redis.url();
    cfg.limits.redis_timeout = milliseconds(500);
    client c(io.get_executor(), cfg);
    constexpr int n = 60;
    int ok = 0, done = 0, noted = 0;
    milliseconds longest{0};
    for (int i = 0; i < n; ++i) {
        asio::co_spawn(io, [&]() -> asio::awaitable<void> {
            auto s = c.chat_stream(mock_request("mock?tokens=3"));
            const collected r = co_await collect(s);
            if (!r.ec && r.content == expected_text(3)) ++ok;
            noted += !s.diagnostics().admission_note.empty();
            longest = std::max(longest, s.diagnostics().admission_wait);
            ++done;
        }, asio::detached);
    }
    asio::steady_timer kill(io, milliseconds(700));
    kill.async_wait([&](boost::system::error_code) { redis.stop(); });
    run_until(io, [&] { return done == n; });
    CHECK(done == n);
    CHECK(ok == n);
    CHECK(noted == 1);  // said once for the outage
    CHECK(longest < cfg.limits.max_wait);
}
