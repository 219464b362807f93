// The mock's scripts: what the model name's query string asks for (see <llmstream/mock/server.hpp>),
// and the provider-shaped bodies and stream frames both protocols send. No I/O.
#pragma once

#include <boost/json/object.hpp>

#include <string>
#include <string_view>

namespace llmstream::mock {

struct scenario {
    int tokens = 8;
    int reasoning = 0;
    std::string word = "tok";
    int pace_ms = 0;
    int coalesce = 1;
    int status = 200;
    std::string code;
    std::string message;
    std::string retry_after;
    std::string retry_after_ms;
    std::string should_retry;  // x-should-retry header value
    std::string request_id = "mock-request-id";  // "mock-request-id-<key>-<attempt>" when key is set
    int fail_first = 0;
    std::string key;
    bool reset_before_headers = false;
    int reset_after = -1;
    int stall_after = -1;
    int error_after = -1;
    int error_status = 429;
    int malformed_after = -1;
    int slow_headers_ms = 0;
    bool keepalive = false;
    bool cumulative = false;
    bool no_done = false;
    bool close = false;
    bool demo = false;  // tokens are the words of a canned answer instead of word0 word1 ...
    std::string raw;    // a hostile reply written byte for byte (see write_raw)
    bool echo_auth = false;  // error messages repeat the request's Authorization header (a leaky proxy)
    std::string location;  // raw=redirect: where to
    bool openai_errors = false;  // errors=openai: error bodies as OpenAI shapes them (no request_id)
    int spread_ms = 0;   // spread_ms=N: the first token waits a random 0..N ms, so paced streams are out of step
    bool stamp = false;  // stamp=1: each token is "t<steady_clock nanoseconds>" at the time it is written
    int rst = -1;  // HTTP/2: answer with RST_STREAM of this code (7 REFUSED_STREAM, 2 INTERNAL_ERROR); HTTP/1.1: drop
};

scenario parse_scenario(std::string_view model);

enum class dialect { openai, native, anthropic, responses };

/// A provider-shaped error body for `status` in the dialect: DashScope's (compatible mode puts a
/// top-level request_id beside the error), or with `openai_shape` OpenAI's (the error alone).
std::string error_body(dialect d, int status, std::string code, std::string message, bool openai_shape = false);

/// The text of token `i` ("tok0", " tok1", ... or the demo answer's words).
std::string token_text(const scenario& s, int i);

/// One OpenAI-compatible `data:` event for a chunk with `delta` (and a finish reason when not null).
std::string openai_chunk(const boost::json::object& delta, const char* finish);

/// Anthropic's error type for an HTTP status (rate_limit_error for 429, overloaded_error for 529, ...).
std::string anthropic_error_type(int status);

/// One typed event: `event: <type>` and `data: <object with "type" first>`.
std::string typed_event(std::string_view type, const boost::json::object& fields);

/// One DashScope native event (id, event, :HTTP_STATUS and data lines).
std::string native_frame(int id, const std::string& content, const std::string& reasoning, const char* finish,
                         int output_tokens);

}  // namespace llmstream::mock
