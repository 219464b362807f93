// The client against llmstream-mock over loopback: streaming, concurrency, keep-alive, timeouts,
// cancellation, errors.
#include "collect.hpp"
#include "mock_fixture.hpp"

#include <llmstream/client.hpp>
#include <llmstream/with_diagnostics.hpp>
#include <llmstream/error.hpp>
#include <llmstream/observer.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <sstream>
#include <functional>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace llmstream;
using namespace llmstream::testing;
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr auto tuple = asio::as_tuple(asio::deferred);

// A listening TCP socket on 127.0.0.1 with an ephemeral port (written to `addr`).
int loopback_listener(int backlog, sockaddr_in& addr) {
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listener >= 0);
    addr = sockaddr_in{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listener, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(listener, backlog) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    return listener;
}

// Reads a stream to its end with callbacks bound to `ex`, each completion asking for the next;
// `check` runs in every completion. The caller runs the executors.
struct callback_reader {
    std::string content;
    bool ended = false;
    error_code end_ec;
    std::function<void()> check = [] {};
    void read(stream& s, const asio::any_io_executor& ex) {
        s.async_next(asio::bind_executor(ex, [this, &s, ex](error_code ec, const delta* d) {
            check();
            if (ec || !d) {
                end_ec = ec;
                ended = true;
                return;
            }
            content += d->content;
            read(s, ex);
        }));
    }
};

// An HTTP/1.1 server on loopback that answers every request with one canned response, written
// in one send(): the client reads head, body and its end at once. With `head_first`, the head
// goes 50 ms before the rest (one send each): the client reads the body on its own. Counts the
// connections it accepted. Blocking sockets on its own thread, every wait bounded (poll, 100 ms
// at a time).
class canned_server {
public:
    explicit canned_server(std::string response, bool head_first = false)
        : response_(std::move(response)), head_first_(head_first) {
        sockaddr_in addr{};
        listener_ = loopback_listener(8, addr);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~canned_server() {
        stop_ = true;
        thread_.join();
        ::close(listener_);
    }
    unsigned short port() const { return port_; }
    int accepted() const { return accepted_; }

private:
    bool wait_readable(int fd) const {
        while (!stop_) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 100) > 0) return true;
        }
        return false;
    }
    void serve() {
        while (wait_readable(listener_)) {
            const int conn = ::accept(listener_, nullptr, nullptr);
            if (conn < 0) continue;
            ++accepted_;
            std::string in;
            char buf[4096];
            while (wait_readable(conn)) {
                const ssize_t n = ::recv(conn, buf, sizeof buf, 0);
                if (n <= 0) break;
                in.append(buf, static_cast<std::size_t>(n));
                // One request: its head, then Content-Length bytes of body.
                const std::size_t head_end = in.find("\r\n\r\n");
                if (head_end == std::string::npos) continue;
                const std::size_t cl = in.find("Content-Length: ");
                const std::size_t body = cl == std::string::npos ? 0 : std::stoul(in.substr(cl + 16));
                if (in.size() < head_end + 4 + body) continue;
                in.erase(0, head_end + 4 + body);
                std::string_view rest = response_;
                if (head_first_) {
                    const std::size_t head = rest.find("\r\n\r\n") + 4;
                    if (::send(conn, rest.data(), head, MSG_NOSIGNAL) < 0) break;
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                    rest.remove_prefix(head);
                }
                if (::send(conn, rest.data(), rest.size(), MSG_NOSIGNAL) < 0) break;
            }
            ::close(conn);
        }
    }

    std::string response_;
    bool head_first_;
    int listener_ = -1;
    unsigned short port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::thread thread_;
};

// A whole event-stream response whose body is one chunk, as a canned_server sends it.
std::string chunked_event_stream(const std::string& body) {
    std::ostringstream size;
    size << std::hex << body.size();
    return "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" + size.str() +
           "\r\n" + body + "\r\n0\r\n\r\n";
}

// A client of a canned_server: HTTP/1.1, every request bounded by 5 s.
client_config canned_server_config(const canned_server& server) {
    client_config cfg = providers::custom("http://127.0.0.1:" + std::to_string(server.port()) + "/v1", "test-key");
    cfg.http = http_version::http1;
    cfg.timeouts.total = std::chrono::seconds(5);
    return cfg;
}

}  // namespace


TEST_CASE("a stream delivers the exact content, finish reason and usage", "[integration]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), mock.config());
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request("mock?tokens=12&reasoning=3"));
        const collected r = co_await collect(s);
        CHECK_FALSE(r.ec);
        CHECK(r.content == expected_text(12));
        CHECK(r.reasoning == expected_text(3));
        CHECK(r.finish == finish_reason::stop);
        REQUIRE(r.use);
        CHECK(r.use->output_tokens == 15);
        CHECK(s.diagnostics().http_status == 200);
        CHECK(s.diagnostics().request_id == "mock-request-id");
    });
}

TEST_CASE("co_await with the default token throws on failure and returns the delta", "[integration]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), mock.config());
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request("mock?tokens=3"));
        std::string text;
        while (auto d = co_await s.async_next()) text += d->content;
        CHECK(text == expected_text(3));

        auto bad = c.chat_stream(mock_request("mock?status=403&code=Model.AccessDenied"));
        bool threw = false;
        try {
            co_await bad.async_next();
        } catch (const boost::system::system_error& e) {
            threw = true;
            CHECK(e.code() == api_errc::permission_denied);
        }
        CHECK(threw);
        CHECK(bad.diagnostics().http_status == 403);
        CHECK(bad.diagnostics().provider_code == "Model.AccessDenied");
        CHECK(bad.diagnostics().hint.find("model") != std::string::npos);
    });
}

TEST_CASE("1,000 concurrent streams on one thread each receive exactly their content", "[integration][concurrency]") {
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = mock.config();
    cfg.pool.max_connections = 64;
    client c(io.get_executor(), cfg);
    constexpr int streams = 1000;
    int finished = 0, exact = 0;
    for (int i = 0; i < streams; ++i) {
        asio::co_spawn(io, [&, i]() -> asio::awaitable<void> {
            const int tokens = 1 + i % 17;
            const std::string word = "s" + std::to_string(i) + "t";
            auto s = c.chat_stream(mock_request("mock?tokens=" + std::to_string(tokens) + "&word=" + word + "&coalesce=3"));
            const collected r = co_await collect(s);
            if (!r.ec && r.content == expected_text(tokens, word) && r.finish == finish_reason::stop) ++exact;
            ++finished;
        }, asio::detached);
    }
    asio::steady_timer guard(io, std::chrono::seconds(120));
    bool timed_out = false;
    guard.async_wait([&](error_code ec) { timed_out = !ec; });
    while (finished < streams && !timed_out && io.run_one() != 0) {
    }
    guard.cancel();
    CHECK(finished == streams);
    CHECK(exact == streams);
    const auto stats = mock.counters();
    CHECK(stats.requests == streams);
    CHECK(stats.connections <= 64);  // keep-alive reuse within the pool limit
}

TEST_CASE("sequential requests reuse one keep-alive connection", "[integration][pool]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), mock.config());
    run_test(io, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 20; ++i) {
            auto s = c.chat_stream(mock_request("mock?tokens=2"));
            const collected r = co_await collect(s);
            REQUIRE_FALSE(r.ec);
        }
    });
    CHECK(mock.counters().requests == 20);
    CHECK(mock.counters().connections == 1);
}

TEST_CASE("a pooled connection the server closed is replaced without an error", "[integration][pool]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), mock.config());
    run_test(io, [&]() -> asio::awaitable<void> {
        auto first = c.chat_stream(mock_request("mock?tokens=2"));
        const collected first_result = co_await collect(first);
        REQUIRE_FALSE(first_result.ec);
    });
    mock.drop_connections();
    run_test(io, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
            auto s = c.chat_stream(mock_request("mock?tokens=4"));
            const collected r = co_await collect(s);
            CHECK_FALSE(r.ec);
            CHECK(r.content == expected_text(4));
            CHECK(s.diagnostics().attempts == 1);  // replacing a stale connection is not an attempt
        }
    });
}

TEST_CASE("each timeout fires with its own code", "[integration][timeouts]") {
    mock_fixture mock;
    asio::io_context io;

    SECTION("first byte") {
        client_config cfg = mock.config();
        cfg.timeouts.first_byte = std::chrono::milliseconds(150);
        client c(io.get_executor(), cfg);
        run_test(io, [&]() -> asio::awaitable<void> {
            auto s = c.chat_stream(mock_request("mock?slow_headers_ms=3000"));
            const collected r = co_await collect(s);
            CHECK(r.ec == errc::first_byte_timeout);
            CHECK(is_retryable(r.ec));
        });
    }
    SECTION("idle gap, after the deltas that did arrive") {
        client_config cfg = mock.config();
        cfg.timeouts.idle = std::chrono::milliseconds(200);
        client c(io.get_executor(), cfg);
        run_test(io, [&]() -> asio::awaitable<void> {
            auto s = c.chat_stream(mock_request("mock?tokens=10&stall_after=3"));
            const collected r = co_await collect(s);
            CHECK(r.ec == errc::idle_timeout);
            CHECK(r.content == expected_text(3));
        });
    }
    SECTION("the idle limit counts from the last byte, not from the first") {
        client_config cfg = mock.config();
        cfg.timeouts.idle = std::chrono::milliseconds(300);
        client c(io.get_executor(), cfg);
        run_test(io, [&]() -> asio::awaitable<void> {
            // 12 tokens 60 ms apart: 720 ms in all, every gap well under the limit.
            auto s = c.chat_stream(mock_request("mock?tokens=12&pace_ms=60"));
            const collected r = co_await collect(s);
            CHECK_FALSE(r.ec);
            CHECK(r.content == expected_text(12));
        });
    }
    SECTION("a stream its reader stopped reading is not idle") {
        client_config cfg = mock.config();
        cfg.timeouts.idle = std::chrono::milliseconds(300);
        cfg.max_buffered_deltas = 2;  // reading the connection pauses at once
        client c(io.get_executor(), cfg);
        run_test(io, [&]() -> asio::awaitable<void> {
            // 200 tokens 5 ms apart: the response is still coming when the reader stops.
            auto s = c.chat_stream(mock_request("mock?tokens=200&pace_ms=5"));
            auto [ec, first] = co_await s.async_next(asio::as_tuple(asio::deferred));
            REQUIRE_FALSE(ec);
            REQUIRE(first);
            std::string text = first->content;
            asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(1000));
            co_await pause.async_wait(asio::as_tuple(asio::deferred));  // three times the idle limit
            const collected rest = co_await collect(s);
            CHECK_FALSE(rest.ec);
            CHECK(text + rest.content == expected_text(200));
        });
    }
    SECTION("a deadline that passed while the reader stopped reading ends the stream when it reads again") {
        client_config cfg = mock.config();
        cfg.timeouts.total = std::chrono::milliseconds(400);
        cfg.max_buffered_deltas = 2;
        client c(io.get_executor(), cfg);
        run_test(io, [&]() -> asio::awaitable<void> {
            // 400 tokens 5 ms apart: two seconds of stream, far past the deadline.
            auto s = c.chat_stream(mock_request("mock?tokens=400&pace_ms=5"));
            auto [ec, first] = co_await s.async_next(asio::as_tuple(asio::deferred));
            REQUIRE_FALSE(ec);
            REQUIRE(first);
            asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(600));
            co_await pause.async_wait(asio::as_tuple(asio::deferred));  // past the deadline
            const auto resumed = std::chrono::steady_clock::now();
            const collected rest = co_await collect(s);
            CHECK(rest.ec == errc::deadline_exceeded);
            CHECK(std::chrono::steady_clock::now() - resumed < std::chrono::milliseconds(700));
        });
    }
    SECTION("connect, against a listener whose accept queue is full") {
        // A listening socket that never accepts, with backlog 1: once two handshakes fill its
        // accept queue, Linux drops further SYNs and a connect waits (all on loopback).
        sockaddr_in addr{};
        const int listener = loopback_listener(1, addr);
        std::vector<int> fillers;
        for (int i = 0; i < 4; ++i) {
            const int f = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            (void)::connect(f, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);  // EINPROGRESS
            fillers.push_back(f);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the first two complete

        client_config cfg = mock.config();
        cfg.base_url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/v1";
        cfg.timeouts.connect = std::chrono::milliseconds(300);
        client c(io.get_executor(), cfg);
        const auto start = std::chrono::steady_clock::now();
        run_test(io, [&]() -> asio::awaitable<void> {
            auto s = c.chat_stream(mock_request("mock?tokens=3"));
            const collected r = co_await collect(s);
            CHECK(r.ec == errc::connect_timeout);
            CHECK(is_retryable(r.ec));
            CHECK(s.diagnostics().hint.find("timeouts.connect") != std::string::npos);
        });
        const auto took = std::chrono::steady_clock::now() - start;
        CHECK(took >= std::chrono::milliseconds(280));
        CHECK(took < std::chrono::seconds(5));
        for (const int f : fillers) ::close(f);
        ::close(listener);
    }
    SECTION("whole-request deadline") {
        client_config cfg = mock.config();
        cfg.timeouts.total = std::chrono::milliseconds(300);
        client c(io.get_executor(), cfg);
        run_test(io, [&]() -> asio::awaitable<void> {
            auto s = c.chat_stream(mock_request("mock?tokens=100&pace_ms=20"));
            const collected r = co_await collect(s);
            CHECK(r.ec == errc::deadline_exceeded);
            CHECK_FALSE(is_retryable(r.ec));
            CHECK(r.deltas > 0);
        });
    }
}

TEST_CASE("cancelling a stream mid-way frees its connection slot at once", "[integration][cancel]") {
    mock_fixture mock;
    asio::io_context io;
    client_config cfg = mock.config();
    cfg.pool.max_connections = 1;
    cfg.pool.wait_timeout = std::chrono::seconds(3);
    client c(io.get_executor(), cfg);
    run_test(io, [&]() -> asio::awaitable<void> {
        auto slow = c.chat_stream(mock_request("mock?tokens=1000&pace_ms=50"));  // would take 50 s
        const collected head = co_await collect(slow, 2);
        CHECK(head.deltas == 2);
        slow.cancel();
        auto [ec, d] = co_await slow.async_next(tuple);
        CHECK(ec == asio::error::operation_aborted);
        // The only connection slot is free again: this request does not wait for the slow one.
        auto quick = c.chat_stream(mock_request("mock?tokens=3"));
        const collected r = co_await collect(quick);
        CHECK_FALSE(r.ec);
        CHECK(r.content == expected_text(3));
        // Over HTTP/1.1 a waiting reader is completed inline, right after the read that brought
        // its delta: a stream dropped there has its exchange cancelled under that read.
        {
            auto dropped = c.chat_stream(mock_request("mock?tokens=1000&pace_ms=20"));
            const collected part = co_await collect(dropped, 2);
            CHECK(part.deltas == 2);
        }
        auto after = c.chat_stream(mock_request("mock?tokens=3"));
        const collected a = co_await collect(after);
        CHECK_FALSE(a.ec);
        CHECK(a.content == expected_text(3));
    });
    CHECK(c.pool_stats().open == c.pool_stats().idle);
}

TEST_CASE("per-operation cancellation of async_next aborts the stream", "[integration][cancel]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), mock.config());
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request("mock?tokens=1000&pace_ms=50"));
        asio::cancellation_signal signal;
        bool done = false;
        error_code got;
        s.async_next(asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, const delta*) {
            got = ec;
            done = true;
        }));
        // The first delta may already be there; keep asking until one is pending, then cancel.
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(10));
        while (done && !got) {
            done = false;
            s.async_next(asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, const delta*) {
                got = ec;
                done = true;
            }));
            co_await t.async_wait(tuple);
        }
        signal.emit(asio::cancellation_type::terminal);
        for (int i = 0; i < 100 && !done; ++i) {
            t.expires_after(std::chrono::milliseconds(10));
            co_await t.async_wait(tuple);
        }
        CHECK(done);
        CHECK(got == asio::error::operation_aborted);
    });
}

TEST_CASE("partial or total cancellation of async_next abandons only that wait", "[integration][cancel]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), mock.config());
    for (const auto type : {asio::cancellation_type::partial, asio::cancellation_type::total}) {
        run_test(io, [&]() -> asio::awaitable<void> {
            // 6 tokens 150 ms apart: a wait cancelled after 20 ms finds no delta yet.
            auto s = c.chat_stream(mock_request("mock?tokens=6&pace_ms=150"));
            asio::steady_timer t(co_await asio::this_coro::executor);
            std::string text;
            int abandoned = 0;
            for (;;) {
                asio::cancellation_signal signal;
                bool done = false;
                error_code got;
                const delta* d = nullptr;
                s.async_next(asio::bind_cancellation_slot(signal.slot(), [&](error_code ec, const delta* x) {
                    got = ec;
                    d = x;
                    done = true;
                }));
                t.expires_after(std::chrono::milliseconds(20));
                co_await t.async_wait(tuple);
                if (!done) {
                    signal.emit(type);
                    for (int i = 0; i < 100 && !done; ++i) {
                        t.expires_after(std::chrono::milliseconds(5));
                        co_await t.async_wait(tuple);
                    }
                    REQUIRE(done);
                    if (got == asio::error::operation_aborted) {
                        ++abandoned;
                        continue;  // the stream goes on
                    }
                }
                REQUIRE_FALSE(got);
                if (!d) break;
                text += d->content;
            }
            CHECK(abandoned >= 3);
            CHECK(text == expected_text(6));  // nothing lost to the abandoned waits
            CHECK(s.diagnostics().attempts == 1);
        });
    }
    CHECK(c.pool_stats().open == c.pool_stats().idle);
}

TEST_CASE("async_next never completes inline and refuses a second concurrent call", "[integration]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), mock.config());
    auto s = c.chat_stream(mock_request("mock?tokens=3"));
    bool first_done = false, second_done = false;
    error_code second_ec;
    s.async_next([&](error_code, const delta*) { first_done = true; });
    s.async_next([&](error_code ec, const delta*) {
        second_ec = ec;
        second_done = true;
    });
    CHECK_FALSE(first_done);
    CHECK_FALSE(second_done);
    for (int i = 0; i < 100000 && !(first_done && second_done); ++i) io.run_one_for(std::chrono::milliseconds(10));
    CHECK(first_done);
    CHECK(second_ec == errc::operation_in_progress);
}

TEST_CASE("a completion bound to another executor runs there, never on the stream's", "[integration]") {
    mock_fixture mock;
    asio::io_context io, other;
    client c(io.get_executor(), mock.config());
    auto s = c.chat_stream(mock_request("mock?tokens=3"));
    // Type-erased like the stream's own executor (any_io_executor), but another io_context's.
    const asio::any_io_executor elsewhere = other.get_executor();
    int completions_seen_by_io = 0;
    callback_reader r;
    r.check = [&] { CHECK(other.get_executor().running_in_this_thread()); };
    r.read(s, elsewhere);
    for (int i = 0; i < 2000 && !r.ended; ++i) {
        const std::size_t before = r.content.size();
        io.run_for(std::chrono::milliseconds(1));
        if (r.content.size() != before) ++completions_seen_by_io;  // never: only `other` runs them
        other.restart();
        other.poll();
        io.restart();
    }
    CHECK(r.ended);
    CHECK(r.content == expected_text(3));
    CHECK(completions_seen_by_io == 0);
}

TEST_CASE("a reader that drops its stream on the last delta of a response read at once leaves the connection reusable",
          "[integration][pool]") {
    if (testing_http2()) {
        SUCCEED("the canned server speaks HTTP/1.1 only");
        return;
    }
    const std::string body =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\n"
        "data: [DONE]\n\n";
    canned_server server(chunked_event_stream(body));
    asio::io_context io;
    client_config cfg = canned_server_config(server);
    client c(io.get_executor(), cfg);
    run_test(io, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 2; ++i) {
            auto s = c.chat_stream(mock_request("canned"));
            // Waiting before the response arrives: the whole of it is one read.
            auto [ec, d] = co_await s.async_next(tuple);
            REQUIRE_FALSE(ec);
            REQUIRE(d);
            CHECK(d->content == "hi");
            CHECK(d->finish == finish_reason::stop);
        }  // dropped here, at its last delta: the response had ended, nothing is cancelled
    });
    CHECK(server.accepted() == 1);
    CHECK(c.pool_stats().open == 1);
    CHECK(c.pool_stats().idle == 1);
}

TEST_CASE("a response that has ended gives its connection back while its reader is still behind",
          "[integration][pool]") {
    if (testing_http2()) {
        SUCCEED("the canned server speaks HTTP/1.1 only");
        return;
    }
    // Six deltas and the end, under 1 KiB: one socket read takes the whole response, or (head
    // first) its whole body.
    std::string body;
    for (int i = 0; i < 6; ++i)
        body += "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"t" + std::to_string(i) +
                "\"},\"finish_reason\":" + (i == 5 ? "\"stop\"" : "null") + "}]}\n\n";
    body += "data: [DONE]\n\n";
    bool head_first = false;
    SECTION("the whole response in one read") {}
    SECTION("the head first, then the whole body in one read") { head_first = true; }
    canned_server server(chunked_event_stream(body), head_first);
    asio::io_context io;
    client_config cfg = canned_server_config(server);
    cfg.max_buffered_deltas = 2;  // the response brings more than the reader's queue holds
    client c(io.get_executor(), cfg);
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request("canned"));
        auto [ec, first] = co_await s.async_next(tuple);
        REQUIRE_FALSE(ec);
        REQUIRE(first);
        std::string text = first->content;
        // The reader stops with five deltas unread; the response has ended all the same.
        asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(200));
        co_await pause.async_wait(tuple);
        CHECK(c.pool_stats().open == 1);
        CHECK(c.pool_stats().idle == 1);
        const collected rest = co_await collect(s);
        CHECK_FALSE(rest.ec);
        CHECK(text + rest.content == "t0t1t2t3t4t5");
        // And the next request takes that connection.
        auto again = c.chat_stream(mock_request("canned"));
        const collected second = co_await collect(again);
        CHECK_FALSE(second.ec);
        CHECK(second.content == "t0t1t2t3t4t5");
    });
    CHECK(server.accepted() == 1);
}

TEST_CASE("an exception thrown by a reader's completion leaves io_context::run, and the stream goes on",
          "[integration]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), mock.config());
    auto s = c.chat_stream(mock_request("mock?tokens=3&pace_ms=20"));
    // Bound to the stream's own executor: completed inline over HTTP/1.1, posted over HTTP/2.
    const asio::any_io_executor own = io.get_executor();
    bool threw = false;
    s.async_next(asio::bind_executor(own, [](error_code, const delta*) { throw std::runtime_error("from the reader"); }));
    for (int i = 0; i < 500 && !threw; ++i) {
        try {
            io.run_for(std::chrono::milliseconds(10));
        } catch (const std::runtime_error& e) {
            CHECK(std::string(e.what()) == "from the reader");
            threw = true;
        }
        io.restart();
    }
    REQUIRE(threw);
    callback_reader r;
    r.read(s, own);
    for (int i = 0; i < 500 && !r.ended; ++i) {
        io.run_for(std::chrono::milliseconds(10));
        io.restart();
    }
    CHECK(r.ended);
    CHECK_FALSE(r.end_ec);
    CHECK(r.content == expected_text(3));  // the thrower took the role-only first delta; nothing else was lost
}

TEST_CASE("an io_context destroyed while its streams are under way ends them without a word", "[integration]") {
    // Destroying the io_context destroys the coroutines still waiting in it. The guards that end
    // a request whose coroutine Asio destroyed after an allocation failed (see tests/oom) must
    // not run then: nothing is told, no pool or reader is touched, and nothing crashes or leaks.
    struct counts : observer {
        int started = 0;
        int ended = 0;
        void request_started(const request_context&) noexcept override { ++started; }
        void request_ended(const request_context&, const request_result&) noexcept override { ++ended; }
    };
    mock_fixture mock;
    auto seen = std::make_shared<counts>();
    int deltas = 0;
    int after = 0;  // completions of the second async_next: none, the io_context is gone
    {
        asio::io_context io;
        client_config config = mock.config();
        config.observer = seen;
        client c(io.get_executor(), config);
        std::vector<stream> streams;
        for (int i = 0; i < 6; ++i) streams.push_back(c.chat_stream(mock_request("mock?tokens=1000&pace_ms=20")));
        for (auto& s : streams) s.async_next([&](error_code ec, const delta* d) { deltas += !ec && d; });
        for (int i = 0; i < 1500 && deltas < 6; ++i) io.run_for(std::chrono::milliseconds(10));
        REQUIRE(deltas == 6);  // every request is under way
        for (auto& s : streams) s.async_next([&](error_code, const delta*) { ++after; });  // and its reader waits
    }
    CHECK(seen->started == 6);
    CHECK(seen->ended == 0);
    CHECK(after == 0);
}

TEST_CASE("errors carry status, provider code, request id and a hint", "[integration][errors]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), mock.config());
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request("mock?status=429&code=Throttling.RateQuota&retry_after=7"));
        const collected r = co_await collect(s);
        CHECK(r.ec == api_errc::rate_limited);
        CHECK(s.diagnostics().http_status == 429);
        CHECK(s.diagnostics().retry_after == std::chrono::seconds(7));
        CHECK(s.diagnostics().request_id == "mock-request-id");
        const std::string text = s.diagnostics().to_string(r.ec);
        CHECK(text.find("test-key") == std::string::npos);  // the API key never appears

        auto in_stream = c.chat_stream(mock_request("mock?tokens=10&error_after=4&error_status=500&code=server_error"));
        const collected e = co_await collect(in_stream);
        CHECK(e.ec == api_errc::server_error);
        CHECK(e.content == expected_text(4));

        auto reset = c.chat_stream(mock_request("mock?tokens=10&reset_after=5"));
        const collected x = co_await collect(reset);
        CHECK(x.ec == errc::connection_closed);
        CHECK(is_retryable(x.ec));
        CHECK(x.content == expected_text(5));

        auto garbage = c.chat_stream(mock_request("mock?tokens=10&malformed_after=2"));
        const collected g = co_await collect(garbage);
        CHECK(g.ec == errc::malformed_response);
    });
}

TEST_CASE("DashScope native streaming, cumulative output and non-streaming calls", "[integration][dashscope]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), mock.config(api_dialect::dashscope_native));
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request("mock?tokens=6&reasoning=2"));
        const collected r = co_await collect(s);
        CHECK_FALSE(r.ec);
        CHECK(r.content == expected_text(6));
        CHECK(r.reasoning == expected_text(2));
        CHECK(r.finish == finish_reason::stop);

        chat_request cumulative = mock_request("mock?tokens=5&cumulative=1");
        cumulative.extra = R"({"incremental_output":false})";
        auto cs = c.chat_stream(cumulative);
        const collected cr = co_await collect(cs);
        CHECK_FALSE(cr.ec);
        CHECK(cr.content == expected_text(5));

        auto err = c.chat_stream(mock_request("mock?tokens=6&error_after=2&error_status=429&code=Throttling.RateQuota"));
        const collected er = co_await collect(err);
        CHECK(er.ec == api_errc::rate_limited);
        CHECK(err.diagnostics().http_status == 429);

        diagnostics diag;
        auto [ec, completion] = co_await c.async_chat(mock_request("mock?tokens=4"), diag, tuple);
        CHECK_FALSE(ec);
        CHECK(completion.content == expected_text(4));
        CHECK(completion.usage->output_tokens == 4);
    });
}

TEST_CASE("non-streaming OpenAI-compatible call and its error", "[integration]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), mock.config());
    run_test(io, [&]() -> asio::awaitable<void> {
        diagnostics diag;
        auto [ec, completion] = co_await c.async_chat(mock_request("mock?tokens=5&reasoning=1"), diag, tuple);
        CHECK_FALSE(ec);
        CHECK(completion.content == expected_text(5));
        CHECK(completion.reasoning_content == expected_text(1));
        auto [ec2, c2] = co_await c.async_chat(mock_request("mock?status=401"), diag, tuple);
        CHECK(ec2 == api_errc::authentication);
        CHECK(diag.http_status == 401);
    });
}

TEST_CASE("a bad base URL is rejected when the client is made", "[integration]") {
    asio::io_context io;
    CHECK_THROWS_AS(client(io.get_executor(), providers::custom("ftp://x/v1")), std::invalid_argument);
    CHECK_THROWS_AS(client(io.get_executor(), providers::custom("not a url")), std::invalid_argument);
}

TEST_CASE("a complete error response leaves its connection reusable", "[integration][pool]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), mock.config());
    run_test(io, [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 5; ++i) {
            auto s = c.chat_stream(mock_request("mock?status=429&code=Throttling.RateQuota"));
            const collected s_result = co_await collect(s);
            CHECK(s_result.ec == api_errc::rate_limited);
        }
        auto ok = c.chat_stream(mock_request("mock?tokens=2"));
        const collected ok_result = co_await collect(ok);
        CHECK_FALSE(ok_result.ec);
    });
    CHECK(mock.counters().requests == 6);
    CHECK(mock.counters().connections == 1);
}

TEST_CASE("a second async_next is refused while a ready delta's completion has not run yet", "[integration]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), mock.config());
    auto s = c.chat_stream(mock_request("mock?tokens=5&coalesce=5"));
    // Let the whole reply arrive and be buffered before asking for anything.
    for (int i = 0; i < 50; ++i) io.run_for(std::chrono::milliseconds(10));
    std::string first_content;
    bool first_done = false;
    error_code first_ec, second_ec;
    s.async_next([&](error_code ec, const delta* d) {
        first_ec = ec;
        if (d) first_content = d->content;
        first_done = true;
    });
    bool second_done = false;
    s.async_next([&](error_code ec, const delta*) {
        second_ec = ec;
        second_done = true;
    });
    CHECK_FALSE(first_done);  // a ready delta is still delivered later, not inline
    io.restart();  // the first loop ran out of work once the reply was buffered
    for (int i = 0; i < 100 && !(first_done && second_done); ++i) io.run_for(std::chrono::milliseconds(10));
    CHECK(first_done);
    CHECK(second_done);
    CHECK_FALSE(first_ec);
    CHECK(second_ec == errc::operation_in_progress);
    CHECK(first_content.empty());  // the role-only first delta, intact: its slot was not recycled
}

TEST_CASE("a moved-from stream says so instead of crashing", "[integration]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), mock.config());
    auto s = c.chat_stream(mock_request("mock?tokens=2"));
    stream t = std::move(s);
    CHECK(s.diagnostics().attempts == 0);  // NOLINT(bugprone-use-after-move): that is the point
    s.cancel();
    CHECK_THROWS_AS(s.async_next([](error_code, const delta*) {}), std::logic_error);
    run_test(io, [&]() -> asio::awaitable<void> {
        const collected r = co_await collect(t);
        CHECK_FALSE(r.ec);
        CHECK(r.content == expected_text(2));
    });
}

TEST_CASE("a host override sends requests for a named host to a pinned address", "[integration]") {
    mock_fixture mock;
    asio::io_context io;
    // ".invalid" never resolves (RFC 2606): only the override can make this request work.
    client_config cfg = providers::custom("http://api.llmstream-test.invalid:" + std::to_string(mock.port()) + "/v1", "test-key");
    cfg.timeouts.total = std::chrono::seconds(30);
    cfg.host_overrides = {{"API.llmstream-test.INVALID", "127.0.0.1"}};
    client c(io.get_executor(), cfg);
    run_test(io, [&]() -> asio::awaitable<void> {
        auto s = c.chat_stream(mock_request("mock?tokens=4"));
        const collected r = co_await collect(s);
        CHECK_FALSE(r.ec);
        CHECK(r.content == expected_text(4));
    });
    CHECK(mock.counters().requests == 1);

    client_config bad = cfg;
    bad.host_overrides = {{"api.llmstream-test.invalid", "not-an-address"}};
    CHECK_THROWS_AS(client(io.get_executor(), bad), std::invalid_argument);
}

TEST_CASE("async_next_batch hands out every ready delta per completion, exactly the stream's content",
          "[integration]") {
    mock_fixture mock;
    asio::io_context io;
    client c(io.get_executor(), mock.config());
    run_test(io, [&]() -> asio::awaitable<void> {
        // 200 tokens written 50 at a time: whole groups arrive at one read.
        auto s = c.chat_stream(mock_request("mock?tokens=200&coalesce=50&pace_ms=5"));
        std::string text;
        int batches = 0, deltas = 0;
        for (;;) {
            auto [ec, batch] = co_await s.async_next_batch(tuple);
            REQUIRE_FALSE(ec);
            if (batch.empty()) break;
            ++batches;
            for (const delta& d : batch) {
                text += d.content;
                ++deltas;
            }
        }
        CHECK(text == expected_text(200));
        CHECK(batches < deltas);  // several deltas per completion
        CHECK(s.diagnostics().deltas_delivered == static_cast<std::size_t>(deltas));

        // Single and batch reads mix; a second concurrent read is refused.
        auto m = c.chat_stream(mock_request("mock?tokens=30&coalesce=10&pace_ms=5"));
        std::string mixed;
        auto [ec1, d1] = co_await m.async_next(tuple);
        REQUIRE_FALSE(ec1);
        mixed += d1->content;
        for (;;) {
            auto [ec, batch] = co_await m.async_next_batch(tuple);
            REQUIRE_FALSE(ec);
            if (batch.empty()) break;
            for (const delta& d : batch) mixed += d.content;
        }
        CHECK(mixed == expected_text(30));

        // Failures come the same way, and the default token throws the whole story.
        auto bad = c.chat_stream(mock_request("mock?status=403&code=Model.AccessDenied"));
        bool threw = false;
        try {
            (void)co_await bad.async_next_batch();
        } catch (const error_with_diagnostics& e) {
            threw = true;
            CHECK(e.code() == api_errc::permission_denied);
            CHECK(e.diagnostics().provider_code == "Model.AccessDenied");
        }
        CHECK(threw);
    });
}
