#include <llmstream/sse.hpp>

#include "line_scan.hpp"
#include "utf8.hpp"

#include <cstring>
#include <functional>
#include <limits>
#include <stdexcept>

namespace llmstream::sse {

parser::parser(limits lim) : limits_(lim) {
    if (limits_.max_line_size == 0 || limits_.max_event_size == 0)
        throw std::invalid_argument("llmstream::sse::limits: sizes must be greater than zero");
}

bool parser::has_partial_event() const noexcept {
    return !line_.empty() || field_seen_;
}

void parser::reset() {
    failed_ = {};
    line_.clear();
    line_non_ascii_ = false;
    ascii_line_ = false;
    clear_event();
    id_.clear();
    last_event_id_.clear();
    repaired_.clear();
    retry_.reset();
    event_ = {};
    comment_ = {};
    bom_decided_ = false;
    skip_lf_ = false;
    reset_after_dispatch_ = false;
    release_line_ = false;
    field_seen_ = false;
}

void parser::clear_event() {
    data_.clear();
    data_offset_ = 0;
    data_view_ = {};
    data_is_view_ = false;
    data_lines_ = 0;
    type_set_ = false;  // type_ keeps its bytes: the next event's type is usually the same
}

void parser::fail(boost::system::error_code& ec, errc e) {
    failed_ = e;
    ec = failed_;
    // Nothing more will be parsed: drop the partial line and event (and their memory).
    line_.clear();
    line_.shrink_to_fit();
    line_non_ascii_ = false;
    clear_event();
    data_.shrink_to_fit();
    field_seen_ = false;
}

// Inline: most lines are ASCII, and this runs for several lines of every event.
inline std::string_view parser::checked_utf8(std::string_view value, bool& repaired) {
    repaired = false;
    if (ascii_line_ || detail::is_valid_utf8(value)) return value;
    repaired = true;
    repaired_.clear();
    detail::append_replacing_invalid_utf8(value, repaired_);
    return repaired_;
}

parser::step parser::advance(std::string_view& in, boost::system::error_code& ec, bool want_comments) {
    if (failed_) {
        ec = failed_;
        in = {};
        return step::need_more;
    }
    // What the previous step handed out stayed valid until now.
    if (reset_after_dispatch_) {
        clear_event();
        reset_after_dispatch_ = false;
    }
    if (release_line_) {
        line_.clear();
        release_line_ = false;
    }

    while (!in.empty()) {
        if (!bom_decided_) {
            // line_ holds the bytes of a leading EF BB BF matched so far; on a mismatch they are
            // simply the start of the first line.
            static constexpr std::string_view bom = "\xEF\xBB\xBF";
            while (!in.empty() && line_.size() < bom.size() && in.front() == bom[line_.size()]) {
                line_.push_back(in.front());
                in.remove_prefix(1);
            }
            if (line_.size() == bom.size()) {
                line_.clear();
                bom_decided_ = true;
            } else if (!in.empty()) {
                bom_decided_ = true;
            }
            continue;
        }
        if (skip_lf_) {
            skip_lf_ = false;
            if (in.front() == '\n') {
                in.remove_prefix(1);
                continue;
            }
        }

        if (line_.empty() && (in.front() == '\n' || in.front() == '\r')) {
            // A blank line (every event ends with one): what the general path below would do, without the scan.
            const bool ended_by_cr = in.front() == '\r';
            in.remove_prefix(1);
            if (ended_by_cr) {
                if (in.empty())
                    skip_lf_ = true;
                else if (in.front() == '\n')
                    in.remove_prefix(1);
            }
            ascii_line_ = true;
            const step s = process_line({}, true, want_comments, ec);
            if (ec) return step::need_more;
            if (s != step::need_more) return s;
            continue;
        }

        const char* p = in.data();
        const std::size_t n = in.size();
        detail::line_scan scan;
        if (!(*p != 'd' && detail::scan_short_line(p, n, scan)))  // data lines are the long ones
            scan = detail::scan_line(p, n);
        const std::size_t end = scan.end;

        if (line_.size() + end > limits_.max_line_size) {
            fail(ec, errc::line_too_long);
            return step::need_more;
        }
        if (end == n) {  // no terminator yet: keep the partial line for the next chunk
            line_.append(p, n);
            line_non_ascii_ = line_non_ascii_ || scan.non_ascii;
            in = {};
            break;
        }

        std::string_view line;
        const bool in_chunk = line_.empty();
        ascii_line_ = !scan.non_ascii;
        if (in_chunk) {
            line = in.substr(0, end);
        } else {
            line_.append(p, end);
            line = line_;
            ascii_line_ = ascii_line_ && !line_non_ascii_;
            line_non_ascii_ = false;
            release_line_ = true;
        }
        const bool ended_by_cr = p[end] == '\r';
        in.remove_prefix(end + 1);
        if (ended_by_cr) {
            if (in.empty())
                skip_lf_ = true;
            else if (in.front() == '\n')
                in.remove_prefix(1);
        }

        const step s = process_line(line, in_chunk, want_comments, ec);
        if (ec) return step::need_more;
        if (s != step::need_more) return s;
        if (release_line_) {
            line_.clear();
            release_line_ = false;
        }
    }

    // The chunk goes away when feed returns: an event still being built must not point into it.
    if (data_is_view_) {
        data_.assign(data_view_);
        data_view_ = {};
        data_is_view_ = false;
    }
    return step::need_more;
}

parser::step parser::process_line(std::string_view line, bool in_chunk, bool want_comments,
                                  boost::system::error_code& ec) {
    if (line.empty()) {  // blank line: dispatch
        last_event_id_.assign(id_);
        field_seen_ = false;
        if (data_lines_ == 0) {
            clear_event();
            return step::need_more;
        }
        event_.type = !type_set_ || type_.empty() ? std::string_view("message") : std::string_view(type_);
        event_.data = data_is_view_ ? data_view_ : std::string_view(data_).substr(data_offset_);
        event_.id = last_event_id_;
        reset_after_dispatch_ = true;
        return step::dispatch;
    }
    if (line.front() == ':') {
        if (!want_comments) return step::need_more;
        bool repaired = false;
        comment_ = checked_utf8(line.substr(1), repaired);
        return step::comment;
    }

    field_seen_ = true;
    if (line.size() >= 5 && std::memcmp(line.data(), "data:", 5) == 0) {  // most lines
        std::string_view value = line.substr(5);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        if (data_lines_ == 0 && in_chunk && value.size() <= limits_.max_event_size &&
            (ascii_line_ || detail::is_valid_utf8(value))) {
            data_view_ = value;  // the usual event: one valid data line, a view of the chunk (as append_data would)
            data_is_view_ = true;
            data_lines_ = 1;
            return step::need_more;
        }
        append_data(value, in_chunk, ec);
        return step::need_more;
    }
    // The other field names streams use, told apart without a search for the colon.
    std::string_view name, value;
    auto field = [&](std::string_view with_colon) {
        if (line.size() < with_colon.size() || std::memcmp(line.data(), with_colon.data(), with_colon.size()) != 0)
            return false;
        name = with_colon.substr(0, with_colon.size() - 1);
        value = line.substr(with_colon.size());
        return true;
    };
    if (!(field("event:") || field("id:"))) {
        name = line;
        if (const auto colon = line.find(':'); colon != std::string_view::npos) {
            name = line.substr(0, colon);
            value = line.substr(colon + 1);
        }
    }
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);

    bool repaired = false;
    if (name == "data") {
        append_data(value, in_chunk, ec);
    } else if (name == "event") {
        const std::string_view type = checked_utf8(value, repaired);
        if (std::string_view(type_) != type) type_.assign(type);
        type_set_ = true;
    } else if (name == "id") {
        if (value.find('\0') == std::string_view::npos) id_.assign(checked_utf8(value, repaired));
    } else if (name == "retry") {
        if (value.empty()) return step::need_more;
        using rep = std::chrono::milliseconds::rep;
        constexpr rep max = std::numeric_limits<rep>::max();
        rep ms = 0;
        for (const char c : value) {
            if (c < '0' || c > '9') return step::need_more;
            const rep digit = c - '0';
            ms = ms > (max - digit) / 10 ? max : ms * 10 + digit;  // saturate absurd values
        }
        retry_ = std::chrono::milliseconds(ms);
    }
    // Any other field name is ignored, as the standard requires.
    return step::need_more;
}

void parser::append_data(std::string_view value, bool in_chunk, boost::system::error_code& ec) {
    bool repaired = false;
    const std::string_view v = checked_utf8(value, repaired);
    const std::size_t current = data_is_view_ ? data_view_.size() : data_.size() - data_offset_;
    const std::size_t separator = data_lines_ > 0 ? 1 : 0;
    if (current + separator + v.size() > limits_.max_event_size) {
        fail(ec, errc::event_too_large);
        return;
    }
    if (data_lines_ == 0 && in_chunk && !repaired) {
        data_view_ = v;  // zero-copy: a view of the caller's chunk
        data_is_view_ = true;
    } else if (data_lines_ == 0 && !repaired && !in_chunk && !v.empty() && std::less_equal<const char*>{}(line_.data(), v.data()) &&
               v.data() + v.size() == line_.data() + line_.size()) {
        // The line was assembled in line_ (it spanned chunks) and its value runs to its end:
        // take the buffer instead of copying it (long deltas are the lines that span chunks).
        data_offset_ = static_cast<std::size_t>(v.data() - line_.data());
        data_.swap(line_);
    } else {
        if (data_is_view_) {
            data_.assign(data_view_);
            data_view_ = {};
            data_is_view_ = false;
        }
        if (separator) data_.push_back('\n');
        data_.append(v);
    }
    ++data_lines_;
}

}  // namespace llmstream::sse
