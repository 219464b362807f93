// When a failed request is sent again, and how long the client waits first.
//
// What may be retried is decided in one place, `is_retryable(ec)` (error.hpp), overridden by a
// server's `x-should-retry: true|false`. This header only says how often and how patiently.
// Nothing is retried once a delta has been produced for the reader: delivered text is never
// replayed.
#pragma once

#include <chrono>

namespace llmstream {

/// How a backoff delay is randomised. See retry_policy::jitter.
enum class jitter_mode {
    /// wait = uniform(0, min(max_backoff, initial_backoff * multiplier^retry)). The default: it
    /// spreads a crowd of clients that failed together over the whole window, so their retries
    /// do not arrive together again, and it keeps the expected wait (and total work) lowest.
    full,
    /// wait = min(max_backoff, uniform(initial_backoff, 3 * previous wait)). Never waits less
    /// than initial_backoff; a good choice when the server needs a minimum pause to recover.
    decorrelated,
    /// wait = min(max_backoff, initial_backoff * multiplier^retry) exactly. For tests and for
    /// servers that pace retries themselves.
    none,
};

struct retry_policy {
    int max_retries = 2;                                 ///< retries after the first attempt; 0 disables retrying
    std::chrono::milliseconds initial_backoff{500};      ///< the base of the first wait
    double multiplier = 2.0;                             ///< growth of the base per retry
    std::chrono::milliseconds max_backoff{8'000};        ///< no computed wait is longer
    jitter_mode jitter = jitter_mode::full;
    /// The longest wait a server's Retry-After / retry-after-ms may ask for. If it asks for more,
    /// the client gives up at once (diagnostics::retry_note says so) rather than hold the request.
    std::chrono::milliseconds max_retry_after{60'000};
};

/// A client-wide limit on retries, so that an outage does not multiply the load on a provider by
/// (1 + max_retries). Within any `window`, retries are allowed up to
///     min_retries_per_second * window  +  ratio * (first attempts made in that window).
/// Think of it as a token bucket whose deposits (one per `1/ratio` requests, plus a steady
/// floor) expire after `window`. When it is empty a failure is returned as it is, with a note in
/// diagnostics::retry_note.
struct retry_budget_options {
    double ratio = 0.2;                     ///< retries per first attempt in the window
    double min_retries_per_second = 10.0;   ///< the floor, for clients with little traffic
    std::chrono::seconds window{10};        ///< how long deposits and withdrawals count
    bool enabled = true;                    ///< false: every policy-allowed retry is made
};

}  // namespace llmstream
