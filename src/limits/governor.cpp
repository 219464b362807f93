#include "limits/governor.hpp"

#include <algorithm>

namespace llmstream::limits {

namespace {

clock::duration per_unit(double per_minute) {
    return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(60.0 / per_minute));
}

}  // namespace

// --- governor ---

governor::governor(const rate_limits& limits) : limits_(limits) {
    const double instances = std::max<std::uint32_t>(limits.expected_instances, 1);
    if (limits.tokens_per_minute > 0)
        tokens_.emplace(per_unit(static_cast<double>(limits.tokens_per_minute) / instances), limits.burst);
    max_rate_per_minute_ = static_cast<double>(limits.requests_per_minute) / instances;
    rate_per_minute_ = max_rate_per_minute_;
    if (limits.adaptive) {
        const double start = std::max(1.0, static_cast<double>(limits.adaptive_start_rpm) / instances);
        rate_per_minute_ = max_rate_per_minute_ > 0 ? std::min(start, max_rate_per_minute_) : start;
    }
    apply_rate();
}

void governor::apply_rate() {
    if (rate_per_minute_ <= 0) return;
    const auto interval = per_unit(rate_per_minute_);
    if (requests_) requests_->set_interval(interval);
    else requests_.emplace(interval, limits_.burst);
}

admission governor::try_admit(clock::time_point now, std::uint64_t tokens) {
    if (now < cooldown_until_) return {false, blocker::cooldown, cooldown_until_};
    if (limits_.max_in_flight > 0 && in_flight_ >= limits_.max_in_flight) return {false, blocker::in_flight, {}};
    if (requests_) {
        if (const auto at = requests_->available_at(now, 1); at > now) return {false, blocker::requests, at};
    }
    if (tokens_) {
        if (const auto at = tokens_->available_at(now, static_cast<double>(tokens)); at > now)
            return {false, blocker::tokens, at};
    }
    if (requests_) requests_->take(now, 1);
    if (tokens_) tokens_->take(now, static_cast<double>(tokens));
    ++in_flight_;
    return {true, blocker::none, {}};
}

void governor::release(std::uint64_t reserved, std::optional<std::uint64_t> used, bool refused) {
    if (in_flight_ > 0) --in_flight_;
    if (!tokens_) return;
    if (refused) tokens_->give_back(static_cast<double>(reserved));
    else if (used) tokens_->give_back(static_cast<double>(reserved) - static_cast<double>(*used));
}

clock::duration governor::cooldown(const rate_limits& limits, std::optional<clock::duration> retry_after,
                                   double random01) {
    const clock::duration base = retry_after ? *retry_after : clock::duration(limits.throttle_cooldown);
    return base + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(limits.throttle_cooldown) *
                                                              (0.5 * std::clamp(random01, 0.0, 1.0)));
}

void governor::on_throttle(clock::time_point now, std::optional<clock::duration> retry_after, double random01) {
    const bool cooling = now < cooldown_until_;
    cooldown_until_ = std::max(cooldown_until_, now + cooldown(limits_, retry_after, random01));
    if (limits_.adaptive && !cooling) {
        slow_start_ = false;
        rate_per_minute_ = std::max(1.0, rate_per_minute_ / 2);
        apply_rate();
    }
}

void governor::on_success() {
    if (!limits_.adaptive) return;
    // Slow start adds one request per minute's worth per success: with rate/60 successes a
    // second, the rate doubles each second. After a throttle, each second adds a quarter of the
    // start rate (fast enough to find the limit again, slow enough not to overshoot it often).
    const double start = std::max(1.0, static_cast<double>(limits_.adaptive_start_rpm) /
                                           std::max<std::uint32_t>(limits_.expected_instances, 1));
    rate_per_minute_ += slow_start_ ? 60.0 : 15.0 * start / rate_per_minute_;
    rate_per_minute_ = std::min(rate_per_minute_, max_rate_per_minute_ > 0 ? max_rate_per_minute_ : ceiling_rpm);
    apply_rate();
}

}  // namespace llmstream::limits
