#include "exchange.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/asio/ssl/error.hpp>

#include <span>
#include <tuple>
#include <type_traits>

namespace llmstream::http::h1 {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using std::chrono::steady_clock;
// Beast 1.81's operations predate deferred support: they are awaited with use_awaitable.
constexpr auto beast_tuple = asio::as_tuple(asio::use_awaitable);
constexpr auto tuple_token = asio::as_tuple(asio::deferred);

exchange::exchange(connection& c, exchange_handler& handler, exchange_timeouts timeouts)
    : connection_(c),
      handler_(handler),
      timeouts_(timeouts),
      reader_(static_cast<response_handler&>(*this)),
      room_(c.lowest_layer().get_executor()),
      watchdog_(c.lowest_layer().get_executor()) {}

exchange::~exchange() { *alive_ = false; }  // a watchdog completion still queued does nothing

void exchange::resume() {
    if (waiting_for_room_) room_.cancel();
}

void exchange::cancel() {
    cancelled_ = true;
    connection_.close();
    room_.cancel();
}

// Arms the connection's timer for the next operation: the phase's own limit, or what is left of
// the whole-request deadline if that is sooner. Remembers which one it was.
void exchange::arm(std::chrono::milliseconds limit, errc phase_error) {
    const auto [when, error] = timeouts_.phase_end(limit, phase_error);
    timeout_error_ = error;
    auto& tcp = connection_.lowest_layer();
    if (when == steady_clock::time_point::max()) tcp.expires_never();
    else tcp.expires_at(when);
}

// The body's phase: the idle limit counts from the last byte (last_byte_, set after every read),
// or from the end of a pause for backpressure; the deadline ends it sooner.
void exchange::watch_idle() {
    last_byte_ = steady_clock::now();
    if (const auto [when, error] = body_phase_end(); when != steady_clock::time_point::max()) wait_for_watchdog(when);
}

// When the body's phase ends if no byte comes, and with which error.
std::pair<steady_clock::time_point, errc> exchange::body_phase_end() const {
    auto when = timeouts_.idle.count() > 0 ? last_byte_ + timeouts_.idle : steady_clock::time_point::max();
    errc error = errc::idle_timeout;
    if (timeouts_.deadline < when) {
        when = timeouts_.deadline;
        error = errc::deadline_exceeded;
    }
    return {when, error};
}

void exchange::wait_for_watchdog(steady_clock::time_point when) {
    watchdog_.expires_at(when);  // a wait still pending completes with operation_aborted, and does nothing
    watchdog_.async_wait([this, alive = alive_](error_code ec) {
        if (*alive && !ec) on_watchdog();
    });
}

void exchange::on_watchdog() {
    const auto [when, error] = body_phase_end();
    if (waiting_for_room_) return;  // the reader is slow, not the server: reading resumes with a new wait
    if (steady_clock::now() < when) return wait_for_watchdog(when);
    timed_out_ = true;
    timeout_error_ = error;
    connection_.close();  // the pending read ends
}

error_code exchange::translate(error_code ec) const {
    if (timed_out_ || ec == beast::error::timeout) return timeout_error_;
    if (ec == asio::error::eof) return errc::connection_closed;  // responses are read by our own reader
    return ec;
}

// The request as Beast writes it: its body is a view of `request`'s (no copy of the prompt).
static bhttp::request<bhttp::span_body<const char>> beast_request(const outgoing_request& request) {
    bhttp::request<bhttp::span_body<const char>> req{bhttp::string_to_verb(request.method), request.target, 11};
    req.set(bhttp::field::host, request.authority);
    for (const auto& [name, value] : request.headers) req.set(name, value);
    req.keep_alive(true);
    req.body() = beast::span<const char>(request.body.data(), request.body.size());
    req.prepare_payload();
    return req;
}

asio::awaitable<exchange_result> exchange::run(const outgoing_request& request, bool reused) {
    exchange_result result;
    arm(timeouts_.first_byte, errc::first_byte_timeout);
    error_code ec;
    auto* plain = std::get_if<connection::tcp_stream>(&connection_.stream);
    auto* tls = std::get_if<connection::tls_stream>(&connection_.stream);
    {  // the header fields are freed before the response is read
        auto req = beast_request(request);
        if (plain) {
            auto [wec, wn] = co_await bhttp::async_write(*plain, req, beast_tuple);
            ec = wec;
        } else {
            auto [wec, wn] = co_await bhttp::async_write(*tls, req, beast_tuple);
            ec = wec;
        }
    }
    if (!ec) {
        if (plain) ec = co_await read_response(*plain);
        else ec = co_await read_response(*tls);
    }
    if (!ec) {
        result.reusable = !timed_out_ && reader_.reusable();  // the watchdog may have closed it after the last read
        co_return result;
    }
    // Every reused connection may be stale (the pool hands out the most recent first), but only
    // reused ones: a new connection failing like this is a real failure.
    result.unprocessed = reused && !cancelled_ && reader_.bytes_received() == 0 &&
                         (ec == errc::connection_closed || ec == asio::error::connection_reset ||
                          ec == asio::error::broken_pipe || ec == asio::error::eof ||
                          ec == asio::ssl::error::stream_truncated);
    result.ec = cancelled_ ? error_code(asio::error::operation_aborted) : translate(ec);
    co_return result;
}

// After one socket read of the response: its bytes go to the reader (end of file completes a
// close-delimited body, or says it was cut), then the handler may complete its reader. `ec` ends
// the reading when set (none: the response ended, or the reader has no room for now). Returns
// whether to read again at once.
bool exchange::after_read(error_code& ec, std::size_t n) {
    if (ec) {  // tested first: a read that succeeded compares no error codes
        if (ec == asio::error::eof || (ec == asio::ssl::error::stream_truncated && reader_.head_done()))
            ec = reader_.commit_eof();  // not told to on_read_end: the end of the stream delivers what is left
        return false;
    }
    if ((ec = reader_.commit(n))) return false;
    // Between reads the handler may complete its reader inline, and the reader may cancel the
    // exchange there. Not after the response's last read: a reader that drops its stream at
    // the last delta must not cancel a response that has ended.
    handler_.on_read_end(reader_.done());
    if (cancelled_) {
        ec = asio::error::operation_aborted;
        return false;
    }
    return !reader_.done() && handler_.has_room();
}

// The body's reads on a plain socket, one after another in one operation: each read's completion
// commits it and starts the next, and the coroutine is resumed only when the body ends, fails or
// waits for room (a coroutine's resume per read cost more than the read's own machinery). The
// operations take the connection's read memory. Asio's socket never completes a read inside its
// initiating call, so this does not recurse. An exception (out of memory) is handed to the
// coroutine, which rethrows it. The coroutine's handler is called last, after everything that
// touches the exchange or its stream: the coroutine owns the stream (see complete_now).
template <class Handler>
struct exchange::socket_body_reads {
    exchange* self;
    connection::tcp_stream::socket_type* socket;
    Handler handler;

    using allocator_type = handler_allocator<void, connection::read_memory_size>;
    allocator_type get_allocator() const noexcept { return self->connection_.read_memory.allocator(); }

    // Allocates nothing but the operation (in the read memory, free by then): the coroutine
    // takes the first read's buffer itself, as an exception from the initiation would not reach it.
    void start(std::span<char> space) {
        socket->async_read_some(asio::buffer(space.data(), space.size()), std::move(*this));
    }
    void operator()(error_code ec, std::size_t n) {
        try {
            self->last_byte_ = steady_clock::now();
            if (self->after_read(ec, n)) return start(self->reader_.read_buffer());
        } catch (...) {
            self->failure_ = std::current_exception();
            ec = asio::error::fault;
        }
        std::move(handler)(ec);
    }
};

// Reads the response on the concrete stream type until the reader has all of it. The head is
// read under the first-byte deadline armed before sending (the connection's timer); the body
// under the watchdog (watch_idle), which a read only tells the time of its last byte.
template <class Stream>
asio::awaitable<error_code> exchange::read_response(Stream& stream) {
    struct stop_watchdog {
        asio::steady_timer& t;
        Stream& stream;
        ~stop_watchdog() {
            t.cancel();
            if constexpr (std::is_same_v<Stream, connection::tls_stream>) stream.read_socket_directly(false);
        }
    } stop{watchdog_, stream};
    constexpr bool plain = std::is_same_v<Stream, connection::tcp_stream>;
    bool watching = false;
    while (!reader_.done()) {
        error_code ec;
        bool read = false;
        if constexpr (plain) {
            if (watching) {
                // Under the watchdog the plain socket is read directly: Beast's stream adds
                // nothing but its timer (unarmed by then), and costs a shared_ptr copy and an op
                // per read.
                const auto space = reader_.read_buffer();
                auto [read_ec] = co_await asio::async_initiate<decltype(tuple_token), void(error_code)>(
                    [this, &stream, space](auto handler) {
                        socket_body_reads<decltype(handler)>{this, &stream.socket(), std::move(handler)}.start(space);
                    },
                    tuple_token);
                if (failure_) std::rethrow_exception(std::exchange(failure_, nullptr));
                ec = read_ec;
                read = true;
            }
        }
        if (!read) {
            // The head, and a TLS body (tls_stream reads its socket directly under the watchdog,
            // and may complete a read at once from what it holds: one read per resume here).
            const auto space = reader_.read_buffer();
            const auto buffer = asio::buffer(space.data(), space.size());
            auto [read_ec, n] = co_await read_in(connection_.read_memory, [&](auto handler) {
                stream.async_read_some(buffer, std::move(handler));
            });
            if (watching) last_byte_ = steady_clock::now();
            ec = read_ec;
            after_read(ec, n);
        }
        if (ec) co_return ec;
        if (!watching && reader_.head_done() && !reader_.done()) {  // the body's phase starts
            connection_.lowest_layer().expires_never();
            if constexpr (std::is_same_v<Stream, connection::tls_stream>) stream.read_socket_directly(true);
            watch_idle();
            watching = true;
        }
        // Backpressure: stop reading while the reader is far behind. A response that has ended
        // is not held: its deltas wait in the reader's queue, and its connection goes back to
        // the pool now.
        while (!reader_.done() && !handler_.has_room() && !cancelled_) {
            waiting_for_room_ = true;
            room_.expires_at(steady_clock::time_point::max());
            co_await room_.async_wait(asio::as_tuple(asio::deferred));
            waiting_for_room_ = false;
            last_byte_ = steady_clock::now();  // the idle limit counts again from here
            // The watchdog stopped while the reader was behind: it waits for the phase's end from
            // here (at once if the deadline passed meanwhile).
            if (const auto when = body_phase_end().first; watching && when != steady_clock::time_point::max())
                wait_for_watchdog(when);
        }
        if (cancelled_) co_return asio::error::operation_aborted;
    }
    co_return error_code{};
}

error_code exchange::on_head() { return handler_.on_head(static_cast<const response_head&>(*this)); }

error_code exchange::on_body(std::string_view bytes) { return handler_.on_body(bytes, true); }

}  // namespace llmstream::http::h1
