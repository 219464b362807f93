// Where requests go: scheme, host, port and path prefix parsed from a base URL (Boost.URL).
#pragma once

#include <boost/system/error_code.hpp>

#include <string>
#include <string_view>

namespace llmstream::http {

struct origin {
    bool tls = false;
    std::string host;         ///< without brackets for IPv6 literals
    std::string port;         ///< always set (default 80 / 443)
    std::string path_prefix;  ///< e.g. "/v1" or "/compatible-mode/v1"; no trailing slash
    std::string host_header;  ///< Host header value (host[:port] as written)
};

/// Parses `base_url`; `errc::invalid_base_url` for anything but http(s)://host[:port][/path].
boost::system::error_code parse_origin(std::string_view base_url, origin& out);

}  // namespace llmstream::http
