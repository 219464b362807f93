#include "stream_decoder.hpp"
#include "only_text.hpp"
#include "replay_step.hpp"

#include "error_classifier.hpp"
#include "vendor.hpp"

#include <llmstream/error.hpp>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <utility>

namespace llmstream::protocol {

namespace {

const char* dialect_label(api_dialect d) {
    switch (d) {
    case api_dialect::openai_compatible: return "OpenAI-compatible";
    case api_dialect::dashscope_native: return "DashScope";
    case api_dialect::anthropic_messages: return "Anthropic Messages";
    case api_dialect::openai_responses: return "OpenAI Responses";
    }
    return "provider";
}

void fill_malformed(diagnostics& diag, api_dialect dialect) {
    diag.clear_last_attempt();
    diag.hint = std::string("the stream carried an event that is not valid ") + dialect_label(dialect) +
                " JSON: check the base URL and the API dialect";
}

bool has_typed_events(api_dialect d) {
    return d == api_dialect::anthropic_messages || d == api_dialect::openai_responses;
}

// An error the provider reported in a body or event, with `status` (200 when it came in a 2xx
// body or stream without a status of its own).
boost::system::error_code report_error(vendor v, int status, int classify_status, const provider_error& e,
                                       diagnostics& diag) {
    diag.clear_last_attempt();
    diag.http_status = status;
    const std::string& code = e.code.empty() ? e.type : e.code;
    set_provider_text(diag.provider_code, code);
    set_provider_text(diag.provider_message, e.message);
    set_provider_text(diag.request_id, e.request_id);
    const vendor speaker = vendor_for_error(v, e);
    const api_errc c = classify_error(speaker, classify_status, code, e.type, e.message);
    diag.hint = hint_for(speaker, c, code);
    return c;
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

stream_decoder::stream_decoder(api_dialect dialect, vendor v, bool cumulative_output)
    : dialect_(dialect), vendor_(v), cumulative_(cumulative_output) {
    if (has_typed_events(dialect)) typed_ = std::make_unique<typed_readers>();
}

void stream_decoder::reset() {
    comment_status_ = 0;
    last_role_.clear();
    last_model_.clear();
    last_response_id_.clear();
    last_request_id_.clear();
    ++identity_changes_;
    done_ = false;
    finish_seen_ = false;
    native_usage_.reset();
    native_usage_in_slots_ = false;
    replay_.valid = false;
    suffix_.valid = false;
    suffix_.misses = 0;
    replayed_ = 0;
    replayed_suffixes_ = 0;
    replayed_whole_ = 0;
    seen_content_.clear();
    seen_reasoning_.clear();
    seen_arguments_.clear();
    whole_event_.clear();
    if (typed_) {
        typed_->anthropic.reset();
        typed_->responses.reset();
        typed_->text_replay.valid = false;
    }
}

// A comment other than `HTTP_STATUS/` and three digits (on_comment's inline case).
void stream_decoder::on_other_comment(std::string_view text) noexcept {
    constexpr std::string_view prefix = "HTTP_STATUS/";
    if (text.substr(0, prefix.size()) != prefix) return;
    text.remove_prefix(prefix.size());
    int status = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), status);
    if (ec == std::errc{} && status >= 100 && status <= 599) comment_status_ = status;
}

boost::system::error_code stream_decoder::in_stream_error(const provider_error& e, diagnostics& diag) const {
    return report_error(vendor_, comment_status_ != 0 ? comment_status_ : 200, comment_status_, e, diag);
}

// Identity fields and the role repeat in every chunk (DashScope sends role "assistant" in every
// frame); a delta carries them only when they first appear or change, so that streaming does not
// copy them per event.
[[gnu::always_inline]] inline void stream_decoder::hand_out_identity(delta& out) {
    auto once = [this](std::string& field, std::string& last) __attribute__((always_inline)) {
        if (field.empty()) return;
        if (field == last) {
            field.clear();
        } else {
            last = field;
            ++identity_changes_;
        }
    };
    once(out.role, last_role_);
    once(out.model, last_model_);
    once(out.response_id, last_response_id_);
    once(out.request_id, last_request_id_);
}

// Anthropic Messages and OpenAI Responses: each event says what it is; the dialect's reader
// turns it into a delta.
boost::system::error_code stream_decoder::on_typed_event(const sse::event& ev, delta& out, diagnostics& diag) {
    clear_error();
    const std::string_view data = ev.data;
    typed_readers& t = *typed_;  // made by the constructor for these dialects
    if (t.text_replay.valid && ev.type == t.text_replay.event_name) {
        if (replay_text_event(data, out)) {
            ++replayed_;
            return {};
        }
        out.clear();  // not the same around its text: read in full
    }
    bool has_error = false;
    json_cursor c(buffer_, data);
    const bool ok = (dialect_ == api_dialect::anthropic_messages
                         ? t.anthropic.read(c, ev.type, out, written_error(), has_error)
                         : t.responses.read(c, ev.type, out, written_error(), has_error)) &&
                    c.at_end();
    if (!ok) {
        out.clear();
        fill_malformed(diag, dialect_);
        return errc::malformed_response;
    }
    if (has_error) {
        out.clear();
        return in_stream_error(error_, diag);
    }
    hand_out_identity(out);
    if (out.finish != finish_reason::none) finish_seen_ = true;
    if (t.anthropic.finished() || t.responses.finished()) done_ = true;
    if (replay_enabled_) {
        const auto span = dialect_ == api_dialect::anthropic_messages ? t.anthropic.text_delta() : t.responses.text_delta();
        if (span) {
            t.text_replay.event_name.assign(ev.type);
            t.text_replay.prefix.assign(data.substr(0, span->begin + 1));
            t.text_replay.suffix.assign(data.substr(span->end));
            t.text_replay.span = *span;
            t.text_replay.valid = true;
            whole_event_.learn(ev.type, data.substr(0, span->begin + 1), data.substr(span->end), *span, buffer_);
        }
    }
    return {};
}

boost::system::error_code stream_decoder::on_event(const sse::event& ev, delta& out, diagnostics& diag) {
    out.clear();
    if (done_) return {};  // nothing after [DONE] is part of the response
    const std::string_view data = ev.data;
    if (dialect_ != api_dialect::dashscope_native && dialect_ != api_dialect::anthropic_messages && data == "[DONE]") {
        done_ = true;
        return {};
    }
    if ((data.empty() || data.front() != '{') && data.find_first_not_of(" \t\r\n") == std::string_view::npos) return {};  // keep-alive

    if (has_typed_events(dialect_)) return on_typed_event(ev, out, diag);
    clear_error();
    native_usage_written_ = false;
    native_usage_read_.count = 0;
    bool has_error = false;
    bool ok;
    const std::size_t suffixes_before = replayed_suffixes_;
    if (ev.type == "error") {  // DashScope: event:error, :HTTP_STATUS/NNN, data:{"code":...}
        replay_.valid = false;
        json_cursor c(buffer_, data);
        ok = c.enter_object() && read_error_members(c, written_error()) && c.at_end();
        has_error = true;
    } else if (replay_.valid && data.size() > replay_.prefix.size() &&
               std::memcmp(data.data(), replay_.prefix.data(), replay_.prefix.size()) == 0) {
        ok = replay_event(data, out, has_error);
        ++replayed_;
    } else {
        json_cursor c(buffer_, data);
        ok = decode_event(c, data, out, has_error);
    }
    if (!ok) {
        out.clear();
        fill_malformed(diag, dialect_);
        return errc::malformed_response;
    }
    if (has_error) {
        if (error_.request_id.empty()) written_error().request_id = out.request_id;
        out.clear();
        return in_stream_error(error_, diag);
    }
    hand_out_identity(out);
    out.finish = out.finish_reason_text.empty() ? finish_reason::none : parse_finish_reason(out.finish_reason_text);
    if (out.finish == finish_reason::none) {
        out.finish_reason_text.clear();
    } else {
        finish_seen_ = true;
        // Usage in native frames is a running count: hand it out once, with the final frame.
        if (dialect_ == api_dialect::dashscope_native) {
            settle_native_usage();
            out.usage = native_usage_;
        }
    }
    if (cumulative_) return make_cumulative_incremental(out, diag);
    // Replayed with its suffix: the event is replay_.prefix, its text and suffix_.bytes (but for padding).
    if (replayed_suffixes_ != suffixes_before && dialect_ == api_dialect::openai_compatible) learn_whole_chat_event(out);
    return {};
}

// A chat chunk that carried only its text (no identity field changed, no finish, usage or tool
// call) becomes whole-event replay's template: the next chunk that is its bytes but for the text
// (and the padding) decodes to that text alone, as long as no identity field changes meanwhile.
void stream_decoder::learn_whole_chat_event(const delta& out) {
    const bool reasoning = replay_.field == text_field::reasoning;
    if (!only_text(out) || !(reasoning ? out.content : out.reasoning_content).empty() || suffix_.usage_hole) return;
    if (whole_event_.valid() && whole_event_identity_at_ == identity_changes_ && whole_event_replay_at_ == replay_changes_)
        return;  // the template is made of the same (an event it declined: an escape in the text)
    text_delta_span span;
    span.reasoning = reasoning;
    // Made of the kept prefix and suffix (this event's own may differ in its padding); no `event:` line.
    whole_event_.learn({}, replay_.prefix, suffix_.bytes, span, buffer_);
    if (suffix_.padding_hole) whole_event_.add_tail_hole(suffix_.padding_begin, suffix_.bytes.size() - 2);
    whole_event_replay_at_ = replay_changes_;
    whole_event_identity_at_ = identity_changes_;
}

// Decodes an event in full and, when it can be replayed, remembers its prefix for the next one.
bool stream_decoder::decode_event(json_cursor& c, std::string_view data, delta& out, bool& has_error) {
    replay_marker hole{replay_candidate_, out, error_, has_error, native_usage_written_};
    replay_marker* marker = replay_enabled_ ? &hole : nullptr;
    const bool ok = c.enter_object() &&
                    (dialect_ == api_dialect::openai_compatible
                         ? chat_completions::read_chunk_fields(c, out, errors(has_error), marker)
                         : dashscope_native::read_frame_fields(c, out, errors(has_error), running_usage(), marker)) &&
                    c.at_end();
    if (!replay_enabled_) return ok;
    if (ok && !has_error && hole.marked && hole.replayable) {
        replay_candidate_.prefix.assign(data.data(), hole.offset + 1);
        replay_candidate_.valid = true;
        std::swap(replay_, replay_candidate_);
        ++replay_changes_;
        suffix_.valid = false;  // it belonged to the old prefix
        suffix_.misses = 0;
    } else if (!ok || has_error) {
        replay_.valid = false;
    }
    return ok;
}

boost::system::error_code stream_decoder::make_cumulative_incremental(delta& out, diagnostics& diag) {
    bool rewritten = false;
    auto new_part = [&](std::string& whole, std::string& seen) {
        if (whole.empty()) return;  // a frame without this field repeats nothing
        if (whole.size() < seen.size() || whole.compare(0, seen.size(), seen) != 0) {
            rewritten = true;
            return;
        }
        const std::size_t old = seen.size();
        seen.append(whole, old);
        whole.erase(0, old);
    };
    new_part(out.content, seen_content_);
    new_part(out.reasoning_content, seen_reasoning_);
    for (auto& t : out.tool_calls) {
        if (seen_arguments_.size() <= static_cast<std::size_t>(t.index)) seen_arguments_.resize(t.index + 1);
        new_part(t.arguments, seen_arguments_[t.index]);
    }
    if (!rewritten) return {};
    diag.clear_last_attempt();
    diag.hint = "with incremental_output=false each frame must extend the text of the previous one, "
                "but this one rewrote it; request incremental_output=true";
    out.clear();
    return errc::malformed_response;
}

boost::system::error_code stream_decoder::on_end_of_stream(diagnostics& diag) const {
    if (done()) return {};
    diag.clear_last_attempt();
    switch (dialect_) {
    case api_dialect::openai_compatible:
        diag.hint = "the stream ended before [DONE] or a finish_reason: the connection was cut off";
        break;
    case api_dialect::dashscope_native:
        diag.hint = "the stream ended before the frame with the final finish_reason: the connection was cut off";
        break;
    case api_dialect::anthropic_messages:
        diag.hint = "the stream ended before message_delta's stop_reason or message_stop: the connection was cut off";
        break;
    case api_dialect::openai_responses:
        diag.hint = "the stream ended before response.completed or response.incomplete: the connection was cut off";
        break;
    }
    return errc::truncated_stream;
}

boost::system::error_code decode_completion(api_dialect dialect, vendor v, int status, std::string_view body,
                                            completion& out, diagnostics& diag) {
    out = {};
    if (!sse::detail::is_valid_utf8(body)) {
        fill_malformed(diag, dialect);
        diag.hint = "the response body is not valid UTF-8: check the base URL and the API dialect";
        return errc::malformed_response;
    }
    if (has_typed_events(dialect)) {
        provider_error e;
        bool has_error = false;
        const bool ok = dialect == api_dialect::anthropic_messages
                            ? anthropic_messages::decode_completion(body, out, e, has_error)
                            : openai_responses::decode_completion(body, out, e, has_error);
        if (!ok) {
            out = {};
            fill_malformed(diag, dialect);
            diag.hint = std::string("the response body is not ") + dialect_label(dialect) +
                        " JSON: check the base URL and the API dialect";
            return errc::malformed_response;
        }
        if (!has_error) return {};
        out = {};
        if (status != 200) {
            response_head head;
            head.status = status;
            return decode_error_response(v, head, body, diag);
        }
        return report_error(v, 200, 0, e, diag);
    }
    stream_decoder decoder(dialect, v);
    delta d;
    const sse::event ev{"message", body, {}};
    if (auto ec = decoder.on_event(ev, d, diag)) {
        // A 2xx body with an error object is reported as that error, with the real status.
        if (ec.category() == api_category() && status != 200) {
            response_head head;
            head.status = status;
            return decode_error_response(v, head, body, diag);
        }
        return ec;
    }
    completion_accumulator acc;
    acc.add(d);
    out = acc.take();
    return {};
}

}  // namespace llmstream::protocol
