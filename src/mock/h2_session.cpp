#include "h2_session.hpp"

#include "reply.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>

namespace llmstream::mock {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(asio::deferred);

namespace {

template <class Stream>
class connection;

// One request stream: it collects the request, then plays the reply through the responder interface.
template <class Stream>
class stream final : public responder {
public:
    stream(std::shared_ptr<connection<Stream>> c, std::int32_t id)
        : conn_(std::move(c)), id_(id), timer_(std::make_shared<asio::steady_timer>(conn_->executor())) {
        conn_->state().track(timer_);
    }

    request req;
    std::string out;            // body bytes not yet taken by nghttp2
    bool out_end = false;       // no more body bytes
    bool closed = false;        // nghttp2 closed the stream
    bool reply_done = false;    // the reply was sent whole

    void on_closed() {
        closed = true;
        timer_->cancel();
    }

    asio::awaitable<void> play() {
        bool keep_alive = true;
        const bool ok = co_await reply(conn_->state(), req, *this, keep_alive);
        // A scripted drop: the whole connection goes, as a crashing server's would. A stream the
        // client already reset is simply over.
        if (!ok && !closed) conn_->drop_after_flush();
    }

    asio::awaitable<bool> whole(int status, fields headers, std::string body, bool) override {
        out = std::move(body);
        out_end = true;
        co_return submit(status, headers, true);
    }

    asio::awaitable<bool> stream_head(fields headers, bool) override { co_return submit(200, headers, true); }

    asio::awaitable<bool> stream_piece(std::string& pending) override {
        if (closed) co_return false;
        out += pending;
        pending.clear();
        conn_->resume(id_);
        co_return true;
    }

    asio::awaitable<bool> stream_end() override {
        if (closed) co_return false;
        out_end = true;
        conn_->resume(id_);
        co_return true;
    }

    asio::awaitable<void> until_peer_gives_up() override {
        while (!closed && !conn_->state().is_stopped()) {
            timer_->expires_after(std::chrono::seconds(3600));
            co_await timer_->async_wait(use_tuple);
        }
    }

    asio::awaitable<bool> sleep(int ms) override {
        if (closed) co_return false;
        timer_->expires_after(std::chrono::milliseconds(ms));
        auto [ec] = co_await timer_->async_wait(use_tuple);
        co_return !ec && !closed;
    }

    asio::awaitable<bool> reset_stream(std::uint32_t code) override {
        conn_->reset(id_, code);
        co_return true;
    }

    // Hostile servers, as far as HTTP/2 can carry them.
    asio::awaitable<bool> hostile(scenario s) override {
        const fields sse{{"Content-Type", "text/event-stream"}};
        if (s.raw == "huge_line") {  // 10 MB of one event-stream line that never ends
            if (!submit(200, sse, true)) co_return false;
            std::string piece = "data: ";
            piece.resize(64 * 1024, 'x');
            for (int i = 0; i < 160 && !closed; ++i) {
                std::string chunk = piece;
                co_await stream_piece(chunk);
            }
            co_await until_peer_gives_up();
        } else if (s.raw == "drip_headers") {  // HTTP/2 heads arrive whole: the head never comes
            co_await until_peer_gives_up();
        } else if (s.raw == "bad_chunk") {  // HTTP/2 has no chunks: a body longer than its content-length
            out = "data: {\"choices\":[]}\n\n";
            out_end = true;
            submit(200, {{"Content-Type", "text/event-stream"}, {"content-length", "3"}}, true);
            co_await until_peer_gives_up();
        } else if (s.raw == "bad_status") {
            out_end = true;
            submit_raw_status("2OO", {});
            co_await until_peer_gives_up();
        } else if (s.raw == "header_flood") {  // 1 MB of header fields
            fields flood;
            for (std::size_t n = 0; n < 1024 * 1024; n += 60)
                flood.emplace_back("x-flood-" + std::to_string(flood.size()), std::string(48, 'a'));
            out_end = true;
            submit(200, flood, true);
            co_await until_peer_gives_up();
        } else if (s.raw == "endless") {  // a body that never ends: keep-alive comments forever
            if (!submit(200, sse, true)) co_return false;
            for (int i = 0; i < 100'000 && !closed; ++i) {
                std::string chunk = ": keep-alive\n\n";
                if (!co_await stream_piece(chunk) || !co_await sleep(20)) break;
            }
        } else if (s.raw == "gzip") {  // an encoding nobody asked for
            out = std::string("\x1f\x8b\x08\x00", 4);
            out_end = true;
            submit(200, {{"Content-Type", "text/event-stream"}, {"Content-Encoding", "gzip"}}, true);
            co_await until_peer_gives_up();
        } else if (s.raw == "huge_length") {  // an error body announced as 40 GB, then silence
            out = "{\"error\":";
            submit(500, {{"Content-Type", "application/json"}, {"content-length", "40000000000"}}, true);
            co_await until_peer_gives_up();
        } else if (s.raw == "redirect") {
            out_end = true;
            submit(302, {{"Location", s.location}}, true);
            co_await until_peer_gives_up();
        } else if (s.raw == "ping_flood" || s.raw == "settings_flood") {  // control frames, as fast as possible
            conn_->flood(s.raw == "ping_flood" ? NGHTTP2_PING : NGHTTP2_SETTINGS, 20'000);
            co_await until_peer_gives_up();
        } else {  // http10 and anything else: HTTP/1.1 only; a plain stream here
            co_return co_await reply_plainly(s);
        }
        co_return true;
    }

    // nghttp2's data source: what `out` holds, then the end.
    static ssize_t read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* data_flags,
                             nghttp2_data_source* source, void*) {
        auto* self = static_cast<stream*>(source->ptr);
        const std::size_t n = std::min(length, self->out.size());
        std::memcpy(buf, self->out.data(), n);
        self->out.erase(0, n);
        if (self->out.empty()) {
            if (self->out_end) {
                *data_flags |= NGHTTP2_DATA_FLAG_EOF;
                self->reply_done = true;
            } else if (n == 0) {
                return NGHTTP2_ERR_DEFERRED;
            }
        }
        return static_cast<ssize_t>(n);
    }

private:
    asio::awaitable<bool> reply_plainly(const scenario& s) {
        if (!submit(200, {{"Content-Type", "text/event-stream"}}, true)) co_return false;
        std::string body;
        for (int i = 0; i < s.tokens; ++i) body += openai_chunk(boost::json::object{{"content", token_text(s, i)}}, nullptr);
        body += openai_chunk(boost::json::object{}, "stop") + "data: [DONE]\n\n";
        co_await stream_piece(body);
        co_return co_await stream_end();
    }

    bool submit(int status, const fields& headers, bool with_body) {
        return submit_raw_status(std::to_string(status), headers, with_body);
    }

    bool submit_raw_status(const std::string& status, const fields& headers, bool with_body = true) {
        if (closed) return false;
        std::vector<std::string> names;
        names.reserve(headers.size());
        std::vector<nghttp2_nv> nv;
        auto add = [&](const std::string& n, const std::string& v) {
            nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                          reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                          NGHTTP2_NV_FLAG_NONE});
        };
        const std::string status_name = ":status";
        add(status_name, status);
        for (const auto& [name, value] : headers) {
            std::string& n = names.emplace_back(name);
            for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            add(n, value);
        }
        nghttp2_data_provider body{};
        body.source.ptr = this;
        body.read_callback = &stream::read_body;
        return conn_->submit_response(id_, nv, with_body ? &body : nullptr);
    }

    std::shared_ptr<connection<Stream>> conn_;
    std::int32_t id_;
    std::shared_ptr<asio::steady_timer> timer_;
};

template <class Stream>
class connection : public std::enable_shared_from_this<connection<Stream>> {
public:
    connection(std::shared_ptr<server::state> st, std::shared_ptr<Stream> socket, const h2_settings& settings)
        : state_(std::move(st)), socket_(std::move(socket)), settings_(settings), signal_(socket_->get_executor()) {
        nghttp2_session_callbacks* cbs = nullptr;
        nghttp2_session_callbacks_new(&cbs);
        nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, &on_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(cbs, &on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, &on_data);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, &on_frame_recv);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, &on_stream_close);
        nghttp2_option* opt = nullptr;
        nghttp2_option_new(&opt);
        nghttp2_option_set_max_send_header_block_length(opt, 4 * 1024 * 1024);  // header_flood sends 1 MB
        nghttp2_session_server_new2(&ng_, cbs, this, opt);
        nghttp2_option_del(opt);
        nghttp2_session_callbacks_del(cbs);
    }
    ~connection() { nghttp2_session_del(ng_); }

    asio::any_io_executor executor() const { return socket_->get_executor(); }
    server::state& state() { return *state_; }

    asio::awaitable<void> run(std::string buffered) {
        {
            std::lock_guard lock(state_->mutex);
            ++state_->counters.h2_connections;
        }
        const nghttp2_settings_entry settings[] = {
            {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, settings_.max_concurrent_streams}};
        nghttp2_submit_settings(ng_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
        asio::co_spawn(executor(), write_loop(this->shared_from_this()), asio::detached);
        if (!buffered.empty() && !receive(buffered.data(), buffered.size())) co_return drop();
        std::vector<char> buffer(32 * 1024);
        while (!closed_) {
            auto [ec, n] = co_await socket_->async_read_some(asio::buffer(buffer), use_tuple);
            if (ec || closed_) break;
            if (!receive(buffer.data(), n)) break;
        }
        drop();
    }

    bool submit_response(std::int32_t id, std::vector<nghttp2_nv>& nv, nghttp2_data_provider* body) {
        if (closed_) return false;
        if (nghttp2_submit_response(ng_, id, nv.data(), nv.size(), body) != 0) return false;
        wake();
        return true;
    }
    void resume(std::int32_t id) {
        if (closed_) return;
        nghttp2_session_resume_data(ng_, id);
        wake();
    }
    void reset(std::int32_t id, std::uint32_t code) {
        if (closed_) return;
        nghttp2_submit_rst_stream(ng_, NGHTTP2_FLAG_NONE, id, code);
        wake();
    }
    // Control frames written straight to the socket, past nghttp2 (which would not send so many).
    void flood(std::uint8_t type, int frames) {
        std::string bytes;
        for (int i = 0; i < frames; ++i) {
            if (type == NGHTTP2_PING) bytes += std::string("\x00\x00\x08\x06\x00\x00\x00\x00\x00", 9) + std::string(8, 'p');
            else bytes += std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);  // an empty SETTINGS
        }
        raw_ += bytes;
        wake();
    }
    // A scripted drop: what was already queued goes out first (as a server's earlier writes
    // would have), then the connection closes.
    void drop_after_flush() {
        drop_after_flush_ = true;
        wake();
    }
    // The whole connection goes now.
    void drop() {
        if (closed_) return;
        closed_ = true;
        error_code ignored;
        beast_lowest(*socket_).shutdown(tcp::socket::shutdown_both, ignored);
        beast_lowest(*socket_).close(ignored);
        signal_.cancel();
        auto streams = std::move(streams_);
        for (auto& [id, s] : streams) s->on_closed();
    }

private:
    static tcp::socket& beast_lowest(tcp::socket& s) { return s; }
    static tcp::socket& beast_lowest(asio::ssl::stream<tcp::socket>& s) { return s.next_layer(); }

    static connection& of(void* user_data) { return *static_cast<connection*>(user_data); }

    static int on_begin_headers(nghttp2_session* ng, const nghttp2_frame* frame, void* user_data) {
        auto& c = of(user_data);
        if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
        c.streams_[frame->hd.stream_id] = std::make_shared<stream<Stream>>(c.shared_from_this(), frame->hd.stream_id);
        // Like nginx's keepalive_requests: after so many streams, GOAWAY; the rest go elsewhere.
        if (c.settings_.max_streams_per_connection > 0 && ++c.streams_seen_ == c.settings_.max_streams_per_connection)
            nghttp2_submit_goaway(ng, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR, nullptr, 0);
        return 0;
    }

    static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                         const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
        auto& c = of(user_data);
        const auto it = c.streams_.find(frame->hd.stream_id);
        if (it == c.streams_.end()) return 0;
        const std::string_view n(reinterpret_cast<const char*>(name), namelen);
        const std::string v(reinterpret_cast<const char*>(value), valuelen);
        request& r = it->second->req;
        if (n == ":method") r.method = v;
        else if (n == ":path") r.target = v;
        else if (n == "authorization") {
            r.authorization = v;
            r.has_authorization = true;
        } else if (n == "x-dashscope-sse") r.dashscope_sse = v;
        else if (n == "x-api-key") r.x_api_key = v;
        else if (n == "anthropic-version") r.anthropic_version = v;
        else if (n == "x-dashscope-workspace") r.workspace = v;
        return 0;
    }

    static int on_data(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len, void* user_data) {
        auto& c = of(user_data);
        const auto it = c.streams_.find(stream_id);
        if (it != c.streams_.end()) it->second->req.body.append(reinterpret_cast<const char*>(data), len);
        return 0;
    }

    static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
        auto& c = of(user_data);
        if (frame->hd.type == NGHTTP2_PING && !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
            std::lock_guard lock(c.state_->mutex);
            ++c.state_->counters.pings;
        }
        if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
            (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
            const auto it = c.streams_.find(frame->hd.stream_id);
            if (it != c.streams_.end()) {
                auto s = it->second;
                asio::co_spawn(c.executor(), [s]() -> asio::awaitable<void> { co_await s->play(); }, asio::detached);
            }
        }
        return 0;
    }

    static int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
        auto& c = of(user_data);
        const auto it = c.streams_.find(stream_id);
        if (it == c.streams_.end()) return 0;
        auto s = it->second;
        c.streams_.erase(it);
        if (error_code != NGHTTP2_NO_ERROR && !s->reply_done) {
            std::lock_guard lock(c.state_->mutex);
            ++c.state_->counters.streams_reset;
        }
        s->on_closed();
        return 0;
    }

    bool receive(const char* data, std::size_t n) {
        const auto rv = nghttp2_session_mem_recv(ng_, reinterpret_cast<const uint8_t*>(data), n);
        wake();
        return rv >= 0;
    }

    void wake() {
        if (!writing_) signal_.cancel();
    }

    asio::awaitable<void> write_loop(std::shared_ptr<connection>) {
        std::string out;
        while (!closed_) {
            out.clear();
            for (;;) {
                const uint8_t* data = nullptr;
                const auto n = nghttp2_session_mem_send(ng_, &data);
                if (n <= 0) break;
                out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
                if (out.size() >= 64 * 1024) break;
            }
            out += raw_;
            raw_.clear();
            if (!out.empty()) {
                writing_ = true;
                auto [ec, n] = co_await asio::async_write(*socket_, asio::buffer(out), use_tuple);
                writing_ = false;
                if (ec) break;
                continue;
            }
            if (!nghttp2_session_want_read(ng_) && !nghttp2_session_want_write(ng_)) break;  // after GOAWAY
            if (drop_after_flush_) break;
            signal_.expires_at(std::chrono::steady_clock::time_point::max());
            co_await signal_.async_wait(use_tuple);
        }
        drop();
    }

    std::shared_ptr<server::state> state_;
    std::shared_ptr<Stream> socket_;
    h2_settings settings_;
    nghttp2_session* ng_ = nullptr;
    asio::steady_timer signal_;
    std::map<std::int32_t, std::shared_ptr<stream<Stream>>> streams_;
    std::string raw_;
    std::uint32_t streams_seen_ = 0;
    bool writing_ = false;
    bool closed_ = false;
    bool drop_after_flush_ = false;
};

}  // namespace

asio::awaitable<void> serve_http2(std::shared_ptr<server::state> st, std::shared_ptr<tcp::socket> socket,
                                  std::string buffered, h2_settings settings) {
    auto c = std::make_shared<connection<tcp::socket>>(std::move(st), std::move(socket), settings);
    co_await c->run(std::move(buffered));
}

asio::awaitable<void> serve_http2(std::shared_ptr<server::state> st,
                                  std::shared_ptr<asio::ssl::stream<tcp::socket>> socket, h2_settings settings) {
    auto c = std::make_shared<connection<asio::ssl::stream<tcp::socket>>>(std::move(st), std::move(socket), settings);
    co_await c->run({});
}

}  // namespace llmstream::mock
