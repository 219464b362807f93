#include "stream_decoder.hpp"

#include "error_classifier.hpp"

#include <llmstream/error.hpp>

#include <charconv>

namespace llmstream::protocol {
namespace {

// simdjson reports errors by exception in this file (only on malformed input; the success path
// costs the same as error codes). Everything below runs inside one try block per event.

// Assigns a string value to `out`; null leaves it empty; other types are malformed.
void read_text(od::value v, std::string& out) {
    if (v.is_null()) {
        out.clear();
        return;
    }
    std::string_view s = v.get_string();
    out.assign(s);
}

void append_text(od::value v, std::string& out) {
    if (v.is_null()) return;
    std::string_view s = v.get_string();
    out.append(s);
}

std::int64_t read_count(od::value v) {
    if (v.is_null()) return 0;
    return v.get_int64();
}

}  // namespace

finish_reason parse_finish_reason(std::string_view text) noexcept {
    if (text.empty() || text == "null") return finish_reason::none;
    if (text == "stop") return finish_reason::stop;
    if (text == "length") return finish_reason::length;
    if (text == "tool_calls" || text == "function_call") return finish_reason::tool_calls;
    if (text == "content_filter") return finish_reason::content_filter;
    return finish_reason::other;
}

boost::system::error_code read_usage(od::object obj, usage& out) {
    out = {};
    for (auto field : obj) {
        const od::raw_json_string key = field.key();
        od::value v = field.value();
        if (key == "prompt_tokens" || key == "input_tokens") out.input_tokens = read_count(v);
        else if (key == "completion_tokens" || key == "output_tokens") out.output_tokens = read_count(v);
        else if (key == "total_tokens") out.total_tokens = read_count(v);
        else if (key == "completion_tokens_details" || key == "output_tokens_details") {
            if (v.is_null()) continue;
            for (auto d : v.get_object())
                if (d.key().value() == "reasoning_tokens") {
                    od::value n = d.value();
                    if (!n.is_null()) out.reasoning_tokens = n.get_int64();
                }
        } else if (key == "prompt_tokens_details") {
            if (v.is_null()) continue;
            for (auto d : v.get_object())
                if (d.key().value() == "cached_tokens") {
                    od::value n = d.value();
                    if (!n.is_null()) out.cached_tokens = n.get_int64();
                }
        }
    }
    if (out.total_tokens == 0) out.total_tokens = out.input_tokens + out.output_tokens;
    return {};
}

static void read_tool_calls(od::array calls, delta& out) {
    int position = 0;
    for (auto call_value : calls) {
        od::object call = call_value.get_object();
        tool_call_delta& t = out.tool_calls.emplace_back();
        t.index = position++;
        for (auto field : call) {
            const od::raw_json_string key = field.key();
            od::value v = field.value();
            if (key == "index") t.index = static_cast<int>(v.get_int64());
            else if (key == "id") read_text(v, t.id);
            else if (key == "function") {
                if (v.is_null()) continue;
                for (auto f : v.get_object()) {
                    const od::raw_json_string fkey = f.key();
                    if (fkey == "name") read_text(f.value(), t.name);
                    else if (fkey == "arguments") read_text(f.value(), t.arguments);
                }
            }
        }
    }
}

boost::system::error_code read_message(od::object message, delta& out) {
    for (auto field : message) {
        const od::raw_json_string key = field.key();
        od::value v = field.value();
        if (key == "content") {
            if (v.type() == od::json_type::array) {  // multimodal replies: [{"text": "..."}]
                for (auto part : v.get_array())
                    for (auto pf : part.get_object())
                        if (pf.key().value() == "text") append_text(pf.value(), out.content);
            } else {
                read_text(v, out.content);
            }
        } else if (key == "reasoning_content") {
            read_text(v, out.reasoning_content);
        } else if (key == "role") {
            read_text(v, out.role);
        } else if (key == "tool_calls") {
            if (!v.is_null()) read_tool_calls(v.get_array(), out);
        }
    }
    return {};
}

stream_decoder::stream_decoder(api_dialect dialect, vendor v, bool cumulative_output)
    : dialect_(dialect), vendor_(v), cumulative_(cumulative_output) {}

void stream_decoder::reset() {
    comment_status_ = 0;
    done_ = false;
    finish_seen_ = false;
    native_usage_.reset();
    seen_content_.clear();
    seen_reasoning_.clear();
    seen_arguments_.clear();
}

void stream_decoder::on_comment(std::string_view text) noexcept {
    constexpr std::string_view prefix = "HTTP_STATUS/";
    if (text.substr(0, prefix.size()) != prefix) return;
    text.remove_prefix(prefix.size());
    int status = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), status);
    if (ec == std::errc{} && status >= 100 && status <= 599) comment_status_ = status;
}

boost::system::error_code stream_decoder::in_stream_error(const provider_error& e, diagnostics& diag) const {
    const int attempts = diag.attempts;
    diag.clear();
    diag.attempts = attempts;
    diag.http_status = comment_status_ != 0 ? comment_status_ : 200;
    set_provider_text(diag.provider_code, e.code.empty() ? e.type : e.code);
    set_provider_text(diag.provider_message, e.message);
    set_provider_text(diag.request_id, e.request_id);
    const api_errc c = classify_error(vendor_, comment_status_, e.code.empty() ? e.type : e.code, e.type, e.message);
    diag.hint = hint_for(vendor_, c, e.code);
    return c;
}

boost::system::error_code stream_decoder::on_event(const sse::event& ev, delta& out, diagnostics& diag) {
    out.clear();
    if (done_) return {};  // nothing after [DONE] is part of the response
    std::string_view data = ev.data;
    if (dialect_ == api_dialect::openai_compatible && data == "[DONE]") {
        done_ = true;
        return {};
    }
    if (data.find_first_not_of(" \t\r\n") == std::string_view::npos) return {};  // keep-alive

    const bool error_event = ev.type == "error";
    try {
        od::document doc = parser_.iterate(buffer_.wrap(data));
        od::object obj = doc.get_object();
        boost::system::error_code ec;
        if (error_event) {
            error_ = {};
            if (!read_error_object(obj, error_)) return errc::malformed_response;
            if (!at_document_end(doc)) return errc::malformed_response;
            return in_stream_error(error_, diag);
        }
        ec = dialect_ == api_dialect::openai_compatible ? decode_openai(obj, out, diag) : decode_native(obj, out, diag);
        if (ec) return ec;
        if (!at_document_end(doc)) return errc::malformed_response;
        if (cumulative_) return make_cumulative_incremental(out, diag);
        return {};
    } catch (const simdjson::simdjson_error& e) {
        const int attempts = diag.attempts;
        diag.clear();
        diag.attempts = attempts;
        diag.hint = std::string("the stream carried an event that is not valid ") +
                    (dialect_ == api_dialect::openai_compatible ? "OpenAI-compatible" : "DashScope") +
                    " JSON (" + e.what() + "): check the base URL and API dialect";
        out.clear();
        return errc::malformed_response;
    }
}

boost::system::error_code stream_decoder::decode_openai(od::object chunk, delta& out, diagnostics& diag) {
    // DashScope's compatible endpoint can send native error frames after a 200:
    // {"code":"Throttling.RateQuota","message":"...","request_id":"..."} (with or without event:error).
    std::string code, message;
    for (auto field : chunk) {
        const od::raw_json_string key = field.key();
        od::value v = field.value();
        if (key == "choices") {
            bool first = true;
            for (auto choice_value : v.get_array()) {
                od::object choice = choice_value.get_object();
                if (!first) continue;  // n > 1 is not supported: the first choice is the answer
                first = false;
                for (auto cf : choice) {
                    const od::raw_json_string ck = cf.key();
                    od::value cv = cf.value();
                    if (ck == "delta" || ck == "message") {
                        if (!cv.is_null()) read_message(cv.get_object(), out);
                    } else if (ck == "finish_reason") {
                        read_text(cv, out.finish_reason_text);
                        out.finish = parse_finish_reason(out.finish_reason_text);
                        if (out.finish == finish_reason::none) out.finish_reason_text.clear();
                    }
                }
            }
        } else if (key == "usage") {
            if (!v.is_null()) read_usage(v.get_object(), out.usage.emplace());
        } else if (key == "id") {
            read_text(v, out.response_id);
        } else if (key == "model") {
            read_text(v, out.model);
        } else if (key == "request_id") {
            read_text(v, out.request_id);
        } else if (key == "error") {
            if (v.is_null()) continue;
            provider_error e;
            if (v.type() == od::json_type::object) {
                if (!read_error_object(v.get_object(), e)) return errc::malformed_response;
            } else {
                e.message = value_as_text(v);
            }
            if (e.request_id.empty()) e.request_id = out.request_id;
            out.clear();
            return in_stream_error(e, diag);
        } else if (key == "code") {
            code = value_as_text(v);
        } else if (key == "message") {
            message = value_as_text(v);
        }
    }
    if (!code.empty()) {
        provider_error e{code, message, {}, out.request_id};
        out.clear();
        return in_stream_error(e, diag);
    }
    if (out.finish != finish_reason::none) finish_seen_ = true;
    return {};
}

boost::system::error_code stream_decoder::decode_native(od::object frame, delta& out, diagnostics& diag) {
    std::string code, message;
    for (auto field : frame) {
        const od::raw_json_string key = field.key();
        od::value v = field.value();
        if (key == "output") {
            for (auto of : v.get_object()) {
                const od::raw_json_string ok = of.key();
                od::value ov = of.value();
                if (ok == "choices") {
                    bool first = true;
                    for (auto choice_value : ov.get_array()) {
                        od::object choice = choice_value.get_object();
                        if (!first) continue;
                        first = false;
                        for (auto cf : choice) {
                            const od::raw_json_string ck = cf.key();
                            od::value cv = cf.value();
                            if (ck == "message") {
                                if (!cv.is_null()) read_message(cv.get_object(), out);
                            } else if (ck == "finish_reason") {
                                read_text(cv, out.finish_reason_text);
                            }
                        }
                    }
                } else if (ok == "text") {  // result_format "text"
                    read_text(ov, out.content);
                } else if (ok == "finish_reason") {
                    read_text(ov, out.finish_reason_text);
                }
            }
        } else if (key == "usage") {
            if (!v.is_null()) read_usage(v.get_object(), native_usage_.emplace());
        } else if (key == "request_id") {
            read_text(v, out.request_id);
        } else if (key == "code") {
            code = value_as_text(v);
        } else if (key == "message") {
            message = value_as_text(v);
        }
    }
    if (!code.empty()) {  // an error frame without event:error
        provider_error e{code, message, {}, out.request_id};
        out.clear();
        return in_stream_error(e, diag);
    }
    out.finish = parse_finish_reason(out.finish_reason_text);
    if (out.finish == finish_reason::none) {
        out.finish_reason_text.clear();
    } else {
        // Usage in native frames is a running count: hand it out once, with the final frame.
        out.usage = native_usage_;
        finish_seen_ = true;
    }
    return {};
}

boost::system::error_code stream_decoder::make_cumulative_incremental(delta& out, diagnostics& diag) {
    bool rewritten = false;
    auto suffix = [&](std::string& whole, std::string& seen) {
        if (whole.empty()) return;
        if (whole.size() < seen.size() || whole.compare(0, seen.size(), seen) != 0) {
            rewritten = true;
            return;
        }
        const std::size_t old = seen.size();
        seen.append(whole, old);
        whole.erase(0, old);
    };
    suffix(out.content, seen_content_);
    suffix(out.reasoning_content, seen_reasoning_);
    for (auto& t : out.tool_calls) {
        if (t.index < 0 || t.index > 1024) {
            rewritten = true;
            break;
        }
        if (seen_arguments_.size() <= static_cast<std::size_t>(t.index)) seen_arguments_.resize(t.index + 1);
        suffix(t.arguments, seen_arguments_[t.index]);
    }
    if (!rewritten) return {};
    const int attempts = diag.attempts;
    diag.clear();
    diag.attempts = attempts;
    diag.hint = "with incremental_output=false each frame must extend the text of the previous one, "
                "but this one rewrote it; request incremental_output=true";
    out.clear();
    return errc::malformed_response;
}

boost::system::error_code stream_decoder::on_end_of_stream(diagnostics& diag) const {
    if (done()) return {};
    const int attempts = diag.attempts;
    diag.clear();
    diag.attempts = attempts;
    diag.hint = dialect_ == api_dialect::openai_compatible
                    ? "the stream ended before [DONE] or a finish_reason: the connection was cut off"
                    : "the stream ended before the frame with the final finish_reason: the connection was cut off";
    return errc::truncated_stream;
}

boost::system::error_code decode_completion(api_dialect dialect, vendor v, int status, std::string_view body,
                                            completion& out, diagnostics& diag) {
    out = {};
    // A 200 body may still be an error object.
    provider_error e;
    if (parse_provider_error(body, e) && (!e.code.empty() || !e.message.empty()) &&
        body.find(dialect == api_dialect::openai_compatible ? "\"choices\"" : "\"output\"") == std::string_view::npos) {
        response_head head;
        head.status = status;
        return decode_error_response(v, head, body, diag);
    }
    stream_decoder decoder(dialect, v);
    delta d;
    sse::event ev{"message", body, {}};
    if (auto ec = decoder.on_event(ev, d, diag)) return ec;
    completion_accumulator acc;
    acc.add(d);
    out = acc.take();
    return {};
}

}  // namespace llmstream::protocol
