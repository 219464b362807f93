#include "stream_impl.hpp"

#include <llmstream/error.hpp>

#include "http/connect.hpp"
#include "http/h1/exchange.hpp"
#include "http/h2/exchange.hpp"
#include "protocol/error_classifier.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/beast/core/string.hpp>

#include <algorithm>

namespace llmstream::detail {

namespace asio = boost::asio;
using boost::system::error_code;
using std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::deferred);

// Points the stream at an exchange while that runs (cancel() reaches it there), and at nothing
// once it ends, however it ends (an exception from a reader's inline completion included).
template <class Exchange>
struct running {
    Exchange*& current;
    running(Exchange*& c, Exchange& ex) : current(c) { current = &ex; }
    ~running() { current = nullptr; }
    running(const running&) = delete;
    running& operator=(const running&) = delete;
};

stream_impl::stream_impl(std::shared_ptr<client_impl> client, chat_request req, bool streaming)
    : client_(std::move(client)),
      request_(std::move(req)),
      streaming_(streaming),
      timer_(client_->executor),
      waiter_(std::make_shared<http::pool_waiter>(client_->executor)),
      h2_waiter_(std::make_shared<http::h2::waiter>(client_->executor)),
      ticket_(client_->gate ? std::make_shared<limits::ticket>(client_->executor) : nullptr),
      response_(client_->config.dialect, client_->config.vendor, false, client_->config.sse_limits),
      planner_(request_.retry.value_or(client_->config.retry), [c = client_.get()] { return c->random01(); }),
      channel_(client_->config.max_buffered_deltas),
      context_closing_(&http::context_closing::of(client_->executor)) {}

void stream_impl::start() { asio::co_spawn(client_->executor, run(shared_from_this()), asio::detached); }

// The reader's side (async_next, its completions) is in stream_handout.cpp.

void stream_impl::cancel() {
    if (channel_.finished()) return;
    cancelled_ = true;
    channel_.cancel();
    resolver_.cancel();
    if (h1_exchange_) h1_exchange_->cancel();
    if (h2_exchange_) h2_exchange_->cancel();  // RST_STREAM: the connection stays for its other streams
    if (connection_) connection_->close();
    if (connecting_) connecting_->close();  // an HTTP/2 connection being opened for this request
    waiter_->cancelled = true;
    waiter_->timer.cancel();
    h2_waiter_->cancelled = true;
    h2_waiter_->timer.cancel();
    if (ticket_) ticket_->cancel();
    timer_.cancel();
}

// --- the observer ---

// What the observer is told about this request (views of the request and the client).
request_context stream_impl::context() const {
    return {request_number_, "chat", client_->provider_name, request_.model, client_->origin.host, client_->server_port,
            streaming_};
}

void stream_impl::report_end(observer& o, const error_code& ec) {
    request_result r;
    r.error = ec;
    r.diagnostics = &diag_;
    r.usage = streaming_ ? last_usage_ : completion_.usage;
    r.duration = steady_clock::now() - started_;
    if (produced_ > 0) r.time_to_first_delta = first_delta_at_ - started_;
    r.deltas = produced_;
    o.request_ended(context(), r);
}

// Every delta for the reader goes through here: it counts them and tells the observer of the first.
void stream_impl::count_produced(const delta& d) {
    if (produced_++ == 0 && observer_) {
        first_delta_at_ = steady_clock::now();
        observer_->first_delta(context(), first_delta_at_ - started_);
    }
    if ((observer_ || ticket_) && d.usage) last_usage_ = d.usage;
}

template <class Delta>
void stream_impl::produce(Delta&& d) {
    count_produced(d);
    channel_.push(std::forward<Delta>(d));
}

// --- the attempt loop ---

// One request, to its end: however the attempts end, an allocation that failed or an exception
// included, the reader is told (a stream that never ended would leave its reader waiting forever).
asio::awaitable<void> stream_impl::run(std::shared_ptr<stream_impl> self) {
    // With Asio 1.81, an exception from an operation's start inside a coroutine (an allocation
    // that failed there) leaves io_context::run() and destroys this frame without resuming it:
    // the stream ends all the same, with no_memory.
    // (Not when the io_context is being destroyed: then nothing is told, as ever.)
    struct ends_anyway {
        stream_impl& s;
        ~ends_anyway() {
            if (!s.channel_.finished() && !s.context_closing_->closing()) s.end(asio::error::no_memory);
        }
    } guard{*self};
    error_code ec;
    try {
        ec = co_await self->attempts();
    } catch (const std::bad_alloc&) {
        ec = asio::error::no_memory;
    } catch (const std::exception&) {
        ec = asio::error::fault;  // nothing below throws anything else by design
    }
    self->end(ec);
}

// The request's end, told to the pool, the rate governor, the observer and the reader.
void stream_impl::end(error_code ec) noexcept {
    // Between attempts nothing is held; an exception from an attempt's middle may have left these.
    try {
        release_connection(ec);
    } catch (const std::exception&) {
        connection_.reset();
    }
    try {
        release_admission(ec);
    } catch (const std::exception&) {
    }
    conclude(ec);
    if (auto* o = observer_) report_end(*o, ec);
    try {
        finish(ec);
    } catch (const std::exception&) {
        // Out of memory for the reader's completion: there is nothing left to tell it with.
    }
}

// Attempts until one succeeds, a failure is final, or the retry policy says stop.
asio::awaitable<boost::system::error_code> stream_impl::attempts() {
    started_ = steady_clock::now();
    client_->retry_budget.record_request(started_);
    request_number_ = ++client_->requests_started;
    if (auto* o = observer_) o->request_started(context());
    error_code ec = protocol::encode_request(client_->config.dialect, request_, streaming_, encoded_, diag_);
    if (!ec) outgoing_ = build_request();
    // The prompt lives on only in the encoded body, sent by every attempt: a stream no longer
    // holds its messages, tools and extra JSON a second time while it streams.
    std::vector<message>().swap(request_.messages);
    std::vector<tool>().swap(request_.tools);
    std::string().swap(request_.extra);
    while (!ec) {
        if (ticket_ && (ec = co_await admit())) break;
        ++diag_.attempts;
        if (auto* o = observer_) o->attempt_started(context(), diag_.attempts);
        ec = co_await guarded_attempt();
        release_connection(ec);
        release_admission(ec);
        if (!ec || cancelled_) break;
        // Nothing is retried once a delta was produced for the reader: it would be replayed.
        if (produced_ > 0) {
            if (is_retryable(ec))
                diag_.retry_note = "not retried: " + std::to_string(produced_) + (produced_ == 1 ? " delta" : " deltas") +
                                   " had already been produced, and a retry would repeat them";
            break;
        }
        if (!(ec = co_await wait_before_retry(ec))) diag_.clear_last_attempt();
    }
    co_return ec;
}

// The end's diagnostics: a hint, no secret. Allocates, and must not fail the ending: short of
// memory, the hint is left out and text that might hold a secret is dropped whole.
void stream_impl::conclude(error_code& ec) noexcept {
    try {
        if (ec && diag_.hint.empty()) diag_.hint = protocol::hint_for_failure(ec);
    } catch (const std::bad_alloc&) {
        diag_.hint.clear();
    }
    // A server (or a proxy) that echoes the request's headers must not put the key in front
    // of the user: diagnostics never carry it.
    try {
        protocol::redact_secret(diag_, client_->config.api_key);
        if (client_->proxy) protocol::redact_secret(diag_, client_->proxy->password);
    } catch (const std::bad_alloc&) {
        protocol::drop_provider_text(diag_);
    }
    if (cancelled_) ec = asio::error::operation_aborted;  // whatever closing the socket caused
}

asio::awaitable<error_code> stream_impl::guarded_attempt() {
    try {
        co_return co_await attempt();
    } catch (const std::bad_alloc&) {
        co_return asio::error::no_memory;
    } catch (const std::exception&) {
        // Nothing below throws by design. run() would end the stream all the same; caught here,
        // the failed attempt goes through the attempt loop like any other (released, recorded).
        co_return asio::error::fault;
    }
}

void stream_impl::release_connection(const error_code& ec) {
    if (!connection_) return;
    // reusable_ is set only once a response was read to its end: a complete error response
    // leaves the connection as good as a successful one.
    const bool reusable = reusable_ && !cancelled_ && (!ec || ec.category() == api_category());
    client_->pool->release(std::move(connection_), reusable);
    reusable_ = false;
}

steady_clock::time_point stream_impl::deadline() const {
    const auto total = client_->config.timeouts.total;
    return total.count() > 0 ? started_ + total : steady_clock::time_point::max();
}

http::exchange_timeouts stream_impl::exchange_timeouts() const {
    http::exchange_timeouts t;
    t.first_byte = client_->config.timeouts.first_byte;
    t.idle = client_->config.timeouts.idle;
    t.deadline = deadline();
    return t;
}

// Asks the retry policy about the failure `ec`. Returns no error after the wait when the
// request should be sent again, otherwise the error to end with.
asio::awaitable<error_code> stream_impl::wait_before_retry(error_code ec) {
    std::optional<steady_clock::time_point> until;
    if (client_->config.timeouts.total.count() > 0) until = deadline();
    const auto d = planner_.after_failure(ec, diag_, steady_clock::now(), until, &client_->retry_budget);
    if (!d.retry) {
        diag_.retry_note = d.note;
        co_return ec;
    }
    diag_.attempt_log.push_back({ec, diag_.http_status, diag_.provider_code, diag_.request_id, d.wait});
    diag_.retry_wait += d.wait;
    if (observer_)
        observer_->retry_scheduled(context(), {diag_.attempts, ec, diag_.http_status, diag_.provider_code, d.wait});
    if (d.wait.count() > 0) {
        timer_.expires_after(d.wait);
        co_await timer_.async_wait(use_tuple);
    }
    if (cancelled_) co_return asio::error::operation_aborted;
    co_return error_code{};
}

// Waits for the rate governor to admit the next attempt (see limits/gate.hpp).
asio::awaitable<error_code> stream_impl::admit() {
    const auto tokens = limits::estimate_tokens(outgoing_.body.size(), request_.max_tokens, client_->config.limits);
    const auto since = steady_clock::now();
    std::string hint, note;
    const error_code ec = co_await client_->gate->admit(ticket_, request_.model, tokens, deadline(), hint, note);
    diag_.admission_wait += std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - since);
    if (ec && !hint.empty()) diag_.hint = hint;
    if (!note.empty()) diag_.admission_note = note;
    co_return ec;
}

// Tells the rate governor how the admitted attempt ended: the tokens it used, and whether the
// provider refused or throttled it.
void stream_impl::release_admission(const error_code& ec) {
    if (!ticket_ || !ticket_->holding()) return;
    std::optional<std::uint64_t> used;
    const std::optional<usage>& u = streaming_ ? last_usage_ : completion_.usage;
    if (u && u->total_tokens > 0) used = static_cast<std::uint64_t>(u->total_tokens);
    else if (u && u->input_tokens + u->output_tokens > 0) used = static_cast<std::uint64_t>(u->input_tokens + u->output_tokens);
    const bool refused = diag_.http_status >= 400;
    const bool throttled = ec == api_errc::rate_limited;
    std::optional<steady_clock::duration> retry_after;
    if (throttled && diag_.retry_after) retry_after = *diag_.retry_after;
    client_->gate->release(*ticket_, !ec, used, refused, throttled, retry_after);
}

// Takes the encoded body (encoded_.body is empty afterwards).
http::outgoing_request stream_impl::build_request() {
    const auto& cfg = client_->config;
    const auto& origin = client_->origin;
    http::outgoing_request r;
    const bool via_proxy = client_->proxy && !origin.tls;  // https goes through a tunnel instead
    r.target = origin.path_prefix + encoded_.target;
    if (via_proxy) r.target = "http://" + origin.host_header + r.target;  // absolute form, for the proxy
    r.authority = origin.host_header;
    if (via_proxy && !client_->proxy_authorization.empty())
        r.headers.emplace_back("Proxy-Authorization", client_->proxy_authorization);
    r.headers.emplace_back("User-Agent", "llmstream/0.1");
    r.headers.emplace_back("Content-Type", "application/json");
    if (!cfg.api_key.empty()) r.headers.emplace_back(client_->auth_header_name, client_->auth_header_value);
    if (cfg.dialect == api_dialect::anthropic_messages) r.headers.emplace_back("anthropic-version", "2023-06-01");
    if (streaming_) {
        r.headers.emplace_back("Accept", "text/event-stream");
        r.headers.emplace_back("Cache-Control", "no-cache");
    }
    if (encoded_.dashscope_sse_header) r.headers.emplace_back("X-DashScope-SSE", "enable");
    // The workspace is DashScope's: not told to other providers (a local server or gateway gets it).
    if (!cfg.workspace.empty() && (cfg.vendor == vendor::dashscope || cfg.vendor == vendor::automatic))
        r.headers.emplace_back("X-DashScope-WorkSpace", cfg.workspace);
    for (const auto& header : cfg.headers) {
        const std::string& name = header.first;  // (clang 14 cannot capture a structured binding)
        // A configured header replaces one of ours of the same name, as Beast's set() did.
        std::erase_if(r.headers, [&](const auto& h) { return boost::beast::iequals(h.first, name); });
        r.headers.emplace_back(name, header.second);
    }
    r.body = std::move(encoded_.body);
    r.body.shrink_to_fit();  // the encoder grew it by doubling: held for the whole stream, it is held at its size
    return r;
}

// One attempt: send the request, read the response into deltas (or a completion). A request the
// server never processed (a reused HTTP/1.1 connection it had closed, an HTTP/2 stream it refused
// or left above GOAWAY's last stream id) goes again at once, and that is not an attempt.
asio::awaitable<error_code> stream_impl::attempt() {
    response_ = protocol::response_stream(client_->config.dialect, client_->config.vendor, encoded_.cumulative_output,
                                          client_->config.sse_limits);
    // Bounded: a server that refuses every stream must not keep a request going around forever.
    constexpr int max_unprocessed = 16;
    for (int unprocessed = 0;; ++unprocessed) {
        if (cancelled_) co_return asio::error::operation_aborted;
        body_mode_ = body_mode::whole;
        body_.clear();
        const http::exchange_result r = client_->speaks_h2() ? co_await over_http2() : co_await over_http1();
        if (!r.ec) {
            reusable_ = r.reusable;
            break;
        }
        // Never again once a delta was produced: it would be delivered twice.
        if (!r.unprocessed || cancelled_ || produced_ > 0 || unprocessed + 1 >= max_unprocessed) co_return r.ec;
        if (unprocessed >= 1) {
            // A server that keeps refusing (a GOAWAY on every connection, say) is not hammered: a
            // short pause from the second resend on, within the deadline.
            const auto pause = std::chrono::milliseconds(5 << std::min(unprocessed, 5));
            if (steady_clock::now() + pause >= deadline()) co_return r.ec;
            timer_.expires_after(pause);
            co_await timer_.async_wait(use_tuple);
        }
    }
    if (body_mode_ == body_mode::events) co_return response_.finish(diag_);
    co_return finish_whole_body();
}

http::connect_target stream_impl::connect_target() const {
    // Once the origin chose http/1.1, only that is offered: a server behind a balancer that also
    // speaks h2 must not pick it for a connection we use as HTTP/1.1.
    const std::string_view alpn =
        client_->h2pool && client_->h2pool->http1_only() && client_->origin.tls ? std::string_view("\x08http/1.1", 9)
                                                                                : client_->alpn;
    return {client_->origin, client_->proxy, client_->proxy_reason, client_->proxy_authorization,
            client_->config.tls.verify_peer, alpn, client_->tls_sessions.get()};
}

// Connects a new connection in a turn of the client's connect gate (the wait for a turn is a
// wait for a connection: the connect timeout starts with the turn).
asio::awaitable<error_code> stream_impl::open(http::connection& c, std::string& negotiated) {
    if (auto ec = co_await client_->connect_gate.enter(waiter_, deadline())) {
        if (ec == errc::pool_wait_timeout)
            diag_.hint = "the " + std::to_string(client_->config.pool.max_connecting) +
                         " connections being opened at once (pool.max_connecting) did not finish within "
                         "pool.wait_timeout: the server is slow to accept or to finish TLS handshakes; open fewer "
                         "connections at once (HTTP/2 shares them), or raise pool.wait_timeout";
        co_return ec;
    }
    const http::connect_gate::turn turn(client_->connect_gate);
    co_return co_await http::connect(c, resolver_, connect_target(), client_->config.timeouts.connect, deadline(),
                                     cancelled_, diag_, negotiated);
}

// HTTP/1.1: a connection of our own from the pool (connected here when new), one exchange on it.
asio::awaitable<http::exchange_result> stream_impl::over_http1() {
    http::exchange_result r;
    if (cancelled_) {
        r.ec = asio::error::operation_aborted;
        co_return r;
    }
    if (!connection_) {
        connection_ = co_await client_->pool->acquire(waiter_, r.ec, deadline());
        if (r.ec) co_return r;
        if (cancelled_) {
            r.ec = asio::error::operation_aborted;
            co_return r;
        }
    }
    if (!connection_->connected) {
        std::string negotiated;
        if ((r.ec = co_await open(*connection_, negotiated))) co_return r;
    }
    const bool reused = connection_->exchanges++ > 0;
    http::h1::exchange ex(*connection_, *this, exchange_timeouts());
    {
        const running<http::h1::exchange> running_exchange(h1_exchange_, ex);
        r = co_await ex.run(outgoing_, reused);
    }
    // A stale connection: a new one in the same slot, so the request keeps its place in line.
    if (r.unprocessed) connection_ = client_->pool->replace(std::move(connection_));
    co_return r;
}

// HTTP/2: a stream on a shared connection; the first request to find every connection full opens
// one (and learns from ALPN whether the origin speaks h2 at all).
asio::awaitable<http::exchange_result> stream_impl::over_http2() {
    http::exchange_result r;
    http::h2::lease lease = co_await client_->h2pool->acquire(h2_waiter_, r.ec, deadline());
    if (r.ec) co_return r;
    if (lease.use_http1) co_return co_await over_http1();
    // What the lease holds (a connection being opened, or room reserved on a session) goes back
    // to the pool however this ends before it is used: an error, an exception, or this frame
    // destroyed unresumed (see run()). Using it clears `held`.
    struct unused_lease {
        stream_impl& s;
        http::h2::lease* held;
        ~unused_lease() {
            if (!held || s.context_closing_->closing()) return;
            s.connecting_ = nullptr;
            try {
                s.client_->h2pool->give_back(std::move(*held));
            } catch (...) {  // a destructor: nothing may leave it
            }
        }
    } unused{*this, &lease};
    if (cancelled_) {
        r.ec = asio::error::operation_aborted;
        co_return r;
    }
    std::shared_ptr<http::h2::session> session = lease.s;
    if (lease.connect) {
        auto socket = client_->h2pool->new_socket();
        std::string negotiated;
        connecting_ = socket.get();  // cancel() closes it
        r.ec = co_await open(*socket, negotiated);
        connecting_ = nullptr;
        if (cancelled_ && !r.ec) r.ec = asio::error::operation_aborted;
        if (r.ec) {
            socket->close();
            co_return r;
        }
        if (client_->origin.tls && negotiated != "h2") {
            if (client_->config.http == http_version::http2) {
                diag_.hint = "the server chose " + (negotiated.empty() ? std::string("no protocol") : negotiated) +
                             " in the TLS handshake, not h2: it speaks HTTP/2 only if it offers h2 by ALPN; use "
                             "http = automatic (h2 when offered, else http/1.1) or http1";
                r.ec = errc::http2_not_negotiated;
                co_return r;
            }
            // The origin speaks HTTP/1.1: this connection, and every request from now on, go there.
            unused.held = nullptr;
            client_->h2pool->origin_is_http1();
            connection_ = client_->pool->adopt(std::move(socket));
            co_return co_await over_http1();
        }
        session = client_->h2pool->add(std::move(socket));
        lease = {session, false, false};  // the connection is the pool's now; this request holds room on it
    } else if (client_->config.http2.ping_after_idle.count() > 0 &&
               steady_clock::now() - session->last_heard() >= client_->config.http2.ping_after_idle) {
        // Long quiet: make sure the connection still answers before a request rides on it.
        const auto limit = client_->config.timeouts.connect.count() > 0 ? client_->config.timeouts.connect
                                                                         : std::chrono::milliseconds(10'000);
        const bool alive = co_await session->ping(steady_clock::now() + limit, deadline());
        if (!alive || cancelled_) {
            const bool gone = session->closed();
            if (cancelled_) r.ec = asio::error::operation_aborted;
            else if (!gone) r.ec = errc::deadline_exceeded;  // this request's time ran out, not the connection
            else {
                r.ec = errc::connection_closed;
                r.unprocessed = true;  // nothing was sent on it: another connection
            }
            co_return r;
        }
    }
    unused.held = nullptr;
    session->unreserve();  // the stream opens now
    http::h2::exchange ex(session, *this, exchange_timeouts());
    {
        const running<http::h2::exchange> running_exchange(h2_exchange_, ex);
        r = co_await ex.run(outgoing_);
    }
    if (r.ec == errc::http2_stream_reset && r.http2_error_code != 0)
        diag_.hint = "the server reset this request's HTTP/2 stream with error code " +
                     std::string(http::h2::error_code_name(r.http2_error_code)) +
                     ": retry; if it keeps happening, the server or a proxy in between is refusing it";
    co_return r;
}

// http::exchange_handler: the head decides where the body goes.
error_code stream_impl::on_head(const http::response_head& head) {
    const int status = head.status();
    status_ = status;
    diag_.http_status = status;
    std::string_view request_id = head.header("x-request-id");
    if (request_id.empty()) request_id = head.header("X-DashScope-Request-Id");
    if (request_id.empty()) request_id = head.header("request-id");  // Anthropic
    protocol::set_provider_text(diag_.request_id, request_id);
    const bool event_stream = head.header("Content-Type").find("text/event-stream") != std::string_view::npos;
    body_mode_ = status == 200 && streaming_ && event_stream ? body_mode::events : body_mode::whole;
    if (status < 200 || status > 299) {
        retry_after_ = head.header("Retry-After");
        retry_after_ms_ = head.header("retry-after-ms");
        should_retry_ = head.header("x-should-retry");
        location_.clear();
        protocol::set_provider_text(location_, head.header("Location"));
    }
    // A whole body announced beyond the limit fails now, not after the server sent (or stalled on) it.
    const auto length = head.content_length();
    if (body_mode_ == body_mode::whole && length && *length > client_->config.max_body_size) {
        diag_.hint = "the server announced a " + std::to_string(*length) + "-byte body, more than max_body_size (" +
                     std::to_string(client_->config.max_body_size) + " bytes): raise the limit if that is expected";
        return errc::body_too_large;
    }
    return {};
}

error_code stream_impl::on_body(std::string_view bytes, bool read_end_follows) {
    if (body_mode_ == body_mode::events) {
        // An event stream may run as long as the generation; its events are bounded by the SSE limits.
        // Each event is decoded straight into the channel's next slot, taken when it is a delta.
        const auto ec = response_.feed_into(
            bytes, [&]() -> delta& { return channel_.prepare(); },
            [&](const delta& d) {
                count_produced(d);
                channel_.commit();
            },
            diag_);
        // The reader is completed at the read's end when one follows (HTTP/1.1), else posted now.
        if (read_end_follows) deliver_at_read_end_ = true;
        else deliver();
        return ec;
    }
    if (bytes.size() > client_->config.max_body_size - std::min(body_.size(), client_->config.max_body_size))
        return errc::body_too_large;
    body_.append(bytes);
    return {};
}

// A whole body: an error response, a non-streaming completion, or a 2xx that is not an event
// stream (a whole completion, or an error object in a 200).
error_code stream_impl::finish_whole_body() {
    const int status = status_;
    if (status < 200 || status > 299) {
        protocol::response_head h;
        h.status = status;
        h.retry_after = retry_after_;
        h.retry_after_ms = retry_after_ms_;
        h.should_retry = should_retry_;
        const std::string request_id = diag_.request_id;
        h.request_id = request_id;
        auto ec = protocol::decode_error_response(client_->config.vendor, h, body_, diag_);
        if (status >= 300 && status < 400) {
            // Redirects are never followed: the Authorization header must not go to another host.
            diag_.hint = "the server redirected" + (location_.empty() ? std::string() : " to " + location_) +
                         "; redirects are not followed (the API key must not travel to another host): use the "
                         "final URL as the base URL";
        }
        return ec;
    }
    completion c;
    if (auto ec = protocol::decode_completion(client_->config.dialect, client_->config.vendor, status, body_, c, diag_))
        return ec;
    if (streaming_) {
        delta d;
        d.content = c.content;
        d.reasoning_content = c.reasoning_content;
        // One delta carries one block's signature: a body with several blocks keeps its text only.
        if (c.thinking_blocks.size() == 1) d.reasoning_signature = c.thinking_blocks.front().signature;
        d.role = c.role;
        for (std::size_t i = 0; i < c.tool_calls.size(); ++i)
            d.tool_calls.push_back({static_cast<int>(i), c.tool_calls[i].id, c.tool_calls[i].name, c.tool_calls[i].arguments});
        d.finish = c.finish;
        d.finish_reason_text = c.finish_reason_text;
        d.usage = c.usage;
        d.model = c.model;
        d.response_id = c.response_id;
        d.request_id = c.request_id;
        produce(std::move(d));
        deliver();
    } else {
        completion_ = std::move(c);
    }
    return {};
}

}  // namespace llmstream::detail
