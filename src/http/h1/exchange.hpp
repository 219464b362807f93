// One request and its response over an HTTP/1.1 connection: the request is written, the response
// read through response_reader (sans-IO) into the handler. One exchange per connection at a time.
#pragma once

#include "http/connection_pool.hpp"
#include "http/exchange.hpp"
#include "http/response_reader.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <utility>

namespace llmstream::http::h1 {

class exchange : private response_handler, private response_head {
public:
    exchange(connection& c, exchange_handler& handler, exchange_timeouts timeouts);
    ~exchange();
    exchange(const exchange&) = delete;
    exchange& operator=(const exchange&) = delete;

    /// Sends `request` and reads the response to its end. `reused`: the connection carried an
    /// earlier request, so a failure before any response byte means the server had closed it
    /// (result.unprocessed: send again on a new connection).
    boost::asio::awaitable<exchange_result> run(const outgoing_request& request, bool reused);

    /// The handler has room again: reading goes on.
    void resume();
    /// Ends run() at once with operation_aborted (the connection is closed).
    void cancel();

private:
    boost::system::error_code on_head() override;
    boost::system::error_code on_body(std::string_view bytes) override;
    int status() const noexcept override { return reader_.status(); }
    std::string_view header(std::string_view name) const noexcept override { return reader_.header(name); }
    std::optional<std::uint64_t> content_length() const noexcept override { return reader_.content_length(); }

    template <class Stream>
    boost::asio::awaitable<boost::system::error_code> read_response(Stream& stream);
    template <class Handler>
    struct socket_body_reads;
    bool after_read(boost::system::error_code& ec, std::size_t n);
    void arm(std::chrono::milliseconds limit, errc phase_error);
    void watch_idle();
    std::pair<std::chrono::steady_clock::time_point, errc> body_phase_end() const;
    void wait_for_watchdog(std::chrono::steady_clock::time_point when);
    void on_watchdog();
    boost::system::error_code translate(boost::system::error_code ec) const;

    connection& connection_;
    exchange_handler& handler_;
    exchange_timeouts timeouts_;
    response_reader reader_;
    boost::asio::steady_timer room_;  // waited on while the handler has no room
    // The body's idle limit (and the deadline): one watchdog for the whole body, not a timer per
    // read (Beast's per-operation timer cost a schedule, a cancel and a completion per read:
    // 5% of the CPU per streamed token). It closes the connection when no byte came in time.
    boost::asio::steady_timer watchdog_;
    std::chrono::steady_clock::time_point last_byte_{};
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // false once the exchange is gone
    bool timed_out_ = false;
    errc timeout_error_ = errc::idle_timeout;
    bool waiting_for_room_ = false;
    bool cancelled_ = false;
    std::exception_ptr failure_;  // thrown inside socket_body_reads, rethrown by the coroutine
};

}  // namespace llmstream::http::h1
