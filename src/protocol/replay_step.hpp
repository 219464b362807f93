// The step of prefix replay every replayed event takes (see replay.hpp): included by
// stream_decoder.cpp alone, so that it is compiled with the decoder's on_event (a call across
// files cost 11% more instructions per event). The rest of replay is in replay.cpp.
#pragma once

#include "stream_decoder.hpp"

#include <algorithm>

namespace llmstream::protocol {

// The event starts with the bytes of replay_.prefix: restore what they set, read the text
// value and everything after it exactly as decode_event would have.
inline bool stream_decoder::replay_event(std::string_view data, delta& out, bool& has_error) {
    const std::size_t quote = replay_.prefix.size() - 1;
    const std::string_view doc = data.substr(quote);  // from the text's opening quote on
    std::string& text = replay_.field == text_field::content ? out.content : out.reasoning_content;
    // The text is read in place: only an event read on past it needs the padded copy.
    text.clear();
    const auto in_place = json_cursor::read_string_in_place(doc, buffer_.scratch_for(doc.size()), text);
    std::size_t text_end = in_place.end;
    if (in_place.outcome == json_cursor::in_place_string::malformed) {
        replay_.valid = false;
        return false;
    }
    if (in_place.outcome == json_cursor::in_place_string::near_end) {
        json_cursor c(buffer_, doc);
        c.resume_at(0, replay_.depth);
        if (!c.read_string(text)) {
            replay_.valid = false;
            return false;
        }
        text_end = c.offset();
    }
    const std::string_view rest = doc.substr(text_end);
    if (suffix_.valid && replay_suffix_bytes(doc, text_end, rest)) {
        ++replayed_suffixes_;
        suffix_.misses = 0;
        // `out` was cleared by on_event and only the text written since: empty fields stay as they are.
        if (!suffix_.other_text.empty())
            (replay_.field == text_field::content ? out.reasoning_content : out.content) = suffix_.other_text;
        if (!suffix_.finish_reason_text.empty()) out.finish_reason_text = suffix_.finish_reason_text;
        // Nothing writes these after this point: one empty or equal to the last handed out would
        // only be emptied again by on_event. Once all four are, they stay so until one of those changes.
        if (suffix_.identity_same_at != identity_changes_) {
            const auto same = [](const std::string& kept, const std::string& last) { return kept.empty() || kept == last; };
            const bool same_role = same(suffix_.role, last_role_);
            const bool same_model = same(suffix_.model, last_model_);
            const bool same_response_id = same(suffix_.response_id, last_response_id_);
            const bool same_request_id = same(suffix_.request_id, last_request_id_);
            if (!same_role) out.role = suffix_.role;
            if (!same_model) out.model = suffix_.model;
            if (!same_response_id) out.response_id = suffix_.response_id;
            if (!same_request_id) out.request_id = suffix_.request_id;
            if (same_role && same_model && same_response_id && same_request_id) suffix_.identity_same_at = identity_changes_;
        }
        if (!suffix_.tool_calls.empty()) out.tool_calls = suffix_.tool_calls;
        out.usage = suffix_.usage;
        if (suffix_.native_usage_written && !suffix_.usage_hole) {
            native_usage_written_ = true;
            native_usage_in_slots_ = false;
            native_usage_ = suffix_.native_usage;
        }
        return true;
    }
    json_cursor c(buffer_, doc);
    c.resume_at(text_end, replay_.depth);
    out.role = replay_.role;
    out.model = replay_.model;
    out.response_id = replay_.response_id;
    out.request_id = replay_.request_id;
    const bool ok = (dialect_ == api_dialect::openai_compatible
                         ? chat_completions::read_after_text(c, out, errors(has_error))
                         : dashscope_native::read_after_text(c, out, errors(has_error), running_usage())) &&
                    c.at_end();
    if (!ok || has_error) {
        replay_.valid = false;
        suffix_.valid = false;
        return ok;
    }
    remember_suffix(rest, text_end, out, has_error);
    return ok;
}

// Whether `rest` (the event after its text, which ended at `text_end` of `doc`) equals the kept
// suffix (but for its padding, replay_suffix::padding_hole); across a usage hole, the usage read
// there becomes the running count, as a full read of the same bytes would make it. On false
// nothing was changed.
[[gnu::always_inline]] inline bool stream_decoder::replay_suffix_bytes(std::string_view doc, std::size_t text_end,
                                                                     std::string_view rest) {
    if (!suffix_.usage_hole) return suffix_.padding_hole ? same_but_padding(rest) : rest == std::string_view(suffix_.bytes);
    if (suffix_.layout.usable && (match_kept_widths(rest) || match_usage_slots(rest))) return true;
    return read_usage_hole(doc, text_end, rest);
}

// `rest` is the kept suffix but for its padding (replay_suffix::padding_hole): the same bytes
// before it, and `"}` after a value a full read skips the same way (is_padding, as
// whole_event_replay's string holes).
[[gnu::always_inline]] inline bool stream_decoder::same_but_padding(std::string_view rest) const noexcept {
    const std::size_t before = suffix_.padding_begin;
    if (rest.size() < before + 2 || std::memcmp(rest.data(), suffix_.bytes.data(), before) != 0 ||
        std::memcmp(rest.data() + rest.size() - 2, "\"}", 2) != 0)
        return false;
    return is_padding(rest.substr(before, rest.size() - 2 - before));
}

// The fast way across the usage hole: `rest` is the kept suffix with other integers in the
// usage object's count slots. A full read of such bytes reads the same keys in the same order,
// each an integer token, so it sets exactly these counts.
// Counts of the kept widths, the usual case: the fixed bytes are compared in one pass, and each
// slot holds a count when its bytes are digits with no leading zero. The counts are worked out
// only when the usage is handed out (settle_native_usage). Inline: every DashScope frame.
[[gnu::always_inline]] inline bool stream_decoder::match_kept_widths(std::string_view rest) {
    const std::size_t kept_size = suffix_.bytes.size();
    const usage_layout& layout = suffix_.layout;
    if (rest.size() != kept_size || suffix_.fixed_mask.size() != kept_size ||
        !equal_under_mask(rest.data(), suffix_.bytes.data(), suffix_.fixed_mask.data(), kept_size))
        return false;
    std::array<std::uint64_t, usage_layout::max_slots> read;  // words, or counts read by bytes
    for (std::size_t i = 0; i < layout.count; ++i) {
        const usage_layout::slot& s = layout.slots[i];
        const replay_suffix::count_word& w = suffix_.count_words[i];
        if (w.digits != 0) {
            read[i] = count_word_at(rest.data(), s.end, w.digits);
            if (read[i] != w.last && !is_count_word(read[i], w.digits)) return false;  // equal: the prompt's count, say
        } else if (!read_count_bytes(rest.data(), s.begin, s.end, read[i])) {
            return false;
        }
    }
    for (std::size_t i = 0; i < layout.count; ++i) {
        replay_suffix::count_word& w = suffix_.count_words[i];
        (w.digits != 0 ? w.last : w.value) = read[i];
    }
    native_usage_written_ = true;
    native_usage_in_slots_ = true;
    return true;
}

// The running usage of the frames match_kept_widths took, from the words in the count slots.
inline void stream_decoder::settle_native_usage() noexcept {
    if (!native_usage_in_slots_) return;
    native_usage_in_slots_ = false;
    usage fresh;
    for (std::size_t i = 0; i < suffix_.layout.count; ++i) {
        const replay_suffix::count_word& w = suffix_.count_words[i];
        fresh.*suffix_.layout.slots[i].field = static_cast<std::int64_t>(w.digits != 0 ? count_of_word(w.last) : w.value);
    }
    chat::derive_total(fresh);
    native_usage_ = fresh;
}

// An event that is the last text delta (typed_->text_replay) but for its text and the holes' integers,
// with the same bytes after its text or, where the span allows, members that do not matter: its
// text, read in place when it can be. False otherwise (the event is then decoded in full, which
// says what is wrong with it, if anything).
inline bool stream_decoder::replay_text_event(std::string_view data, delta& out) {
    const text_event_replay& r = typed_->text_replay;
    const std::string_view prefix = r.prefix;
    // The prefix, hole by hole: an integer token in each (as a full read takes it), the bytes between equal.
    std::size_t at = 0, kept = 0;
    for (std::size_t h = 0; h < r.span.hole_count; ++h) {
        const text_delta_span::hole& hole = r.span.holes[h];
        const std::size_t fixed = hole.begin - kept;
        if (data.size() < at + fixed || std::memcmp(data.data() + at, prefix.data() + kept, fixed) != 0) return false;
        at += fixed;
        const std::size_t first = at;
        while (at < data.size() && static_cast<unsigned char>(data[at] - '0') < 10) ++at;
        const std::size_t digits = at - first;
        if (!is_count_token(data.data() + first, digits)) return false;
        kept = hole.end;
    }
    const std::size_t rest = prefix.size() - kept;
    if (data.size() <= at + rest || std::memcmp(data.data() + at, prefix.data() + kept, rest) != 0) return false;
    const std::size_t quote = at + rest - 1;
    const std::string_view doc = data.substr(quote);  // from the text's opening quote on
    std::string& text = r.span.reasoning ? out.reasoning_content : out.content;
    // The usual case where the bytes after the text must repeat (Anthropic's `}}`): they follow a
    // closing quote, and the text between has no escape, quote or control character: it is its
    // bytes (UTF-8 was checked by the SSE parser). (Responses' padding after the text varies.)
    if (const std::size_t close = doc.size() - std::min(doc.size(), r.suffix.size());
        !r.span.key_matters && close >= 2 && doc[close - 1] == '"' && doc.substr(close) == std::string_view(r.suffix)) {
        const std::string_view raw = doc.substr(1, close - 2);
        if (std::none_of(raw.begin(), raw.end(),
                         [](char ch) { return ch == '"' || ch == '\\' || static_cast<unsigned char>(ch) < 0x20; })) {
            text.assign(raw);
            return true;
        }
    }
    const auto in_place = json_cursor::read_string_in_place(doc, buffer_.scratch_for(doc.size()), text);
    std::size_t end = in_place.end;
    if (in_place.outcome == json_cursor::in_place_string::malformed) return false;
    if (in_place.outcome == json_cursor::in_place_string::near_end) {
        text.clear();
        json_cursor c(buffer_, doc);
        c.resume_at(0, 1);
        if (!c.read_string(text)) return false;
        end = c.offset();
    }
    const std::string_view after = doc.substr(end);
    if (after == std::string_view(r.suffix)) return true;
    if (!r.span.key_matters) return false;
    // Other members after the text: none that matters, and valid JSON to the end.
    json_cursor c(buffer_, after);
    c.resume_at(0, 1);
    std::string_view key;
    while (c.next_field(key))
        if (r.span.key_matters(key) || !c.skip()) return false;
    return !c.failed() && c.at_end();
}

}  // namespace llmstream::protocol
