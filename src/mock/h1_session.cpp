#include "h1_session.hpp"

#include "reply.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

namespace llmstream::mock {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(asio::deferred);

namespace {

// Stream: tcp::socket, or asio::ssl::stream<tcp::socket> (handshake done by the accept loop).
template <class Stream>
class session final : public responder {
public:
    session(std::shared_ptr<server::state> st, std::shared_ptr<Stream> socket)
        : state_(std::move(st)),
          socket_(std::move(socket)),
          timer_(std::make_shared<asio::steady_timer>(socket_->get_executor())) {
        state_->track(timer_);
    }

    asio::awaitable<void> run(std::string buffered) {
        beast::flat_buffer buffer;
        if (!buffered.empty()) {  // what the accept loop read while looking for the HTTP/2 preface
            auto space = buffer.prepare(buffered.size());
            std::memcpy(space.data(), buffered.data(), buffered.size());
            buffer.commit(buffered.size());
        }
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(16 * 1024 * 1024);
            auto [ec, n] = co_await http::async_read(*socket_, buffer, parser, use_tuple);
            if (ec) break;
            auto& req = parser.get();
            request r;
            r.method = std::string(req.method_string());
            r.target = std::string(req.target());
            r.body = std::move(req.body());
            if (auto auth = req.find(http::field::authorization); auth != req.end()) {
                r.has_authorization = true;
                r.authorization = std::string(auth->value());
            }
            if (auto sse = req.find("X-DashScope-SSE"); sse != req.end()) r.dashscope_sse = std::string(sse->value());
            if (auto key = req.find("x-api-key"); key != req.end()) r.x_api_key = std::string(key->value());
            if (auto ws = req.find("X-DashScope-WorkSpace"); ws != req.end()) r.workspace = std::string(ws->value());
            if (auto version = req.find("anthropic-version"); version != req.end())
                r.anthropic_version = std::string(version->value());
            bool keep_alive = req.keep_alive();
            if (!co_await reply(*state_, r, *this, keep_alive)) break;
            if (!keep_alive) break;
        }
        error_code ignored;
        auto& raw = beast::get_lowest_layer(*socket_);
        raw.shutdown(tcp::socket::shutdown_send, ignored);
        raw.close(ignored);
    }

    asio::awaitable<bool> whole(int status, fields headers, std::string body, bool keep_alive) override {
        http::response<http::string_body> res{static_cast<http::status>(status), 11};
        for (auto& [name, value] : headers) res.set(name, value);
        res.body() = std::move(body);
        res.keep_alive(keep_alive);
        res.prepare_payload();
        auto [ec, n] = co_await http::async_write(*socket_, res, use_tuple);
        co_return !ec;
    }

    asio::awaitable<bool> stream_head(fields headers, bool keep_alive) override {
        http::response<http::empty_body> res{http::status::ok, 11};
        for (auto& [name, value] : headers) res.set(name, value);
        res.keep_alive(keep_alive);
        res.chunked(true);
        http::response_serializer<http::empty_body> sr{res};
        auto [ec, n] = co_await http::async_write_header(*socket_, sr, use_tuple);
        co_return !ec;
    }

    asio::awaitable<bool> stream_piece(std::string& pending) override {
        if (pending.empty()) co_return true;
        auto [ec, n] = co_await asio::async_write(*socket_, http::make_chunk(asio::buffer(pending)), use_tuple);
        pending.clear();
        if (ec) abandoned();
        co_return !ec;
    }

    asio::awaitable<bool> stream_end() override {
        auto [ec, n] = co_await asio::async_write(*socket_, http::make_chunk_last(), use_tuple);
        co_return !ec;
    }

    // Reads and discards until the client closes the connection (or the server stops): a stalled
    // or hostile reply costs nothing once the client has given up.
    asio::awaitable<void> until_peer_gives_up() override {
        char sink[512];
        for (;;) {
            auto [ec, n] = co_await socket_->async_read_some(asio::buffer(sink), use_tuple);
            if (ec) break;
        }
        if (!state_->is_stopped()) abandoned();
    }

    asio::awaitable<bool> sleep(int ms) override {
        timer_->expires_after(std::chrono::milliseconds(ms));
        auto [ec] = co_await timer_->async_wait(use_tuple);
        co_return !ec;
    }

    asio::awaitable<bool> reset_stream(std::uint32_t) override { co_return false; }  // no streams: drop the connection

    // Hostile servers, byte for byte. Each returns false: the connection is dropped afterwards.
    asio::awaitable<bool> hostile(scenario s) override {
        const std::string sse_head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n";
        if (s.raw == "huge_line") {  // 10 MB of one event-stream line that never ends
            if (!co_await write_bytes(sse_head + "Transfer-Encoding: chunked\r\n\r\n")) co_return false;
            std::string piece = "data: ";
            piece.resize(64 * 1024, 'x');
            for (int i = 0; i < 160; ++i) {
                std::string chunk = piece;
                if (!co_await stream_piece(chunk)) co_return false;
            }
            co_await until_peer_gives_up();
        } else if (s.raw == "drip_headers") {  // a head that never ends, one byte at a time
            if (!co_await write_bytes("HTTP/1.1 200 OK\r\n")) co_return false;
            for (int i = 0; i < 100'000; ++i) {
                if (!co_await write_bytes(i % 40 == 39 ? "\r\n" : "X")) co_return false;
                if (!co_await sleep(20)) co_return false;
            }
        } else if (s.raw == "bad_chunk") {  // a chunk size that is not hexadecimal
            co_await write_bytes(sse_head + "Transfer-Encoding: chunked\r\n\r\nzz\r\ndata: x\n\n\r\n");
            co_await until_peer_gives_up();
        } else if (s.raw == "bad_status") {
            co_await write_bytes("HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n");
            co_await until_peer_gives_up();
        } else if (s.raw == "header_flood") {  // 1 MB of header fields
            std::string flood = "HTTP/1.1 200 OK\r\n";
            while (flood.size() < 1024 * 1024) flood += "X-Flood: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
            co_await write_bytes(flood);
            co_await until_peer_gives_up();
        } else if (s.raw == "endless") {  // a body that never ends: keep-alive comments forever
            if (!co_await write_bytes(sse_head + "Transfer-Encoding: chunked\r\n\r\n")) co_return false;
            for (int i = 0; i < 100'000; ++i) {
                std::string chunk = ": keep-alive\n\n";
                if (!co_await stream_piece(chunk) || !co_await sleep(20)) co_return false;
            }
        } else if (s.raw == "gzip") {  // an encoding nobody asked for
            co_await write_bytes(sse_head + "Content-Encoding: gzip\r\nContent-Length: 4\r\n\r\n\x1f\x8b\x08\x00");
            co_await until_peer_gives_up();
        } else if (s.raw == "huge_length") {  // an error body announced as 40 GB, then silence
            co_await write_bytes("HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                                 "Content-Length: 40000000000\r\n\r\n{\"error\":");
            co_await until_peer_gives_up();
        } else if (s.raw == "http10") {  // HTTP/1.0: the body ends when the connection closes
            std::string body = "HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
            body += openai_chunk(json::object{{"role", "assistant"}, {"content", ""}}, nullptr);
            for (int i = 0; i < s.tokens; ++i) body += openai_chunk(json::object{{"content", token_text(s, i)}}, nullptr);
            body += openai_chunk(json::object{}, "stop") + "data: [DONE]\n\n";
            co_await write_bytes(body);
        } else if (s.raw == "redirect") {
            co_await write_bytes("HTTP/1.1 302 Found\r\nLocation: " + s.location + "\r\nContent-Length: 0\r\n\r\n");
            co_await until_peer_gives_up();
        }
        co_return false;
    }

private:
    // The client gave up on this reply before its end (it closed the connection).
    void abandoned() {
        std::lock_guard lock(state_->mutex);
        ++state_->counters.streams_reset;
    }

    asio::awaitable<bool> write_bytes(std::string_view bytes) {
        auto [ec, n] = co_await asio::async_write(*socket_, asio::buffer(bytes.data(), bytes.size()), use_tuple);
        co_return !ec;
    }

    std::shared_ptr<server::state> state_;
    std::shared_ptr<Stream> socket_;
    std::shared_ptr<asio::steady_timer> timer_;
};

}  // namespace

asio::awaitable<void> serve_http1(std::shared_ptr<server::state> st, std::shared_ptr<tcp::socket> socket,
                                  std::string buffered) {
    session<tcp::socket> s(std::move(st), std::move(socket));
    co_await s.run(std::move(buffered));
}

asio::awaitable<void> serve_http1(std::shared_ptr<server::state> st,
                                  std::shared_ptr<asio::ssl::stream<tcp::socket>> socket) {
    session<asio::ssl::stream<tcp::socket>> s(std::move(st), std::move(socket));
    co_await s.run({});
}

}  // namespace llmstream::mock
