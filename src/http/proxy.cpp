#include "http/proxy.hpp"

#include <llmstream/error.hpp>

#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace llmstream::http {

namespace {

using boost::system::error_code;

constexpr std::size_t max_reason = 200;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view s) {
    std::string r(s);
    for (char& c : r) c = lower(c);
    return r;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A decimal port 1..65535, or nothing.
std::optional<unsigned> parse_port(std::string_view s) {
    if (s.empty() || s.size() > 5) return std::nullopt;
    unsigned v = 0;
    for (char c : s) {
        if (!is_digit(c)) return std::nullopt;
        v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v == 0 || v > 65535) return std::nullopt;
    return v;
}

bool is_tchar(unsigned char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// VCHAR, obs-text, SP and HTAB: what a field value or reason phrase may hold.
bool is_text(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// An IP literal, v4 in the first 4 bytes.
struct ip_address {
    bool v6 = false;
    std::array<unsigned char, 16> bytes{};
};

std::optional<ip_address> parse_ip(std::string_view s) {
    if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    ip_address ip;
    if (auto v4 = boost::urls::parse_ipv4_address(s)) {
        const auto b = v4->to_bytes();
        std::copy(b.begin(), b.end(), ip.bytes.begin());
        return ip;
    }
    if (auto v6 = boost::urls::parse_ipv6_address(s)) {
        ip.v6 = true;
        const auto b = v6->to_bytes();
        std::copy(b.begin(), b.end(), ip.bytes.begin());
        return ip;
    }
    return std::nullopt;
}

bool in_range(const ip_address& host, const ip_address& net, unsigned prefix) {
    if (host.v6 != net.v6) return false;
    for (std::size_t i = 0; prefix > 0; ++i, prefix = prefix >= 8 ? prefix - 8 : 0) {
        const unsigned bits = prefix >= 8 ? 8 : prefix;
        const auto mask = static_cast<unsigned char>(0xff00u >> bits);
        if ((host.bytes[i] & mask) != (net.bytes[i] & mask)) return false;
    }
    return true;
}

// One NO_PROXY entry against a normalised host (lower case, no brackets, no trailing dot).
bool entry_matches(std::string_view e, const std::string& host, const std::optional<ip_address>& host_ip,
                   std::optional<unsigned> host_port) {
    std::string_view addr = e;
    std::optional<std::string_view> port;
    std::optional<std::string_view> prefix;
    if (e.front() == '[') {
        const auto close = e.find(']');
        if (close == std::string_view::npos) return false;
        addr = e.substr(1, close - 1);
        const std::string_view rest = e.substr(close + 1);
        if (rest.starts_with(':')) port = rest.substr(1);
        else if (rest.starts_with('/')) prefix = rest.substr(1);
        else if (!rest.empty()) return false;
    } else if (const auto colon = e.find(':'); colon != std::string_view::npos && e.find(':', colon + 1) == std::string_view::npos) {
        addr = e.substr(0, colon);  // one colon: host:port (two or more: a bare IPv6 literal)
        port = e.substr(colon + 1);
    }
    if (const auto slash = addr.find('/'); slash != std::string_view::npos) {
        if (prefix) return false;
        prefix = addr.substr(slash + 1);
        addr = addr.substr(0, slash);
    }
    if (addr.empty()) return false;
    if (port) {
        const auto p = parse_port(*port);
        if (!p || p != host_port) return false;
    }
    if (prefix) {
        const auto net = parse_ip(addr);
        if (!net || !host_ip || prefix->empty() || prefix->size() > 3) return false;
        unsigned bits = 0;
        for (char c : *prefix) {
            if (!is_digit(c)) return false;
            bits = bits * 10 + static_cast<unsigned>(c - '0');
        }
        if (bits > (net->v6 ? 128u : 32u)) return false;
        return in_range(*host_ip, *net, bits);
    }
    if (addr == "*") return true;
    if (const auto ip = parse_ip(addr)) return host_ip && in_range(*host_ip, *ip, ip->v6 ? 128 : 32);
    if (host_ip) return false;  // names never match addresses
    std::string domain = lowered(addr);
    if (domain.starts_with("*.")) domain.erase(0, 2);
    else if (domain.starts_with('.')) domain.erase(0, 1);
    if (!domain.empty() && domain.back() == '.') domain.pop_back();
    if (domain.empty() || domain.find_first_of("*[]/") != std::string::npos) return false;
    if (host == domain) return true;
    return host.size() > domain.size() && host.ends_with(domain) && host[host.size() - domain.size() - 1] == '.';
}

bool valid_field_line(std::string_view l) {
    const auto colon = l.find(':');
    if (colon == 0 || colon == std::string_view::npos) return false;
    for (char c : l.substr(0, colon))
        if (!is_tchar(static_cast<unsigned char>(c))) return false;
    for (char c : l.substr(colon + 1))
        if (!is_text(static_cast<unsigned char>(c))) return false;
    return true;
}

// The next line of `s` without its CR LF (or bare LF); `s` moves past it.
std::string_view next_line(std::string_view& s) {
    const auto lf = s.find('\n');
    std::string_view l = s.substr(0, lf);
    s.remove_prefix(lf == std::string_view::npos ? s.size() : lf + 1);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    return l;
}

// Bytes that may not stand in a request line or field value, written as %XX.
std::string request_safe(std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string r;
    for (char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) {
            r += '%';
            r += hex[u >> 4];
            r += hex[u & 15];
        } else {
            r += c;
        }
    }
    return r;
}

}  // namespace

std::string proxy_endpoint::display() const {
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + port;
    return host + ":" + port;
}

error_code parse_proxy_url(std::string_view url, proxy_endpoint& out) {
    out = {};
    const error_code invalid = errc::invalid_proxy;
    // curl takes a proxy without a scheme as http://.
    const std::string text = url.find("://") == std::string_view::npos ? "http://" + std::string(url) : std::string(url);
    auto parsed = boost::urls::parse_absolute_uri(text);
    if (!parsed) return invalid;
    const auto& u = *parsed;
    if (u.scheme_id() != boost::urls::scheme::http) return invalid;  // https://, socks5://, ...
    if (!u.has_authority() || u.has_query() || u.has_fragment()) return invalid;
    if (const auto path = u.encoded_path(); !path.empty() && path != "/") return invalid;

    proxy_endpoint ep;
    switch (u.host_type()) {
    case boost::urls::host_type::ipv4: ep.host = u.host_address(); break;
    case boost::urls::host_type::ipv6: ep.host = std::string(u.encoded_host_address()); break;
    case boost::urls::host_type::name:
        ep.host = u.host_address();
        for (char c : ep.host)
            if (!(is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'z') || c == '-' || c == '.' || c == '_')) return invalid;
        break;
    default: return invalid;
    }
    if (ep.host.empty()) return invalid;

    if (u.has_port()) {
        const auto port = parse_port(u.port());
        if (!port) return invalid;
        ep.port = std::to_string(*port);
    } else {
        ep.port = "80";
    }

    if (u.has_userinfo()) {
        ep.username = u.user();
        if (u.has_password()) ep.password = u.password();
        if (ep.username.empty() && !ep.password.empty()) return invalid;  // would be dropped silently
        if (ep.username.find(':') != std::string::npos) return invalid;   // RFC 7617: user-id has no ':'
    }
    out = std::move(ep);
    return {};
}

const char* process_environment(const char* name) { return std::getenv(name); }

error_code choose_proxy(bool origin_tls, std::string_view origin_host, std::string_view origin_port,
                        const proxy_settings& settings, const env_lookup& env, std::optional<proxy_endpoint>& out,
                        std::string& reason) {
    out.reset();
    reason.clear();
    const bool use_env = settings.from_environment && env;
    // An empty value counts as unset.
    auto variable = [&](const char* name) -> std::string_view {
        if (!use_env) return {};
        const char* v = env(name);
        return v ? std::string_view(v) : std::string_view();
    };

    // Under CGI (REQUEST_METHOD set) HTTP_PROXY comes from the request's "Proxy:" header
    // ("httpoxy"), so it is not trusted there, as Python's urllib does.
    const bool under_cgi = !variable("REQUEST_METHOD").empty();
    std::string_view url;
    std::string source;
    if (!settings.url.empty()) {
        url = settings.url;
        source = "client_config::proxy";
    } else if (use_env) {
        static constexpr const char* https_names[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
        static constexpr const char* http_names[] = {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"};
        auto try_names = [&](const auto& names) {
            for (const char* name : names) {
                if (under_cgi && std::string_view(name) == "HTTP_PROXY") continue;
                url = variable(name);
                if (!url.empty()) {
                    source = name;
                    return;
                }
            }
        };
        if (origin_tls) try_names(https_names);
        else try_names(http_names);
    }

    if (url.empty()) {
        if (!settings.from_environment)
            reason = "no proxy is configured (client_config::proxy is empty and from_environment is off)";
        else if (!origin_tls && under_cgi && !variable("HTTP_PROXY").empty())
            reason = "no proxy variable is set for http:// origins (HTTP_PROXY is ignored under CGI, where a "
                     "request's Proxy: header sets it; set http_proxy)";
        else
            reason = "no proxy variable is set";
        return {};
    }

    // NO_PROXY before parsing, as curl does: a bypassed proxy cannot fail the request.
    if (no_proxy_matches(settings.no_proxy, origin_host, origin_port)) {
        reason = "client_config::proxy.no_proxy matches " + std::string(origin_host);
        return {};
    }
    for (const char* name : {"no_proxy", "NO_PROXY"}) {
        const std::string_view list = variable(name);
        if (list.empty()) continue;
        if (no_proxy_matches(list, origin_host, origin_port)) {
            reason = std::string(name) + " matches " + std::string(origin_host);
            return {};
        }
        break;  // the lower-case list wins when both are set
    }

    proxy_endpoint ep;
    if (auto ec = parse_proxy_url(url, ep)) {
        reason = source + " is not a usable proxy URL (expected http://[user:password@]host[:port])";
        return ec;
    }
    ep.source = source;
    reason = source + " is set";
    out = std::move(ep);
    return {};
}

bool no_proxy_matches(std::string_view list, std::string_view host, std::string_view port) {
    std::string h = lowered(host);
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    if (!h.empty() && h.back() == '.') h.pop_back();
    const auto host_ip = parse_ip(h);
    const auto host_port = parse_port(port);
    constexpr std::string_view separators = ", \t\r\n";
    while (!list.empty()) {
        const auto start = list.find_first_not_of(separators);
        if (start == std::string_view::npos) break;
        list.remove_prefix(start);
        const auto end = list.find_first_of(separators);
        const std::string_view entry = list.substr(0, end);
        list.remove_prefix(entry.size());
        if (entry_matches(entry, h, host_ip, host_port)) return true;
    }
    return false;
}

std::string base64_encode(std::string_view bytes) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string r;
    r.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    auto at = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(bytes[k])); };
    for (; i + 3 <= bytes.size(); i += 3) {
        const unsigned v = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
        r += alphabet[v >> 18 & 63];
        r += alphabet[v >> 12 & 63];
        r += alphabet[v >> 6 & 63];
        r += alphabet[v & 63];
    }
    if (const std::size_t left = bytes.size() - i; left > 0) {
        const unsigned v = at(i) << 16 | (left == 2 ? at(i + 1) << 8 : 0u);
        r += alphabet[v >> 18 & 63];
        r += alphabet[v >> 12 & 63];
        r += left == 2 ? alphabet[v >> 6 & 63] : '=';
        r += '=';
    }
    return r;
}

std::string proxy_authorization(const proxy_endpoint& proxy) {
    if (proxy.username.empty()) return {};
    return "Basic " + base64_encode(proxy.username + ":" + proxy.password);
}

std::string connect_request(std::string_view host, std::string_view port, const proxy_endpoint& proxy) {
    std::string authority = request_safe(host);
    if (authority.find(':') != std::string::npos && !authority.starts_with('[')) authority = "[" + authority + "]";
    authority += ':';
    authority += request_safe(port);
    std::string r = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
    if (const std::string auth = proxy_authorization(proxy); !auth.empty()) r += "Proxy-Authorization: " + auth + "\r\n";
    r += "\r\n";
    return r;
}

connect_reply::result connect_reply::feed(std::string_view bytes) {
    if (state_ != state::need_more) return {state_, 0};
    std::size_t used = 0;
    for (;;) {
        const std::size_t held = taken_ + buffer_.size();
        const std::size_t room = held < limits_.head ? limits_.head - held : 0;
        const std::string_view piece = bytes.substr(used, room);
        const std::size_t old = buffer_.size();
        buffer_.append(piece);

        // Fail early on what cannot become a status line (a TLS or SOCKS server, say).
        constexpr std::string_view version = "HTTP/1.";
        const std::size_t n = std::min(buffer_.size(), version.size());
        if (std::string_view(buffer_).substr(0, n) != version.substr(0, n)) {
            state_ = state::invalid;
            return {state_, 0};
        }

        // The head ends at an empty line: LF (CR) LF.
        std::size_t end = std::string::npos;
        for (std::size_t i = old >= 2 ? old - 2 : 0; i < buffer_.size(); ++i) {
            if (buffer_[i] != '\n') continue;
            if (i + 1 < buffer_.size() && buffer_[i + 1] == '\n') {
                end = i + 2;
                break;
            }
            if (i + 2 < buffer_.size() && buffer_[i + 1] == '\r' && buffer_[i + 2] == '\n') {
                end = i + 3;
                break;
            }
        }
        if (end == std::string::npos) {
            used += piece.size();
            if (taken_ + buffer_.size() >= limits_.head) {
                state_ = state::invalid;
                return {state_, 0};
            }
            return {state_, used};
        }
        used += end - old;
        buffer_.resize(end);
        if (!parse_head(buffer_)) {
            state_ = state::invalid;
            return {state_, 0};
        }
        if (status_ >= 200) {
            state_ = state::complete;
            return {state_, used};
        }
        // An interim reply: the real one follows.
        taken_ += buffer_.size();
        buffer_.clear();
    }
}

bool connect_reply::parse_head(std::string_view raw) {
    std::string_view rest = raw;
    // HTTP/1.x SP 3DIGIT [SP reason]
    const std::string_view sl = next_line(rest);
    if (sl.size() < 12 || !sl.starts_with("HTTP/1.") || (sl[7] != '0' && sl[7] != '1') || sl[8] != ' ') return false;
    int code = 0;
    for (std::size_t i = 9; i < 12; ++i) {
        if (!is_digit(sl[i])) return false;
        code = code * 10 + (sl[i] - '0');
    }
    if (code < 100 || code == 101 || (sl.size() > 12 && sl[12] != ' ')) return false;
    const std::string_view reason = sl.size() > 13 ? sl.substr(13) : std::string_view();
    for (char c : reason)
        if (!is_text(static_cast<unsigned char>(c))) return false;
    for (;;) {
        const std::string_view l = next_line(rest);
        if (l.empty()) break;
        if (!valid_field_line(l)) return false;  // obs-fold and space before the colon too
    }
    status_ = code;
    reason_.clear();
    for (char c : reason.substr(0, max_reason)) {
        const auto u = static_cast<unsigned char>(c);
        reason_ += u >= 0x20 && u < 0x7f ? c : '?';
    }
    return true;
}

const std::string& connect_reply::reason() const noexcept {
    static const std::string none;
    return state_ == state::complete ? reason_ : none;  // not an interim reply's
}

std::string_view connect_reply::header(std::string_view name) const noexcept {
    if (state_ != state::complete) return {};
    std::string_view rest = buffer_;
    next_line(rest);
    for (;;) {
        const std::string_view l = next_line(rest);
        if (l.empty()) return {};
        const auto colon = l.find(':');
        if (iequals(l.substr(0, colon), name)) return trim(l.substr(colon + 1));
    }
}

error_code connect_reply_error(int status) {
    if (status >= 200 && status < 300) return {};
    // A CONNECT reply is the proxy's own, never the origin's: tinyproxy up to 1.11 asks for
    // credentials with 401 rather than 407.
    if (status == 407 || status == 401) return errc::proxy_auth_required;
    return errc::proxy_tunnel_refused;
}

}  // namespace llmstream::http
