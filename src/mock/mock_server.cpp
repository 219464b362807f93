#include <llmstream/mock/server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <charconv>
#include <list>
#include <string_view>
#include <vector>

namespace llmstream::mock {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using boost::system::error_code;
constexpr auto use_tuple = asio::as_tuple(asio::deferred);

struct server::state : std::enable_shared_from_this<server::state> {
    explicit state(asio::any_io_executor ex) : executor(ex), acceptor(ex) {}

    asio::any_io_executor executor;
    tcp::acceptor acceptor;
    std::unique_ptr<asio::ssl::context> tls;  // set: HTTPS
    mutable std::mutex mutex;
    stats counters;
    std::list<std::weak_ptr<tcp::socket>> sockets;
    std::list<std::weak_ptr<asio::steady_timer>> timers;  // sessions' pacing and stall timers
    bool stopped = false;
};

namespace {

struct scenario {
    int tokens = 8;
    int reasoning = 0;
    std::string word = "tok";
    int pace_ms = 0;
    int coalesce = 1;
    int status = 200;
    std::string code;
    std::string message;
    std::string retry_after;
    std::string retry_after_ms;
    std::string should_retry;  // x-should-retry header value
    std::string request_id = "mock-request-id";  // "mock-request-id-<key>-<attempt>" when key is set
    int fail_first = 0;
    std::string key;
    bool reset_before_headers = false;
    int reset_after = -1;
    int stall_after = -1;
    int error_after = -1;
    int error_status = 429;
    int malformed_after = -1;
    int slow_headers_ms = 0;
    bool keepalive = false;
    bool cumulative = false;
    bool no_done = false;
    bool close = false;
    bool demo = false;  // tokens are the words of a canned answer instead of word0 word1 ...
    std::string raw;    // a hostile reply written byte for byte (see write_raw)
    bool echo_auth = false;  // error messages repeat the request's Authorization header (a leaky proxy)
    std::string location;  // raw=redirect: where to
    bool openai_errors = false;  // errors=openai: error bodies as OpenAI shapes them (no request_id)
};

int to_int(std::string_view s, int fallback) {
    int v = fallback;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

scenario parse_scenario(std::string_view model) {
    scenario s;
    const auto q = model.find('?');
    if (q == std::string_view::npos) return s;
    std::string_view rest = model.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        const auto eq = pair.find('=');
        const std::string_view k = pair.substr(0, eq);
        const std::string_view v = eq == std::string_view::npos ? std::string_view("1") : pair.substr(eq + 1);
        if (k == "tokens") s.tokens = to_int(v, s.tokens);
        else if (k == "reasoning") s.reasoning = to_int(v, 0);
        else if (k == "word") s.word = std::string(v);
        else if (k == "pace_ms") s.pace_ms = to_int(v, 0);
        else if (k == "coalesce") s.coalesce = std::max(1, to_int(v, 1));
        else if (k == "status") s.status = to_int(v, 200);
        else if (k == "code") s.code = std::string(v);
        else if (k == "message") s.message = std::string(v);
        else if (k == "echo_auth") s.echo_auth = v != "0";
        else if (k == "retry_after") s.retry_after = std::string(v);
        else if (k == "retry_after_ms") s.retry_after_ms = std::string(v);
        else if (k == "should_retry") s.should_retry = std::string(v);
        else if (k == "fail_first") s.fail_first = to_int(v, 0);
        else if (k == "key") s.key = std::string(v);
        else if (k == "reset_before_headers") s.reset_before_headers = v != "0";
        else if (k == "reset_after") s.reset_after = to_int(v, -1);
        else if (k == "stall_after") s.stall_after = to_int(v, -1);
        else if (k == "error_after") s.error_after = to_int(v, -1);
        else if (k == "error_status") s.error_status = to_int(v, 429);
        else if (k == "malformed_after") s.malformed_after = to_int(v, -1);
        else if (k == "slow_headers_ms") s.slow_headers_ms = to_int(v, 0);
        else if (k == "keepalive") s.keepalive = v != "0";
        else if (k == "cumulative") s.cumulative = v != "0";
        else if (k == "no_done") s.no_done = v != "0";
        else if (k == "close") s.close = v != "0";
        else if (k == "demo") s.demo = v != "0";
        else if (k == "raw") s.raw = std::string(v);
        else if (k == "location") s.location = std::string(v);
        else if (k == "errors") s.openai_errors = v == "openai";
    }
    return s;
}

enum class dialect { openai, native };

// A provider-shaped error body for `status` in the dialect: DashScope's (compatible mode puts a
// top-level request_id beside the error), or with `openai_shape` OpenAI's (the error alone).
std::string error_body(dialect d, int status, std::string code, std::string message, bool openai_shape = false) {
    if (code.empty()) {
        switch (status) {
        case 400: code = d == dialect::native ? "InvalidParameter" : "invalid_request_error"; break;
        case 401: code = d == dialect::native ? "InvalidApiKey" : "invalid_api_key"; break;
        case 403: code = "Model.AccessDenied"; break;
        case 404: code = d == dialect::native ? "ModelNotFound" : "model_not_found"; break;
        case 429: code = d == dialect::native ? "Throttling.RateQuota" : "rate_limit_exceeded"; break;
        case 503: code = "ModelUnavailable"; break;
        default: code = d == dialect::native ? "InternalError" : "server_error"; break;
        }
    }
    if (message.empty()) message = "mock error " + std::to_string(status);
    if (d == dialect::native)
        return json::serialize(json::object{{"code", code}, {"message", message}, {"request_id", "mock-request-id"}});
    if (openai_shape)
        return json::serialize(json::object{
            {"error", json::object{{"message", message}, {"type", code}, {"param", nullptr}, {"code", code}}}});
    return json::serialize(json::object{
        {"error", json::object{{"code", code}, {"param", nullptr}, {"message", message}, {"type", code}}},
        {"id", "chatcmpl-mock"},
        {"request_id", "mock-request-id"}});
}

constexpr std::string_view demo_answer[] = {
    "I", " am", " llmstream-mock,", " a", " local", " server", " that", " speaks", " the", " OpenAI-compatible",
    " and", " DashScope", " native", " APIs.", " Set", " DASHSCOPE_API_KEY,", " OPENAI_API_KEY", " or",
    " DEEPSEEK_API_KEY", " to", " talk", " to", " a", " real", " model;", " until", " then,", " every",
    " token", " you", " see", " was", " streamed", " over", " HTTP", " from", " this", " machine.\n"};

std::string token_text(const scenario& s, int i) {
    if (s.demo) return std::string(demo_answer[static_cast<std::size_t>(i) % std::size(demo_answer)]);
    return (i == 0 ? "" : " ") + s.word + std::to_string(i);
}

std::string openai_chunk(const json::object& delta, const char* finish) {
    json::object choice{{"index", 0}, {"delta", delta}, {"logprobs", nullptr}};
    if (finish) choice["finish_reason"] = finish;
    else choice["finish_reason"] = nullptr;
    json::object chunk{{"id", "chatcmpl-mock"},
                       {"object", "chat.completion.chunk"},
                       {"created", 1732000000},
                       {"model", "mock"},
                       {"choices", json::array{std::move(choice)}}};
    return "data: " + json::serialize(chunk) + "\n\n";
}

std::string native_frame(int id, const std::string& content, const std::string& reasoning, const char* finish,
                         int output_tokens) {
    json::object message{{"content", content}, {"role", "assistant"}};
    if (!reasoning.empty()) message["reasoning_content"] = reasoning;
    json::object frame{
        {"output", json::object{{"choices", json::array{json::object{{"message", message}, {"finish_reason", finish}}}}}},
        {"usage", json::object{{"total_tokens", 10 + output_tokens}, {"output_tokens", output_tokens}, {"input_tokens", 10}}},
        {"request_id", "mock-request-id"}};
    return "id:" + std::to_string(id) + "\nevent:result\n:HTTP_STATUS/200\ndata:" + json::serialize(frame) + "\n\n";
}

// Stream: tcp::socket, or asio::ssl::stream<tcp::socket> (handshake done by the accept loop).
template <class Stream>
class session {
public:
    session(std::shared_ptr<server::state> st, std::shared_ptr<Stream> socket)
        : state_(std::move(st)),
          socket_(std::move(socket)),
          timer_(std::make_shared<asio::steady_timer>(socket_->get_executor())) {
        std::lock_guard lock(state_->mutex);
        state_->timers.remove_if([](const auto& w) { return w.expired(); });
        state_->timers.push_back(timer_);
    }

    asio::awaitable<void> run() {
        beast::flat_buffer buffer;
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(16 * 1024 * 1024);
            auto [ec, n] = co_await http::async_read(*socket_, buffer, parser, use_tuple);
            if (ec) break;
            auto& req = parser.get();
            {
                std::lock_guard lock(state_->mutex);
                ++state_->counters.requests;
            }
            bool keep_alive = req.keep_alive();
            if (!co_await handle(req, keep_alive)) break;
            if (!keep_alive) break;
        }
        error_code ignored;
        auto& raw = beast::get_lowest_layer(*socket_);
        raw.shutdown(tcp::socket::shutdown_send, ignored);
        raw.close(ignored);
    }

private:
    // Returns false when the connection must be dropped.
    asio::awaitable<bool> handle(const http::request<http::string_body>& req, bool& keep_alive) {
        const std::string_view target(req.target().data(), req.target().size());
        if (req.method() == http::verb::get && target == "/mock/stats") co_return co_await write_stats(keep_alive);

        const bool native = target.find("/api/v1/services/aigc/") != std::string_view::npos;
        const bool openai = target.size() >= 17 && target.substr(target.size() - 17) == "/chat/completions";
        if (req.method() != http::verb::post || (!native && !openai))
            co_return co_await write_simple(404, "application/json",
                                            error_body(dialect::openai, 404, "not_found", "no such endpoint"), keep_alive);
        const dialect d = native ? dialect::native : dialect::openai;

        error_code jec;
        const json::value body = json::parse(req.body(), jec);
        if (jec || !body.is_object() || !body.as_object().contains("model") || !body.at("model").is_string())
            co_return co_await write_simple(400, "application/json",
                                            error_body(d, 400, "", "the body is not a chat request"), keep_alive);
        const std::string model(body.at("model").as_string());
        scenario s = parse_scenario(model);
        if (s.close) keep_alive = false;

        bool stream = false;
        bool include_usage = false;
        if (d == dialect::openai) {
            const json::object& o = body.as_object();
            stream = o.contains("stream") && o.at("stream").is_bool() && o.at("stream").as_bool();
            include_usage = o.contains("stream_options");
        } else {
            const auto sse = req.find("X-DashScope-SSE");
            stream = sse != req.end() && sse->value() == "enable";
        }
        if (req.find(http::field::authorization) == req.end())
            co_return co_await write_simple(401, "application/json", error_body(d, 401, "", "no API key"), keep_alive);

        if (!s.key.empty() || s.fail_first > 0) {
            std::uint64_t attempt = 0;
            {
                std::lock_guard lock(state_->mutex);
                attempt = ++state_->counters.attempts[s.key];
            }
            if (!s.key.empty()) s.request_id += "-" + s.key + "-" + std::to_string(attempt);
            const bool other_fault = s.reset_before_headers || s.reset_after >= 0 || s.stall_after >= 0 ||
                                     s.error_after >= 0 || s.malformed_after >= 0 || s.slow_headers_ms > 0;
            if (s.fail_first > 0 && attempt > static_cast<std::uint64_t>(s.fail_first)) {
                // Past the failing attempts: a clean reply.
                s.status = 200;
                s.reset_before_headers = false;
                s.reset_after = s.stall_after = s.error_after = s.malformed_after = -1;
                s.slow_headers_ms = 0;
            } else if (s.fail_first > 0 && s.status == 200 && !other_fault) {
                s.status = 503;
            }
        }
        if (s.echo_auth) {
            const auto auth = req.find(http::field::authorization);
            s.message = "rejected Authorization: " + std::string(auth->value().data(), auth->value().size());
        }
        if (s.reset_before_headers) co_return false;
        if (!s.raw.empty()) co_return co_await write_raw(s);
        if (s.slow_headers_ms > 0 && !co_await sleep(s.slow_headers_ms)) co_return false;
        if (s.status != 200) co_return co_await write_error(d, s, keep_alive);
        if (!stream) co_return co_await write_whole(d, s, keep_alive);
        co_return co_await write_stream(d, s, include_usage, keep_alive);
    }

    // Returns false when the server is stopping.
    asio::awaitable<bool> sleep(int ms) {
        timer_->expires_after(std::chrono::milliseconds(ms));
        auto [ec] = co_await timer_->async_wait(use_tuple);
        co_return !ec;
    }

    asio::awaitable<bool> write_simple(int status, const char* type, std::string body, bool keep_alive) {
        http::response<http::string_body> res{static_cast<http::status>(status), 11};
        res.set(http::field::content_type, type);
        res.set("x-request-id", "mock-request-id");
        res.body() = std::move(body);
        res.keep_alive(keep_alive);
        res.prepare_payload();
        auto [ec, n] = co_await http::async_write(*socket_, res, use_tuple);
        co_return !ec;
    }

    asio::awaitable<bool> write_stats(bool keep_alive) {
        json::object o;
        {
            std::lock_guard lock(state_->mutex);
            o["connections"] = state_->counters.connections;
            o["requests"] = state_->counters.requests;
            json::object attempts;
            for (const auto& [k, v] : state_->counters.attempts) attempts[k] = v;
            o["attempts"] = std::move(attempts);
        }
        co_return co_await write_simple(200, "application/json", json::serialize(o), keep_alive);
    }

    asio::awaitable<bool> write_error(dialect d, const scenario& s, bool keep_alive) {
        http::response<http::string_body> res{static_cast<http::status>(s.status), 11};
        res.set(http::field::content_type, "application/json");
        res.set(d == dialect::native ? "X-DashScope-Request-Id" : "x-request-id", s.request_id);
        if (!s.retry_after.empty()) res.set(http::field::retry_after, s.retry_after);
        if (!s.retry_after_ms.empty()) res.set("retry-after-ms", s.retry_after_ms);
        if (!s.should_retry.empty()) res.set("x-should-retry", s.should_retry);
        res.body() = error_body(d, s.status, s.code, s.message, s.openai_errors);
        res.keep_alive(keep_alive);
        res.prepare_payload();
        auto [ec, n] = co_await http::async_write(*socket_, res, use_tuple);
        co_return !ec;
    }

    asio::awaitable<bool> write_whole(dialect d, const scenario& s, bool keep_alive) {
        std::string content, reasoning;
        for (int i = 0; i < s.reasoning; ++i) reasoning += token_text(s, i);
        for (int i = 0; i < s.tokens; ++i) content += token_text(s, i);
        json::value body;
        json::object message{{"role", "assistant"}, {"content", content}};
        if (!reasoning.empty()) message["reasoning_content"] = reasoning;
        if (d == dialect::openai) {
            body = json::object{{"id", "chatcmpl-mock"},
                                {"object", "chat.completion"},
                                {"model", "mock"},
                                {"choices", json::array{json::object{{"index", 0}, {"message", message}, {"finish_reason", "stop"}}}},
                                {"usage", json::object{{"prompt_tokens", 10}, {"completion_tokens", s.tokens}, {"total_tokens", 10 + s.tokens}}}};
        } else {
            body = json::object{{"output", json::object{{"choices", json::array{json::object{{"message", message}, {"finish_reason", "stop"}}}}}},
                                {"usage", json::object{{"input_tokens", 10}, {"output_tokens", s.tokens}, {"total_tokens", 10 + s.tokens}}},
                                {"request_id", "mock-request-id"}};
        }
        co_return co_await write_simple(200, "application/json", json::serialize(body), keep_alive);
    }

    // Holds the connection open, reading and discarding, until the client closes it (or the
    // server stops): a stalled or hostile reply costs nothing once the client has given up.
    asio::awaitable<void> until_peer_closes() {
        char sink[512];
        for (;;) {
            auto [ec, n] = co_await socket_->async_read_some(asio::buffer(sink), use_tuple);
            if (ec) co_return;
        }
    }

    asio::awaitable<bool> write_bytes(std::string_view bytes) {
        auto [ec, n] = co_await asio::async_write(*socket_, asio::buffer(bytes.data(), bytes.size()), use_tuple);
        co_return !ec;
    }

    // Hostile servers, byte for byte. Each returns false: the connection is dropped afterwards.
    asio::awaitable<bool> write_raw(const scenario& s) {
        const std::string sse_head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n";
        if (s.raw == "huge_line") {  // 10 MB of one event-stream line that never ends
            if (!co_await write_bytes(sse_head + "Transfer-Encoding: chunked\r\n\r\n")) co_return false;
            std::string piece = "data: ";
            piece.resize(64 * 1024, 'x');
            for (int i = 0; i < 160; ++i) {
                std::string chunk = piece;
                if (!co_await write_chunk(chunk)) co_return false;
            }
            co_await until_peer_closes();
        } else if (s.raw == "drip_headers") {  // a head that never ends, one byte at a time
            if (!co_await write_bytes("HTTP/1.1 200 OK\r\n")) co_return false;
            for (int i = 0; i < 100'000; ++i) {
                if (!co_await write_bytes(i % 40 == 39 ? "\r\n" : "X")) co_return false;
                if (!co_await sleep(20)) co_return false;
            }
        } else if (s.raw == "bad_chunk") {  // a chunk size that is not hexadecimal
            co_await write_bytes(sse_head + "Transfer-Encoding: chunked\r\n\r\nzz\r\ndata: x\n\n\r\n");
            co_await until_peer_closes();
        } else if (s.raw == "bad_status") {
            co_await write_bytes("HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n");
            co_await until_peer_closes();
        } else if (s.raw == "header_flood") {  // 1 MB of header fields
            std::string flood = "HTTP/1.1 200 OK\r\n";
            while (flood.size() < 1024 * 1024) flood += "X-Flood: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
            co_await write_bytes(flood);
            co_await until_peer_closes();
        } else if (s.raw == "endless") {  // a body that never ends: keep-alive comments forever
            if (!co_await write_bytes(sse_head + "Transfer-Encoding: chunked\r\n\r\n")) co_return false;
            for (int i = 0; i < 100'000; ++i) {
                std::string chunk = ": keep-alive\n\n";
                if (!co_await write_chunk(chunk) || !co_await sleep(20)) co_return false;
            }
        } else if (s.raw == "gzip") {  // an encoding nobody asked for
            co_await write_bytes(sse_head + "Content-Encoding: gzip\r\nContent-Length: 4\r\n\r\n\x1f\x8b\x08\x00");
            co_await until_peer_closes();
        } else if (s.raw == "huge_length") {  // an error body announced as 40 GB, then silence
            co_await write_bytes("HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                                 "Content-Length: 40000000000\r\n\r\n{\"error\":");
            co_await until_peer_closes();
        } else if (s.raw == "http10") {  // HTTP/1.0: the body ends when the connection closes
            std::string body = "HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\n";
            body += openai_chunk(json::object{{"role", "assistant"}, {"content", ""}}, nullptr);
            for (int i = 0; i < s.tokens; ++i) body += openai_chunk(json::object{{"content", token_text(s, i)}}, nullptr);
            body += openai_chunk(json::object{}, "stop") + "data: [DONE]\n\n";
            co_await write_bytes(body);
        } else if (s.raw == "redirect") {
            co_await write_bytes("HTTP/1.1 302 Found\r\nLocation: " + s.location + "\r\nContent-Length: 0\r\n\r\n");
            co_await until_peer_closes();
        }
        co_return false;
    }

    asio::awaitable<bool> write_chunk(std::string& pending) {
        if (pending.empty()) co_return true;
        auto [ec, n] = co_await asio::async_write(*socket_, http::make_chunk(asio::buffer(pending)), use_tuple);
        pending.clear();
        co_return !ec;
    }

    asio::awaitable<bool> write_stream(dialect d, const scenario& s, bool include_usage, bool keep_alive) {
        http::response<http::empty_body> res{http::status::ok, 11};
        res.set(http::field::content_type, "text/event-stream");
        res.set(http::field::cache_control, "no-cache");
        res.set(d == dialect::native ? "X-DashScope-Request-Id" : "x-request-id", s.request_id);
        res.keep_alive(keep_alive);
        res.chunked(true);
        http::response_serializer<http::empty_body> sr{res};
        {
            auto [ec, n] = co_await http::async_write_header(*socket_, sr, use_tuple);
            if (ec) co_return false;
        }
        std::string pending;
        int frame_id = 0;
        std::string cumulative_content, cumulative_reasoning;
        const int total = s.reasoning + s.tokens;
        if (d == dialect::openai)
            pending += openai_chunk(json::object{{"role", "assistant"}, {"content", ""}}, nullptr);
        for (int i = 0; i < total; ++i) {
            const int content_index = i - s.reasoning;
            if (i == s.reset_after) co_return false;  // drop the connection mid-stream
            if (i == s.stall_after) {
                if (!co_await write_chunk(pending)) co_return false;
                co_await until_peer_closes();  // until the client gives up
                co_return false;
            }
            if (i == s.error_after) {
                if (d == dialect::native)
                    pending += "id:" + std::to_string(++frame_id) + "\nevent:error\n:HTTP_STATUS/" +
                               std::to_string(s.error_status) + "\ndata:" +
                               error_body(d, s.error_status, s.code, s.message, s.openai_errors) + "\n\n";
                else
                    pending += "data: " + error_body(d, s.error_status, s.code, s.message, s.openai_errors) + "\n\n";
                if (!co_await write_chunk(pending)) co_return false;
                break;
            }
            if (i == s.malformed_after) {
                pending += "data: {\"choices\":[{\"delta\":{\"content\":\"trunc\n\n";
                if (!co_await write_chunk(pending)) co_return false;
                break;
            }
            if (s.keepalive) pending += ": keep-alive\n\n";
            const bool is_reasoning = i < s.reasoning;
            const std::string text = token_text(s, is_reasoning ? i : content_index);
            if (d == dialect::openai) {
                json::object delta;
                if (is_reasoning) {
                    delta["content"] = nullptr;
                    delta["reasoning_content"] = text;
                } else {
                    delta["content"] = text;
                }
                pending += openai_chunk(delta, nullptr);
            } else {
                std::string content = is_reasoning ? "" : text;
                std::string reasoning = is_reasoning ? text : "";
                if (s.cumulative) {
                    cumulative_content += content;
                    cumulative_reasoning += reasoning;
                    content = cumulative_content;
                    reasoning = cumulative_reasoning;
                }
                pending += native_frame(++frame_id, content, reasoning, "null", i + 1);
            }
            if ((i + 1) % s.coalesce == 0) {
                if (!co_await write_chunk(pending)) co_return false;
                if (s.pace_ms > 0 && !co_await sleep(s.pace_ms)) co_return false;
            }
        }
        const bool errored = s.error_after >= 0 && s.error_after < total;
        const bool malformed = s.malformed_after >= 0 && s.malformed_after < total;
        if (!errored && !malformed) {
            if (d == dialect::openai) {
                pending += openai_chunk(json::object{}, "stop");
                if (include_usage)
                    pending += "data: " +
                               json::serialize(json::object{
                                   {"id", "chatcmpl-mock"}, {"object", "chat.completion.chunk"}, {"model", "mock"},
                                   {"choices", json::array{}},
                                   {"usage", json::object{{"prompt_tokens", 10}, {"completion_tokens", total}, {"total_tokens", 10 + total}}}}) +
                               "\n\n";
                if (!s.no_done) pending += "data: [DONE]\n\n";
            } else {
                pending += native_frame(++frame_id, s.cumulative ? cumulative_content : "", "", "stop", total);
            }
        }
        if (!co_await write_chunk(pending)) co_return false;
        auto [ec, n] = co_await asio::async_write(*socket_, http::make_chunk_last(), use_tuple);
        co_return !ec;
    }

    std::shared_ptr<server::state> state_;
    std::shared_ptr<Stream> socket_;
    std::shared_ptr<asio::steady_timer> timer_;
};

void track(const std::shared_ptr<server::state>& st, std::shared_ptr<tcp::socket> raw) {
    std::lock_guard lock(st->mutex);
    st->sockets.remove_if([](const auto& w) { return w.expired(); });
    st->sockets.push_back(std::move(raw));
}

asio::awaitable<void> accept_loop(std::shared_ptr<server::state> st) {
    for (;;) {
        tcp::socket socket(st->executor);
        auto [ec] = co_await st->acceptor.async_accept(socket, use_tuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || !st->acceptor.is_open()) co_return;
            continue;  // e.g. too many open files: keep serving the connections we have
        }
        {
            std::lock_guard lock(st->mutex);
            if (st->stopped) co_return;
            ++st->counters.connections;
        }
        socket.set_option(tcp::no_delay(true), ec);
        if (!st->tls) {
            auto plain = std::make_shared<tcp::socket>(std::move(socket));
            track(st, plain);
            auto s = std::make_shared<session<tcp::socket>>(st, plain);
            asio::co_spawn(st->executor, [s]() -> asio::awaitable<void> { co_await s->run(); }, asio::detached);
            continue;
        }
        auto tls = std::make_shared<asio::ssl::stream<tcp::socket>>(std::move(socket), *st->tls);
        track(st, std::shared_ptr<tcp::socket>(tls, &tls->next_layer()));
        asio::co_spawn(
            st->executor,
            [st, tls]() -> asio::awaitable<void> {
                auto [hec] = co_await tls->async_handshake(asio::ssl::stream_base::server, use_tuple);
                if (hec) co_return;  // a client that refused our certificate: nothing to serve
                auto s = std::make_shared<session<asio::ssl::stream<tcp::socket>>>(st, tls);
                co_await s->run();
            },
            asio::detached);
    }
}

}  // namespace

server::server(asio::any_io_executor ex, options opts) : state_(std::make_shared<state>(ex)) {
    if (!opts.tls_cert_file.empty()) {
        state_->tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
        state_->tls->use_certificate_chain_file(opts.tls_cert_file);
        state_->tls->use_private_key_file(opts.tls_key_file, asio::ssl::context::pem);
    }
    const tcp::endpoint endpoint(asio::ip::make_address(opts.host), opts.port);
    state_->acceptor.open(endpoint.protocol());
    state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    state_->acceptor.bind(endpoint);
    state_->acceptor.listen(asio::socket_base::max_listen_connections);
}

server::~server() { stop(); }

void server::start() { asio::co_spawn(state_->executor, accept_loop(state_), asio::detached); }

void server::stop() {
    // Runs on the server's executor: sockets are only touched there.
    asio::dispatch(state_->executor, [st = state_] {
        std::list<std::weak_ptr<tcp::socket>> sockets;
        std::list<std::weak_ptr<asio::steady_timer>> timers;
        {
            std::lock_guard lock(st->mutex);
            st->stopped = true;
            sockets.swap(st->sockets);
            timers.swap(st->timers);
        }
        error_code ignored;
        st->acceptor.close(ignored);
        for (auto& w : sockets)
            if (auto s = w.lock()) s->close(ignored);
        for (auto& w : timers)
            if (auto t = w.lock()) t->cancel();
    });
}

unsigned short server::port() const noexcept {
    error_code ec;
    return state_->acceptor.local_endpoint(ec).port();
}

stats server::counters() const {
    std::lock_guard lock(state_->mutex);
    return state_->counters;
}

}  // namespace llmstream::mock
