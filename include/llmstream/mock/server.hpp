// llmstream-mock: a local server speaking every API dialect (chat completions, DashScope native,
// Anthropic Messages at .../v1/messages, OpenAI Responses at .../responses), for tests, benchmarks and the demo, and
// for users' own tests: the installed `llmstream::mock` library (CMake) runs it inside a program;
// the `llmstream-mock` program runs it on its own.
//
// Behaviour is scripted per request through the model name, as a query string:
//   "mock?tokens=20&pace_ms=5"                      20 content tokens, 5 ms apart
//   "mock?status=429&code=Throttling.RateQuota"     an error response (provider-shaped body)
//   "mock?fail_first=2&status=503&key=k1"           the first 2 requests with key k1 fail, then succeed
//   "mock?fail_first=1&reset_after=3&key=k2"        the first request with key k2 is cut after 3 tokens
// Parameters: tokens, reasoning (reasoning tokens first), word (token text), pace_ms, coalesce
// (tokens per write), status, code, message, retry_after, retry_after_ms, should_retry
// (x-should-retry), fail_first (the faults apply to the first N requests with `key`; 503 if no other
// fault is named), key (also makes the request id "mock-request-id-<key>-<attempt>"),
// reset_before_headers, reset_after (tokens), stall_after (tokens), error_after (tokens; in-stream
// error event), error_status, malformed_after (tokens), slow_headers_ms, keepalive (comment lines),
// cumulative (native: repeat the whole text), no_done (OpenAI: omit [DONE]), close (no keep-alive),
// demo (tokens are the words of a canned answer), echo_auth (error messages repeat the request's
// key header and X-DashScope-WorkSpace, as a leaky proxy might), raw (a hostile reply, byte for byte: huge_line
// = a 10 MB event-stream line, drip_headers = a head that never ends, bad_chunk, bad_status,
// header_flood = 1 MB of header fields, endless = keep-alive comments forever, gzip = an unasked
// Content-Encoding, http10 = an HTTP/1.0 close-delimited stream of `tokens` tokens, redirect = 302 to
// `location`), errors=openai (OpenAI-compatible error bodies in OpenAI's shape, without the
// top-level request_id DashScope's compatible mode adds).
// spread_ms (the reply waits a random 0..N ms first, so paced streams are out of step), stamp
// (each token is "t" and the steady clock's nanoseconds when it was written: for latency
// measurements), rst (HTTP/2: answer with RST_STREAM of this code, e.g. 7 REFUSED_STREAM), raw=ping_flood and
// raw=settings_flood (HTTP/2: 20,000 control frames).
// It speaks HTTP/1.1 and HTTP/2: h2c with prior knowledge in clear text (the preface tells), h2 or
// http/1.1 by ALPN over TLS.
// GET /mock/stats answers {"connections":N,"requests":N,"streams_reset":N,"throttled":N,"attempts":{"key":N,...}}.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace llmstream::mock {

struct options {
    std::string host = "127.0.0.1";
    unsigned short port = 0;     ///< 0: pick a free port (see server::port())
    std::string tls_cert_file{};  ///< PEM certificate chain: when set, the server speaks HTTPS only
    std::string tls_key_file{};   ///< PEM private key for tls_cert_file
    bool http1_only = false;      ///< no HTTP/2 (TLS offers only http/1.1 by ALPN; a cleartext h2 preface is refused)
    std::uint32_t h2_max_concurrent_streams = 128;   ///< HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS (nginx's default)
    std::uint32_t h2_max_streams_per_connection = 0;  ///< HTTP/2: GOAWAY after this many streams, as nginx's
                                                      ///< keepalive_requests; 0: never
    std::uint32_t requests_per_minute = 0;  ///< a provider's rate limit, per model: chat requests past it (with a burst
                                            ///< of `rate_burst_ms` worth) get DashScope's throttle 429
                                            ///< (Throttling.RateQuota, no Retry-After); 0: none
    std::uint32_t rate_burst_ms = 1000;
};

struct stats {
    std::uint64_t connections = 0;
    std::uint64_t requests = 0;
    std::uint64_t streams_reset = 0;  ///< replies the client gave up on before their end: an HTTP/2 RST_STREAM,
                                      ///< an HTTP/1.1 connection closed mid-reply
    std::uint64_t h2_connections = 0; ///< connections that spoke HTTP/2
    std::uint64_t pings = 0;          ///< HTTP/2 PINGs received (not acknowledgements)
    std::uint64_t throttled = 0;      ///< requests answered 429 by the `requests_per_minute` limit
    std::uint64_t tls_resumed = 0;    ///< TLS handshakes that resumed a session
    std::map<std::string, std::uint64_t> attempts;  ///< requests seen per scenario key
};

class server {
public:
    /// Binds and listens at once (throws on failure); serves once `start()` is called.
    server(boost::asio::any_io_executor ex, options opts = {});
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    void start();
    /// Stops accepting and closes every connection.
    void stop();
    unsigned short port() const noexcept;
    /// A snapshot; safe to call from any thread.
    stats counters() const;

    struct state;

private:
    std::shared_ptr<state> state_;
    options options_;
};

}  // namespace llmstream::mock
