// Fuzzes the HTTP/2 session core (the client's protocol side, no sockets) with what a server sends:
// the input is a script of server actions (heads with any status and fields, data of any size,
// RST_STREAM with any code, GOAWAY, PING, SETTINGS), played by nghttp2's server session so that
// they reach the client as well-formed frames, mixed with raw bytes that corrupt the wire, and
// client actions (open, cancel, resume). Bytes go both ways in pieces whose sizes the input picks.
// A handler may throw (as an allocation that failed would): nothing may escape receive().
// Invariants: no crash (ASan/UBSan); a stream ends at most once and never after it was cancelled;
// a stream that ends without error had its final head; errors are the library's own, the API's
// or the network's; after fail() every open stream has ended.
#include "http/h2/session_core.hpp"
#include "support/nghttp2_server.hpp"

#include <llmstream/error.hpp>

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

using namespace llmstream;
using namespace llmstream::http;
using boost::system::error_code;

namespace {

struct input_reader {
    const std::uint8_t* p;
    std::size_t left;
    bool empty() const { return left == 0; }
    std::uint8_t byte() {
        if (left == 0) return 0;
        --left;
        return *p++;
    }
    std::string bytes(std::size_t n) {
        n = std::min(n, left);
        std::string s(reinterpret_cast<const char*>(p), n);
        p += n;
        left -= n;
        return s;
    }
};

class handler final : public h2::stream_handler {
public:
    void on_header(std::string_view, std::string_view) override {
        if (ended || cancelled) std::abort();
        if (throws) throw std::bad_alloc();  // as an allocation that failed in here would
    }
    error_code on_head_end(int status) override {
        if (ended || cancelled) std::abort();
        if (status < 200 || status > 999) std::abort();  // interim heads never reach us
        head = true;
        return fail_head ? error_code(errc::malformed_response) : error_code{};
    }
    error_code on_data(std::string_view bytes) override {
        if (ended || cancelled) std::abort();
        if (throws) throw std::bad_alloc();
        body += bytes.size();
        return {};
    }
    bool has_room() const noexcept override { return room; }
    void on_end(const h2::stream_end& end) override {
        if (ended || cancelled) std::abort();
        if (!end.ec && !head) std::abort();
        const auto& c = end.ec.category();
        if (end.ec && c != library_category() && c != api_category() && c != boost::system::system_category() &&
            c != boost::system::generic_category())
            std::abort();
        ended = true;
    }

    bool head = false;
    bool ended = false;
    bool cancelled = false;
    bool room = true;
    bool fail_head = false;
    bool throws = false;
    std::size_t body = 0;
};

// The server: nghttp2's own session, so that scripted actions become valid frames.
struct server {
    testing::nghttp2_server_session session{this, nullptr, {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100}}};
    nghttp2_session* ng = session.get();
    std::map<std::int32_t, std::string> bodies;  // what each response's data provider has left

    static ssize_t read(nghttp2_session*, int32_t id, uint8_t* buf, size_t length, uint32_t* flags,
                        nghttp2_data_source*, void* user) {
        auto& body = static_cast<server*>(user)->bodies[id];
        const std::size_t n = std::min(length, body.size());
        std::memcpy(buf, body.data(), n);
        body.erase(0, n);
        if (body.empty()) *flags |= NGHTTP2_DATA_FLAG_EOF;
        return static_cast<ssize_t>(n);
    }

    std::string output() { return session.output(); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    input_reader in{bytes, size};
    http2_options options;
    options.max_header_list = 256 + in.byte() * 64;
    options.max_control_frames_per_second = 8 + in.byte();
    h2::session_core client(options, true);
    server srv;
    std::vector<std::unique_ptr<handler>> handlers;
    std::vector<std::int32_t> ids;
    const auto now = std::chrono::steady_clock::now();
    bool over = false;

    auto client_to_server = [&] {
        std::string out;
        if (client.take_output(out, 1 << 20)) return;
        nghttp2_session_mem_recv(srv.ng, reinterpret_cast<const uint8_t*>(out.data()), out.size());
    };
    auto deliver = [&](const std::string& wire, std::uint8_t split) {
        std::size_t at = 0;
        const std::size_t piece = 1 + split % 64;
        while (at < wire.size() && !over) {
            const std::size_t n = std::min(piece, wire.size() - at);
            if (auto ec = client.receive(reinterpret_cast<const std::uint8_t*>(wire.data() + at), n, now)) {
                client.fail(ec);
                over = true;
            }
            at += n;
        }
    };
    auto open = [&] {
        auto h = std::make_unique<handler>();
        outgoing_request r;
        r.target = "/v1/chat/completions";
        r.authority = "fuzz";
        r.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer k"}};
        r.body = "{}";
        error_code ec;
        const auto id = client.open_stream(*h, r, ec);
        if (id == 0) return;
        ids.push_back(id);
        handlers.push_back(std::move(h));
    };

    client.start();
    for (int i = 0; i < 3; ++i) open();
    client_to_server();

    while (!in.empty() && !over) {
        const std::uint8_t op = in.byte();
        const std::uint8_t arg = in.byte();
        const std::int32_t target = ids.empty() ? 1 : ids[arg % ids.size()];
        switch (op % 9) {
        case 0: {  // a head, maybe data, maybe the end
            const int status = 100 + (in.byte() * 4 + in.byte()) % 500;
            const std::string status_text = std::to_string(status);
            const std::string value = in.bytes(in.byte() % 40);
            nghttp2_nv nv[] = {
                {(uint8_t*)":status", (uint8_t*)status_text.data(), 7, status_text.size(), NGHTTP2_NV_FLAG_NONE},
                {(uint8_t*)"x-fuzz", (uint8_t*)value.data(), 6, value.size(), NGHTTP2_NV_FLAG_NONE},
            };
            if (arg & 1) {
                srv.bodies[target] = in.bytes(in.byte() * 8);
                nghttp2_data_provider body{};
                body.read_callback = &server::read;
                nghttp2_submit_response(srv.ng, target, nv, 2, &body);
            } else {
                nghttp2_submit_headers(srv.ng, (arg & 2) ? NGHTTP2_FLAG_END_STREAM : NGHTTP2_FLAG_NONE, target, nullptr,
                                       nv, 2, nullptr);
            }
            break;
        }
        case 1:
            nghttp2_submit_rst_stream(srv.ng, NGHTTP2_FLAG_NONE, target, in.byte() % 14);
            break;
        case 2:
            nghttp2_submit_goaway(srv.ng, NGHTTP2_FLAG_NONE, target - (arg & 2), in.byte() % 14, nullptr, 0);
            break;
        case 3:
            for (int i = 0; i <= arg % 32; ++i) nghttp2_submit_ping(srv.ng, NGHTTP2_FLAG_NONE, nullptr);
            break;
        case 4: {
            const nghttp2_settings_entry s[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, arg},
                                                {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, in.byte() * 256u}};
            nghttp2_submit_settings(srv.ng, NGHTTP2_FLAG_NONE, s, 2);
            break;
        }
        case 5:  // raw bytes straight onto the wire
            deliver(in.bytes(arg % 64), in.byte());
            break;
        case 6:  // the client gives up on a stream
            if (!handlers.empty()) {
                const std::size_t i = arg % handlers.size();
                if (!handlers[i]->ended && !handlers[i]->cancelled) {
                    client.cancel_stream(ids[i]);
                    handlers[i]->cancelled = true;
                }
            }
            break;
        case 7:  // a reader falls behind, or catches up
            if (!handlers.empty()) {
                const std::size_t i = arg % handlers.size();
                handlers[i]->room = !handlers[i]->room;
                handlers[i]->fail_head = arg & 0x80;
                handlers[i]->throws = (arg & 0x60) == 0x60;
                if (handlers[i]->room) client.resume_stream(ids[i]);
            }
            break;
        case 8:
            if (handlers.size() < 16) open();
            break;
        }
        deliver(srv.output(), arg);
        if (!over) client_to_server();
    }
    if (!over) client.fail(errc::connection_closed);
    for (const auto& h : handlers)
        if (!h->ended && !h->cancelled) std::abort();  // fail() ends every open stream
    return 0;
}
