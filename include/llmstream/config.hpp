// What a client is configured with: plain data, every field defaulted. Zero durations disable.
#pragma once

#include <llmstream/dialect.hpp>
#include <llmstream/limits.hpp>
#include <llmstream/retry.hpp>
#include <llmstream/sse.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace llmstream {

class observer;  // observer.hpp

/// Each timeout has its own error code. Zero disables one.
struct timeouts {
    std::chrono::milliseconds connect{10'000};      ///< DNS + TCP (+ TLS) -> errc::connect_timeout
    std::chrono::milliseconds first_byte{120'000};  ///< request sent -> first response byte: errc::first_byte_timeout
    std::chrono::milliseconds idle{60'000};         ///< longest gap between response bytes: errc::idle_timeout
    std::chrono::milliseconds total{0};             ///< the whole request: errc::deadline_exceeded
};

/// Per-origin keep-alive connection pool.
struct pool_options {
    std::size_t max_connections = 256;            ///< open connections per origin, in use or idle
    std::size_t max_waiting = 100'000;            ///< requests queued for a connection; more fail at once
    std::size_t max_connecting = 1024;            ///< connections being opened at once (lookup, TCP, TLS
                                                  ///< handshake); more wait their turn in arrival order,
                                                  ///< up to wait_timeout; 0: no limit
    std::chrono::milliseconds wait_timeout{30'000};  ///< longest wait for a connection (and for a turn to open one)
    std::chrono::milliseconds idle_timeout{50'000};  ///< idle connections older than this are closed, not reused
};

/// Which HTTP version the client speaks.
enum class http_version {
    automatic,  ///< https: offer h2 and http/1.1 by ALPN, h2 preferred; http://: HTTP/1.1
    http1,      ///< HTTP/1.1 only: one stream per connection
    http2,      ///< HTTP/2 only: https needs the server to choose h2 (else errc::http2_not_negotiated);
                ///< http:// speaks h2c with prior knowledge (local servers, llmstream-mock)
};

/// HTTP/2 limits. Streams share a connection up to the server's SETTINGS_MAX_CONCURRENT_STREAMS
/// and `max_concurrent_streams`; a new connection opens only when every one is full.
struct http2_options {
    std::size_t max_concurrent_streams = 100;        ///< our own cap of streams per connection
    std::uint32_t stream_window = 256 * 1024;         ///< bytes a stream may receive ahead of its reader
    std::uint32_t connection_window = 16 * 1024 * 1024;  ///< bytes all streams of a connection may receive ahead
    std::size_t max_header_list = 64 * 1024;          ///< a response's header fields -> errc::response_headers_too_large
    std::size_t max_control_frames_per_second = 1000;  ///< SETTINGS, PING, CONTINUATION, PRIORITY, RST_STREAM,
                                                       ///< WINDOW_UPDATE, empty DATA, beyond 4 for each stream
                                                       ///< opened in that second -> errc::http2_flood
    std::chrono::milliseconds ping_after_idle{15'000};  ///< an idle connection is PINGed before reuse after this
};

struct tls_options {
    bool verify_peer = true;  ///< verify the certificate chain and the host name
    /// Extra trusted CA bundle (PEM); the system trust store is always used. One that is missing,
    /// unreadable or holds no certificate makes the client's constructor throw
    /// std::invalid_argument naming it (before 2026-12, boost::system::system_error).
    std::string ca_file{};
    /// Resume TLS sessions: a new connection offers the newest session (TLS 1.3 ticket) the server
    /// gave this client, which saves the certificate check of a full handshake. Sessions stay in
    /// the client's memory.
    bool resume_sessions = true;
};

/// Pins a host name to an address, as curl's `--resolve` does: requests to `host` connect to
/// `address` (an IPv4 or IPv6 literal) without a DNS lookup, while the Host header, TLS SNI and
/// certificate verification still use `host`. For tests and split-horizon networks.
struct host_override {
    std::string host{};     ///< matched without regard to case
    std::string address{};  ///< e.g. "127.0.0.1" or "::1"
};

/// An HTTP proxy between the client and the server. Precedence: `url` when set (for every
/// origin); otherwise, with `from_environment`, the variables curl and httpx read: `https_proxy` /
/// `HTTPS_PROXY` for https origins, `http_proxy` / `HTTP_PROXY` for http ones (HTTP_PROXY not under
/// CGI, when REQUEST_METHOD is set), then `all_proxy` / `ALL_PROXY`. Hosts matching `no_proxy` (and, with
/// `from_environment`, `no_proxy` / `NO_PROXY`: comma list, `*`, domains with their subdomains,
/// IP literals, CIDR ranges, `:port`) are reached directly. https origins go through a CONNECT
/// tunnel (TLS and certificate checks are with the server, not the proxy); http origins are sent
/// to the proxy in absolute form. Credentials come from the URL's userinfo and are never printed.
struct proxy_options {
    std::string url{};             ///< http://[user:password@]host[:port]; empty: none set here
    bool from_environment = true;  ///< read the proxy variables above (like httpx's trust_env)
    std::string no_proxy{};        ///< hosts reached directly, in NO_PROXY syntax
};

struct client_config {
    std::string base_url{};                             ///< e.g. https://api.openai.com/v1
    api_dialect dialect = api_dialect::openai_compatible;
    llmstream::vendor vendor = vendor::automatic;       ///< whose error codes to read (see vendor)
    std::string api_key{};                              ///< sent as `auth` says; never logged or reported
    llmstream::auth_scheme auth = auth_scheme::automatic;  ///< Bearer, or x-api-key (Anthropic)
    std::string workspace{};                            ///< DashScope sub-workspace id: the X-DashScope-WorkSpace header
                                                        ///< (optional; not sent to another vendor's host)
    std::vector<std::pair<std::string, std::string>> headers{};  ///< extra request headers
    llmstream::timeouts timeouts{};
    pool_options pool{};
    tls_options tls{};
    http_version http = http_version::automatic;  ///< HTTP/1.1, HTTP/2, or h2 when the server offers it (https)
    http2_options http2{};
    retry_policy retry{};                 ///< default for every request (chat_request::retry overrides)
    retry_budget_options retry_budget{};  ///< client-wide cap on retries
    rate_limits limits{};                 ///< the client's own rate limits (limits.hpp); none by default
    sse::limits sse_limits{};
    std::size_t max_body_size = 64 * 1024 * 1024;  ///< non-streaming and error bodies
    /// Deltas decoded ahead of the reader before reading its response pauses. The read that ends a
    /// response is decoded whole: its deltas wait here, and the connection goes back to the pool.
    std::size_t max_buffered_deltas = 256;
    std::vector<host_override> host_overrides{};   ///< hosts pinned to addresses (no DNS lookup)
    proxy_options proxy{};                         ///< an HTTP proxy, set here or by the environment
    std::shared_ptr<llmstream::observer> observer{};  ///< hooks for metrics and logs (observer.hpp); none by default
};

}  // namespace llmstream
