#include "session.hpp"

#include <llmstream/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/asio/ssl/error.hpp>

#include "memory/buffer_cache.hpp"

namespace llmstream::http::h2 {

namespace asio = boost::asio;
using boost::system::error_code;
using std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::deferred);
// Beast 1.81's operations predate deferred support: they are awaited with use_awaitable.
constexpr auto beast_tuple = asio::as_tuple(asio::use_awaitable);

session::session(std::unique_ptr<connection> socket, const http2_options& options)
    : socket_(std::move(socket)),
      executor_(socket_->lowest_layer().get_executor()),
      core_(options, std::holds_alternative<connection::tls_stream>(socket_->stream)),
      write_signal_(executor_),
      context_closing_(&context_closing::of(executor_)) {
    socket_->lowest_layer().expires_never();  // streams keep their own time limits
    // Nothing times the socket's reads (see above), so they skip Beast's timed stream.
    if (auto* tls = std::get_if<connection::tls_stream>(&socket_->stream)) tls->read_socket_directly(true);
    core_.on_change = [this] {
        if (on_change) on_change();
        maybe_stop_reading();
    };
    core_.on_ping_ack = [this] {
        for (auto* t : ping_waiters_) t->cancel();
    };
}

session::~session() = default;

void session::start() {
    core_.start();
    drive();
}

std::int32_t session::open_stream(stream_handler& handler, const outgoing_request& request, error_code& ec) {
    const auto id = core_.open_stream(handler, request, ec);
    if (id == 0) return 0;
    try {
        drive();
    } catch (...) {  // out of memory: the core must not keep a handler its caller never learns the id of
        core_.cancel_stream(id);
        throw;
    }
    return id;
}

void session::cancel_stream(std::int32_t id) noexcept {
    try {
        core_.cancel_stream(id);
        wake_writer();  // sends the RST_STREAM; stops reading afterwards if nothing else is going on
    } catch (...) {
        // Out of memory (a post, a spawn): the stream is off the core's books already (that comes
        // first), and its RST_STREAM goes out with the connection's next write. Called from
        // destructors: nothing may leave.
    }
}

void session::resume_stream(std::int32_t id) {
    core_.resume_stream(id);
    wake_writer();
}

void session::unreserve() {
    if (reserved_ > 0) --reserved_;
    maybe_stop_reading();
}

void session::shutdown() {
    if (core_.closed()) return;
    core_.terminate();
    if (core_.active_streams() == 0) wake_writer();  // the writer sends GOAWAY, then closes
    else fail(asio::error::operation_aborted);
}

// An idle session does no I/O at all; a stream, a reservation or a PING starts it again.
bool session::busy() const noexcept { return core_.active_streams() > 0 || reserved_ > 0 || pinging_ > 0; }

void session::drive() {
    if (core_.closed()) return;
    if (!reader_running_) {
        asio::co_spawn(executor_, read_loop(shared_from_this()), asio::detached);
        reader_running_ = true;  // once spawned (it runs from a post: not before this line)
    }
    wake_writer();
}

void session::wake_writer() {
    if (core_.closed()) return;
    if (!writer_running_) {
        asio::co_spawn(executor_, write_loop(shared_from_this()), asio::detached);
        writer_running_ = true;  // once spawned (it runs from a post: not before this line)
    } else if (!writing_) {
        write_signal_.cancel();
    }
}

// Stops the pending read of a session that became idle (not from inside the reader, which
// checks by itself). Only the read: a write under way, the writer's or one a TLS read makes
// itself (say, in a TLS 1.2 renegotiation), goes on, as a record cut in half would break the stream.
void session::maybe_stop_reading() {
    if (reader_running_ && !in_recv_ && !busy() && !core_.closed()) stop_read_.emit(asio::cancellation_type::terminal);
}

void session::fail(error_code ec) {
    if (core_.closed()) return;
    socket_->close();
    write_signal_.cancel();
    for (auto* t : ping_waiters_) t->cancel();
    core_.fail(ec);
}

asio::awaitable<bool> session::ping(steady_clock::time_point liveness, steady_clock::time_point give_up) {
    if (core_.closed()) co_return false;
    // One PING at a time: a request that finds one on its way waits for the same answer.
    if (ping_awaited_ <= core_.pings_acked()) {
        if (!core_.submit_ping()) co_return false;
        ping_awaited_ = core_.pings_acked() + 1;  // PINGs are answered in order
        ping_liveness_ = liveness;
    }
    const std::uint64_t wanted = ping_awaited_;
    bool alive = false;
    {
        asio::steady_timer wait(executor_);  // each waiter its own: the ACK wakes them all
        // Registered while this waits, however the wait ends: an exception, or this frame
        // destroyed unresumed (see loop_exit) must not leave the ACK a timer that is gone.
        struct registration {
            session& s;
            asio::steady_timer* t;
            ~registration() {
                --s.pinging_;
                std::erase(s.ping_waiters_, t);
            }
        };
        ping_waiters_.reserve(ping_waiters_.size() + 1);  // the push_back below cannot throw then
        ping_waiters_.push_back(&wait);
        ++pinging_;
        const registration registered{*this, &wait};
        drive();
        for (;;) {
            if (core_.closed()) break;
            if (core_.pings_acked() >= wanted) {
                alive = true;
                break;
            }
            const auto now = steady_clock::now();
            if (now >= ping_liveness_) {  // the connection did not answer in time: it is gone for everyone
                fail(errc::connection_closed);
                break;
            }
            if (now >= give_up) break;  // this request's own deadline: the connection may still be fine
            wait.expires_at(std::min(ping_liveness_, give_up));
            co_await wait.async_wait(use_tuple);
        }
    }
    maybe_stop_reading();
    co_return alive;
}

// Marks a loop as gone however it ends. One that did not return (an exception, an allocation
// that failed; or its frame destroyed unresumed, which Asio 1.81 does when an operation fails to
// start) ends the session: its streams end with no_memory instead of waiting on a loop that is
// gone. Not when the io_context is being destroyed (which destroys waiting frames too).
struct session::loop_exit {
    session& s;
    bool& running;
    bool returned = false;
    loop_exit(session& owner, bool& running_flag) : s(owner), running(running_flag) {}
    loop_exit(const loop_exit&) = delete;
    loop_exit& operator=(const loop_exit&) = delete;
    ~loop_exit() {
        running = false;
        if (returned || s.context_closing_->closing()) return;
        try {
            s.fail(asio::error::no_memory);
        } catch (...) {  // a destructor: nothing may leave it
        }
    }
};

asio::awaitable<void> session::read_loop(std::shared_ptr<session>) {  // the argument keeps the session alive
    loop_exit exit{*this, reader_running_};
    // Never inside the caller (co_spawn would run this inline): not inside one of nghttp2's callbacks.
    co_await asio::post(executor_, asio::use_awaitable);
    memory::byte_buffer buffer(32 * 1024);  // back to the cache when the connection idles (see buffer_cache.hpp)
    while (!core_.closed() && busy()) {
        error_code ec;
        std::size_t n = 0;
        std::tie(ec, n) = co_await read_in(socket_->read_memory, [&](auto handler) {
            // The plain socket directly: nothing times these reads (see the constructor).
            auto stoppable = asio::bind_cancellation_slot(stop_read_.slot(), std::move(handler));
            if (auto* plain = std::get_if<connection::tcp_stream>(&socket_->stream))
                plain->socket().async_read_some(asio::buffer(buffer.data(), buffer.size()), std::move(stoppable));
            else
                std::get<connection::tls_stream>(socket_->stream).async_read_some(asio::buffer(buffer.data(), buffer.size()), std::move(stoppable));
        });
        if (core_.closed()) break;
        if (ec == asio::error::operation_aborted) continue;  // stopped for idling (the loop condition decides)
        if (ec) {
            fail(connection_lost(ec));
            break;
        }
        in_recv_ = true;
        const error_code rec = core_.receive(reinterpret_cast<const std::uint8_t*>(buffer.data()), n, steady_clock::now());
        in_recv_ = false;
        if (rec) {
            fail(rec);
            break;
        }
        wake_writer();  // SETTINGS and PING acknowledgements, WINDOW_UPDATEs, RST_STREAMs
    }
    exit.returned = true;
}

asio::awaitable<void> session::write_loop(std::shared_ptr<session>) {  // the argument keeps the session alive
    loop_exit exit{*this, writer_running_};
    // Never inside the caller: nghttp2's mem_send must not run within its own mem_recv.
    co_await asio::post(executor_, asio::use_awaitable);
    std::string out;
    while (!core_.closed()) {
        // Everything queued goes out in one write per wake-up.
        out.clear();
        if (auto ec = core_.take_output(out, 64 * 1024)) {
            fail(ec);
            break;
        }
        if (!out.empty()) {
            writing_ = true;
            error_code ec;
            if (auto* plain = std::get_if<connection::tcp_stream>(&socket_->stream)) {
                std::tie(ec, std::ignore) = co_await asio::async_write(*plain, asio::buffer(out), beast_tuple);
            } else {
                auto& tls = std::get<connection::tls_stream>(socket_->stream);
                std::tie(ec, std::ignore) = co_await asio::async_write(tls, asio::buffer(out), beast_tuple);
            }
            writing_ = false;
            if (ec) {
                fail(connection_lost(ec));
                break;
            }
            continue;  // more may have been queued meanwhile
        }
        if (core_.finished()) {  // GOAWAY sent and nothing left: the connection is done
            fail(errc::connection_closed);
            break;
        }
        if (!busy()) break;  // idle: nothing to send until the next stream
        write_signal_.expires_at(steady_clock::time_point::max());
        co_await write_signal_.async_wait(use_tuple);
    }
    exit.returned = true;
    writer_running_ = false;
    maybe_stop_reading();
}

}  // namespace llmstream::http::h2
