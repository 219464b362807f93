// HTTP proxies without I/O: parsing a proxy URL, choosing a proxy for an origin from the
// configuration and the environment (curl's rules), NO_PROXY matching, the CONNECT request and a
// parser for the proxy's reply. The transport connects to the chosen endpoint, writes
// connect_request() and feeds what it reads to connect_reply until it says complete or invalid.
#pragma once

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace llmstream::http {

/// A proxy to connect through.
struct proxy_endpoint {
    std::string host;      ///< without brackets for IPv6 literals
    std::string port;      ///< always set (default "80")
    std::string username;  ///< percent-decoded; empty: no Proxy-Authorization
    std::string password;  ///< percent-decoded
    std::string source;    ///< where it came from: "client_config::proxy" or a variable's name, e.g. "HTTPS_PROXY"

    /// "host:port" ("[::1]:3128" for IPv6): for messages and logs, never the credentials.
    std::string display() const;
};

/// Parses `http://[user[:password]@]host[:port][/]`, or a bare `[user[:password]@]host[:port]`
/// (taken as http://, as curl does); the port defaults to 80. `out.source` is left empty.
/// errc::invalid_proxy for anything else: another scheme (https://, socks5://), an empty host, a
/// bad port, a path other than "/", a query or fragment, a password without a user name, or a
/// user name holding ':' (Basic authentication cannot carry it).
boost::system::error_code parse_proxy_url(std::string_view url, proxy_endpoint& out);

/// How the client finds its proxy. The default reads the environment like curl.
struct proxy_settings {
    /// Explicit proxy URL for every origin (see parse_proxy_url); empty: none configured here.
    std::string url;
    /// Read https_proxy/HTTPS_PROXY, http_proxy, all_proxy/ALL_PROXY and no_proxy/NO_PROXY.
    bool from_environment = true;
    /// Hosts to reach directly, in NO_PROXY syntax (see no_proxy_matches); added to the
    /// environment's list.
    std::string no_proxy;
};

/// Looks up an environment variable: nullptr when unset. Tests pass a fake.
using env_lookup = std::function<const char*(const char* name)>;

/// The process environment (std::getenv).
const char* process_environment(const char* name);

/// Chooses the proxy for an origin; `out` is empty for a direct connection. Precedence:
///  1. `settings.url` when not empty, for every origin; the environment's proxy variables are
///     then not read.
///  2. Otherwise, when `from_environment`: for https origins `https_proxy`, then `HTTPS_PROXY`;
///     for http origins `http_proxy`, then `HTTP_PROXY` (except under CGI, when REQUEST_METHOD is
///     set: there a request's "Proxy:" header sets it, "httpoxy"); then `all_proxy`, then
///     `ALL_PROXY`. The lower-case name wins when both are set. An empty value counts as unset.
///  3. Otherwise no proxy.
/// A chosen proxy is bypassed when the origin matches `settings.no_proxy` or, when
/// `from_environment`, `no_proxy` (else `NO_PROXY`). A bypassed proxy's URL is not parsed, so a
/// bad one only fails the origins that would use it. errc::invalid_proxy when the chosen URL
/// cannot be used. `reason` gets one sentence for diagnostics, such as "HTTPS_PROXY is set" or
/// "NO_PROXY matches api.openai.com"; it never holds the URL or credentials.
boost::system::error_code choose_proxy(bool origin_tls, std::string_view origin_host, std::string_view origin_port,
                                       const proxy_settings& settings, const env_lookup& env,
                                       std::optional<proxy_endpoint>& out, std::string& reason);

/// Does `host` (on `port`) match the NO_PROXY-style `list`? Entries are separated by commas
/// and/or whitespace; matching is case-insensitive and ignores a trailing dot:
///  - `*` matches every host;
///  - `example.com`, `.example.com` (and `*.example.com`) match example.com and its subdomains,
///    not badexample.com;
///  - IP literals (`10.1.2.3`, `::1`, `[::1]`) match the same address; CIDR ranges
///    (`10.0.0.0/8`, `fe80::/10`) match IP-literal hosts inside them (never names);
///  - a `:port` suffix (`example.com:8080`, `[::1]:8080`) restricts an entry to that port.
/// Entries that are none of these are ignored.
bool no_proxy_matches(std::string_view list, std::string_view host, std::string_view port);

/// RFC 4648 base64 with padding.
std::string base64_encode(std::string_view bytes);

/// The Proxy-Authorization value ("Basic base64(user:password)"), or "" without a user name.
/// For requests sent to the proxy in absolute form (http:// origins) and for CONNECT.
std::string proxy_authorization(const proxy_endpoint& proxy);

/// The CONNECT request for a tunnel to host:port (an IPv6 host gets brackets):
/// "CONNECT host:port HTTP/1.1\r\nHost: host:port\r\n[Proxy-Authorization: ...\r\n]\r\n".
/// Bytes of `host` that may not appear in a request line (controls, space) are percent-encoded.
std::string connect_request(std::string_view host, std::string_view port, const proxy_endpoint& proxy);

/// Sans-IO parser of the proxy's reply to CONNECT: the status line and header fields, up to the
/// empty line. Interim 1xx replies are skipped. Lenient like response_reader: a bare LF ends a
/// line. The bytes after the head are not its; they belong to the tunnel (a proxy should send
/// none before the client speaks TLS).
class connect_reply {
public:
    struct limits {
        std::size_t head = 16 * 1024;  ///< status line + fields (+ any interim replies)
    };

    enum class state { need_more, complete, invalid };

    struct result {
        state st = state::need_more;
        /// Bytes of this feed()'s input taken: all of them while need_more; up to and including
        /// the end of the head when complete (the rest are not part of the reply's head); 0 when
        /// invalid (the connection is then of no use).
        std::size_t consumed = 0;
    };

    connect_reply() = default;
    explicit connect_reply(limits l) : limits_(l) {}

    /// Parses more bytes. Once complete or invalid, further calls return the same state and take
    /// nothing. Invalid: a malformed status line (not HTTP/1.0 or HTTP/1.1, no 3-digit status,
    /// 101), a malformed field line, or a head longer than limits::head.
    result feed(std::string_view bytes);

    state current() const noexcept { return state_; }
    /// The status code once complete, else 0.
    int status() const noexcept { return state_ == state::complete ? status_ : 0; }
    /// The reason phrase once complete: at most 200 bytes, bytes other than printable ASCII
    /// replaced by '?'.
    const std::string& reason() const noexcept;
    /// A field's value once complete ("" when absent; the first if repeated), e.g.
    /// Proxy-Authenticate to tell which scheme a 407 asks for.
    std::string_view header(std::string_view name) const noexcept;

private:
    bool parse_head(std::string_view raw);

    limits limits_;
    state state_ = state::need_more;
    std::string buffer_;      // bytes of the current head so far
    std::size_t taken_ = 0;   // bytes of interim heads already skipped, for the limit
    int status_ = 0;
    std::string reason_;
};

/// The outcome of a CONNECT: success for 2xx, errc::proxy_auth_required for 407 (and 401, which
/// some proxies send instead), errc::proxy_tunnel_refused for anything else.
boost::system::error_code connect_reply_error(int status);

}  // namespace llmstream::http
