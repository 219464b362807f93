// The generic cell rate algorithm (GCRA): a token bucket kept as one time, without a timer.
// Header-only and sans-IO: the rate governor uses it, and so does llmstream-mock to play a
// rate-limited provider.
#pragma once

#include <algorithm>
#include <chrono>

namespace llmstream::limits {

using clock = std::chrono::steady_clock;

/// `interval` is the time one unit (a request, a token) costs; `burst` is how much time's worth
/// may go at once. A cost larger than the burst goes when the bucket is full, and is charged in
/// full (so that what is given back later matches what was charged).
class gcra {
public:
    gcra(clock::duration interval, clock::duration burst) noexcept : interval_(interval), burst_(burst) {}

    /// The earliest time `cost` units may go (`now` or earlier: they may go now). Changes nothing.
    clock::time_point available_at(clock::time_point now, double cost) const noexcept {
        // Admitted when the arrival time it would leave behind is within one burst of now.
        const auto whole = std::max(burst_, interval_);
        return std::max(tat_, now) + std::min(cost_of(cost), whole) - whole;
    }
    /// Charges `cost` units (call when available_at(now, cost) <= now).
    void take(clock::time_point now, double cost) noexcept { tat_ = std::max(tat_, now) + cost_of(cost); }
    /// Gives back `units` (negative: charges more), e.g. when a token estimate is corrected.
    void give_back(double units) noexcept {
        tat_ -= clock::duration(static_cast<clock::rep>(static_cast<double>(interval_.count()) * units));
    }

    /// Changes the rate; what was charged stays charged.
    void set_interval(clock::duration interval) noexcept { interval_ = interval; }
    clock::duration interval() const noexcept { return interval_; }

private:
    clock::duration cost_of(double units) const noexcept {
        return clock::duration(static_cast<clock::rep>(static_cast<double>(interval_.count()) * units));
    }

    clock::duration interval_;
    clock::duration burst_;
    clock::time_point tat_{};  // theoretical arrival time: the bucket is full when tat_ <= now
};

}  // namespace llmstream::limits
