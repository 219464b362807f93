#include "origin.hpp"

#include <llmstream/error.hpp>

#include <boost/url/parse.hpp>

namespace llmstream::http {

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
