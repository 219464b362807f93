#include "gateway.hpp"

#include <llmstream/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <list>
#include <string_view>

namespace gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using std::chrono::steady_clock;
constexpr auto tuple = asio::as_tuple(asio::deferred);
// Beast 1.81's operations predate deferred support: they are awaited with use_awaitable.
constexpr auto beast_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

// JSON string contents: quotes, backslashes and control bytes escaped; UTF-8 passes through (the
// client hands out valid UTF-8 only).
void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\u00";
            out += hex[u >> 4];
            out += hex[u & 15];
        } else {
            out += c;
        }
    }
    out += '"';
}

void append_field(std::string& out, std::string_view name, std::string_view value, bool& first) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, name);
    out += ':';
    append_json_string(out, value);
}

void append_number(std::string& out, std::string_view name, long long value, bool& first) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, name);
    out += ':';
    out += std::to_string(value);
}

void append_delta(std::string& out, const llmstream::delta& d) {
    if (d.content.empty() && d.reasoning_content.empty()) return;
    out += "event: delta\ndata: {";
    bool first = true;
    append_field(out, "content", d.content, first);
    append_field(out, "reasoning", d.reasoning_content, first);
    out += "}\n\n";
}

// The CLI's two lines: what happened (class, status, provider code and message, request id,
// attempts), then what to do. Never the key: diagnostics never hold it.
std::string error_event(const error_code& ec, const llmstream::diagnostics& d) {
    std::string line = std::string("llmstream: ") + llmstream::error_class_name(ec) + ": ";
    if (d.http_status) line += "HTTP " + std::to_string(d.http_status) + ", ";
    if (!d.provider_code.empty()) line += "provider code " + d.provider_code + ", ";
    if (!d.provider_message.empty()) line += "provider message \"" + d.provider_message + "\", ";
    if (!d.request_id.empty()) line += "request id " + d.request_id + ", ";
    line += std::to_string(d.attempts) + (d.attempts == 1 ? " attempt" : " attempts");
    std::string out = "event: error\ndata: {";
    bool first = true;
    append_field(out, "class", llmstream::error_class_name(ec), first);
    append_field(out, "message", ec.message(), first);
    append_number(out, "status", d.http_status, first);
    append_field(out, "provider_code", d.provider_code, first);
    append_field(out, "provider_message", d.provider_message, first);
    append_field(out, "request_id", d.request_id, first);
    append_number(out, "attempts", d.attempts, first);
    append_number(out, "deltas_delivered", static_cast<long long>(d.deltas_delivered), first);
    append_field(out, "hint", d.hint, first);
    append_field(out, "line", line, first);
    append_field(out, "hint_line", "hint: " + d.hint, first);
    out += "}\n\n";
    return out;
}

std::string done_event(const std::optional<llmstream::usage>& use, llmstream::finish_reason finish,
                       std::chrono::nanoseconds ttft, std::chrono::nanoseconds total, long deltas) {
    std::string out = "event: done\ndata: {";
    bool first = true;
    append_field(out, "finish", llmstream::to_string(finish), first);
    append_number(out, "deltas", deltas, first);
    append_number(out, "ttft_ms", std::chrono::duration_cast<std::chrono::milliseconds>(ttft).count(), first);
    append_number(out, "duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(total).count(), first);
    if (use) {
        out += ",\"usage\":{";
        bool f = true;
        append_number(out, "input_tokens", use->input_tokens, f);
        append_number(out, "output_tokens", use->output_tokens, f);
        append_number(out, "total_tokens", use->total_tokens, f);
        out += '}';
    }
    out += "}\n\n";
    return out;
}

}  // namespace

std::string counters::render() const {
    std::string out;
    auto gauge = [&](const char* name, const char* type, const char* help, const std::string& labels, long v) {
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + labels + " " +
               std::to_string(v) + "\n";
    };
    gauge("llmstream_gateway_streams_in_flight", "gauge", "Browser streams being relayed.", "",
          streams_in_flight.load());
    out += "# HELP llmstream_gateway_streams_total Browser streams by how they ended.\n"
           "# TYPE llmstream_gateway_streams_total counter\n";
    out += "llmstream_gateway_streams_total{outcome=\"done\"} " + std::to_string(streams_done.load()) + "\n";
    out += "llmstream_gateway_streams_total{outcome=\"error\"} " + std::to_string(streams_failed.load()) + "\n";
    out += "llmstream_gateway_streams_total{outcome=\"abandoned\"} " + std::to_string(streams_abandoned.load()) + "\n";
    out += "# HELP llmstream_gateway_rejected_total Requests refused.\n"
           "# TYPE llmstream_gateway_rejected_total counter\n";
    out += "llmstream_gateway_rejected_total{reason=\"busy\"} " + std::to_string(rejected_busy.load()) + "\n";
    out += "llmstream_gateway_rejected_total{reason=\"bad_request\"} " + std::to_string(rejected_bad.load()) + "\n";
    return out;
}

struct server::state : std::enable_shared_from_this<server::state> {
    state(asio::io_context& io, llmstream::client& c, options o, std::shared_ptr<llmstream::metrics> m,
          std::shared_ptr<gateway::counters> n)
        : io(io), upstream(c), opts(std::move(o)), metrics(std::move(m)), counters(std::move(n)), acceptor(io) {}

    asio::io_context& io;
    llmstream::client& upstream;
    options opts;
    std::shared_ptr<llmstream::metrics> metrics;
    std::shared_ptr<gateway::counters> counters;
    tcp::acceptor acceptor;
    std::list<std::weak_ptr<beast::tcp_stream>> connections;  // for stop()
    bool stopped = false;

    asio::awaitable<void> accept_loop();
    asio::awaitable<void> serve(std::shared_ptr<beast::tcp_stream> stream);
    asio::awaitable<bool> respond(beast::tcp_stream& stream, http::status status, std::string_view type,
                                  std::string body, bool keep_alive, bool busy = false);
    asio::awaitable<void> relay(std::shared_ptr<beast::tcp_stream> stream, std::string prompt, std::string model);
};

// One browser stream: the upstream generation and what watches the browser's side of the socket.
struct relay_state {
    explicit relay_state(llmstream::stream s, asio::any_io_executor ex)
        : upstream(std::move(s)), watchdog(ex) {}
    llmstream::stream upstream;
    // One timer per stream, woken rarely (not per event): it asks for a keep-alive comment when
    // nothing was sent for keepalive_interval, and drops a browser whose write is stuck.
    asio::steady_timer watchdog;
    asio::cancellation_signal wait_cancel;  // partial: the wait for deltas gives way to a keep-alive comment
    steady_clock::time_point last_sent = steady_clock::now();
    steady_clock::time_point write_started{};
    bool writing = false;
    bool keepalive_due = false;
    bool browser_gone = false;
    bool finished = false;
};

server::server(asio::io_context& io, llmstream::client& upstream, options opts,
               std::shared_ptr<llmstream::metrics> metrics, std::shared_ptr<gateway::counters> shared)
    : state_(std::make_shared<state>(io, upstream, std::move(opts), std::move(metrics), std::move(shared))) {}

server::~server() { stop(); }

void server::start() {
    auto& st = *state_;
    const tcp::endpoint endpoint(asio::ip::make_address(st.opts.host), st.opts.port);
    st.acceptor.open(endpoint.protocol());
    st.acceptor.set_option(tcp::acceptor::reuse_address(true));
    if (st.opts.reuse_port) {
        using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
        st.acceptor.set_option(reuse_port(true));
    }
    st.acceptor.bind(endpoint);
    st.acceptor.listen(asio::socket_base::max_listen_connections);
    asio::co_spawn(st.io, [s = state_]() { return s->accept_loop(); }, asio::detached);
}

void server::stop() {
    auto& st = *state_;
    if (st.stopped) return;
    st.stopped = true;
    error_code ignored;
    st.acceptor.close(ignored);
    for (auto& w : st.connections)
        if (auto c = w.lock()) c->socket().close(ignored);
}

unsigned short server::port() const {
    error_code ec;
    return state_->acceptor.local_endpoint(ec).port();
}

asio::awaitable<void> server::state::accept_loop() {
    auto self = shared_from_this();
    while (!stopped) {
        tcp::socket socket(io);
        auto [ec] = co_await acceptor.async_accept(socket, tuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            continue;  // e.g. out of file descriptors: keep serving the connections we have
        }
        socket.set_option(tcp::no_delay(true), ec);
        auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
        connections.remove_if([](const auto& w) { return w.expired(); });
        connections.push_back(stream);
        asio::co_spawn(io, [self, stream]() { return self->serve(stream); }, asio::detached);
    }
}

asio::awaitable<bool> server::state::respond(beast::tcp_stream& stream, http::status status, std::string_view type,
                                             std::string body, bool keep_alive, bool busy) {
    http::response<http::string_body> res{status, 11};
    res.set(http::field::content_type, type);
    res.set(http::field::cache_control, "no-cache");
    if (busy) res.set(http::field::retry_after, "1");
    res.keep_alive(keep_alive);
    res.body() = std::move(body);
    res.prepare_payload();
    stream.expires_after(opts.write_timeout);
    auto [ec, n] = co_await http::async_write(stream, res, beast_tuple);
    co_return !ec;
}

asio::awaitable<void> server::state::serve(std::shared_ptr<beast::tcp_stream> stream) {
    beast::flat_buffer buffer;
    for (;;) {
        http::request_parser<http::empty_body> parser;
        // A browser's head is small: its own fields, and the prompt in the target, percent-encoded.
        parser.header_limit(static_cast<std::uint32_t>(16 * 1024 + 3 * opts.max_prompt_bytes));
        parser.body_limit(0);           // GET only
        stream->expires_after(opts.head_timeout);  // a head that drips (slowloris) is cut off
        auto [ec, n] = co_await http::async_read(*stream, buffer, parser, beast_tuple);
        if (ec == http::error::header_limit) {
            ++counters->rejected_bad;
            co_await respond(*stream, http::status::request_header_fields_too_large, "text/plain", "header fields too large\n", false);
            break;
        }
        if (ec == http::error::body_limit) {
            ++counters->rejected_bad;
            co_await respond(*stream, http::status::payload_too_large, "text/plain", "no request body is read here\n", false);
            break;
        }
        if (ec) break;  // closed, timed out, or not HTTP: nothing to answer
        const auto& req = parser.get();
        const bool keep_alive = req.keep_alive();
        const std::string_view target(req.target().data(), req.target().size());
        if (req.method() != http::verb::get) {
            ++counters->rejected_bad;
            if (!co_await respond(*stream, http::status::method_not_allowed, "text/plain", "only GET\n", keep_alive) ||
                !keep_alive)
                break;
            continue;
        }
        auto url = boost::urls::parse_origin_form(target);
        if (!url) {
            ++counters->rejected_bad;
            co_await respond(*stream, http::status::bad_request, "text/plain", "bad request target\n", false);
            break;
        }
        const std::string path = url->path();  // decoded: a string of its own (a view of it would dangle)
        if (path == "/") {
            if (!co_await respond(*stream, http::status::ok, "text/html; charset=utf-8", page_html(), keep_alive) ||
                !keep_alive)
                break;
        } else if (path == "/healthz") {
            if (!co_await respond(*stream, http::status::ok, "text/plain", "ok\n", keep_alive) || !keep_alive) break;
        } else if (path == "/metrics") {
            metrics->record_pool(upstream.pool_stats());
            std::string text = metrics->render() + counters->render();
            if (!co_await respond(*stream, http::status::ok, "text/plain; version=0.0.4", std::move(text), keep_alive) ||
                !keep_alive)
                break;
        } else if (path == "/v1/stream") {
            std::string prompt, model = opts.model;
            bool has_prompt = false;
            for (const auto& p : url->params()) {
                if (p.key == "prompt") {
                    prompt = p.value;
                    has_prompt = true;
                } else if (p.key == "model" && !p.value.empty()) {
                    model = p.value;
                }
            }
            if (!has_prompt || prompt.empty()) {
                ++counters->rejected_bad;
                co_await respond(*stream, http::status::bad_request, "application/json",
                                 "{\"error\":\"the prompt parameter is missing or empty\"}\n", false);
                break;
            }
            if (prompt.size() > opts.max_prompt_bytes) {
                ++counters->rejected_bad;
                co_await respond(*stream, http::status::payload_too_large, "application/json",
                                 "{\"error\":\"the prompt is longer than " + std::to_string(opts.max_prompt_bytes) +
                                     " bytes\"}\n",
                                 false);
                break;
            }
            if (static_cast<std::size_t>(counters->streams_in_flight.load()) >= opts.max_streams) {
                ++counters->rejected_busy;
                co_await respond(*stream, http::status::service_unavailable, "application/json",
                                 "{\"error\":\"too many streams at once: retry later\"}\n", false, true);
                break;
            }
            co_await relay(stream, std::move(prompt), std::move(model));
            break;  // the event stream ended with the connection's use
        } else {
            ++counters->rejected_bad;
            if (!co_await respond(*stream, http::status::not_found, "text/plain", "not found\n", keep_alive) || !keep_alive)
                break;
        }
    }
    error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream->socket().close(ignored);
}

asio::awaitable<void> server::state::relay(std::shared_ptr<beast::tcp_stream> stream, std::string prompt,
                                           std::string model) {
    ++counters->streams_in_flight;
    const auto started = steady_clock::now();
    auto rs = std::make_shared<relay_state>(
        upstream.chat_stream({.model = std::move(model), .messages = {{"user", std::move(prompt)}}}),
        stream->get_executor());

    // The head: an event stream, never buffered by a proxy on the way, chunked.
    http::response<http::empty_body> head{http::status::ok, 11};
    head.set(http::field::content_type, "text/event-stream");
    head.set(http::field::cache_control, "no-cache");
    head.set("X-Accel-Buffering", "no");
    head.keep_alive(false);
    head.chunked(true);
    http::response_serializer<http::empty_body> serializer{head};
    stream->expires_after(opts.write_timeout);
    auto [hec, hn] = co_await http::async_write_header(*stream, serializer, beast_tuple);
    if (hec) rs->browser_gone = true;
    stream->expires_never();  // from here the watchdog keeps the time, without a timer per write

    if (!rs->browser_gone) {
        asio::co_spawn(
            stream->get_executor(),
            [rs, stream, keepalive = opts.keepalive_interval, write_timeout = opts.write_timeout]() -> asio::awaitable<void> {
                while (!rs->finished && !rs->browser_gone) {
                    const auto now = steady_clock::now();
                    if (rs->writing && now - rs->write_started >= write_timeout) {
                        // The browser has read nothing for write_timeout: it is gone as far as we can tell.
                        rs->browser_gone = true;
                        rs->upstream.cancel();
                        error_code ignored;
                        stream->socket().close(ignored);
                        break;
                    }
                    if (!rs->writing && now - rs->last_sent >= keepalive) {
                        rs->keepalive_due = true;
                        rs->last_sent = now;  // asked once per silent interval
                        rs->wait_cancel.emit(asio::cancellation_type::partial);
                    }
                    auto next = rs->writing ? rs->write_started + write_timeout : rs->last_sent + keepalive;
                    rs->watchdog.expires_at(std::max(next, now + std::chrono::milliseconds(1)));
                    co_await rs->watchdog.async_wait(tuple);
                }
            },
            asio::detached);
    }

    // The browser's side: a read that ends when it goes away (a browser sends nothing more on an
    // event stream). Noticed while we wait for tokens, not at the next write.
    if (!rs->browser_gone) {
        asio::co_spawn(
            stream->get_executor(),
            [rs, stream]() -> asio::awaitable<void> {
                char sink[256];
                for (;;) {
                    auto [ec, n] = co_await stream->socket().async_read_some(asio::buffer(sink), tuple);
                    if (ec) break;
                }
                if (!rs->finished) {
                    rs->browser_gone = true;
                    rs->upstream.cancel();  // the provider's generation stops now
                    rs->watchdog.cancel();
                }
            },
            asio::detached);
    }

    long deltas = 0;
    std::chrono::nanoseconds ttft{0};
    std::optional<llmstream::usage> use;
    llmstream::finish_reason finish = llmstream::finish_reason::none;
    std::string out;
    bool failed = false;
    while (!rs->browser_gone) {
        // A keep-alive comment when the model is silent: the watchdog abandons this wait (partial
        // cancellation), the generation goes on.
        auto [ec, batch] =
            co_await rs->upstream.async_next_batch(asio::as_tuple(asio::bind_cancellation_slot(rs->wait_cancel.slot(), asio::use_awaitable)));
        if (rs->browser_gone) break;
        out.clear();
        bool last = false;
        if (ec == asio::error::operation_aborted && rs->keepalive_due) {
            rs->keepalive_due = false;
            out = ": keep-alive\n\n";
        } else if (ec) {
            out = error_event(ec, rs->upstream.diagnostics());
            failed = last = true;
        } else if (batch.empty()) {
            out = done_event(use, finish, ttft, steady_clock::now() - started, deltas);
            last = true;
        } else {
            if (deltas == 0) ttft = steady_clock::now() - started;
            for (const llmstream::delta& d : batch) {
                append_delta(out, d);
                if (d.usage) use = d.usage;
                if (d.finish != llmstream::finish_reason::none) finish = d.finish;
            }
            deltas += static_cast<long>(batch.size());
        }
        if (!out.empty()) {
            // Waiting for a slow browser here is the backpressure: the stream's buffer fills and
            // its upstream read pauses, for this stream only.
            rs->writing = true;
            rs->write_started = steady_clock::now();
            auto [wec, wn] = co_await asio::async_write(*stream, http::make_chunk(asio::buffer(out)), beast_tuple);
            rs->writing = false;
            rs->last_sent = steady_clock::now();
            if (wec) {
                rs->browser_gone = true;
                rs->upstream.cancel();
                break;
            }
        }
        if (last) break;
    }
    rs->finished = true;
    rs->watchdog.cancel();
    if (rs->browser_gone) {
        ++counters->streams_abandoned;
    } else {
        (failed ? counters->streams_failed : counters->streams_done)++;
        stream->expires_after(opts.write_timeout);
        co_await asio::async_write(*stream, http::make_chunk_last(), beast_tuple);
    }
    --counters->streams_in_flight;
}

}  // namespace gateway
