// The rate governor's decisions for one limit key (a model of one client): may a request go now,
// and if not, when to ask again. Sans-IO: time and randomness come in as arguments, so tests
// drive it with a fake clock. The asio driver (limits/gate.hpp) keeps the waiting line.
#pragma once

#include <llmstream/limits.hpp>

#include "limits/gcra.hpp"

#include <chrono>
#include <cstdint>
#include <optional>

namespace llmstream::limits {

/// What stands in the way of a request (for diagnostics and tests).
enum class blocker { none, cooldown, in_flight, requests, tokens };

struct admission {
    bool admitted = false;
    blocker waiting_for = blocker::none;
    /// When to ask again; nullopt: not before an attempt in flight ends (release()).
    std::optional<clock::time_point> retry_at{};
};

/// The limits of one key: requests (GCRA), tokens (GCRA, reserved by estimate and corrected),
/// attempts in flight, the cool-down after a provider throttle, and the adaptive rate.
class governor {
public:
    /// `limits` as configured; they are divided by `limits.expected_instances` here.
    explicit governor(const rate_limits& limits);

    /// May a request estimated at `tokens` tokens start an attempt now? If so it is charged
    /// (a request, the tokens, a place in flight); else nothing changes.
    admission try_admit(clock::time_point now, std::uint64_t tokens);

    /// An admitted attempt ended: its place in flight is free. `reserved` is what try_admit
    /// charged; `used` the tokens the response reported (nullopt: unknown, the estimate stands);
    /// `refused`: the provider refused the request (an HTTP error), so its tokens come back.
    void release(std::uint64_t reserved, std::optional<std::uint64_t> used, bool refused);

    /// Attempts in flight alone (when another store decides the rates): is there room, take one, give one back.
    bool in_flight_full() const noexcept { return limits_.max_in_flight > 0 && in_flight_ >= limits_.max_in_flight; }
    void enter() noexcept { ++in_flight_; }
    void leave() noexcept {
        if (in_flight_ > 0) --in_flight_;
    }

    /// The provider answered with a throttle 429: nothing goes for `retry_after` (when it said)
    /// or the configured cool-down plus up to half of it by `random01` (in [0, 1)), and in
    /// adaptive mode the rate halves (once per cool-down: the attempts already in flight then
    /// meet the same throttle and must not halve it again).
    void on_throttle(clock::time_point now, std::optional<clock::duration> retry_after, double random01);
    /// How long a throttle stops admissions: Retry-After or the cool-down, plus the jitter.
    static clock::duration cooldown(const rate_limits& limits, std::optional<clock::duration> retry_after,
                                    double random01);
    /// An attempt succeeded: in adaptive mode the rate grows.
    void on_success();

    /// The request rate in force, per minute (0: none); in adaptive mode it moves.
    double requests_per_minute() const noexcept { return rate_per_minute_; }
    std::size_t in_flight() const noexcept { return in_flight_; }
    /// Adaptive growth stops here without a configured requests_per_minute (100,000 a second).
    static constexpr double ceiling_rpm = 6'000'000;
    clock::time_point cooldown_until() const noexcept { return cooldown_until_; }

private:

    void apply_rate();

    rate_limits limits_;
    std::optional<gcra> requests_;
    std::optional<gcra> tokens_;
    double rate_per_minute_ = 0;
    double max_rate_per_minute_ = 0;  // the configured ceiling (adaptive), 0: none
    bool slow_start_ = true;          // adaptive: doubling until the first throttle
    std::size_t in_flight_ = 0;
    clock::time_point cooldown_until_{};
};

}  // namespace llmstream::limits
