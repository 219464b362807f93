// The reader's side of a stream: async_next and async_next_batch take a delta (or a batch) from
// the delta_channel, and their completion is posted, or run inline at the end of an HTTP/1.1
// read (on_read_end). The attempt loop, which fills the channel, is in stream_impl.cpp.
#include "stream_impl.hpp"

#include <llmstream/error.hpp>

#include "http/h1/exchange.hpp"
#include "http/h2/exchange.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <exception>
#include <type_traits>

namespace llmstream::detail {

namespace asio = boost::asio;
using boost::system::error_code;

void stream_impl::next(next_handler handler, bool on_stream_executor) {
    read(std::move(handler), pending_, on_stream_executor);
}

void stream_impl::next_batch(batch_handler handler, bool on_stream_executor) {
    read(std::move(handler), pending_batch_, on_stream_executor);
}

template <class Handler>
void stream_impl::read(Handler handler, std::optional<Handler>& pending, bool on_stream_executor) {
    if (channel_.begin_read() == delta_channel::begin::busy) {
        post(std::move(handler), errc::operation_in_progress, typename result_of<Handler>::type{}, false,
             on_stream_executor);
        return;
    }
    if (channel_.room_freed()) {  // the producer may read on
        if (h1_exchange_) h1_exchange_->resume();
        if (h2_exchange_) h2_exchange_->resume();
    }
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) {
        // Asio's semantics: terminal cancellation ends the stream; partial or total abandons
        // only this wait, and the generation goes on for the next async_next.
        slot.assign([weak = weak_from_this()](asio::cancellation_type type) {
            auto self = weak.lock();
            if (!self) return;
            if ((type & asio::cancellation_type::terminal) != asio::cancellation_type::none) self->cancel();
            else self->abandon_wait();
        });
    }
    pending.emplace(std::move(handler));
    pending_on_stream_executor_ = on_stream_executor;
    deliver();
}

void stream_impl::abandon_wait() {
    if (!channel_.abandon()) return;
    if (pending_) {
        next_handler h(std::move(*pending_));
        pending_.reset();
        post(std::move(h), asio::error::operation_aborted, nullptr, true, pending_on_stream_executor_);
    } else if (pending_batch_) {
        batch_handler h(std::move(*pending_batch_));
        pending_batch_.reset();
        post(std::move(h), asio::error::operation_aborted, delta_batch{}, true, pending_on_stream_executor_);
    }
}

// What a completion posted in the stream's post memory starts with: the stream, and the allocator
// that names that memory. It names it itself: a handler wrapped by asio::bind_allocator makes
// asio::post add a work_dispatcher (a count of outstanding work and a second dispatch) to every
// post. `self` comes first, so that the handler after it is destroyed before the stream it may
// be the last owner of.
struct stream_impl::in_post_memory {
    std::shared_ptr<stream_impl> self;

    using allocator_type = http::handler_allocator<void, post_memory_size>;
    allocator_type get_allocator() const noexcept { return self->post_memory_.allocator(); }
};

namespace {

// Calls a reader's (or async_chat's caller's) handler on its own executor: directly when that is
// the stream's, where the posted completion runs; else dispatched there.
template <class Handler, class... Args>
void call_on_own_executor(bool on_stream_executor, Handler&& handler, Args&&... args) {
    if (on_stream_executor) std::forward<Handler>(handler)(std::forward<Args>(args)...);
    else asio::dispatch(asio::append(std::forward<Handler>(handler), std::forward<Args>(args)...));
}

}  // namespace

// The posted completion of a hand-out.
template <class Handler, class Value>
struct stream_impl::posted_completion : in_post_memory {
    Handler handler;
    error_code ec;
    Value value;
    bool counted;
    bool on_stream_executor;

    void operator()() {
        if (counted) self->channel_.completed();
        call_on_own_executor(on_stream_executor, std::move(handler), ec, value);
    }
};

// Completes `handler` later, never inline. Until a counted completion runs, another async_next
// is "in progress" (the lent delta must not be recycled), and the stream stays alive.
template <class Handler, class Value>
void stream_impl::post(Handler handler, error_code ec, Value value, bool counted, bool on_stream_executor) {
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) slot.clear();
    using posted = posted_completion<Handler, Value>;
    static_assert(std::is_same_v<asio::associated_allocator_t<posted>, in_post_memory::allocator_type>);
    post_on_client(posted{{shared_from_this()}, std::move(handler), ec, value, counted, on_stream_executor});
}

// Posted on the io_context's own executor when it is one, in the stream's own memory (the
// function names it as its allocator): through any_io_executor a post costs two blocks of asio's
// per-thread cache (see handler_memory).
template <class Function>
void stream_impl::post_on_client(Function f) {
    if (auto* native = client_->executor.target<asio::io_context::executor_type>())
        asio::post(*native, std::move(f));
    else
        asio::post(client_->executor, std::move(f));
}

// The posted completion of async_chat. It carries neither the completion nor the diagnostics
// (they are moved out of the stream when it runs), so it fits the stream's post memory, free in
// a stream that has no async_next: the caller hears the end even when memory has run out.
struct stream_impl::posted_chat_completion : in_post_memory {
    chat_handler handler;
    error_code ec;
    bool on_stream_executor;

    void operator()() {
        stream_impl& s = *self;
        static_assert(std::is_nothrow_move_assignable_v<diagnostics> && std::is_nothrow_move_constructible_v<completion>);
        if (s.chat_diag) *s.chat_diag = std::move(s.diag_);  // the stream is over: nothing reads its own any more
        completion c = ec ? completion{} : std::move(s.completion_);
        call_on_own_executor(on_stream_executor, std::move(handler), ec, std::move(c));
    }
};

// Completes a waiting reader now, in this call: only from on_read_end, never from the initiating
// call. As the posted completion does: the read counts as completed before the handler runs. An
// exception from the handler leaves io_context::run as it would from a posted one (rethrown from
// a post), not through the exchange that happened to read the socket. The reader may drop its
// stream in the handler: this object stays alive all the same, as the attempt loop (run(), whose
// exchange read the socket and is still waiting for it) owns it. That holds as long as the
// exchange's reads resume run() only after on_read_end returns (socket_body_reads calls the
// coroutine's handler last).
template <class Handler, class Value>
void stream_impl::complete_now(Handler handler, error_code ec, Value value) {
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) slot.clear();
    channel_.completed();
    try {
        std::move(handler)(ec, value);
    } catch (...) {
        asio::post(client_->executor, [e = std::current_exception()] { std::rethrow_exception(e); });
    }
}

// Completes the waiting reader when the channel has its completion: posted, or (from_read_end,
// with the reader's handler on the stream's own executor) run now, which saves a trip through
// the scheduler's queue per delta.
void stream_impl::deliver(bool from_read_end) {
    const bool now = from_read_end && pending_on_stream_executor_;
    if (pending_) {
        if (auto r = channel_.take()) {
            diag_.deltas_delivered = channel_.delivered();
            next_handler h(std::move(*pending_));
            pending_.reset();
            if (now) complete_now(std::move(h), r->ec, r->d);
            else post(std::move(h), r->ec, r->d, true, pending_on_stream_executor_);
        }
    } else if (pending_batch_) {
        if (auto r = channel_.take_batch()) {
            diag_.deltas_delivered = channel_.delivered();
            batch_handler h(std::move(*pending_batch_));
            pending_batch_.reset();
            if (now) complete_now(std::move(h), r->ec, r->batch);
            else post(std::move(h), r->ec, r->batch, true, pending_on_stream_executor_);
        }
    }
}

// HTTP/1.1 read a piece of the socket and decoded it: between its reads, a reader that was
// waiting is completed inline (asio's own way for an asynchronous completion), not posted. After
// the response's last read it is posted: a reader that drops its stream at the last delta would
// otherwise cancel a response that has ended, and lose its connection.
void stream_impl::on_read_end(bool response_ended) {
    if (!deliver_at_read_end_) return;
    deliver_at_read_end_ = false;
    deliver(!response_ended);
}

void stream_impl::finish(error_code ec) {
    deliver_at_read_end_ = false;
    channel_.finish(ec);
    if (chat_handler_) {
        chat_handler h(std::move(*chat_handler_));
        chat_handler_.reset();
        static_assert(std::is_same_v<asio::associated_allocator_t<posted_chat_completion>, in_post_memory::allocator_type>);
        post_on_client(posted_chat_completion{{shared_from_this()}, std::move(h), ec, chat_on_stream_executor_});
    }
    deliver();
}

}  // namespace llmstream::detail
