#include "origin.hpp"

#include <llmstream/error.hpp>

#include <boost/url/parse.hpp>

namespace llmstream::http {

namespace {

// A registered name goes into DNS, the TLS SNI and a proxy's CONNECT line as it is, so it keeps to
// the letters of a DNS name: no percent-encoding (which could decode to CR/LF and inject a header
// line), no spaces, no sub-delimiters.
bool is_plain_host_name(std::string_view host) {
    if (host.empty() || host.size() > 253) return false;
    for (const char c : host) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '.' || c == '_';
        if (!ok) return false;
    }
    return true;
}

}  // namespace

boost::system::error_code parse_origin(std::string_view base_url, origin& out) {
    out = {};
    auto parsed = boost::urls::parse_absolute_uri(base_url);
    if (!parsed) return errc::invalid_base_url;
    const auto& u = *parsed;
    const std::string_view scheme = u.scheme();
    if (scheme == "https") out.tls = true;
    else if (scheme != "http") return errc::invalid_base_url;
    if (!u.has_authority() || u.host().empty() || u.has_userinfo() || u.has_query() || u.has_fragment())
        return errc::invalid_base_url;
    if (u.host_type() == boost::urls::host_type::name && !is_plain_host_name(u.encoded_host()))
        return errc::invalid_base_url;
    out.host = u.host_address();  // IPv6 literals without brackets
    if (u.host_type() == boost::urls::host_type::ipv6) out.host = std::string(u.encoded_host_address());
    out.port = u.has_port() ? std::string(u.port()) : (out.tls ? "443" : "80");
    out.host_header = std::string(u.encoded_host_and_port());
    std::string path(u.encoded_path());
    while (!path.empty() && path.back() == '/') path.pop_back();
    out.path_prefix = std::move(path);
    return {};
}

}  // namespace llmstream::http
