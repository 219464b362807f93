// One request and its response over a pooled connection, whatever the HTTP version: what the
// attempt loop hands an exchange (the request, its deadlines) and what the exchange hands back
// (the response head, body pieces, how it ended). The h1/ and h2/ exchanges implement it.
#pragma once

#include <llmstream/error.hpp>

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llmstream::http {

/// The request, protocol-neutral. Header names as sent on HTTP/1.1 (HTTP/2 lower-cases them).
struct outgoing_request {
    std::string method = "POST";
    std::string target;     ///< origin form ("/v1/chat/completions"), or absolute form for an http proxy (h1 only)
    std::string authority;  ///< the Host header / :authority
    std::vector<std::pair<std::string, std::string>> headers;  ///< besides Host, Content-Length and Connection
    std::string body;
};

/// The response's status line and header fields, as the exchange received them.
class response_head {
public:
    virtual ~response_head() = default;
    virtual int status() const noexcept = 0;
    /// A header field's value, "" when absent (the first one if repeated; names match without case).
    virtual std::string_view header(std::string_view name) const noexcept = 0;
    /// The body's announced length, when Content-Length gives one.
    virtual std::optional<std::uint64_t> content_length() const noexcept = 0;
};

/// What an exchange tells the request that owns it. Called on the client's executor.
class exchange_handler {
public:
    virtual ~exchange_handler() = default;
    /// The final response head (interim 1xx responses are skipped). An error ends the exchange.
    virtual boost::system::error_code on_head(const response_head& head) = 0;
    /// A piece of the body, de-framed. An error ends the exchange. `read_end_follows`: on_read_end
    /// comes once the socket read that brought these bytes is decoded (h1), so the handler may
    /// wait for it to complete its reader; false (h2, inside nghttp2's callbacks): it may not.
    virtual boost::system::error_code on_body(std::string_view bytes, bool read_end_follows) = 0;
    /// False while the reader is far behind: the exchange stops taking this response's bytes
    /// (h1: reading the socket; h2: this stream's flow-control window) until resume().
    virtual bool has_room() const noexcept = 0;
    /// Every byte of the last socket read went to on_head/on_body and the exchange is between
    /// reads, holding nothing the handler could disturb: unless `response_ended`, the handler
    /// may complete its reader here, inline (a reader that cancels its stream in that completion
    /// cancels the exchange). The h1 exchange calls it after every read; h2's pieces come inside
    /// nghttp2's callbacks, so it does not.
    virtual void on_read_end(bool response_ended) { (void)response_ended; }
};

/// The time limits of one exchange. The phase limits are measured from when the phase starts;
/// `deadline` (the whole request's) ends any phase sooner. Zero / max(): none.
struct exchange_timeouts {
    std::chrono::milliseconds first_byte{0};  ///< request sent -> first response byte
    std::chrono::milliseconds idle{0};        ///< longest gap between response bytes
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();

    /// When a phase that starts now with `limit` must end, and the error it then ends with.
    std::pair<std::chrono::steady_clock::time_point, errc> phase_end(std::chrono::milliseconds limit,
                                                                      errc phase_error) const {
        auto when = std::chrono::steady_clock::time_point::max();
        errc error = phase_error;
        if (limit.count() > 0) when = std::chrono::steady_clock::now() + limit;
        if (deadline < when) {
            when = deadline;
            error = errc::deadline_exceeded;
        }
        return {when, error};
    }
};

/// How an exchange ended, beyond its error code.
struct exchange_result {
    boost::system::error_code ec{};
    /// The request never reached the server's application (a stale keep-alive connection, an h2
    /// stream refused or above GOAWAY's last stream id): sending it again is safe and is not an attempt.
    bool unprocessed = false;
    /// The connection may carry another request (h1: the response ended by its framing).
    bool reusable = false;
    /// HTTP/2: the error code of the server's RST_STREAM (errc::http2_stream_reset), 0 otherwise.
    std::uint32_t http2_error_code = 0;
};

}  // namespace llmstream::http
