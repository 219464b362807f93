// One request and its response as a stream of an HTTP/2 session: the same exchange as h1's,
// seen from the attempt loop (run, resume, cancel), with per-stream time limits.
#pragma once

#include "http/exchange.hpp"
#include "http/h2/session.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace llmstream::http::h2 {

class exchange : private stream_handler, private response_head {
public:
    exchange(std::shared_ptr<session> s, exchange_handler& handler, exchange_timeouts timeouts);
    ~exchange();
    exchange(const exchange&) = delete;
    exchange& operator=(const exchange&) = delete;

    /// Opens a stream for `request` and waits for the response to end. result.unprocessed: the
    /// server never processed the stream (refused, above GOAWAY's last stream id, or the session
    /// took no new streams): send it again elsewhere.
    boost::asio::awaitable<exchange_result> run(const outgoing_request& request);
    /// The handler has room again: this stream's window is given back.
    void resume();
    /// Resets the stream (RST_STREAM CANCEL; the connection stays) and ends run() with operation_aborted.
    void cancel();
    /// Bytes of the response received (head fields and body).
    std::size_t bytes_received() const noexcept { return received_; }

private:
    // stream_handler
    void on_header(std::string_view name, std::string_view value) override;
    boost::system::error_code on_head_end(int status) override;
    boost::system::error_code on_data(std::string_view bytes) override;
    bool has_room() const noexcept override { return handler_.has_room(); }
    void on_end(const stream_end& end) override;
    // response_head
    int status() const noexcept override { return status_; }
    std::string_view header(std::string_view name) const noexcept override;
    std::optional<std::uint64_t> content_length() const noexcept override;

    std::shared_ptr<session> session_;
    exchange_handler& handler_;
    exchange_timeouts timeouts_;
    boost::asio::steady_timer signal_;  // run() waits on it: the end, a cancel, or a time limit
    std::vector<std::pair<std::string, std::string>> headers_;
    std::int32_t id_ = 0;
    int status_ = 0;
    std::size_t received_ = 0;
    std::chrono::steady_clock::time_point last_activity_{};
    stream_end end_{};
    bool ended_ = false;
    bool cancelled_ = false;
};

}  // namespace llmstream::http::h2
