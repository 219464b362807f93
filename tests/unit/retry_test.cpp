// The retry decision, driven with a fixed clock and a scripted random source: no test sleeps.
#include "retry/retry_planner.hpp"

#include <llmstream/error.hpp>

#include <boost/asio/error.hpp>

#include <catch2/catch.hpp>

#include <deque>
#include <limits>

using namespace llmstream;
using time_point = retry::clock::time_point;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

const time_point t0 = time_point{} + std::chrono::hours(1000);

// Returns the scripted values in turn, then the last one forever.
retry::planner::random_source scripted(std::deque<double> values) {
    return [values = std::move(values)]() mutable {
        const double v = values.front();
        if (values.size() > 1) values.pop_front();
        return v;
    };
}

retry_policy policy(jitter_mode j, int max_retries = 10) {
    retry_policy p;
    p.max_retries = max_retries;
    p.initial_backoff = milliseconds(500);
    p.multiplier = 2.0;
    p.max_backoff = milliseconds(8000);
    p.jitter = j;
    return p;
}

const boost::system::error_code overloaded = api_errc::overloaded;

}  // namespace

TEST_CASE("without jitter the backoff doubles from 0.5 s and stops at the 8 s cap", "[retry]") {
    retry::planner p(policy(jitter_mode::none), scripted({0.5}));
    std::vector<long long> waits;
    for (int i = 0; i < 7; ++i) {
        const auto d = p.after_failure(overloaded, {}, t0, std::nullopt, nullptr);
        REQUIRE(d.retry);
        waits.push_back(d.wait.count());
    }
    CHECK(waits == std::vector<long long>{500, 1000, 2000, 4000, 8000, 8000, 8000});
}

TEST_CASE("full jitter draws each wait uniformly below the exponential ceiling", "[retry]") {
    retry::planner low(policy(jitter_mode::full), scripted({0.0}));
    retry::planner high(policy(jitter_mode::full), scripted({0.999999}));
    retry::planner mid(policy(jitter_mode::full), scripted({0.25}));
    const long long ceilings[] = {500, 1000, 2000, 4000, 8000, 8000};
    for (long long ceiling : ceilings) {
        CHECK(low.after_failure(overloaded, {}, t0, std::nullopt, nullptr).wait.count() == 0);
        CHECK(high.after_failure(overloaded, {}, t0, std::nullopt, nullptr).wait.count() == ceiling);
        CHECK(mid.after_failure(overloaded, {}, t0, std::nullopt, nullptr).wait.count() == ceiling / 4);
    }
    // Out-of-range random values are clamped into [0, 1).
    retry::planner wild(policy(jitter_mode::full), scripted({7.0}));
    CHECK(wild.after_failure(overloaded, {}, t0, std::nullopt, nullptr).wait.count() == 500);
    retry::planner negative(policy(jitter_mode::full), scripted({-1.0}));
    CHECK(negative.after_failure(overloaded, {}, t0, std::nullopt, nullptr).wait.count() == 0);
    retry::planner nan(policy(jitter_mode::full), scripted({std::numeric_limits<double>::quiet_NaN()}));
    CHECK(nan.after_failure(overloaded, {}, t0, std::nullopt, nullptr).wait.count() == 0);
}

TEST_CASE("decorrelated jitter stays between the initial backoff and three times the previous wait", "[retry]") {
    SECTION("top of the range each time: 1.5 s, 4.5 s, then the cap") {
        retry::planner p(policy(jitter_mode::decorrelated), scripted({0.999999}));
        CHECK(p.after_failure(overloaded, {}, t0, std::nullopt, nullptr).wait.count() == 1500);
        CHECK(p.after_failure(overloaded, {}, t0, std::nullopt, nullptr).wait.count() == 4500);
        CHECK(p.after_failure(overloaded, {}, t0, std::nullopt, nullptr).wait.count() == 8000);
    }
    SECTION("bottom of the range: never below the initial backoff") {
        retry::planner p(policy(jitter_mode::decorrelated), scripted({0.0}));
        for (int i = 0; i < 5; ++i) CHECK(p.after_failure(overloaded, {}, t0, std::nullopt, nullptr).wait.count() == 500);
    }
    SECTION("any draw lands in [initial, min(cap, 3 x previous)]") {
        std::deque<double> draws;
        for (int i = 0; i < 200; ++i) draws.push_back((i * 37 % 100) / 100.0);
        retry::planner p(policy(jitter_mode::decorrelated, 200), scripted(draws));
        long long previous = 500;
        for (int i = 0; i < 200; ++i) {
            const long long w = p.after_failure(overloaded, {}, t0, std::nullopt, nullptr).wait.count();
            CHECK(w >= 500);
            CHECK(w <= std::min<long long>(8000, 3 * previous));
            previous = w;
        }
    }
}

TEST_CASE("max_retries bounds the retries and the note says so", "[retry]") {
    retry::planner p(policy(jitter_mode::none, 2), scripted({0.5}));
    CHECK(p.after_failure(overloaded, {}, t0, std::nullopt, nullptr).retry);
    CHECK(p.after_failure(overloaded, {}, t0, std::nullopt, nullptr).retry);
    const auto third = p.after_failure(overloaded, {}, t0, std::nullopt, nullptr);
    CHECK_FALSE(third.retry);
    CHECK(third.note == "not retried: retries used up (max_retries = 2)");
    CHECK(p.retries_made() == 2);

    retry::planner off(policy(jitter_mode::none, 0), scripted({0.5}));
    const auto d = off.after_failure(overloaded, {}, t0, std::nullopt, nullptr);
    CHECK_FALSE(d.retry);
    CHECK(d.note.find("max_retries = 0") != std::string::npos);
}

TEST_CASE("only retryable classes are retried, x-should-retry overrides the class", "[retry]") {
    const boost::system::error_code terminal[] = {api_errc::bad_request,       api_errc::authentication,
                                                  api_errc::permission_denied, api_errc::payment_required,
                                                  api_errc::not_found,         api_errc::content_filtered,
                                                  api_errc::request_too_large, api_errc::unsupported_input,
                                                  errc::invalid_request,       errc::malformed_response,
                                                  errc::deadline_exceeded};
    for (const auto& ec : terminal) {
        retry::planner p(policy(jitter_mode::none), scripted({0.5}));
        const auto d = p.after_failure(ec, {}, t0, std::nullopt, nullptr);
        CHECK_FALSE(d.retry);
        CHECK(d.note.empty());  // the class explains itself
    }
    const boost::system::error_code transient[] = {api_errc::rate_limited, api_errc::request_timeout,
                                                   api_errc::server_error, api_errc::overloaded,
                                                   errc::connection_closed, errc::first_byte_timeout,
                                                   errc::connect_timeout,  boost::asio::error::connection_refused,
                                                   boost::asio::error::connection_reset};
    for (const auto& ec : transient) {
        retry::planner p(policy(jitter_mode::none), scripted({0.5}));
        CHECK(p.after_failure(ec, {}, t0, std::nullopt, nullptr).retry);
    }

    diagnostics says_yes;
    says_yes.server_says_retry = true;
    retry::planner a(policy(jitter_mode::none), scripted({0.5}));
    CHECK(a.after_failure(api_errc::bad_request, says_yes, t0, std::nullopt, nullptr).retry);

    diagnostics says_no;
    says_no.server_says_retry = false;
    retry::planner b(policy(jitter_mode::none), scripted({0.5}));
    const auto d = b.after_failure(api_errc::overloaded, says_no, t0, std::nullopt, nullptr);
    CHECK_FALSE(d.retry);
    CHECK(d.note.find("x-should-retry: false") != std::string::npos);
}

TEST_CASE("Retry-After replaces the computed backoff, up to max_retry_after", "[retry]") {
    auto p = policy(jitter_mode::full);
    p.max_retry_after = seconds(60);
    diagnostics d;
    d.retry_after = seconds(7);
    retry::planner honour(p, scripted({0.0}));
    const auto r = honour.after_failure(api_errc::rate_limited, d, t0, std::nullopt, nullptr);
    CHECK(r.retry);
    CHECK(r.wait == seconds(7));

    d.retry_after = milliseconds(0);
    retry::planner zero(p, scripted({0.9}));
    CHECK(zero.after_failure(api_errc::rate_limited, d, t0, std::nullopt, nullptr).wait == milliseconds(0));

    d.retry_after = seconds(61);
    retry::planner too_long(p, scripted({0.0}));
    const auto g = too_long.after_failure(api_errc::rate_limited, d, t0, std::nullopt, nullptr);
    CHECK_FALSE(g.retry);
    CHECK(g.note == "not retried: the server asked to wait 61 s, longer than max_retry_after (60 s)");
}

TEST_CASE("a wait that would cross the deadline is not taken", "[retry]") {
    diagnostics d;
    d.retry_after = milliseconds(1500);
    retry::planner p(policy(jitter_mode::none), scripted({0.5}));
    const auto cut = p.after_failure(api_errc::rate_limited, d, t0, t0 + milliseconds(1500), nullptr);
    CHECK_FALSE(cut.retry);
    CHECK(cut.note == "not retried: waiting 1.5 s would pass the request's deadline");
    const auto fits = p.after_failure(api_errc::rate_limited, d, t0, t0 + milliseconds(1501), nullptr);
    CHECK(fits.retry);
    // A refused retry does not count: the next decision still starts at the first backoff.
    retry::planner q(policy(jitter_mode::none), scripted({0.5}));
    CHECK_FALSE(q.after_failure(overloaded, {}, t0, t0 + milliseconds(100), nullptr).retry);
    CHECK(q.after_failure(overloaded, {}, t0, std::nullopt, nullptr).wait == milliseconds(500));
}

TEST_CASE("the retry budget allows a floor plus a fraction of recent requests", "[retry][budget]") {
    retry_budget_options o;
    o.ratio = 0.2;
    o.min_retries_per_second = 1.0;
    o.window = seconds(10);
    retry::budget b(o);
    // Floor: 1/s over 10 s = 10 retries with no traffic at all.
    CHECK(b.available(t0) == Approx(10.0));
    for (int i = 0; i < 100; ++i) b.record_request(t0);
    CHECK(b.available(t0) == Approx(30.0));
    int allowed = 0;
    while (b.try_withdraw(t0)) ++allowed;
    CHECK(allowed == 30);
    CHECK_FALSE(b.try_withdraw(t0 + seconds(9)));
    // Deposits and withdrawals made at t0 leave the window 10 s later: the floor is back.
    CHECK(b.available(t0 + seconds(10)) == Approx(10.0));
    CHECK(b.try_withdraw(t0 + seconds(10)));

    SECTION("a planner that the budget refuses says so and does not count the retry") {
        retry::budget empty({0.0, 0.0, seconds(10), true});
        retry::planner p(policy(jitter_mode::none), scripted({0.5}));
        const auto d = p.after_failure(overloaded, {}, t0, std::nullopt, &empty);
        CHECK_FALSE(d.retry);
        CHECK(d.note.find("retry budget") != std::string::npos);
        CHECK(p.retries_made() == 0);
    }
    SECTION("a disabled budget never refuses") {
        retry::budget off({0.0, 0.0, seconds(10), false});
        for (int i = 0; i < 1000; ++i) REQUIRE(off.try_withdraw(t0));
    }
}

TEST_CASE("budget windows slide second by second", "[retry][budget]") {
    retry::budget b({0.5, 0.0, seconds(3), true});
    for (int i = 0; i < 4; ++i) b.record_request(t0);                 // +2
    for (int i = 0; i < 2; ++i) b.record_request(t0 + seconds(1));   // +1
    CHECK(b.available(t0 + seconds(2)) == Approx(3.0));
    CHECK(b.available(t0 + seconds(3)) == Approx(1.0));  // t0's deposits expired
    CHECK(b.available(t0 + seconds(4)) == Approx(0.0));
    CHECK(b.try_withdraw(t0 + seconds(1)));
    CHECK(b.try_withdraw(t0 + seconds(1)));
    CHECK(b.try_withdraw(t0 + seconds(1)));
    CHECK_FALSE(b.try_withdraw(t0 + seconds(2)));
}

TEST_CASE("waits in notes read as seconds with up to three decimals", "[retry]") {
    CHECK(retry::format_seconds(milliseconds(120'000)) == "120 s");
    CHECK(retry::format_seconds(milliseconds(120'500)) == "120.5 s");
    CHECK(retry::format_seconds(milliseconds(1'234'567)) == "1234.567 s");
    CHECK(retry::format_seconds(milliseconds(50)) == "0.05 s");
}

TEST_CASE("a Retry-After wait does not steer decorrelated jitter", "[retry]") {
    diagnostics server;
    server.retry_after = seconds(30);
    retry::planner p(policy(jitter_mode::decorrelated), scripted({0.999999}));
    CHECK(p.after_failure(api_errc::rate_limited, server, t0, std::nullopt, nullptr).wait == seconds(30));
    // The next computed wait grows from the initial backoff, not from the server's 30 s.
    CHECK(p.after_failure(overloaded, {}, t0, std::nullopt, nullptr).wait.count() == 1500);
}
