// One generation: the attempt loop (encode once; per attempt acquire a connection, connect, run an
// exchange; retry by the planner and the budget), the decoded deltas in a delta_channel for
// async_next, and the observer's hooks. Knows exchanges, not sockets.
#pragma once

#include <llmstream/client.hpp>
#include <llmstream/observer.hpp>
#include <llmstream/stream.hpp>

#include "client/client_impl.hpp"
#include "client/delta_channel.hpp"
#include "http/connection_pool.hpp"
#include "http/context_closing.hpp"
#include "http/connect.hpp"
#include "http/exchange.hpp"
#include "http/handler_memory.hpp"
#include "http/resolve.hpp"
#include "protocol/request_encoder.hpp"
#include "protocol/response_stream.hpp"
#include "retry/retry_planner.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace llmstream::http::h1 {
class exchange;
}
namespace llmstream::http::h2 {
class exchange;
struct waiter;
}

namespace llmstream::detail {

class stream_impl : public std::enable_shared_from_this<stream_impl>, private http::exchange_handler {
public:
    stream_impl(std::shared_ptr<client_impl> client, chat_request req, bool streaming);

    /// Starts the attempt loop on the client's executor.
    void start();

    // --- the reader's side ---
    /// `on_stream_executor`: the handler's executor is executor(), so its completion runs in
    /// the stream's own posted function (see post).
    void next(next_handler handler, bool on_stream_executor);
    void next_batch(batch_handler handler, bool on_stream_executor);
    /// The pending async_next completes with operation_aborted; the stream itself goes on.
    void abandon_wait();
    /// Ends the generation: the connection is closed, the reader gets operation_aborted.
    void cancel();

    const diagnostics& diag() const noexcept { return diag_; }
    const boost::asio::any_io_executor& executor() const noexcept { return client_->executor; }

    // any_completion_handler's move assignment recurses forever in Boost 1.81: only ever
    // move-construct handlers (optional::emplace), never assign them.
    /// `on_stream_executor`: the handler's executor is executor() (see post).
    void on_chat_done(chat_handler h, bool on_stream_executor) {
        chat_handler_.emplace(std::move(h));
        chat_on_stream_executor_ = on_stream_executor;
    }
    diagnostics* chat_diag = nullptr;

private:
    using error_code = boost::system::error_code;
    using clock = std::chrono::steady_clock;

    template <class Handler>
    struct result_of;
    template <class Handler>
    void read(Handler handler, std::optional<Handler>& pending, bool on_stream_executor);
    template <class Handler, class Value>
    void post(Handler handler, error_code ec, Value value, bool counted, bool on_stream_executor);
    struct in_post_memory;
    template <class Handler, class Value>
    struct posted_completion;
    struct posted_chat_completion;
    template <class Function>
    void post_on_client(Function f);
    static constexpr std::size_t post_memory_size = 160;  // a posted completion fits (a larger one takes the heap)
    template <class Handler, class Value>
    void complete_now(Handler handler, error_code ec, Value value);
    void deliver(bool from_read_end = false);
    void finish(error_code ec);

    static boost::asio::awaitable<void> run(std::shared_ptr<stream_impl> self);
    boost::asio::awaitable<error_code> attempts();
    void conclude(error_code& ec) noexcept;
    void end(error_code ec) noexcept;
    boost::asio::awaitable<error_code> guarded_attempt();
    boost::asio::awaitable<error_code> attempt();
    boost::asio::awaitable<http::exchange_result> over_http1();
    boost::asio::awaitable<http::exchange_result> over_http2();
    http::connect_target connect_target() const;
    boost::asio::awaitable<error_code> open(http::connection& c, std::string& negotiated);
    boost::asio::awaitable<error_code> wait_before_retry(error_code ec);
    boost::asio::awaitable<error_code> admit();
    void release_admission(const error_code& ec);
    void release_connection(const error_code& ec);
    http::outgoing_request build_request();
    http::exchange_timeouts exchange_timeouts() const;
    clock::time_point deadline() const;

    request_context context() const;
    void report_end(observer& o, const error_code& ec);
    void count_produced(const delta& d);
    template <class Delta>
    void produce(Delta&& d);

    // http::exchange_handler
    error_code on_head(const http::response_head& head) override;
    error_code on_body(std::string_view bytes, bool read_end_follows) override;
    bool has_room() const noexcept override { return channel_.has_room() || cancelled_; }
    void on_read_end(bool response_ended) override;
    error_code finish_whole_body();

    std::shared_ptr<client_impl> client_;
    chat_request request_;
    bool streaming_;
    std::unique_ptr<http::connection> connection_;
    http::h1::exchange* h1_exchange_ = nullptr;  // the attempt's, while it runs
    http::h2::exchange* h2_exchange_ = nullptr;  // the attempt's, while it runs
    http::connection* connecting_ = nullptr;     // an HTTP/2 connection being opened, while it is
    http::deadline_resolver resolver_{client_->executor, client_->lookup};  // declared after client_, which it reads
    boost::asio::steady_timer timer_;  // waits between attempts
    std::shared_ptr<http::pool_waiter> waiter_;  // in the pool's line, or the connect gate's
    std::shared_ptr<http::h2::waiter> h2_waiter_;
    std::shared_ptr<limits::ticket> ticket_;  // with the rate governor only
    protocol::response_stream response_;
    protocol::encoded_request encoded_;
    http::outgoing_request outgoing_;

    // The response of the current attempt, as its head said.
    enum class body_mode { whole, events } body_mode_ = body_mode::whole;
    int status_ = 0;
    // Of a failure's head only: what the error classifier and the redirect hint read.
    std::string retry_after_, retry_after_ms_, should_retry_, location_;
    std::string body_;  // a whole (non-event-stream) body

    retry::planner planner_;
    diagnostics diag_;
    observer* observer_ = client_->config.observer.get();  // null: no hooks (one branch each)
    std::uint64_t request_number_ = 0;
    clock::time_point first_delta_at_{};  // set only with an observer
    std::optional<usage> last_usage_{};   // set only with an observer or the rate governor
    std::size_t produced_ = 0;            // deltas pushed to the channel (across attempts)
    delta_channel channel_;
    const http::context_closing* context_closing_;  // see run()
    std::optional<next_handler> pending_;
    std::optional<batch_handler> pending_batch_;
    bool pending_on_stream_executor_ = false;  // of pending_ or pending_batch_
    bool deliver_at_read_end_ = false;         // on_body decoded deltas, and on_read_end follows
    http::handler_memory<post_memory_size> post_memory_;     // the hand-out's posted completion (see post)
    std::optional<chat_handler> chat_handler_;
    bool chat_on_stream_executor_ = false;
    completion completion_;
    clock::time_point started_{};
    bool cancelled_ = false;
    bool reusable_ = false;
};

template <>
struct stream_impl::result_of<next_handler> {
    using type = const delta*;
};
template <>
struct stream_impl::result_of<batch_handler> {
    using type = delta_batch;
};

}  // namespace llmstream::detail
