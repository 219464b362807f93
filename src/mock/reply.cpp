#include "reply.hpp"

#include <boost/json.hpp>

#include <random>

namespace llmstream::mock {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

fields json_fields() { return {{"Content-Type", "application/json"}, {"x-request-id", "mock-request-id"}}; }

asio::awaitable<bool> write_stats(server::state& st, responder& out, bool keep_alive) {
    json::object o;
    {
        std::lock_guard lock(st.mutex);
        o["connections"] = st.counters.connections;
        o["requests"] = st.counters.requests;
        o["streams_reset"] = st.counters.streams_reset;
        o["h2_connections"] = st.counters.h2_connections;
        o["pings"] = st.counters.pings;
        o["throttled"] = st.counters.throttled;
        o["tls_resumed"] = st.counters.tls_resumed;
        json::object attempts;
        for (const auto& [k, v] : st.counters.attempts) attempts[k] = v;
        o["attempts"] = std::move(attempts);
    }
    co_return co_await out.whole(200, json_fields(), json::serialize(o), keep_alive);
}

const char* request_id_header(dialect d) {
    switch (d) {
    case dialect::native: return "X-DashScope-Request-Id";
    case dialect::anthropic: return "request-id";
    default: return "x-request-id";
    }
}

asio::awaitable<bool> write_error(dialect d, const scenario& s, responder& out, bool keep_alive) {
    fields h{{"Content-Type", "application/json"}, {request_id_header(d), s.request_id}};
    if (!s.retry_after.empty()) h.emplace_back("Retry-After", s.retry_after);
    if (!s.retry_after_ms.empty()) h.emplace_back("retry-after-ms", s.retry_after_ms);
    if (!s.should_retry.empty()) h.emplace_back("x-should-retry", s.should_retry);
    co_return co_await out.whole(s.status, std::move(h), error_body(d, s.status, s.code, s.message, s.openai_errors),
                                 keep_alive);
}

asio::awaitable<bool> write_whole(dialect d, const scenario& s, responder& out, bool keep_alive) {
    std::string content, reasoning;
    for (int i = 0; i < s.reasoning; ++i) reasoning += token_text(s, i);
    for (int i = 0; i < s.tokens; ++i) content += token_text(s, i);
    json::value body;
    json::object message{{"role", "assistant"}, {"content", content}};
    if (!reasoning.empty()) message["reasoning_content"] = reasoning;
    if (d == dialect::anthropic) {
        json::array blocks;
        if (!reasoning.empty()) blocks.push_back(json::object{{"type", "thinking"}, {"thinking", reasoning}, {"signature", ""}});
        blocks.push_back(json::object{{"type", "text"}, {"text", content}});
        body = json::object{{"id", "msg_mock"}, {"type", "message"}, {"role", "assistant"}, {"model", "mock"},
                            {"content", std::move(blocks)}, {"stop_reason", "end_turn"}, {"stop_sequence", nullptr},
                            {"usage", json::object{{"input_tokens", 10}, {"output_tokens", s.tokens + s.reasoning},
                                                   {"cache_creation_input_tokens", 0}, {"cache_read_input_tokens", 0}}}};
    } else if (d == dialect::responses) {
        json::array output;
        if (!reasoning.empty())
            output.push_back(json::object{{"id", "rs_mock"}, {"type", "reasoning"},
                                          {"summary", json::array{json::object{{"type", "summary_text"}, {"text", reasoning}}}}});
        output.push_back(json::object{
            {"id", "msg_mock"}, {"type", "message"}, {"status", "completed"}, {"role", "assistant"},
            {"content", json::array{json::object{{"type", "output_text"}, {"annotations", json::array{}}, {"text", content}}}}});
        body = json::object{{"id", "resp_mock"}, {"object", "response"}, {"status", "completed"}, {"model", "mock"},
                            {"output", std::move(output)}, {"error", nullptr}, {"incomplete_details", nullptr},
                            {"usage", json::object{{"input_tokens", 10},
                                                   {"input_tokens_details", json::object{{"cached_tokens", 0}}},
                                                   {"output_tokens", s.tokens + s.reasoning},
                                                   {"output_tokens_details", json::object{{"reasoning_tokens", s.reasoning}}},
                                                   {"total_tokens", 10 + s.tokens + s.reasoning}}}};
    } else if (d == dialect::openai) {
        body = json::object{{"id", "chatcmpl-mock"},
                            {"object", "chat.completion"},
                            {"model", "mock"},
                            {"choices", json::array{json::object{{"index", 0}, {"message", message}, {"finish_reason", "stop"}}}},
                            {"usage", json::object{{"prompt_tokens", 10}, {"completion_tokens", s.tokens}, {"total_tokens", 10 + s.tokens}}}};
    } else {
        body = json::object{{"output", json::object{{"choices", json::array{json::object{{"message", message}, {"finish_reason", "stop"}}}}}},
                            {"usage", json::object{{"input_tokens", 10}, {"output_tokens", s.tokens}, {"total_tokens", 10 + s.tokens}}},
                            {"request_id", "mock-request-id"}};
    }
    co_return co_await out.whole(200, json_fields(), json::serialize(body), keep_alive);
}

// The events of a typed-event dialect (Anthropic Messages, OpenAI Responses), one token at a time:
// what comes before the tokens, each token (reasoning first, then text), what ends a whole reply,
// an in-stream error and a broken event.
struct typed_frames {
    dialect d;
    const scenario& s;
    int sequence = 0;

    json::object seq(json::object o) {
        if (d == dialect::responses) o["sequence_number"] = sequence++;
        return o;
    }
    json::object response(const char* status, json::value usage) {
        return {{"id", "resp_mock"}, {"object", "response"}, {"status", status}, {"model", "mock"},
                {"output", json::array{}}, {"error", nullptr}, {"incomplete_details", nullptr}, {"usage", std::move(usage)}};
    }
    std::string start() {
        if (d == dialect::anthropic)
            return typed_event("message_start",
                               {{"message", json::object{{"id", "msg_mock"}, {"type", "message"}, {"role", "assistant"},
                                                         {"model", "mock"}, {"content", json::array{}},
                                                         {"stop_reason", nullptr}, {"stop_sequence", nullptr},
                                                         {"usage", json::object{{"input_tokens", 10}, {"output_tokens", 1}}}}}});
        return typed_event("response.created", seq({{"response", response("in_progress", nullptr)}})) +
               typed_event("response.in_progress", seq({{"response", response("in_progress", nullptr)}}));
    }
    // Block (Anthropic) or output item (Responses) `index` begins: reasoning or text.
    std::string open(int index, bool reasoning) {
        if (d == dialect::anthropic)
            return typed_event("content_block_start",
                               {{"index", index},
                                {"content_block", reasoning ? json::object{{"type", "thinking"}, {"thinking", ""}}
                                                            : json::object{{"type", "text"}, {"text", ""}}}});
        if (reasoning)
            return typed_event("response.output_item.added",
                               seq({{"output_index", index},
                                    {"item", json::object{{"id", "rs_mock"}, {"type", "reasoning"}, {"summary", json::array{}}}}}));
        return typed_event("response.output_item.added",
                           seq({{"output_index", index},
                                {"item", json::object{{"id", "msg_mock"}, {"type", "message"}, {"status", "in_progress"},
                                                      {"role", "assistant"}, {"content", json::array{}}}}})) +
               typed_event("response.content_part.added",
                           seq({{"item_id", "msg_mock"}, {"output_index", index}, {"content_index", 0},
                                {"part", json::object{{"type", "output_text"}, {"annotations", json::array{}}, {"text", ""}}}}));
    }
    std::string token(int index, bool reasoning, const std::string& text) {
        if (d == dialect::anthropic)
            return typed_event("content_block_delta",
                               {{"index", index},
                                {"delta", reasoning ? json::object{{"type", "thinking_delta"}, {"thinking", text}}
                                                    : json::object{{"type", "text_delta"}, {"text", text}}}});
        if (reasoning)
            return typed_event("response.reasoning_summary_text.delta",
                               seq({{"item_id", "rs_mock"}, {"output_index", index}, {"summary_index", 0}, {"delta", text}}));
        return typed_event("response.output_text.delta",
                           seq({{"item_id", "msg_mock"}, {"output_index", index}, {"content_index", 0}, {"delta", text},
                                {"logprobs", json::array{}}}));
    }
    std::string close(int index, bool reasoning) {
        if (d == dialect::anthropic) return typed_event("content_block_stop", {{"index", index}});
        return typed_event("response.output_item.done",
                           seq({{"output_index", index},
                                {"item", json::object{{"id", reasoning ? "rs_mock" : "msg_mock"},
                                                      {"type", reasoning ? "reasoning" : "message"}}}}));
    }
    std::string finish(int output_tokens, int reasoning_tokens) {
        if (d == dialect::anthropic)
            return typed_event("message_delta", {{"delta", json::object{{"stop_reason", "end_turn"}, {"stop_sequence", nullptr}}},
                                                 {"usage", json::object{{"output_tokens", output_tokens}}}}) +
                   typed_event("message_stop", {});
        return typed_event(
            "response.completed",
            seq({{"response", response("completed", json::object{{"input_tokens", 10},
                                                                  {"input_tokens_details", json::object{{"cached_tokens", 0}}},
                                                                  {"output_tokens", output_tokens},
                                                                  {"output_tokens_details", json::object{{"reasoning_tokens", reasoning_tokens}}},
                                                                  {"total_tokens", 10 + output_tokens}})}}));
    }
    std::string error(int status) {
        if (d == dialect::anthropic)
            return typed_event("error", {{"error", json::object{{"type", s.code.empty() ? anthropic_error_type(status) : s.code},
                                                                {"message", s.message.empty() ? "mock error " + std::to_string(status) : s.message}}}});
        const std::string code = !s.code.empty() ? s.code : status == 429 ? "rate_limit_exceeded" : "server_error";
        return typed_event("error", seq({{"code", code},
                                          {"message", s.message.empty() ? "mock error " + std::to_string(status) : s.message},
                                          {"param", nullptr}}));
    }
    std::string broken() const {
        return d == dialect::anthropic
                   ? "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"trunc\n\n"
                   : "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"trunc\n\n";
    }
};

asio::awaitable<bool> write_typed_stream(dialect d, const scenario& s, responder& out, bool keep_alive) {
    fields head{{"Content-Type", "text/event-stream"}, {"Cache-Control", "no-cache"}, {request_id_header(d), s.request_id}};
    if (!co_await out.stream_head(std::move(head), keep_alive)) co_return false;
    typed_frames f{d, s};
    std::string pending = f.start();
    const int total = s.reasoning + s.tokens;
    // Reasoning is block/item 0 when there is any; the text follows.
    const int text_index = s.reasoning > 0 ? 1 : 0;
    bool ended_early = false;
    for (int i = 0; i < total; ++i) {
        const bool is_reasoning = i < s.reasoning;
        const int index = is_reasoning ? 0 : text_index;
        if (i == s.reset_after) co_return false;
        if (i == s.stall_after) {
            if (!co_await out.stream_piece(pending)) co_return false;
            co_await out.until_peer_gives_up();
            co_return false;
        }
        if (i == s.error_after) {
            pending += f.error(s.error_status);
            ended_early = true;
            break;
        }
        if (i == s.malformed_after) {
            pending += f.broken();
            ended_early = true;
            break;
        }
        if (i == 0 || i == s.reasoning) {
            if (i > 0) pending += f.close(0, true);
            pending += f.open(index, is_reasoning);
        }
        if (s.keepalive) pending += d == dialect::anthropic ? "event: ping\ndata: {\"type\": \"ping\"}\n\n" : ": keep-alive\n\n";
        pending += f.token(index, is_reasoning, token_text(s, is_reasoning ? i : i - s.reasoning));
        if ((i + 1) % s.coalesce == 0) {
            if (!co_await out.stream_piece(pending)) co_return false;
            if (s.pace_ms > 0 && !co_await out.sleep(s.pace_ms)) co_return false;
        }
    }
    if (!ended_early) {
        if (total > 0) pending += f.close(total > s.reasoning ? text_index : 0, total <= s.reasoning);
        if (!s.no_done) pending += f.finish(total, s.reasoning);
    }
    if (!co_await out.stream_piece(pending)) co_return false;
    co_return co_await out.stream_end();
}

asio::awaitable<bool> write_stream(dialect d, const scenario& s, bool include_usage, responder& out, bool keep_alive) {
    if (d == dialect::anthropic || d == dialect::responses) co_return co_await write_typed_stream(d, s, out, keep_alive);
    // (A named variable: GCC 12 miscompiles a braced list inside co_await.)
    fields head{{"Content-Type", "text/event-stream"},
                {"Cache-Control", "no-cache"},
                {d == dialect::native ? "X-DashScope-Request-Id" : "x-request-id", s.request_id}};
    if (!co_await out.stream_head(std::move(head), keep_alive)) co_return false;
    std::string pending;
    int frame_id = 0;
    std::string cumulative_content, cumulative_reasoning;
    const int total = s.reasoning + s.tokens;
    if (d == dialect::openai) pending += openai_chunk(json::object{{"role", "assistant"}, {"content", ""}}, nullptr);
    for (int i = 0; i < total; ++i) {
        const int content_index = i - s.reasoning;
        if (i == s.reset_after) co_return false;  // drop the connection mid-stream
        if (i == s.stall_after) {
            if (!co_await out.stream_piece(pending)) co_return false;
            co_await out.until_peer_gives_up();  // until the client gives up
            co_return false;
        }
        if (i == s.error_after) {
            if (d == dialect::native)
                pending += "id:" + std::to_string(++frame_id) + "\nevent:error\n:HTTP_STATUS/" +
                           std::to_string(s.error_status) + "\ndata:" +
                           error_body(d, s.error_status, s.code, s.message, s.openai_errors) + "\n\n";
            else
                pending += "data: " + error_body(d, s.error_status, s.code, s.message, s.openai_errors) + "\n\n";
            if (!co_await out.stream_piece(pending)) co_return false;
            break;
        }
        if (i == s.malformed_after) {
            pending += "data: {\"choices\":[{\"delta\":{\"content\":\"trunc\n\n";
            if (!co_await out.stream_piece(pending)) co_return false;
            break;
        }
        if (s.keepalive) pending += ": keep-alive\n\n";
        const bool is_reasoning = i < s.reasoning;
        const std::string text = token_text(s, is_reasoning ? i : content_index);
        if (d == dialect::openai) {
            json::object delta;
            if (is_reasoning) {
                delta["content"] = nullptr;
                delta["reasoning_content"] = text;
            } else {
                delta["content"] = text;
            }
            pending += openai_chunk(delta, nullptr);
        } else {
            std::string content = is_reasoning ? "" : text;
            std::string reasoning = is_reasoning ? text : "";
            if (s.cumulative) {
                cumulative_content += content;
                cumulative_reasoning += reasoning;
                content = cumulative_content;
                reasoning = cumulative_reasoning;
            }
            pending += native_frame(++frame_id, content, reasoning, "null", i + 1);
        }
        if ((i + 1) % s.coalesce == 0) {
            if (!co_await out.stream_piece(pending)) co_return false;
            if (s.pace_ms > 0 && !co_await out.sleep(s.pace_ms)) co_return false;
        }
    }
    const bool errored = s.error_after >= 0 && s.error_after < total;
    const bool malformed = s.malformed_after >= 0 && s.malformed_after < total;
    if (!errored && !malformed) {
        if (d == dialect::openai) {
            pending += openai_chunk(json::object{}, "stop");
            if (include_usage)
                pending += "data: " +
                           json::serialize(json::object{
                               {"id", "chatcmpl-mock"}, {"object", "chat.completion.chunk"}, {"model", "mock"},
                               {"choices", json::array{}},
                               {"usage", json::object{{"prompt_tokens", 10}, {"completion_tokens", total}, {"total_tokens", 10 + total}}}}) +
                           "\n\n";
            if (!s.no_done) pending += "data: [DONE]\n\n";
        } else {
            pending += native_frame(++frame_id, s.cumulative ? cumulative_content : "", "", "stop", total);
        }
    }
    if (!co_await out.stream_piece(pending)) co_return false;
    co_return co_await out.stream_end();
}

// What to answer, decided without I/O.
struct plan {
    enum class kind { stats, whole, drop, reset, hostile, scenario } what = kind::scenario;
    int status = 0;
    std::string body;  // kind::whole
    dialect d = dialect::openai;
    scenario s;
    bool stream = false;
    bool include_usage = false;
};

// The server's own rate limit (options::requests_per_minute, per model as DashScope counts):
// true when this request is over it.
bool throttled(server::state& st, const std::string& model) {
    std::lock_guard lock(st.mutex);
    if (st.rate_interval.count() == 0) return false;
    auto& limit = st.rate_limits.try_emplace(model, st.rate_interval, st.rate_burst).first->second;
    const auto now = limits::clock::now();
    if (limit.available_at(now, 1) > now) {
        ++st.counters.throttled;
        return true;
    }
    limit.take(now, 1);
    return false;
}

plan make_plan(server::state& st, const request& req, bool& keep_alive) {
    plan p;
    {
        std::lock_guard lock(st.mutex);
        ++st.counters.requests;
    }
    const std::string_view target = req.target;
    if (req.method == "GET" && target == "/mock/stats") {
        p.what = plan::kind::stats;
        return p;
    }
    const auto ends_with = [&](std::string_view tail) {
        return target.size() >= tail.size() && target.substr(target.size() - tail.size()) == tail;
    };
    const bool native = target.find("/api/v1/services/aigc/") != std::string_view::npos;
    const bool openai = ends_with("/chat/completions");
    const bool anthropic = ends_with("/v1/messages");
    const bool responses = ends_with("/responses");
    p.what = plan::kind::whole;
    if (req.method != "POST" || (!native && !openai && !anthropic && !responses)) {
        p.status = 404;
        p.body = error_body(dialect::openai, 404, "not_found", "no such endpoint");
        return p;
    }
    const dialect d = native ? dialect::native : anthropic ? dialect::anthropic : responses ? dialect::responses : dialect::openai;
    p.d = d;

    boost::system::error_code jec;
    const json::value body = json::parse(req.body, jec);
    if (jec || !body.is_object() || !body.as_object().contains("model") || !body.at("model").is_string()) {
        p.status = 400;
        p.body = error_body(d, 400, "", "the body is not a chat request");
        return p;
    }
    scenario& s = p.s;
    s = parse_scenario(std::string(body.at("model").as_string()));
    if (s.close) keep_alive = false;
    if (d != dialect::native) {
        const json::object& o = body.as_object();
        p.stream = o.contains("stream") && o.at("stream").is_bool() && o.at("stream").as_bool();
        p.include_usage = o.contains("stream_options");
    } else {
        p.stream = req.dashscope_sse == "enable";
    }
    if (!req.has_authorization && !(d == dialect::anthropic && !req.x_api_key.empty())) {
        p.status = 401;
        p.body = error_body(d, 401, "", "no API key");
        return p;
    }
    if (d == dialect::anthropic && req.anthropic_version.empty()) {  // as api.anthropic.com answers
        p.status = 400;
        p.body = error_body(d, 400, "", "anthropic-version: header is required");
        return p;
    }
    if (throttled(st, std::string(body.at("model").as_string()))) {  // as DashScope answers: no Retry-After
        p.status = 429;
        p.body = error_body(d, 429, d == dialect::anthropic ? "" : "Throttling.RateQuota",
                            "Requests rate limit exceeded, please try again later.", s.openai_errors);
        return p;
    }
    if (!s.key.empty() || s.fail_first > 0) {
        std::uint64_t attempt = 0;
        {
            std::lock_guard lock(st.mutex);
            attempt = ++st.counters.attempts[s.key];
        }
        if (!s.key.empty()) s.request_id += "-" + s.key + "-" + std::to_string(attempt);
        const bool other_fault = s.reset_before_headers || s.reset_after >= 0 || s.stall_after >= 0 ||
                                 s.error_after >= 0 || s.malformed_after >= 0 || s.slow_headers_ms > 0 || s.rst >= 0;
        if (s.fail_first > 0 && attempt > static_cast<std::uint64_t>(s.fail_first)) {
            // Past the failing attempts: a clean reply.
            s.status = 200;
            s.reset_before_headers = false;
            s.reset_after = s.stall_after = s.error_after = s.malformed_after = s.rst = -1;
            s.slow_headers_ms = 0;
        } else if (s.fail_first > 0 && s.status == 200 && !other_fault) {
            s.status = 503;
        }
    }
    if (s.echo_auth) {
        s.message = d == dialect::anthropic && !req.x_api_key.empty() ? "rejected x-api-key: " + req.x_api_key
                                                                     : "rejected Authorization: " + req.authorization;
        if (!req.workspace.empty()) s.message += " (workspace: " + req.workspace + ")";
    }
    if (s.reset_before_headers) p.what = plan::kind::drop;
    else if (s.rst >= 0) p.what = plan::kind::reset;
    else if (!s.raw.empty()) p.what = plan::kind::hostile;
    else p.what = plan::kind::scenario;
    return p;
}

// Plays a plan (which the caller keeps alive until this completes).
asio::awaitable<bool> play(server::state& st, plan& p, responder& out, bool& keep_alive) {
    switch (p.what) {
    case plan::kind::stats: co_return co_await write_stats(st, out, keep_alive);
    case plan::kind::whole: co_return co_await out.whole(p.status, json_fields(), std::move(p.body), keep_alive);
    case plan::kind::drop: co_return false;
    case plan::kind::reset: co_return co_await out.reset_stream(static_cast<std::uint32_t>(p.s.rst));
    case plan::kind::hostile: co_return co_await out.hostile(std::move(p.s));
    case plan::kind::scenario: break;
    }
    const scenario& s = p.s;
    if (s.slow_headers_ms > 0 && !co_await out.sleep(s.slow_headers_ms)) co_return false;
    if (s.spread_ms > 0) {
        thread_local std::minstd_rand random(std::random_device{}());
        if (!co_await out.sleep(static_cast<int>(random() % static_cast<unsigned>(s.spread_ms + 1)))) co_return false;
    }
    if (s.status != 200) co_return co_await write_error(p.d, s, out, keep_alive);
    if (!p.stream) co_return co_await write_whole(p.d, s, out, keep_alive);
    co_return co_await write_stream(p.d, s, p.include_usage, out, keep_alive);
}

}  // namespace

asio::awaitable<bool> reply(server::state& st, const request& req, responder& out, bool& keep_alive) {
    plan p = make_plan(st, req, keep_alive);
    co_return co_await play(st, p, out, keep_alive);
}

}  // namespace llmstream::mock
