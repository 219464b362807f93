// The client's own rate limits (the rate governor): requests and tokens per minute, requests in
// flight, and what a provider throttle (429) does to them. Plain data; everything off by default.
//
// Admission happens before every attempt, retries included. Requests wait in arrival order; a
// request that cannot be admitted within `max_wait`, or before its deadline (timeouts::total),
// fails at once with errc::rate_limit_wait_exceeded instead of waiting in vain.
//
// Tokens are reserved from an estimate when a request is admitted: request body bytes / 3 +
// max_tokens (or `output_tokens_estimate` when the request sets none). When the response reports
// its usage, the reservation is corrected to the real total (prompt + completion tokens); a
// request the provider refused (an HTTP error status) gives its reservation back.
//
// The limits are kept per model, within one client (one process). A provider's limit belongs to
// the account, so a fleet of N processes should give each one 1/N of it (`expected_instances`
// divides them here).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace llmstream {

struct rate_limits {
    std::uint64_t requests_per_minute = 0;  ///< 0: no request rate limit (unless `adaptive`)
    std::uint64_t tokens_per_minute = 0;    ///< 0: no token rate limit
    std::size_t max_in_flight = 0;          ///< attempts under way at once, per model; 0: no limit
    std::chrono::milliseconds burst{1000};  ///< how much of a minute's rate may go at once: one second's worth
    std::chrono::milliseconds max_wait{60'000};  ///< longest wait for admission -> errc::rate_limit_wait_exceeded
                                                 ///< (0: never wait; fail when not admitted at once)
    std::uint32_t expected_instances = 1;   ///< processes sharing these limits: each one takes 1/N of them

    /// For users who do not know their limits: the request rate starts at `adaptive_start_rpm`,
    /// grows while requests succeed (doubling each second until the first throttle, then by
    /// a quarter of `adaptive_start_rpm` per minute each second) and halves on a provider throttle 429
    /// (AIMD, as TCP does). `requests_per_minute`, when set, stays the ceiling.
    bool adaptive = false;
    std::uint64_t adaptive_start_rpm = 600;

    /// After a provider throttle 429 (api_errc::rate_limited), no request of that model is admitted
    /// for Retry-After when the server sent one, else for `throttle_cooldown`, plus a random jitter
    /// of up to half of it (so that a fleet does not come back in one wave).
    std::chrono::milliseconds throttle_cooldown{1000};

    /// Shared limits: the state lives in Redis, so that every process (every machine) with the same
    /// `key` and model keeps to one limit together: "redis://[[user]:password@]host[:port][/db]"
    /// (the password is never printed), or rediss:// for TLS, checked as client_config::tls says. Each decision is one atomic Lua script on Redis, timed by
    /// Redis's clock. When Redis does not answer within `redis_timeout` (or refuses), admission
    /// falls back to this process's own limits, divided by `expected_instances`, for a second at a
    /// time, and the first request so admitted says so in diagnostics::admission_note; sharing
    /// resumes when Redis answers again. Attempts in flight are always counted per process.
    std::string redis{};
    std::chrono::milliseconds redis_timeout{50};
    /// What the limits are shared by; empty: a fingerprint (SHA-256) of the base URL, API key and
    /// workspace, never the key itself. The model is always part of it.
    std::string key{};

    /// Output tokens assumed for a request that sets no max_tokens (the estimate is corrected with
    /// the real usage when the response ends).
    std::uint32_t output_tokens_estimate = 1024;

    /// True when any limit is set: otherwise admission costs nothing.
    bool enabled() const noexcept {
        return requests_per_minute > 0 || tokens_per_minute > 0 || max_in_flight > 0 || adaptive;
    }
};

}  // namespace llmstream
