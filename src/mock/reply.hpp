// The mock's answer to one request, whatever the HTTP version: the scenario read from the model
// name, played through a responder (h1_session writes HTTP/1.1 bytes, h2_session HTTP/2 frames).
#pragma once

#include "scenario.hpp"
#include "state.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace llmstream::mock {

using fields = std::vector<std::pair<std::string, std::string>>;

/// One request, as both protocols deliver it.
struct request {
    std::string method;
    std::string target;
    std::string body;
    std::string authorization;  ///< empty when absent
    bool has_authorization = false;
    std::string dashscope_sse;  ///< X-DashScope-SSE
    std::string x_api_key;      ///< x-api-key (Anthropic's key header)
    std::string anthropic_version;  ///< anthropic-version
    std::string workspace;          ///< X-DashScope-WorkSpace
};

/// How a reply goes out. Every awaitable returns false when the connection (or stream) is gone.
class responder {
public:
    virtual ~responder() = default;
    /// A whole response.
    virtual boost::asio::awaitable<bool> whole(int status, fields headers, std::string body, bool keep_alive) = 0;
    /// The head of a streamed 200 response; pieces follow, then stream_end.
    virtual boost::asio::awaitable<bool> stream_head(fields headers, bool keep_alive) = 0;
    /// Sends `pending` as one piece of the streamed body and clears it.
    virtual boost::asio::awaitable<bool> stream_piece(std::string& pending) = 0;
    virtual boost::asio::awaitable<bool> stream_end() = 0;
    /// Holds the response open until the client gives up on it (closes, or resets the stream).
    virtual boost::asio::awaitable<void> until_peer_gives_up() = 0;
    /// False when the server is stopping.
    virtual boost::asio::awaitable<bool> sleep(int ms) = 0;
    /// A hostile reply (scenario::raw), as close to the bytes named there as the protocol allows.
    virtual boost::asio::awaitable<bool> hostile(scenario s) = 0;
    /// HTTP/2: RST_STREAM with `code`; HTTP/1.1: the connection is dropped.
    virtual boost::asio::awaitable<bool> reset_stream(std::uint32_t code) = 0;
};

/// Plays the request's scenario through `out`. Returns false when the connection must be dropped
/// (a scripted reset, or a hostile reply); `keep_alive` is cleared for a scripted close.
boost::asio::awaitable<bool> reply(server::state& st, const request& req, responder& out, bool& keep_alive);

}  // namespace llmstream::mock
