// llmstream-gateway: the server our users build. Browsers ask a question over HTTP/1.1; the
// gateway streams the provider's tokens back to them as Server-Sent Events, as they arrive, on
// the same io_context as its llmstream::client. A browser that goes away cancels its upstream
// generation at once; a slow browser slows only its own stream.
//
//   GET /                                   the page (prompt, Send, Stop, the answer token by token)
//   GET /v1/stream?prompt=...[&model=...]   text/event-stream: `event: delta` {"content","reasoning"},
//                                           `event: error` {class, status, provider_code, ...},
//                                           `event: done` {usage, timings}; `: keep-alive` comments
//   GET /metrics                            Prometheus text (llmstream::metrics and the gateway's own)
//   GET /healthz                            "ok"
#pragma once

#include <llmstream/client.hpp>
#include <llmstream/metrics.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace gateway {

struct options {
    std::string host = "127.0.0.1";
    unsigned short port = 0;                      ///< 0: any free port (see server::port())
    bool reuse_port = false;                      ///< SO_REUSEPORT: several servers (threads) on one port
    std::string model = "qwen-plus";              ///< when the request names none
    std::size_t max_streams = 10'000;             ///< streams at once; more get 503 with Retry-After
    std::size_t max_prompt_bytes = 32 * 1024;     ///< longer prompts get 413
    std::chrono::milliseconds head_timeout{10'000};       ///< a request head must arrive whole within this (slowloris)
    std::chrono::milliseconds keepalive_interval{15'000};  ///< a `: keep-alive` comment while the model is silent
    std::chrono::milliseconds write_timeout{60'000};       ///< a browser that reads nothing for this long is dropped
};

/// What every thread's server counts together (one set per process; atomics).
struct counters {
    std::atomic<long> streams_in_flight{0};
    std::atomic<long> streams_done{0};
    std::atomic<long> streams_failed{0};      ///< ended with `event: error`
    std::atomic<long> streams_abandoned{0};   ///< the browser went away first
    std::atomic<long> rejected_busy{0};       ///< 503: max_streams reached
    std::atomic<long> rejected_bad{0};        ///< 4xx: bad path, prompt, head
    std::string render() const;               ///< Prometheus text
};

class server {
public:
    /// Serves on `io` with `upstream` (a client on the same io_context). `metrics` is also the
    /// client's observer (set it in the client's config) and may be shared by several servers.
    server(boost::asio::io_context& io, llmstream::client& upstream, options opts,
           std::shared_ptr<llmstream::metrics> metrics, std::shared_ptr<counters> shared);
    ~server();

    /// Binds and listens (throws on failure) and starts accepting.
    void start();
    /// Stops accepting and closes every connection (streams end; their upstream generations are cancelled).
    void stop();
    unsigned short port() const;

    struct state;

private:
    std::shared_ptr<state> state_;
};

/// The page served at /.
const char* page_html();

}  // namespace gateway
