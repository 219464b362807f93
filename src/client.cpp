// The client and its streams: a thin driver that moves bytes between the connection pool and the
// sans-IO codecs (protocol::encode_request, protocol::response_stream).
#include <llmstream/client.hpp>
#include <llmstream/error.hpp>
#include <llmstream/observer.hpp>

#include "http/connection_pool.hpp"
#include "http/origin.hpp"
#include "http/proxy.hpp"
#include "http/resolve.hpp"
#include "http/response_reader.hpp"
#include "protocol/error_classifier.hpp"
#include "protocol/request_encoder.hpp"
#include "protocol/vendor.hpp"
#include "protocol/response_stream.hpp"
#include "retry/retry_planner.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/ssl.h>

#include <array>
#include <cstdlib>
#include <random>
#include <stdexcept>

namespace llmstream {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;
using std::chrono::steady_clock;
constexpr auto use_tuple = asio::as_tuple(asio::deferred);
// Beast 1.81's operations predate deferred support: they are awaited with use_awaitable.
constexpr auto beast_tuple = asio::as_tuple(asio::use_awaitable);

namespace detail {

// Deltas decoded ahead of the reader: a ring of reused heap slots. Slots never move (growing
// moves only the pointers), so the delta lent to the caller stays put while more arrive, and a
// warm queue allocates nothing per delta.
class delta_queue {
public:
    bool empty() const noexcept { return count_ == 0; }
    std::size_t size() const noexcept { return count_; }
    void push(const delta& d) { *next_slot() = d; }  // copy-assign keeps the slot's capacity
    void push(delta&& d) { *next_slot() = std::move(d); }
    delta& front() noexcept { return *slots_[head_]; }
    void pop() noexcept {
        head_ = (head_ + 1) % slots_.size();
        --count_;
    }

private:
    delta* next_slot() {
        if (count_ == slots_.size()) {
            std::vector<std::unique_ptr<delta>> bigger(std::max<std::size_t>(8, slots_.size() * 2));
            for (std::size_t i = 0; i < slots_.size(); ++i) bigger[i] = std::move(slots_[(head_ + i) % slots_.size()]);
            for (std::size_t i = slots_.size(); i < bigger.size(); ++i) bigger[i] = std::make_unique<delta>();
            slots_ = std::move(bigger);
            head_ = 0;
        }
        delta* slot = slots_[(head_ + count_) % slots_.size()].get();
        ++count_;
        return slot;
    }
    std::vector<std::unique_ptr<delta>> slots_;
    std::size_t head_ = 0;
    std::size_t count_ = 0;
};

class client_impl {
public:
    client_impl(asio::any_io_executor ex, client_config cfg) : executor(std::move(ex)), config(std::move(cfg)) {
        if (auto ec = http::parse_origin(config.base_url, origin))
            // The URL itself is not echoed: it may carry credentials in userinfo or the query.
            throw std::invalid_argument("llmstream::client: unusable base_url: " + ec.message());
        config.vendor = protocol::vendor_for_host(config.vendor, origin.host);
        if (origin.tls) {
            tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
            SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION);
            tls->set_default_verify_paths();
            if (!config.tls.ca_file.empty()) tls->load_verify_file(config.tls.ca_file);
            tls->set_verify_mode(config.tls.verify_peer ? asio::ssl::verify_peer : asio::ssl::verify_none);
        }
        http::pool_settings ps;
        ps.max_connections = std::max<std::size_t>(1, config.pool.max_connections);
        ps.max_waiting = config.pool.max_waiting;
        ps.wait_timeout = config.pool.wait_timeout;
        ps.idle_timeout = config.pool.idle_timeout;
        pool = std::make_unique<http::connection_pool>(executor, ps, tls.get());
        std::vector<std::pair<std::string, std::string>> pinned;
        for (const auto& o : config.host_overrides) {
            error_code ec;
            asio::ip::make_address(o.address, ec);
            if (o.host.empty() || ec)
                throw std::invalid_argument("llmstream::client: a host override needs a host name and an IP address, got \"" +
                                            o.host + "\" -> \"" + o.address + "\"");
            pinned.emplace_back(o.host, o.address);
        }
        lookup = http::deadline_resolver::pinned_lookup(std::move(pinned));
        const http::proxy_settings proxy_settings{config.proxy.url, config.proxy.from_environment, config.proxy.no_proxy};
        if (auto ec = http::choose_proxy(origin.tls, origin.host, origin.port, proxy_settings,
                                         http::process_environment, proxy, proxy_reason))
            // Neither the URL nor its credentials are echoed.
            throw std::invalid_argument("llmstream::client: unusable proxy (" +
                                        (proxy_reason.empty() ? std::string("client_config::proxy") : proxy_reason) +
                                        "): " + ec.message());
        if (proxy) proxy_authorization = http::proxy_authorization(*proxy);
        authorization = "Bearer " + config.api_key;
        server_port = std::atoi(origin.port.c_str());
        // gen_ai.provider.name: an OpenAI-compatible server of unknown vendor speaks OpenAI's flavour.
        provider_name = config.vendor == vendor::automatic ? "openai" : to_string(config.vendor);
        config.max_buffered_deltas = std::max<std::size_t>(1, config.max_buffered_deltas);
    }

    /// Uniform in [0, 1), for backoff jitter.
    double random01() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }

    asio::any_io_executor executor;
    client_config config;
    http::origin origin;
    std::unique_ptr<asio::ssl::context> tls;
    std::unique_ptr<http::connection_pool> pool;
    http::deadline_resolver::lookup_fn lookup;  // asio's, or one that answers pinned hosts itself
    std::string authorization;
    std::optional<http::proxy_endpoint> proxy;  // empty: direct connections
    std::string proxy_reason;                   // why this proxy (or none) was chosen
    std::string proxy_authorization;            // "Basic ..." or empty
    retry::budget retry_budget{config.retry_budget};
    std::mt19937_64 rng{std::random_device{}()};
    int server_port = 0;
    const char* provider_name = "openai";
    std::uint64_t requests_started = 0;  // numbers the requests for the observer
};

// One generation. The `run` coroutine produces deltas into `ready_`; async_next consumes them.
class stream_impl : public std::enable_shared_from_this<stream_impl>, private http::response_handler {
public:
    stream_impl(std::shared_ptr<client_impl> client, chat_request req, bool streaming)
        : client_(std::move(client)),
          request_(std::move(req)),
          streaming_(streaming),
          timer_(client_->executor),
          waiter_(std::make_shared<http::pool_waiter>(client_->executor)),
          response_(client_->config.dialect, client_->config.vendor, false, client_->config.sse_limits),
          planner_(request_.retry.value_or(client_->config.retry), [c = client_.get()] { return c->random01(); }) {
    }

    void start() {
        asio::co_spawn(client_->executor, run(shared_from_this()), asio::detached);
    }

    // --- consumer side ---
    void next(next_handler handler) {
        if (pending_ || in_flight_) {
            post(std::move(handler), errc::operation_in_progress, nullptr);
            return;
        }
        if (lent_) {  // the caller is done with the delta handed out last time
            lent_ = false;
            ready_.pop();
            if (waiting_for_space_) timer_.cancel();
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
        pending_.emplace(std::move(handler));
        deliver();
    }

    // The pending async_next completes with operation_aborted; the stream itself goes on.
    void abandon_wait() {
        if (!pending_) return;
        next_handler h(std::move(*pending_));
        pending_.reset();
        post(std::move(h), asio::error::operation_aborted, nullptr);
    }

    void cancel() {
        if (finished_) return;
        cancelled_ = true;
        resolver_.cancel();
        if (connection_) connection_->close();
        waiter_->cancelled = true;
        waiter_->timer.cancel();
        timer_.cancel();
    }

    const diagnostics& diag() const noexcept { return diag_; }
    asio::any_io_executor executor() const { return client_->executor; }

    // any_completion_handler's move assignment recurses forever in Boost 1.81: only ever
    // move-construct handlers (optional::emplace), never assign them.
    void on_chat_done(chat_handler h) { chat_handler_.emplace(std::move(h)); }
    diagnostics* chat_diag = nullptr;

private:
    // Completes `handler` later, never inline. Until it runs, another async_next is "in
    // progress" (the lent delta must not be recycled), and the stream stays alive.
    void post(next_handler handler, error_code ec, const delta* d) {
        auto slot = asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected()) slot.clear();
        in_flight_ = true;
        asio::post(client_->executor, [self = shared_from_this(), h = std::move(handler), ec, d]() mutable {
            self->in_flight_ = false;
            asio::dispatch(asio::append(std::move(h), ec, d));  // on the handler's own executor
        });
    }

    void deliver() {
        if (!pending_) return;
        if (!ready_.empty() && !cancelled_) {  // after cancel() buffered deltas are dropped
            // Lent until the next async_next: the slot is popped then, not now.
            lent_ = true;
            ++diag_.deltas_delivered;
            next_handler h(std::move(*pending_));
            pending_.reset();
            post(std::move(h), {}, &ready_.front());
        } else if (finished_) {
            next_handler h(std::move(*pending_));
            pending_.reset();
            post(std::move(h), final_ec_, nullptr);
        }
    }

    void finish(error_code ec) {
        finished_ = true;
        final_ec_ = ec;
        if (chat_handler_) {
            completion c = ec ? completion{} : std::move(completion_);
            if (chat_diag) *chat_diag = diag_;
            chat_handler h(std::move(*chat_handler_));
            chat_handler_.reset();
            asio::post(client_->executor, asio::append(std::move(h), ec, std::move(c)));
        }
        deliver();
    }

    // Arms the connection's timer for the next operation: the phase's own limit, or what is left
    // of the whole-request deadline if that is sooner. Remembers which one it was.
    void arm(milliseconds phase_limit, errc phase_error) {
        auto& tcp = connection_->lowest_layer();
        const steady_clock::time_point when = phase_deadline(phase_limit, phase_error);
        if (when == steady_clock::time_point::max()) tcp.expires_never();
        else tcp.expires_at(when);
    }

    // When the phase must end: its own limit from now, or the whole-request deadline if sooner
    // (timeout_error_ says which). time_point::max() when neither is set.
    steady_clock::time_point phase_deadline(milliseconds phase_limit, errc phase_error) {
        const auto total = client_->config.timeouts.total;
        steady_clock::time_point when = steady_clock::time_point::max();
        timeout_error_ = phase_error;
        if (phase_limit.count() > 0) when = steady_clock::now() + phase_limit;
        if (total.count() > 0 && started_ + total < when) {
            when = started_ + total;
            timeout_error_ = errc::deadline_exceeded;
        }
        return when;
    }

    error_code translate(error_code ec) const {
        if (ec == beast::error::timeout) return timeout_error_;
        if (ec == asio::error::eof) return errc::connection_closed;  // responses are read by our own reader
        return ec;
    }

    bhttp::request<bhttp::string_body> build_request(const protocol::encoded_request& enc) const {
        const auto& cfg = client_->config;
        const bool via_proxy = client_->proxy && !client_->origin.tls;  // https goes through a tunnel instead
        std::string target = client_->origin.path_prefix + enc.target;
        if (via_proxy) target = "http://" + client_->origin.host_header + target;  // absolute form, for the proxy
        bhttp::request<bhttp::string_body> req{bhttp::verb::post, target, 11};
        req.set(bhttp::field::host, client_->origin.host_header);
        if (via_proxy && !client_->proxy_authorization.empty())
            req.set(bhttp::field::proxy_authorization, client_->proxy_authorization);
        req.set(bhttp::field::user_agent, "llmstream/0.1");
        req.set(bhttp::field::content_type, "application/json");
        if (!cfg.api_key.empty()) req.set(bhttp::field::authorization, client_->authorization);
        if (streaming_) {
            req.set(bhttp::field::accept, "text/event-stream");
            req.set(bhttp::field::cache_control, "no-cache");
        }
        if (enc.dashscope_sse_header) req.set("X-DashScope-SSE", "enable");
        if (!cfg.workspace.empty()) req.set("X-DashScope-WorkSpace", cfg.workspace);
        for (const auto& [name, value] : cfg.headers) req.set(name, value);
        req.keep_alive(true);
        req.body() = enc.body;
        req.prepare_payload();
        return req;
    }

    template <class Op>
    asio::awaitable<std::tuple<error_code, std::size_t>> on_stream(Op op) {
        if (auto* plain = std::get_if<http::connection::tcp_stream>(&connection_->stream)) co_return co_await op(*plain);
        co_return co_await op(std::get<http::connection::tls_stream>(connection_->stream));
    }

    asio::awaitable<error_code> connect() {
        const auto& origin = client_->origin;
        // The connect timeout covers the name lookup too (which asio's resolver cannot abandon).
        const auto deadline = phase_deadline(client_->config.timeouts.connect, errc::connect_timeout);
        arm(client_->config.timeouts.connect, errc::connect_timeout);
        const auto& proxy = client_->proxy;
        auto [rec, results] = co_await resolver_.resolve(proxy ? proxy->host : origin.host,
                                                         proxy ? proxy->port : origin.port, deadline, timeout_error_);
        if (rec) co_return proxy ? proxy_unreachable(rec) : rec;
        if (cancelled_) co_return asio::error::operation_aborted;
        auto [cec, endpoint] = co_await connection_->lowest_layer().async_connect(results, beast_tuple);
        if (cec) co_return proxy ? proxy_unreachable(translate(cec)) : translate(cec);
        connection_->lowest_layer().socket().set_option(tcp::no_delay(true), cec);
        if (proxy && origin.tls) {
            if (auto tec = co_await open_tunnel()) co_return tec;
        }
        if (auto* tls = std::get_if<http::connection::tls_stream>(&connection_->stream)) {
            if (!SSL_set_tlsext_host_name(tls->native_handle(), origin.host.c_str()))
                co_return error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category());
            if (client_->config.tls.verify_peer) tls->set_verify_callback(asio::ssl::host_name_verification(origin.host));
            auto [hec] = co_await tls->async_handshake(asio::ssl::stream_base::client, beast_tuple);
            if (hec) co_return translate(hec);
        }
        connection_->connected = true;
        co_return error_code{};
    }

    // A failure to reach the proxy: its own class, naming the proxy (host and port only) and why
    // it was chosen. A timeout stays a connect timeout (the proxy is part of connecting).
    error_code proxy_unreachable(error_code ec) {
        if (ec == errc::connect_timeout || ec == errc::deadline_exceeded || ec == asio::error::operation_aborted) return ec;
        diag_.hint = "the proxy " + client_->proxy->display() + " (" + client_->proxy_reason + ") cannot be reached (" +
                     ec.message() + "): check its host and port, or bypass it with NO_PROXY or proxy.from_environment";
        return errc::proxy_unreachable;
    }

    // CONNECT host:port through the proxy; on success the socket is a tunnel to the origin, and
    // TLS (SNI, certificate checks) is then with the origin itself.
    asio::awaitable<error_code> open_tunnel() {
        const auto& origin = client_->origin;
        const auto& proxy = *client_->proxy;
        auto& tcp = connection_->lowest_layer();
        const std::string request = http::connect_request(origin.host, origin.port, proxy);
        auto [wec, wn] = co_await asio::async_write(tcp, asio::buffer(request), beast_tuple);
        if (wec) co_return proxy_unreachable(translate(wec));
        http::connect_reply reply;
        std::array<char, 2048> buffer;
        for (;;) {
            auto [rec, n] = co_await tcp.async_read_some(asio::buffer(buffer), beast_tuple);
            if (rec) co_return proxy_unreachable(translate(rec));
            const auto r = reply.feed(std::string_view(buffer.data(), n));
            if (r.st == http::connect_reply::state::need_more) continue;
            // A refusal may carry a page after its head (ignored: the connection is dropped); a
            // proxy that sends bytes of its own after a 2xx, before TLS has begun, is as broken as bad HTTP.
            const bool extra_after_success = r.consumed != n && !http::connect_reply_error(reply.status());
            if (r.st == http::connect_reply::state::invalid || extra_after_success) {
                diag_.hint = "the proxy " + proxy.display() + " answered CONNECT with something that is not HTTP: "
                             "check that it is an HTTP proxy";
                co_return errc::invalid_http_response;
            }
            break;
        }
        if (auto ec = http::connect_reply_error(reply.status())) {
            diag_.http_status = reply.status();
            protocol::set_provider_text(diag_.provider_message, reply.reason());
            if (ec == errc::proxy_auth_required)
                diag_.hint = "the proxy " + proxy.display() + " (" + client_->proxy_reason + ") wants credentials" +
                             (proxy.username.empty() ? ": put them in the proxy URL (http://user:password@host:port)"
                                                     : ": the user name or password in the proxy URL is wrong") +
                             "; they are never printed";
            else
                diag_.hint = "the proxy " + proxy.display() + " (" + client_->proxy_reason + ") refused a tunnel to " +
                             origin.host + ":" + origin.port + " (HTTP " + std::to_string(reply.status()) +
                             "): its rules may forbid that host or port, or bypass it with NO_PROXY";
            co_return ec;
        }
        co_return error_code{};
    }

    // What the observer is told about this request (views of the request and the client).
    request_context context() const {
        return {request_number_, "chat", client_->provider_name, request_.model, client_->origin.host,
                client_->server_port, streaming_};
    }

    // One request: attempts until one succeeds, a failure is final, or the retry policy says stop.
    static asio::awaitable<void> run(std::shared_ptr<stream_impl> self) {
        self->started_ = steady_clock::now();
        self->client_->retry_budget.record_request(self->started_);
        self->request_number_ = ++self->client_->requests_started;
        if (auto* o = self->observer_) o->request_started(self->context());
        error_code ec = self->encode();
        while (!ec) {
            ++self->diag_.attempts;
            if (auto* o = self->observer_) o->attempt_started(self->context(), self->diag_.attempts);
            ec = co_await self->guarded_attempt();
            self->release_connection(ec);
            if (!ec || self->cancelled_) break;
            // Nothing is retried once a delta was produced for the reader: it would be replayed.
            if (self->produced_ > 0) {
                if (is_retryable(ec))
                    self->diag_.retry_note = "not retried: " + std::to_string(self->produced_) +
                                             (self->produced_ == 1 ? " delta" : " deltas") +
                                             " had already been produced, and a retry would repeat them";
                break;
            }
            if (!(ec = co_await self->wait_before_retry(ec))) self->diag_.clear_last_attempt();
        }
        if (ec && self->diag_.hint.empty()) self->diag_.hint = protocol::hint_for_failure(ec);
        // A server (or a proxy) that echoes the request's headers must not put the key in front
        // of the user: diagnostics never carry it.
        protocol::redact_secret(self->diag_, self->client_->config.api_key);
        if (self->client_->proxy) protocol::redact_secret(self->diag_, self->client_->proxy->password);
        if (self->cancelled_) ec = asio::error::operation_aborted;  // whatever closing the socket caused
        if (auto* o = self->observer_) self->report_end(*o, ec);
        self->finish(ec);
    }

    void report_end(observer& o, const error_code& ec) {
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
    template <class Delta>
    void produce(Delta&& d) {
        if (produced_++ == 0 && observer_) {
            first_delta_at_ = steady_clock::now();
            observer_->first_delta(context(), first_delta_at_ - started_);
        }
        if (observer_ && d.usage) last_usage_ = d.usage;
        ready_.push(std::forward<Delta>(d));
    }

    error_code encode() {
        if (auto ec = protocol::encode_request(client_->config.dialect, request_, streaming_, encoded_, diag_)) return ec;
        return {};
    }

    asio::awaitable<error_code> guarded_attempt() {
        try {
            co_return co_await attempt();
        } catch (const std::bad_alloc&) {
            co_return asio::error::no_memory;
        } catch (const std::exception&) {
            // Nothing below throws by design; if something does, end the stream with an error
            // rather than leave the reader waiting forever.
            co_return asio::error::fault;
        }
    }

    void release_connection(const error_code& ec) {
        if (!connection_) return;
        // reusable_ is set only once a response was read to its end: a complete error response
        // leaves the connection as good as a successful one.
        const bool reusable = reusable_ && !cancelled_ && (!ec || ec.category() == api_category());
        client_->pool->release(std::move(connection_), reusable);
        reusable_ = false;
    }

    // Asks the retry policy about the failure `ec`. Returns no error after the wait when the
    // request should be sent again, otherwise the error to end with.
    asio::awaitable<error_code> wait_before_retry(error_code ec) {
        const auto total = client_->config.timeouts.total;
        std::optional<steady_clock::time_point> deadline;
        if (total.count() > 0) deadline = started_ + total;
        const auto now = steady_clock::now();
        const auto d = planner_.after_failure(ec, diag_, now, deadline, &client_->retry_budget);
        if (!d.retry) {
            diag_.retry_note = d.note;
            co_return ec;
        }
        diag_.attempt_log.push_back({ec, diag_.http_status, diag_.provider_code, diag_.request_id, d.wait});
        diag_.retry_wait += d.wait;
        if (observer_) observer_->retry_scheduled(context(), {diag_.attempts, ec, diag_.http_status, diag_.provider_code, d.wait});
        if (d.wait.count() > 0) {
            timer_.expires_after(d.wait);
            co_await timer_.async_wait(use_tuple);
        }
        if (cancelled_) co_return asio::error::operation_aborted;
        co_return error_code{};
    }

    // One attempt: send the request, read the response into deltas (or a completion). A reused
    // connection that the server had closed fails before any response byte: the request goes
    // again at once on a new connection, and that is not an attempt.
    asio::awaitable<error_code> attempt() {
        response_ = protocol::response_stream(client_->config.dialect, client_->config.vendor,
                                              encoded_.cumulative_output, client_->config.sse_limits);
        auto req = build_request(encoded_);
        for (;;) {
            if (cancelled_) co_return asio::error::operation_aborted;
            body_mode_ = body_mode::whole;
            body_.clear();
            reader_.emplace(static_cast<http::response_handler&>(*this));
            if (!connection_) {
                error_code ec;
                const auto total = client_->config.timeouts.total;
                const auto deadline = total.count() > 0 ? started_ + total : steady_clock::time_point::max();
                connection_ = co_await client_->pool->acquire(waiter_, ec, deadline);
                if (ec) co_return ec;
                if (cancelled_) co_return asio::error::operation_aborted;
            }
            const bool reused = connection_->connected;
            if (!reused) {
                if (auto cec = co_await connect()) co_return cec;
            }
            arm(client_->config.timeouts.first_byte, errc::first_byte_timeout);
            auto [wec, wn] = co_await on_stream([&](auto& s) { return bhttp::async_write(s, req, beast_tuple); });
            if (!wec) {
                if (auto* plain = std::get_if<http::connection::tcp_stream>(&connection_->stream))
                    wec = co_await read_response(*plain);
                else
                    wec = co_await read_response(std::get<http::connection::tls_stream>(connection_->stream));
                if (!wec) break;
            }
            // Every reused connection may be stale (the pool hands out the most recent first), but
            // only reused ones: a new connection failing like this is a real failure.
            const bool stale = reused && !cancelled_ && reader_->bytes_received() == 0 &&
                               (wec == errc::connection_closed || wec == asio::error::connection_reset ||
                                wec == asio::error::broken_pipe || wec == asio::error::eof ||
                                wec == asio::ssl::error::stream_truncated);
            if (!stale) co_return translate(wec);
            connection_ = client_->pool->replace(std::move(connection_));  // same slot, a new connection
        }
        reusable_ = reader_->reusable();
        if (body_mode_ == body_mode::events) co_return response_.finish(diag_);
        co_return finish_whole_body();
    }

    // Reads the response on the concrete stream type until the reader has all of it. The head is
    // read under the first-byte deadline armed before sending; each later read under the idle one.
    template <class Stream>
    asio::awaitable<error_code> read_response(Stream& stream) {
        while (!reader_->done()) {
            if (reader_->head_done()) arm(client_->config.timeouts.idle, errc::idle_timeout);
            const auto space = reader_->read_buffer();
            auto [ec, n] = co_await stream.async_read_some(asio::buffer(space.data(), space.size()), beast_tuple);
            error_code pec;
            if (ec == asio::error::eof || (ec == asio::ssl::error::stream_truncated && reader_->head_done())) {
                pec = reader_->commit_eof();  // completes a close-delimited body, or says it was cut
            } else if (ec) {
                co_return ec;
            } else {
                pec = reader_->commit(n);
            }
            deliver();
            if (pec) co_return pec;
            if (ec) break;  // end of file, and the body was complete
            // Backpressure: stop reading while the reader is far behind.
            while (ready_.size() >= client_->config.max_buffered_deltas && !cancelled_) {
                waiting_for_space_ = true;
                timer_.expires_at(steady_clock::time_point::max());
                connection_->lowest_layer().expires_never();
                co_await timer_.async_wait(use_tuple);
                waiting_for_space_ = false;
            }
            if (cancelled_) co_return asio::error::operation_aborted;
        }
        co_return error_code{};
    }

    // http::response_handler: the head decides where the body goes.
    error_code on_head() override {
        const int status = reader_->status();
        diag_.http_status = status;
        std::string_view request_id = reader_->header("x-request-id");
        if (request_id.empty()) request_id = reader_->header("X-DashScope-Request-Id");
        protocol::set_provider_text(diag_.request_id, request_id);
        const bool event_stream = reader_->header("Content-Type").find("text/event-stream") != std::string_view::npos;
        body_mode_ = status == 200 && streaming_ && event_stream ? body_mode::events : body_mode::whole;
        // A whole body announced beyond the limit fails now, not after the server sent (or stalled on) it.
        const auto length = reader_->content_length();
        if (body_mode_ == body_mode::whole && length && *length > client_->config.max_body_size) {
            diag_.hint = "the server announced a " + std::to_string(*length) + "-byte body, more than max_body_size (" +
                         std::to_string(client_->config.max_body_size) + " bytes): raise the limit if that is expected";
            return errc::body_too_large;
        }
        return {};
    }

    error_code on_body(std::string_view bytes) override {
        if (body_mode_ == body_mode::events) {
            // An event stream may run as long as the generation; its events are bounded by the SSE limits.
            return response_.feed(bytes, [&](const delta& d) { produce(d); }, diag_);
        }
        if (bytes.size() > client_->config.max_body_size - std::min(body_.size(), client_->config.max_body_size))
            return errc::body_too_large;
        body_.append(bytes);
        return {};
    }

    // A whole body: an error response, a non-streaming completion, or a 2xx that is not an event
    // stream (a whole completion, or an error object in a 200).
    error_code finish_whole_body() {
        const int status = reader_->status();
        if (status < 200 || status > 299) {
            protocol::response_head h;
            h.status = status;
            h.retry_after = reader_->header("Retry-After");
            h.retry_after_ms = reader_->header("retry-after-ms");
            h.should_retry = reader_->header("x-should-retry");
            const std::string request_id = diag_.request_id;
            h.request_id = request_id;
            auto ec = protocol::decode_error_response(client_->config.vendor, h, body_, diag_);
            if (status >= 300 && status < 400) {
                // Redirects are never followed: the Authorization header must not go to another host.
                std::string location;
                protocol::set_provider_text(location, reader_->header("Location"));
                diag_.hint = "the server redirected" + (location.empty() ? std::string() : " to " + location) +
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

    std::shared_ptr<client_impl> client_;
    chat_request request_;
    bool streaming_;
    std::unique_ptr<http::connection> connection_;
    http::deadline_resolver resolver_{client_->executor, client_->lookup};  // declared after client_, which it reads
    asio::steady_timer timer_;  // backpressure pauses and waits between attempts
    std::shared_ptr<http::pool_waiter> waiter_;
    protocol::response_stream response_;
    protocol::encoded_request encoded_;
    std::optional<http::response_reader> reader_;  // the response of the current attempt
    enum class body_mode { whole, events } body_mode_ = body_mode::whole;
    std::string body_;  // a whole (non-event-stream) body
    retry::planner planner_;
    diagnostics diag_;
    observer* observer_ = client_->config.observer.get();  // null: no hooks (one branch each)
    std::uint64_t request_number_ = 0;
    steady_clock::time_point first_delta_at_{};  // set only with an observer
    std::optional<usage> last_usage_{};          // set only with an observer
    std::size_t produced_ = 0;  // deltas pushed to ready_ (across attempts)
    delta_queue ready_;
    std::optional<next_handler> pending_;
    std::optional<chat_handler> chat_handler_;
    completion completion_;
    error_code final_ec_;
    errc timeout_error_ = errc::idle_timeout;
    steady_clock::time_point started_{};
    bool finished_ = false;
    bool cancelled_ = false;
    bool reusable_ = false;
    bool waiting_for_space_ = false;
    bool lent_ = false;       // ready_.front() was handed to the caller
    bool in_flight_ = false;  // a completion was posted and has not run yet
};

void initiate_next(const std::shared_ptr<stream_impl>& impl, next_handler handler) { impl->next(std::move(handler)); }

std::shared_ptr<const diagnostics> stream_diagnostics(const std::shared_ptr<stream_impl>& impl) {
    return {impl, &impl->diag()};  // shares ownership with the stream: valid while a completion holds it
}

void initiate_chat(const std::shared_ptr<client_impl>& impl, chat_request req, diagnostics* diag, chat_handler handler) {
    auto s = std::make_shared<stream_impl>(impl, std::move(req), false);
    s->chat_diag = diag;
    s->on_chat_done(std::move(handler));
    s->start();
}

}  // namespace detail

// --- stream ---

stream::stream(std::shared_ptr<detail::stream_impl> impl) : impl_(std::move(impl)) {}
stream::stream(stream&&) noexcept = default;
stream& stream::operator=(stream&& other) noexcept {
    if (this != &other) {
        if (impl_) impl_->cancel();
        impl_ = std::move(other.impl_);
    }
    return *this;
}
stream::~stream() {
    if (impl_) impl_->cancel();
}
const diagnostics& stream::diagnostics() const noexcept {
    static const llmstream::diagnostics none;
    return impl_ ? impl_->diag() : none;
}
void stream::throw_moved_from() { throw std::logic_error("llmstream::stream: used after it was moved from"); }
void stream::cancel() {
    if (impl_) impl_->cancel();
}
stream::executor_type stream::get_executor() const noexcept { return impl_->executor(); }

// --- client ---

client::client(executor_type ex, client_config config)
    : impl_(std::make_shared<detail::client_impl>(std::move(ex), std::move(config))) {}
client::~client() = default;
client::client(client&&) noexcept = default;
client& client::operator=(client&&) noexcept = default;

stream client::chat_stream(chat_request req) {
    auto s = std::make_shared<detail::stream_impl>(impl_, std::move(req), true);
    s->start();
    return stream(std::move(s));
}

client::executor_type client::get_executor() const noexcept { return impl_->executor; }
const client_config& client::config() const noexcept { return impl_->config; }
pool_stats client::pool_stats() const noexcept {
    return {impl_->pool->open_connections(), impl_->pool->idle_connections(), impl_->pool->waiting_requests(),
            impl_->origin.host, impl_->server_port};
}


}  // namespace llmstream
