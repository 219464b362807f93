// Builds request bodies for both dialects. Cold path: Boost.JSON for correct escaping.
#pragma once

#include <llmstream/diagnostics.hpp>
#include <llmstream/dialect.hpp>
#include <llmstream/request.hpp>

#include <boost/system/error_code.hpp>

#include <string>

namespace llmstream::protocol {

struct encoded_request {
    std::string target;              ///< path appended to the base URL, e.g. "/chat/completions"
    std::string body;                ///< JSON
    bool dashscope_sse_header = false;  ///< send `X-DashScope-SSE: enable` (native streaming)
    bool cumulative_output = false;  ///< the response repeats the whole text in every frame
};

/// Encodes `req` in `dialect`, as a streaming request (`streaming`) or one answered whole. On failure returns `errc::invalid_request` and says which field
/// is wrong in `diag.hint`.
boost::system::error_code encode_request(api_dialect dialect, const chat_request& req, bool streaming,
                                         encoded_request& out, diagnostics& diag);

}  // namespace llmstream::protocol
