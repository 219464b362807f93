// The rate governor's decisions, driven with a fake clock: no test sleeps.
#include "limits/governor.hpp"

#include <catch2/catch.hpp>

using namespace llmstream;
using limits::admission;
using limits::blocker;
using time_point = limits::clock::time_point;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

const time_point t0 = time_point{} + std::chrono::hours(1000);

rate_limits rpm(std::uint64_t n) {
    rate_limits l;
    l.requests_per_minute = n;
    return l;
}

// Admits as many requests as the governor allows at `now`.
int admit_all(limits::governor& g, time_point now, std::uint64_t tokens = 0) {
    int n = 0;
    while (g.try_admit(now, tokens).admitted) {
        g.release(tokens, std::nullopt, false);
        ++n;
    }
    return n;
}

}  // namespace

TEST_CASE("gcra: a full bucket lets a burst go, then one unit per interval") {
    limits::gcra g(milliseconds(100), seconds(1));  // 10 per second, a burst of 10
    int burst = 0;
    while (g.available_at(t0, 1) <= t0) {
        g.take(t0, 1);
        ++burst;
    }
    CHECK(burst == 10);
    CHECK(g.available_at(t0, 1) == t0 + milliseconds(100));
    CHECK(g.available_at(t0 + milliseconds(100), 1) <= t0 + milliseconds(100));
    // A cost larger than the burst goes when the bucket is full, and not before.
    CHECK(g.available_at(t0, 50) == t0 + seconds(1));
    CHECK(g.available_at(t0 + seconds(1), 50) <= t0 + seconds(1));
}

TEST_CASE("gcra: given-back units are available again, charged ones later") {
    limits::gcra g(milliseconds(10), seconds(1));  // 100 units per second, 100 at once
    g.take(t0, 100);
    CHECK(g.available_at(t0, 1) == t0 + milliseconds(10));
    g.give_back(40);
    CHECK(g.available_at(t0, 40) <= t0);
    CHECK(g.available_at(t0, 41) == t0 + milliseconds(10));
    g.give_back(-60);  // 60 more charged: 120 units (1.2 s) are owed
    CHECK(g.available_at(t0, 1) == t0 + milliseconds(210));
}

TEST_CASE("governor: no limit set admits everything") {
    limits::governor g{rate_limits{}};
    for (int i = 0; i < 1000; ++i) REQUIRE(g.try_admit(t0, 1'000'000).admitted);
    CHECK(g.in_flight() == 1000);
}

TEST_CASE("governor: requests per minute with a one-second burst, then one per interval") {
    limits::governor g(rpm(600));  // 10 per second
    CHECK(admit_all(g, t0) == 10);
    const admission a = g.try_admit(t0, 0);
    CHECK_FALSE(a.admitted);
    CHECK(a.waiting_for == blocker::requests);
    REQUIRE(a.retry_at);
    CHECK(*a.retry_at == t0 + milliseconds(100));
    CHECK(admit_all(g, t0 + milliseconds(100)) == 1);
    // Over a minute, no more than the rate plus the burst.
    int total = 0;
    for (int ms = 200; ms <= 60'000; ms += 50) total += admit_all(g, t0 + milliseconds(ms));
    CHECK(total == 599);
}

TEST_CASE("governor: expected_instances divides the rates") {
    rate_limits l = rpm(600);
    l.tokens_per_minute = 60'000;
    l.expected_instances = 3;
    limits::governor g(l);
    CHECK(g.requests_per_minute() == Approx(200));
    // 200 per minute: a burst of 3 (one second's worth, rounded down); 333 tokens a second.
    CHECK(admit_all(g, t0) == 3);
    limits::governor tokens(l);
    CHECK(tokens.try_admit(t0, 300).admitted);
    const admission a = tokens.try_admit(t0, 300);
    CHECK_FALSE(a.admitted);
    CHECK(a.waiting_for == blocker::tokens);
}

TEST_CASE("governor: tokens are reserved by estimate and corrected by the real usage") {
    rate_limits l;
    l.tokens_per_minute = 60'000;  // 1,000 a second, 1,000 at once
    limits::governor g(l);
    REQUIRE(g.try_admit(t0, 800).admitted);
    const admission blocked = g.try_admit(t0, 800);
    CHECK_FALSE(blocked.admitted);
    CHECK(blocked.waiting_for == blocker::tokens);
    REQUIRE(blocked.retry_at);
    CHECK(*blocked.retry_at == t0 + milliseconds(600));
    g.release(800, 100, false);  // it used 100: 700 come back
    CHECK(g.try_admit(t0, 800).admitted);
    g.release(800, std::nullopt, true);  // refused by the provider: all 800 come back
    CHECK(g.try_admit(t0, 900).admitted);
    g.release(900, 2900, false);  // it used 2,000 more than reserved
    const admission later = g.try_admit(t0, 1);
    REQUIRE(later.retry_at);
    CHECK(*later.retry_at > t0 + seconds(2));
}

TEST_CASE("governor: an estimate larger than the burst is charged in full, so its correction is exact") {
    rate_limits l;
    l.tokens_per_minute = 60'000;  // 1,000 a second, 1,000 at once
    limits::governor g(l);
    REQUIRE(g.try_admit(t0, 1100).admitted);  // more than the burst: goes with a full bucket
    g.release(1100, 300, false);             // used 300: 300 stay charged (0.3 s)
    const admission a = g.try_admit(t0, 1000);
    CHECK_FALSE(a.admitted);
    REQUIRE(a.retry_at);
    CHECK(*a.retry_at == t0 + milliseconds(300));
    limits::governor refused(l);
    REQUIRE(refused.try_admit(t0, 1100).admitted);
    refused.release(1100, std::nullopt, true);  // refused: nothing stays charged
    CHECK(refused.try_admit(t0, 1000).admitted);
}

TEST_CASE("governor: attempts in flight wait for a release, not for a time") {
    rate_limits l;
    l.max_in_flight = 2;
    limits::governor g(l);
    CHECK(g.try_admit(t0, 0).admitted);
    CHECK(g.try_admit(t0, 0).admitted);
    const admission a = g.try_admit(t0, 0);
    CHECK_FALSE(a.admitted);
    CHECK(a.waiting_for == blocker::in_flight);
    CHECK_FALSE(a.retry_at);
    g.release(0, std::nullopt, false);
    CHECK(g.try_admit(t0, 0).admitted);
}

TEST_CASE("governor: a throttle stops admissions for the cool-down with jitter, or for Retry-After") {
    rate_limits l = rpm(6000);
    l.throttle_cooldown = milliseconds(1000);
    limits::governor g(l);
    g.on_throttle(t0, std::nullopt, 0.5);  // 1 s + half of the 0.5 s jitter range
    const admission a = g.try_admit(t0 + milliseconds(1000), 0);
    CHECK(a.waiting_for == blocker::cooldown);
    REQUIRE(a.retry_at);
    CHECK(*a.retry_at == t0 + milliseconds(1250));
    CHECK(g.try_admit(t0 + milliseconds(1250), 0).admitted);

    limits::governor told(l);
    told.on_throttle(t0, milliseconds(3000), 0.0);
    CHECK_FALSE(told.try_admit(t0 + milliseconds(2999), 0).admitted);
    CHECK(told.try_admit(t0 + milliseconds(3000), 0).admitted);
}

TEST_CASE("governor: adaptive mode doubles until a throttle, halves once per cool-down, then grows additively") {
    rate_limits l;
    l.adaptive = true;
    l.adaptive_start_rpm = 600;
    limits::governor g(l);
    CHECK(g.requests_per_minute() == Approx(600));
    for (int i = 0; i < 10; ++i) g.on_success();  // a second's worth of successes at 10 per second
    CHECK(g.requests_per_minute() == Approx(1200));
    g.on_throttle(t0, std::nullopt, 0.0);
    CHECK(g.requests_per_minute() == Approx(600));
    g.on_throttle(t0 + milliseconds(10), std::nullopt, 0.0);  // an attempt admitted before the cool-down
    CHECK(g.requests_per_minute() == Approx(600));
    // Each success adds 15 * start / rate per minute: with rate / 60 successes a second, a quarter
    // of the start rate a second.
    g.on_success();
    CHECK(g.requests_per_minute() == Approx(615));
    for (int i = 0; i < 10; ++i) g.on_success();  // a second's worth
    CHECK(g.requests_per_minute() == Approx(750).epsilon(0.02));
    g.on_throttle(t0 + seconds(5), std::nullopt, 0.0);  // after the cool-down: halves again
    CHECK(g.requests_per_minute() < 600);
}

TEST_CASE("governor: adaptive mode never passes a configured requests_per_minute") {
    rate_limits l = rpm(900);
    l.adaptive = true;
    l.adaptive_start_rpm = 600;
    limits::governor g(l);
    for (int i = 0; i < 1000; ++i) g.on_success();
    CHECK(g.requests_per_minute() == Approx(900));
    CHECK(admit_all(g, t0) == 15);
}
