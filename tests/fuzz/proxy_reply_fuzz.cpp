// Fuzzes the proxy's reply to CONNECT without a socket: raw bytes into http::connect_reply (status
// lines, field lines, interim replies, head floods, bytes after the head), and the same bytes as a
// proxy URL and a NO_PROXY list, which come from the environment and so are just as untrusted.
// Invariants: no crash; the outcome (state, status, reason, bytes taken) does not depend on how the
// bytes were split; a complete head ends at an empty line within the limit; the reason is bounded
// and printable; a parsed proxy gives a CONNECT request with no line of its own making.
#include "http/proxy.hpp"

#include <llmstream/error.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

using namespace llmstream;

namespace {

struct outcome {
    http::connect_reply::state st = http::connect_reply::state::need_more;
    int status = 0;
    std::string reason;
    std::size_t consumed = 0;
    bool operator==(const outcome&) const = default;
};

// Feeds `input` in pieces of the given sizes, cycling (empty: all at once).
outcome feed(std::string_view input, const std::vector<std::size_t>& pieces, http::connect_reply::limits limits) {
    http::connect_reply reply(limits);
    outcome o;
    std::size_t at = 0, k = 0;
    do {
        const std::size_t n = pieces.empty() ? input.size() : pieces[k++ % pieces.size()];
        const std::string_view piece = input.substr(at, n);
        at += piece.size();
        const auto r = reply.feed(piece);
        if (r.consumed > piece.size()) std::abort();
        if (r.st == http::connect_reply::state::need_more && r.consumed != piece.size()) std::abort();
        o.consumed += r.consumed;
        o.st = r.st;
        if (r.st != http::connect_reply::state::need_more) break;
    } while (at < input.size());
    if (reply.current() != o.st) std::abort();
    if (o.st == http::connect_reply::state::invalid) o.consumed = 0;
    o.status = reply.status();
    o.reason = reply.reason();
    return o;
}

// Splits like a socket might: sizes from the fuzzer's own bytes.
std::vector<std::size_t> pieces_from(std::uint8_t seed) {
    std::vector<std::size_t> p;
    for (int i = 0; i < 8; ++i) p.push_back(1 + ((seed * (i + 7)) % 97));
    return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t control = bytes[0];
    const std::string_view input(reinterpret_cast<const char*>(bytes + 1), size - 1);
    http::connect_reply::limits limits;
    limits.head = 64 + (control >> 1) * 64;

    const outcome whole = feed(input, {}, limits);
    const outcome split = feed(input, pieces_from(control), limits);
    const outcome bytewise = feed(input, {1}, limits);
    if (!(whole == split) || !(whole == bytewise)) std::abort();

    using st = http::connect_reply::state;
    if (whole.st == st::need_more && (whole.consumed != input.size() || input.size() >= limits.head)) std::abort();
    if (whole.st != st::complete && (whole.status != 0 || !whole.reason.empty())) std::abort();
    if (whole.st == st::complete) {
        if (whole.consumed > input.size() || whole.consumed > limits.head) std::abort();
        const std::string_view head = input.substr(0, whole.consumed);
        if (!head.ends_with("\n\n") && !head.ends_with("\n\r\n")) std::abort();
        if (!head.starts_with("HTTP/1.")) std::abort();
        if (whole.status < 200 || whole.status > 999) std::abort();
        if (whole.reason.size() > 200) std::abort();
        for (char c : whole.reason)
            if (c < 0x20 || c > 0x7e) std::abort();
        const auto ec = http::connect_reply_error(whole.status);
        if (ec && ec != errc::proxy_auth_required && ec != errc::proxy_tunnel_refused) std::abort();
    }

    // The same bytes as configuration from the environment.
    if (control & 1) {
        (void)http::no_proxy_matches(input, "api.example.com", "443");
        (void)http::no_proxy_matches(input, "10.1.2.3", "443");
        (void)http::no_proxy_matches(input, "fe80::1", "8080");
        http::proxy_endpoint proxy;
        if (auto ec = http::parse_proxy_url(input, proxy)) {
            if (ec != errc::invalid_proxy || !proxy.host.empty()) std::abort();
        } else {
            if (proxy.host.empty() || proxy.port.empty() || proxy.port.size() > 5) std::abort();
            // display() is host and port only, so it cannot show the credentials.
            const std::string host = proxy.host.find(':') != std::string::npos ? "[" + proxy.host + "]" : proxy.host;
            if (proxy.display() != host + ":" + proxy.port) std::abort();
            const std::string request = http::connect_request(proxy.host, proxy.port, proxy);
            if (request.find("\r\n\r\n") != request.size() - 4) std::abort();
            std::size_t lines = 0;
            for (char c : request) lines += c == '\n';
            if (lines != (proxy.username.empty() ? 3u : 4u)) std::abort();
        }
    }
    return 0;
}
