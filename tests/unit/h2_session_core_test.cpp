// The HTTP/2 session core (no sockets) when our own code throws inside nghttp2's callbacks: an
// allocation that failed while a stream's handler decoded a piece, or posted its reader's
// completion. The exception must not unwind through nghttp2's C frames; it ends that stream
// alone, with no_memory, reset, and the connection's other streams go on.
#include "http/h2/session_core.hpp"
#include "support/nghttp2_server.hpp"

#include <llmstream/error.hpp>

#include <nghttp2/nghttp2.h>

#include <boost/asio/error.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

using namespace llmstream;
using namespace llmstream::http;
using boost::system::error_code;

namespace {

enum class throw_in { nothing, header, head_end, data };
using field = std::pair<std::string, std::string>;

class recording_handler final : public h2::stream_handler {
public:
    explicit recording_handler(throw_in where) : where_(where) {}
    void on_header(std::string_view, std::string_view) override {
        if (where_ == throw_in::header) throw std::bad_alloc();
    }
    error_code on_head_end(int s) override {
        if (where_ == throw_in::head_end) throw std::bad_alloc();
        status = s;
        return {};
    }
    error_code on_data(std::string_view bytes) override {
        if (where_ == throw_in::data) throw std::bad_alloc();
        body.append(bytes);
        return {};
    }
    bool has_room() const noexcept override { return true; }
    void on_end(const h2::stream_end& e) override {
        REQUIRE_FALSE(end.has_value());  // a stream ends once
        end = e;
    }

    int status = 0;
    std::string body;
    std::optional<h2::stream_end> end;

private:
    throw_in where_;
};

// The server: nghttp2's own session, answering every request it has read with 200 and `reply`,
// and remembering the streams the client reset.
struct server {
    testing::nghttp2_server_session session{this, &on_frame_recv};
    nghttp2_session* ng = session.get();
    std::string reply;
    std::map<std::int32_t, std::size_t> sent;  // bytes of `reply` each response's data provider gave
    std::vector<std::int32_t> reset_by_client;
    std::vector<field> extra_fields;  // sent after the content type in every response head

    explicit server(std::string r, std::vector<field> extra = {})
        : reply(std::move(r)), extra_fields(std::move(extra)) {}

    static int on_frame_recv(nghttp2_session* ng, const nghttp2_frame* frame, void* user) {
        auto& s = *static_cast<server*>(user);
        if (frame->hd.type == NGHTTP2_RST_STREAM) s.reset_by_client.push_back(frame->hd.stream_id);
        if (frame->hd.type == NGHTTP2_HEADERS && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
            static const char status[] = ":status";
            static const char ok[] = "200";
            static const char type[] = "content-type";
            static const char sse[] = "text/event-stream";
            std::vector<nghttp2_nv> nv = {{(uint8_t*)status, (uint8_t*)ok, 7, 3, NGHTTP2_NV_FLAG_NONE},
                                          {(uint8_t*)type, (uint8_t*)sse, 12, 17, NGHTTP2_NV_FLAG_NONE}};
            for (auto& [name, value] : s.extra_fields)
                nv.push_back({(uint8_t*)name.data(), (uint8_t*)value.data(), name.size(), value.size(),
                              NGHTTP2_NV_FLAG_NONE});
            nghttp2_data_provider body{};
            body.read_callback = &read;
            nghttp2_submit_response(ng, frame->hd.stream_id, nv.data(), nv.size(), &body);
        }
        return 0;
    }
    static ssize_t read(nghttp2_session*, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                        nghttp2_data_source*, void* user) {
        auto& s = *static_cast<server*>(user);
        std::size_t& at = s.sent[id];
        const std::size_t n = std::min(length, s.reply.size() - at);
        std::memcpy(buf, s.reply.data() + at, n);
        at += n;
        if (at == s.reply.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
    }
    std::string output() { return session.output(); }
};

outgoing_request request() {
    outgoing_request r;
    r.target = "/v1/chat/completions";
    r.authority = "test";
    r.headers = {{"Content-Type", "application/json"}};
    return r;  // no body: the HEADERS frame ends the request
}

// Plays the connection until nothing more moves; returns the first error receive() gave.
error_code exchange_all(h2::session_core& client, server& srv) {
    for (int round = 0; round < 20; ++round) {
        std::string out;
        REQUIRE_FALSE(client.take_output(out, 1 << 20));
        if (!out.empty())
            REQUIRE(nghttp2_session_mem_recv(srv.ng, reinterpret_cast<const uint8_t*>(out.data()), out.size()) ==
                    static_cast<ssize_t>(out.size()));
        const std::string in = srv.output();
        if (out.empty() && in.empty()) return {};
        if (auto ec = client.receive(reinterpret_cast<const std::uint8_t*>(in.data()), in.size(),
                                     std::chrono::steady_clock::now()))
            return ec;
    }
    FAIL("the connection did not settle in 20 rounds");
    return {};
}

}  // namespace

TEST_CASE("h2: a stream whose handler throws ends alone with no_memory, reset, and the others finish",
          "[h2]") {
    const auto where = GENERATE(throw_in::header, throw_in::head_end, throw_in::data);
    CAPTURE(static_cast<int>(where));
    h2::session_core client(http2_options{}, true);
    server srv("data: {\"x\":1}\n\n");
    recording_handler before(throw_in::nothing), thrower(where), after(throw_in::nothing);
    client.start();
    error_code ec;
    const auto id_before = client.open_stream(before, request(), ec);
    REQUIRE(id_before > 0);
    const auto id_thrower = client.open_stream(thrower, request(), ec);
    REQUIRE(id_thrower > 0);
    const auto id_after = client.open_stream(after, request(), ec);
    REQUIRE(id_after > 0);

    REQUIRE_FALSE(exchange_all(client, srv));  // nothing escapes receive(), the connection stands

    REQUIRE(thrower.end.has_value());
    CHECK(thrower.end->ec == boost::asio::error::no_memory);
    CHECK_FALSE(thrower.end->unprocessed);
    CHECK(srv.reset_by_client == std::vector<std::int32_t>{id_thrower});  // RST_STREAM went out for it alone
    for (auto* h : {&before, &after}) {
        REQUIRE(h->end.has_value());
        CHECK_FALSE(h->end->ec);
        CHECK(h->status == 200);
        CHECK(h->body == srv.reply);
    }
    CHECK_FALSE(client.closed());
    CHECK(client.usable());
    CHECK(client.active_streams() == 0);

    // The connection takes the next stream as if nothing had happened.
    recording_handler next(throw_in::nothing);
    REQUIRE(client.open_stream(next, request(), ec) > 0);
    REQUIRE_FALSE(exchange_all(client, srv));
    REQUIRE(next.end.has_value());
    CHECK_FALSE(next.end->ec);
    CHECK(next.body == srv.reply);
}

TEST_CASE("h2: a connection whose change listener throws goes on and its streams finish", "[h2]") {
    // on_change posts the pool's dispatch, which may run out of memory: dropped, the next change
    // tries again (nothing unwinds through nghttp2).
    h2::session_core client(http2_options{}, true);
    int changes = 0;
    client.on_change = [&] {
        ++changes;
        throw std::bad_alloc();
    };
    server srv("data: {\"x\":1}\n\n");
    recording_handler first(throw_in::nothing), second(throw_in::nothing);
    client.start();
    error_code ec;
    REQUIRE(client.open_stream(first, request(), ec) > 0);
    REQUIRE(client.open_stream(second, request(), ec) > 0);

    REQUIRE_FALSE(exchange_all(client, srv));

    CHECK(changes >= 3);  // the server's SETTINGS and each stream's end
    for (auto* h : {&first, &second}) {
        REQUIRE(h->end.has_value());
        CHECK_FALSE(h->end->ec);
        CHECK(h->body == srv.reply);
    }
    CHECK(client.usable());
}

TEST_CASE("h2: a PING acknowledgement whose listener throws fails the connection with no_memory", "[h2]") {
    h2::session_core client(http2_options{}, true);
    client.on_ping_ack = [] { throw std::bad_alloc(); };
    server srv("data: {\"x\":1}\n\n");
    client.start();
    REQUIRE(client.submit_ping());

    CHECK(exchange_all(client, srv) == boost::asio::error::no_memory);  // not an exception out of receive()
    CHECK(client.pings_acked() == 1);
}

TEST_CASE("h2: a stream reset by its handler keeps that first error when its head then grows too large",
          "[h2]") {
    // The handler throws at the first field (out of memory); the fields after it pass the header
    // list limit. The stream ends with no_memory, not response_headers_too_large.
    http2_options options;
    options.max_header_list = 512;
    h2::session_core client(options, true);
    server srv("data: {\"x\":1}\n\n", {{"x-first", "1"},
                                          {"x-large-1", std::string(300, 'a')},
                                          {"x-large-2", std::string(300, 'b')}});
    recording_handler thrower(throw_in::header), other(throw_in::nothing);
    client.start();
    error_code ec;
    const auto id = client.open_stream(thrower, request(), ec);
    REQUIRE(id > 0);

    REQUIRE_FALSE(exchange_all(client, srv));

    REQUIRE(thrower.end.has_value());
    CHECK(thrower.end->ec == boost::asio::error::no_memory);
    CHECK(srv.reset_by_client == std::vector<std::int32_t>{id});
    CHECK(client.usable());

    // A stream whose handler does not throw meets the limit itself.
    REQUIRE(client.open_stream(other, request(), ec) > 0);
    REQUIRE_FALSE(exchange_all(client, srv));
    REQUIRE(other.end.has_value());
    CHECK(other.end->ec == errc::response_headers_too_large);
}
