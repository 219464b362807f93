// Error codes produced by the library itself (as opposed to errors reported by a provider).
#pragma once

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace llmstream {

/// Protocol and transport failures detected by llmstream. Values are stable.
enum class errc {
    /// An event-stream line exceeded `sse::limits::max_line_size`.
    line_too_long = 1,
    /// An event's data exceeded `sse::limits::max_event_size`.
    event_too_large = 2,
};

/// The category of `llmstream::errc` values (name: "llmstream").
const boost::system::error_category& library_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), library_category()};
}

}  // namespace llmstream

template <>
struct boost::system::is_error_code_enum<llmstream::errc> : std::true_type {};
