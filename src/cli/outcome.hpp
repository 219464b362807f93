// How the `llmstream` command reports a result: exit codes per error class, and the two lines a
// failure prints on stderr. No I/O here.
#pragma once

#include <llmstream/diagnostics.hpp>

#include <boost/system/error_code.hpp>

#include <string>

namespace llmstream::cli {

namespace exit_code {
constexpr int ok = 0;
constexpr int other = 1;
constexpr int usage = 2;
constexpr int authentication = 3;
constexpr int permission_denied = 4;
constexpr int payment = 5;
constexpr int not_found = 6;
constexpr int bad_request = 7;
constexpr int rate_limited = 8;
constexpr int server_error = 9;
constexpr int network = 10;
}  // namespace exit_code

/// The exit code for a failure (see usage()).
int exit_code_for(const boost::system::error_code& ec) noexcept;

/// "llmstream: permission_denied: HTTP 403, provider code Model.AccessDenied, provider message
/// \"...\", request id ..., 1 attempt" and "hint: ..." (without trailing newlines; the hint line
/// is empty when there is nothing to say).
struct failure_report {
    std::string summary;
    std::string hint;
};
failure_report describe_failure(const boost::system::error_code& ec, const diagnostics& diag);

}  // namespace llmstream::cli
