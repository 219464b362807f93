#include "parser_core.hpp"

#include "line_scan.hpp"
#include "utf8.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <functional>
#include <limits>
#include <stdexcept>

namespace llmstream::sse::detail {

parser_core::parser_core(limits lim) : limits_(lim) {
    if (limits_.max_line_size == 0 || limits_.max_event_size == 0)
        throw std::invalid_argument("llmstream::sse::limits: sizes must be greater than zero");
}

bool parser_core::has_partial_event() const noexcept {
    return !line_.empty() || field_seen_;
}

void parser_core::reset() {
    failed_ = {};
    line_.clear();
    line_non_ascii_ = false;
    line_high_ = {};
    clear_event();
    last_id_ = pending_id_ = {};
    last_id_in_chunk_ = pending_id_in_chunk_ = false;
    id_pending_ = false;
    masks_ = {};
    repaired_.clear();
    retry_.reset();
    event_ = {};
    bom_decided_ = false;
    skip_lf_ = false;
    dispatching_ = false;
    release_line_ = false;
    field_seen_ = false;
}

inline void parser_core::clear_event() {
    data_.clear();
    data_offset_ = 0;
    data_view_ = {};
    data_is_view_ = false;
    data_lines_ = 0;
    type_set_ = false;
    type_in_chunk_ = false;  // nothing reads type_ until the next event: no copy needed
}

// The chunk goes away: what still points into it is copied.
void parser_core::keep_chunk_views() {
    if (data_is_view_) {
        data_.assign(data_view_);
        data_view_ = {};
        data_is_view_ = false;
    }
    if (type_in_chunk_) {
        type_bytes_.assign(type_);
        type_ = type_bytes_;
        type_in_chunk_ = false;
    }
    if (last_id_in_chunk_) {
        id_bytes_[last_id_slot_].assign(last_id_);
        last_id_ = id_bytes_[last_id_slot_];
        last_id_in_chunk_ = false;
    }
    if (pending_id_in_chunk_) {
        id_bytes_[last_id_slot_ ^ 1].assign(pending_id_);
        pending_id_ = id_bytes_[last_id_slot_ ^ 1];
        pending_id_in_chunk_ = false;
    }
}

void parser_core::fail(boost::system::error_code& ec, errc e) {
    failed_ = e;
    ec = failed_;
    // Nothing more will be parsed: drop the partial line and event (and their memory).
    line_.clear();
    line_.shrink_to_fit();
    line_non_ascii_ = false;
    clear_event();
    data_.shrink_to_fit();
    field_seen_ = false;
    keep_chunk_views();  // last_event_id() stays readable
}

// Inline: most lines are ASCII, and this runs for several lines of every event.
inline std::string_view parser_core::checked_utf8(std::string_view value, bool& repaired) {
    repaired = false;
    if (is_valid_utf8(value)) return value;
    repaired = true;
    repaired_.clear();
    detail::append_replacing_invalid_utf8(value, repaired_);
    return repaired_;
}

// `value` lies in the line being processed. Its bytes outside line_high_ are ASCII, which is
// valid UTF-8 on its own and cannot complete a sequence: only the span from its first to its
// last high byte needs a look (a few bytes of Chinese text in a 250-byte JSON line).
inline bool parser_core::is_valid_utf8(std::string_view value) const noexcept {
    if (line_high_.first == nullptr || value.empty()) return true;
    const char* first = std::max(line_high_.first, value.data());
    const char* last = std::min(line_high_.last, value.data() + value.size() - 1);
    return first > last || detail::is_valid_utf8({first, static_cast<std::size_t>(last - first + 1)});
}

namespace {

using detail::block_cache;
using detail::high_bytes;

// The high bytes of `mask` (bit i: byte at + i), merged into `high`.
[[gnu::always_inline]] inline void note_high(high_bytes& high, const char* at, std::uint64_t mask) noexcept {
    if (mask == 0) return;
    if (high.first == nullptr) high.first = at + std::countr_zero(mask);
    high.last = at + 63 - std::countl_zero(mask);
}

// The line at `p` does not end in the cached block: mask 64 bytes at a time from p (or from the
// end of that block) until it does or the chunk ends. Compiled once per block scanner, so that
// the scan loop is inlined here.
template <detail::block_masks (*Masks)(const char*)>
[[gnu::always_inline]] inline std::size_t line_length_from_new_block_with(const char* p, const char* end, block_cache& cache,
                                                                         high_bytes& high) noexcept {
    const auto shift = reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(cache.at);
    const char* block = p;
    high = {};
    if (cache.at != nullptr && shift < 64) {  // the rest of the cached block holds no line end
        note_high(high, p, cache.high >> shift);
        block = cache.at + 64;
    }
    if (block >= end) return static_cast<std::size_t>(end - p);
    const detail::eol_block found = detail::find_eol_block_with<Masks>(block, end);
    cache = {found.at, found.masks.eol, found.masks.high};
    if (found.first_high != nullptr) {
        if (high.first == nullptr) high.first = found.first_high;
        high.last = found.last_high;
    }
    if (found.masks.eol == 0) {
        note_high(high, found.at, found.masks.high);
        return static_cast<std::size_t>(end - p);
    }
    const int at = std::countr_zero(found.masks.eol);
    note_high(high, found.at, found.masks.high & ((std::uint64_t{1} << at) - 1u));
    return static_cast<std::size_t>(found.at + at - p);
}

#if defined(LLMSTREAM_HAS_AVX2_PATHS)
__attribute__((target(LLMSTREAM_AVX2_TARGET))) std::size_t line_length_from_new_block_avx2(const char* p, const char* end,
                                                                                           block_cache& cache,
                                                                                           high_bytes& high) noexcept {
    return line_length_from_new_block_with<detail::block_masks_avx2>(p, end, cache, high);
}
#endif

std::size_t line_length_from_new_block_baseline(const char* p, const char* end, block_cache& cache, high_bytes& high) noexcept {
    return line_length_from_new_block_with<detail::block_masks_baseline>(p, end, cache, high);
}

// The length of the line starting at `p` (up to its CR or LF, or `end`), and its high bytes.
// Line ends come from one 64-byte mask for several short lines (a DashScope frame's `id:`,
// `event:` and comment lines usually share a block); a long data line is scanned 64 bytes per
// step. Inline for the usual short line: it ends in the block already masked.
[[gnu::always_inline]] inline std::size_t line_length(const char* p, const char* end, block_cache& cache,
                                                      high_bytes& high) noexcept {
    const auto shift = reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(cache.at);
    if (cache.at != nullptr && shift < 64) {
        if (const std::uint64_t eol = cache.eol >> shift; eol != 0) {
            const int at = std::countr_zero(eol);
            high = {};
            note_high(high, p, (cache.high >> shift) & ((std::uint64_t{1} << at) - 1u));
            return static_cast<std::size_t>(at);
        }
    }
#if defined(LLMSTREAM_HAS_AVX2_PATHS)
    if (llmstream::detail::cpu_has_avx2) return line_length_from_new_block_avx2(p, end, cache, high);
#endif
    return line_length_from_new_block_baseline(p, end, cache, high);
}

}  // namespace

// A blank line: the standard's "dispatch the event". True when there is one to dispatch
// (event_ is set; it is valid until clear_event).
inline bool parser_core::end_of_event() {
    if (id_pending_) {
        last_id_ = pending_id_;
        last_id_in_chunk_ = pending_id_in_chunk_;
        if (!pending_id_in_chunk_) last_id_slot_ ^= 1;  // the pending ID's bytes are the last ID's now
        pending_id_in_chunk_ = false;
        id_pending_ = false;
    }
    field_seen_ = false;
    if (data_lines_ == 0) {
        clear_event();
        return false;
    }
    event_.type = !type_set_ || type_.empty() ? std::string_view("message") : type_;
    event_.data = data_is_view_ ? data_view_ : std::string_view(data_).substr(data_offset_);
    event_.id = last_id_;
    return true;
}

void parser_core::parse(std::string_view in, boost::system::error_code& ec) {
    masks_.at = nullptr;  // the masks described the previous chunk
    try {
        parse_chunk(in, ec);
    } catch (...) {  // from a callback
        if (dispatching_) {  // the event it was handed is done with: no copy of it
            clear_event();
            dispatching_ = false;
        }
        keep_chunk_views();  // last_event_id() stays readable (to resume from it)
        throw;
    }
}

void parser_core::parse_chunk(std::string_view in, boost::system::error_code& ec) {
    if (failed_) {
        ec = failed_;
        return;
    }
    if (release_line_) {  // a comment callback threw during the last feed
        line_.clear();
        release_line_ = false;
    }

    const char* p = in.data();
    const char* const end = p + in.size();
    auto past_terminator = [&](const char* eol) {  // eol points at a CR or LF
        const bool cr = *eol == '\r';
        ++eol;
        if (cr) {
            if (eol == end)
                skip_lf_ = true;
            else if (*eol == '\n')
                ++eol;
        }
        return eol;
    };

    const auto shortcut = sinks_.shortcut;  // a callback never changes sinks_ (feed is not reentrant)
    while (p != end) {
        if (bom_decided_ && !skip_lf_ && line_.empty()) {
            // The usual case, in a loop of its own: lines that start in this chunk, with no
            // line carried over and no BOM or LF pending. Only a callback's reset() changes
            // that (callbacks run inside this loop), and reset() undecides the BOM.
            do {
                if (*p == '\n' || *p == '\r') {  // a blank line (every event ends with one)
                    p = past_terminator(p);
                    if (end_of_event()) {
                        dispatching_ = true;  // should the callback throw (see parse)
                        sinks_.event(sinks_.event_context, event_);
                        clear_event();
                        dispatching_ = false;
                    }
                    continue;
                }
                if (shortcut != nullptr && !field_seen_) {  // an event boundary: see feed
                    const std::size_t limit = std::min(limits_.max_line_size, limits_.max_event_size);
                    const std::size_t taken = shortcut(sinks_.shortcut_context, {p, std::min(static_cast<std::size_t>(end - p), limit)});
                    if (taken != 0) {
                        p += taken;
                        continue;
                    }
                }
                const std::size_t length = line_length(p, end, masks_, line_high_);
                if (length > limits_.max_line_size) {
                    fail(ec, errc::line_too_long);
                    return;
                }
                if (p + length == end) {  // no terminator yet: keep the partial line for the next chunk
                    line_.append(p, length);
                    line_non_ascii_ = line_non_ascii_ || line_high_.first != nullptr;
                    p = end;
                    break;
                }
                const std::string_view line(p, length);
                p = past_terminator(p + length);
                if (process_line(line, true, ec) == step::failed) return;
            } while (p != end && bom_decided_);
            continue;
        }

        if (!bom_decided_) {
            // line_ holds the bytes of a leading EF BB BF matched so far; on a mismatch they are
            // simply the start of the first line.
            static constexpr std::string_view bom = "\xEF\xBB\xBF";
            while (p != end && line_.size() < bom.size() && *p == bom[line_.size()]) line_.push_back(*p++);
            if (line_.size() == bom.size()) {
                line_.clear();
                bom_decided_ = true;
            } else if (p != end) {
                bom_decided_ = true;
                line_non_ascii_ = !line_.empty();  // a partial mark starts the first line
            }
            continue;
        }
        if (skip_lf_) {
            skip_lf_ = false;
            if (*p == '\n') ++p;
            continue;
        }

        // The rest of a line carried over from an earlier chunk (never blank: line_ holds some).
        high_bytes high;
        const std::size_t length = line_length(p, end, masks_, high);
        if (line_.size() + length > limits_.max_line_size) {
            fail(ec, errc::line_too_long);
            return;
        }
        line_.append(p, length);
        if (p + length == end) {  // still no terminator
            line_non_ascii_ = line_non_ascii_ || high.first != nullptr;
            p = end;
            break;
        }
        const std::string_view line = line_;
        line_high_ = line_non_ascii_ || high.first != nullptr ? high_bytes{line.data(), line.data() + line.size() - 1} : high_bytes{};
        line_non_ascii_ = false;
        release_line_ = true;  // should a comment callback throw
        p = past_terminator(p + length);
        if (process_line(line, false, ec) == step::failed) return;
        line_.clear();
        release_line_ = false;
    }
    keep_chunk_views();  // the chunk goes away when feed returns
}

[[gnu::always_inline]] inline void parser_core::set_id(std::string_view value, bool in_chunk) {
    // An ID with a NUL is ignored, as the standard requires. IDs are short: look inline.
    if (value.size() <= 16) {
        for (const char c : value)
            if (c == '\0') return;
    } else if (value.find('\0') != std::string_view::npos) {
        return;
    }
    bool repaired = false;
    const std::string_view id = checked_utf8(value, repaired);
    pending_id_in_chunk_ = in_chunk && !repaired;
    if (pending_id_in_chunk_) {
        pending_id_ = id;
    } else {
        id_bytes_[last_id_slot_ ^ 1].assign(id);
        pending_id_ = id_bytes_[last_id_slot_ ^ 1];
    }
    id_pending_ = true;
}

inline void parser_core::set_type(std::string_view value, bool in_chunk) {
    bool repaired = false;
    const std::string_view type = checked_utf8(value, repaired);
    type_in_chunk_ = in_chunk && !repaired;
    if (type_in_chunk_) {
        type_ = type;
    } else {
        type_bytes_.assign(type);
        type_ = type_bytes_;
    }
    type_set_ = true;
}

// A non-blank line. The fields streams send are told apart by their first byte, without a
// search for the colon; anything else goes to other_field.
[[gnu::always_inline]] inline parser_core::step parser_core::process_line(std::string_view line, bool in_chunk,
                                                                boost::system::error_code& ec) {
    switch (line.front()) {
    case 'd':
        if (line.size() >= 5 && std::memcmp(line.data(), "data:", 5) == 0) {
            field_seen_ = true;
            std::string_view value = line.substr(5);
            if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
            if (data_lines_ == 0 && in_chunk && value.size() <= limits_.max_event_size &&
                is_valid_utf8(value)) {
                data_view_ = value;  // the usual event: one valid data line, a view of the chunk (as append_data would)
                data_is_view_ = true;
                data_lines_ = 1;
                return step::next_line;
            }
            append_data(value, in_chunk, ec);
            return ec ? step::failed : step::next_line;
        }
        break;
    case ':': {
        if (sinks_.comment != nullptr) {
            bool repaired = false;
            sinks_.comment(sinks_.comment_context, checked_utf8(line.substr(1), repaired));
        }
        return step::next_line;
    }
    case 'i':
        if (line.size() >= 3 && std::memcmp(line.data(), "id:", 3) == 0) {
            field_seen_ = true;
            std::string_view value = line.substr(3);
            if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
            set_id(value, in_chunk);
            return step::next_line;
        }
        break;
    case 'e':
        if (line.size() >= 6 && std::memcmp(line.data(), "event:", 6) == 0) {
            field_seen_ = true;
            std::string_view value = line.substr(6);
            if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
            set_type(value, in_chunk);
            return step::next_line;
        }
        break;
    default:
        break;
    }
    field_seen_ = true;
    other_field(line, in_chunk, ec);
    return ec ? step::failed : step::next_line;
}

// The general field rule: the name runs to the first colon (or is the whole line).
void parser_core::other_field(std::string_view line, bool in_chunk, boost::system::error_code& ec) {
    std::string_view name = line, value;
    if (const auto colon = line.find(':'); colon != std::string_view::npos) {
        name = line.substr(0, colon);
        value = line.substr(colon + 1);
    }
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);

    if (name == "data") {
        append_data(value, in_chunk, ec);
    } else if (name == "event") {
        set_type(value, in_chunk);
    } else if (name == "id") {
        set_id(value, in_chunk);
    } else if (name == "retry") {
        if (value.empty()) return;
        using rep = std::chrono::milliseconds::rep;
        constexpr rep max = std::numeric_limits<rep>::max();
        rep ms = 0;
        for (const char c : value) {
            if (c < '0' || c > '9') return;
            const rep digit = c - '0';
            ms = ms > (max - digit) / 10 ? max : ms * 10 + digit;  // saturate absurd values
        }
        retry_ = std::chrono::milliseconds(ms);
    }
    // Any other field name is ignored, as the standard requires.
}

void parser_core::append_data(std::string_view value, bool in_chunk, boost::system::error_code& ec) {
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

}  // namespace llmstream::sse::detail

namespace llmstream::sse {

// The public parser: the same parser_core, one pointer away.
parser::parser(limits lim) : core_(std::make_unique<detail::parser_core>(lim)) {}
parser::~parser() = default;
parser::parser(parser&&) noexcept = default;
parser& parser::operator=(parser&&) noexcept = default;

boost::system::error_code parser::run(std::string_view chunk, void (*event)(void*, const sse::event&), void* event_context,
                                      void (*comment)(void*, std::string_view), void* comment_context) {
    return core_->run(chunk, {event, event_context, comment, comment_context});
}
std::optional<std::chrono::milliseconds> parser::retry() const noexcept { return core_->retry(); }
std::string_view parser::last_event_id() const noexcept { return core_->last_event_id(); }
bool parser::has_partial_event() const noexcept { return core_->has_partial_event(); }
void parser::reset() { core_->reset(); }
const limits& parser::get_limits() const noexcept { return core_->get_limits(); }

}  // namespace llmstream::sse
