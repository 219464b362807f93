#include "retry/retry_planner.hpp"

#include <llmstream/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace llmstream::retry {

using std::chrono::milliseconds;

// --- budget ---

budget::budget(const retry_budget_options& options)
    : options_(options), slots_(static_cast<std::size_t>(std::max<std::int64_t>(1, options.window.count()))) {}

budget::second_slot& budget::slot(clock::time_point now) {
    const auto n = static_cast<std::int64_t>(slots_.size());
    const std::int64_t second = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    auto& s = slots_[static_cast<std::size_t>(((second % n) + n) % n)];
    if (s.second != second) s = second_slot{second, 0, 0};
    return s;
}

void budget::record_request(clock::time_point now) { ++slot(now).requests; }

double budget::available(clock::time_point now) {
    const auto n = static_cast<std::int64_t>(slots_.size());
    const std::int64_t second = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    std::uint64_t requests = 0;
    std::uint64_t retries = 0;
    for (const auto& s : slots_) {
        if (s.second > second - n && s.second <= second) {
            requests += s.requests;
            retries += s.retries;
        }
    }
    const double floor = std::max(0.0, options_.min_retries_per_second) * static_cast<double>(n);
    return floor + std::max(0.0, options_.ratio) * static_cast<double>(requests) - static_cast<double>(retries);
}

bool budget::try_withdraw(clock::time_point now) {
    if (!options_.enabled) return true;
    if (available(now) < 1.0) return false;
    ++slot(now).retries;
    return true;
}

// --- planner ---

std::string format_seconds(milliseconds ms) {
    const long long v = ms.count();
    std::string out = std::to_string(v / 1000);
    if (const long long frac = (v < 0 ? -v : v) % 1000; frac != 0) {
        char digits[8];
        std::snprintf(digits, sizeof digits, ".%03lld", frac);
        std::string f = digits;
        while (f.back() == '0') f.pop_back();
        out += f;
    }
    return out + " s";
}

planner::planner(const retry_policy& policy, random_source random) : policy_(policy), random_(std::move(random)) {}

milliseconds planner::backoff() {
    const double initial = std::max<double>(0.0, static_cast<double>(policy_.initial_backoff.count()));
    const double cap = std::max<double>(0.0, static_cast<double>(policy_.max_backoff.count()));
    double base = initial * std::pow(std::max(0.0, policy_.multiplier), retries_);
    if (!(base < cap)) base = cap;  // also catches overflow to infinity and NaN
    double r = random_ ? random_() : 0.5;
    if (!(r >= 0.0)) r = 0.0;
    if (r >= 1.0) r = std::nextafter(1.0, 0.0);
    double wait = base;
    switch (policy_.jitter) {
    case jitter_mode::full:
        wait = r * base;
        break;
    case jitter_mode::decorrelated: {
        const double previous = previous_.count() > 0 ? static_cast<double>(previous_.count()) : initial;
        const double high = std::max(initial, 3.0 * previous);
        wait = std::min(cap, initial + r * (high - initial));
        break;
    }
    case jitter_mode::none:
        break;
    }
    return milliseconds(static_cast<long long>(std::llround(wait)));
}

decision planner::after_failure(const boost::system::error_code& ec, const diagnostics& diag, clock::time_point now,
                                std::optional<clock::time_point> deadline, budget* budget) {
    decision d;
    if (!ec) return d;
    const bool library_says = is_retryable(ec);
    if (!diag.server_says_retry.value_or(library_says)) {
        if (library_says) d.note = "not retried: the server said not to (x-should-retry: false)";
        return d;
    }
    if (retries_ >= policy_.max_retries) {
        if (policy_.max_retries <= 0) d.note = "not retried: retrying is off (max_retries = 0)";
        else
            d.note = "not retried: retries used up (max_retries = " +
                     std::to_string(policy_.max_retries) + ")";
        return d;
    }
    milliseconds wait{0};
    bool computed = false;
    if (diag.retry_after) {
        if (*diag.retry_after > policy_.max_retry_after) {
            d.note = "not retried: the server asked to wait " + format_seconds(*diag.retry_after) +
                     ", longer than max_retry_after (" + format_seconds(policy_.max_retry_after) + ")";
            return d;
        }
        wait = std::max(milliseconds{0}, *diag.retry_after);
    } else {
        wait = backoff();
        computed = true;
    }
    if (deadline && now + wait >= *deadline) {
        d.note = "not retried: waiting " + format_seconds(wait) + " would pass the request's deadline";
        return d;
    }
    if (budget && !budget->try_withdraw(now)) {
        d.note = "not retried: the client-wide retry budget is spent (many requests failed recently)";
        return d;
    }
    ++retries_;
    if (computed) previous_ = wait;  // decorrelated jitter grows from its own waits, not the server's
    d.retry = true;
    d.wait = wait;
    return d;
}

}  // namespace llmstream::retry
