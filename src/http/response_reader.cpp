// An HTTP/1.1 response parser after RFC 9112, written for a client that reads provider replies:
// status line, header fields, framing by Transfer-Encoding: chunked, Content-Length or the end of
// the connection, interim 1xx responses, trailers. Strict where leniency would hide a broken
// server (field syntax, framing, sizes), lenient where RFC 9112 allows it (a bare LF ends a line).
#include "http/response_reader.hpp"

#include "memory/buffer_cache.hpp"

#include <llmstream/error.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmstream::http {

namespace {

using boost::system::error_code;

constexpr std::size_t max_chunk_line = 4096;  // chunk size + extensions
const error_code invalid = errc::invalid_http_response;

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

bool is_tchar(unsigned char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != 0;
}

// VCHAR, obs-text, SP and HTAB: what a field value or reason phrase may hold.
bool is_text(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

// The hex digits at the start of `s`, at most 16 of them looked at: their value (wrapped at 16
// digits, which no caller accepts) and how many there were.
struct hex_run {
    std::uint64_t value = 0;
    std::size_t digits = 0;
};
hex_run leading_hex(std::string_view s) {
    hex_run r;
    for (; r.digits < s.size() && r.digits < 16; ++r.digits) {
        const char c = s[r.digits];
        unsigned d;
        if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
        else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = static_cast<unsigned>(c - 'A' + 10);
        else break;
        r.value = r.value << 4 | d;
    }
    return r;
}

// A chunk size: 1 to 15 hex digits (< 2^60), nothing else.
std::optional<std::uint64_t> parse_chunk_size(std::string_view digits) {
    const hex_run r = leading_hex(digits);
    if (r.digits == 0 || r.digits > 15 || r.digits != digits.size()) return std::nullopt;
    return r.value;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Does the comma-separated list `value` contain `token` (case-insensitive)?
bool has_token(std::string_view value, std::string_view token) {
    while (!value.empty()) {
        const auto comma = value.find(',');
        if (iequals(trim(value.substr(0, comma)), token)) return true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace

struct response_reader::impl {
    enum class state { head, length_body, chunk_size, chunk_data, chunk_end, trailers, eof_body, done };

    impl(response_handler& h, limits l) : handler(h), lim(l) {}

    response_handler& handler;
    limits lim;
    memory::byte_buffer buffer;  // a burst's large buffer goes back to the cache (see buffer_cache.hpp)
    std::size_t begin = 0;
    std::size_t end = 0;
    std::size_t last_offered = 0;  // the size of the last read_buffer()
    bool last_filled = false;      // the last commit took all of it in
    std::size_t filled_size = 0;   // and how much that was (read_buffer() stays the same until the next commit)

    state st = state::head;
    std::size_t scan_from = 0;  // where the search for the end of the head resumes (offset from begin)
    int status = 0;
    bool http11 = true;
    bool keep_alive = true;
    bool head_seen = false;
    std::string head;  // the final response's status line and fields, for header()
    std::vector<std::pair<std::string_view, std::string_view>> fields;  // views into `head`
    std::uint64_t remaining = 0;  // of a Content-Length body or of the current chunk
    std::optional<std::uint64_t> content_length;  // of the final response, when it frames the body
    std::size_t trailer_bytes = 0;

    std::string_view available() const { return {buffer.data() + begin, end - begin}; }

    std::string_view field(std::string_view name) const {
        for (const auto& [n, v] : fields)
            if (iequals(n, name)) return v;
        return {};
    }

    // Finds the end of one line in `s`: returns the line without its CR LF (or bare LF) and the
    // bytes it took, or nothing when no LF is there yet.
    static std::optional<std::pair<std::string_view, std::size_t>> line(std::string_view s) {
        const auto lf = s.find('\n');
        if (lf == std::string_view::npos) return std::nullopt;
        std::string_view l = s.substr(0, lf);
        if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
        return std::make_pair(l, lf + 1);
    }

    // "1a2f\r\n" at the start of `in` (parse_chunk_size's 1 to 15 digits, then CR LF): its value
    // and the bytes it took, or nothing when `in` starts otherwise. Once per chunk, so once per
    // event of a streamed response.
    static std::optional<std::pair<std::uint64_t, std::size_t>> plain_chunk_size(std::string_view in) {
        const hex_run r = leading_hex(in);
        const std::size_t i = r.digits;
        if (i == 0 || i > 15 || i + 1 >= in.size() || in[i] != '\r' || in[i + 1] != '\n') return std::nullopt;
        return std::make_pair(r.value, i + 2);
    }

    error_code parse() {
        for (;;) {
            const std::string_view in = available();
            switch (st) {
            case state::head: {
                // The head ends at an empty line: LF (CR) LF.
                std::size_t end_of_head = std::string_view::npos;
                for (std::size_t i = scan_from; i < in.size(); ++i) {
                    if (in[i] != '\n') continue;
                    if (i + 1 >= in.size()) break;  // cannot tell yet
                    if (in[i + 1] == '\n') {
                        end_of_head = i + 2;
                        break;
                    }
                    if (in[i + 1] != '\r') continue;
                    if (i + 2 >= in.size()) break;
                    if (in[i + 2] == '\n') {
                        end_of_head = i + 3;
                        break;
                    }
                }
                if (end_of_head == std::string_view::npos) {
                    if (in.size() >= lim.header) return invalid;
                    scan_from = in.size() >= 2 ? in.size() - 2 : 0;
                    return {};
                }
                if (end_of_head > lim.header) return invalid;
                const std::string_view raw = in.substr(0, end_of_head);
                begin += end_of_head;
                scan_from = 0;
                if (auto ec = read_head(raw)) return ec;
                if (status >= 100 && status < 200) continue;  // interim: the real response follows
                head_seen = true;
                if (auto ec = handler.on_head()) return ec;
                continue;
            }
            case state::length_body:
            case state::chunk_data:
            case state::eof_body: {
                if (st != state::eof_body && remaining == 0) {
                    st = st == state::length_body ? state::done : state::chunk_end;
                    continue;
                }
                if (in.empty()) return {};
                std::size_t n = in.size();
                if (st != state::eof_body) n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, n));
                begin += n;
                remaining -= st != state::eof_body ? n : 0;
                if (auto ec = handler.on_body(in.substr(0, n))) return ec;
                continue;
            }
            case state::chunk_size: {
                // What a server sends almost always: hex digits and CR LF, read here in one pass.
                // Anything else (extensions, whitespace, a bare LF, a line not all here yet)
                // takes the general way below.
                if (const auto fast = plain_chunk_size(in)) {
                    begin += fast->second;
                    remaining = fast->first;
                    st = fast->first == 0 ? state::trailers : state::chunk_data;
                    continue;
                }
                const auto l = line(in.substr(0, max_chunk_line));
                if (!l) return in.size() >= max_chunk_line ? invalid : error_code{};
                std::string_view size = l->first.substr(0, l->first.find(';'));
                const std::string_view ext = l->first.substr(size.size());
                while (!size.empty() && (size.back() == ' ' || size.back() == '\t')) size.remove_suffix(1);
                const std::optional<std::uint64_t> parsed = parse_chunk_size(size);
                if (!parsed) return invalid;
                const std::uint64_t v = *parsed;
                for (char c : ext)
                    if (!is_text(static_cast<unsigned char>(c))) return invalid;
                begin += l->second;
                remaining = v;
                st = v == 0 ? state::trailers : state::chunk_data;
                continue;
            }
            case state::chunk_end: {
                if (in.empty()) return {};
                if (in[0] == '\n') {
                    begin += 1;
                } else if (in[0] == '\r') {
                    if (in.size() < 2) return {};
                    if (in[1] != '\n') return invalid;
                    begin += 2;
                } else {
                    return invalid;
                }
                st = state::chunk_size;
                continue;
            }
            case state::trailers: {
                const auto l = line(in.substr(0, lim.header));
                if (!l) return in.size() >= lim.header ? invalid : error_code{};
                trailer_bytes += l->second;
                if (trailer_bytes > lim.header) return invalid;
                begin += l->second;
                if (l->first.empty()) st = state::done;
                else if (!valid_field_line(l->first)) return invalid;
                continue;
            }
            case state::done:
                return {};
            }
        }
    }

    static bool valid_field_line(std::string_view l) {
        const auto colon = l.find(':');
        if (colon == 0 || colon == std::string_view::npos) return false;
        for (char c : l.substr(0, colon))
            if (!is_tchar(static_cast<unsigned char>(c))) return false;
        for (char c : l.substr(colon + 1))
            if (!is_text(static_cast<unsigned char>(c))) return false;
        return true;
    }

    // The status line and the fields; then how the body is framed.
    error_code read_head(std::string_view raw) {
        head.assign(raw);
        fields.clear();
        std::string_view rest = head;
        auto first = line(rest);
        if (!first) return invalid;
        rest.remove_prefix(first->second);
        // HTTP/1.x SP 3DIGIT [SP reason]
        const std::string_view sl = first->first;
        if (sl.size() < 12 || sl.substr(0, 7) != "HTTP/1." || (sl[7] != '0' && sl[7] != '1') || sl[8] != ' ')
            return invalid;
        http11 = sl[7] == '1';
        int code = 0;
        for (int i = 9; i < 12; ++i) {
            if (sl[static_cast<std::size_t>(i)] < '0' || sl[static_cast<std::size_t>(i)] > '9') return invalid;
            code = code * 10 + (sl[static_cast<std::size_t>(i)] - '0');
        }
        if (code < 100 || (sl.size() > 12 && sl[12] != ' ')) return invalid;
        for (char c : sl.substr(12))
            if (!is_text(static_cast<unsigned char>(c))) return invalid;
        status = code;
        for (;;) {
            auto l = line(rest);
            if (!l) return invalid;
            rest.remove_prefix(l->second);
            if (l->first.empty()) break;
            // obs-fold (a continuation line) and whitespace before the colon are refused.
            if (!valid_field_line(l->first)) return invalid;
            const auto colon = l->first.find(':');
            fields.emplace_back(l->first.substr(0, colon), trim(l->first.substr(colon + 1)));
        }
        if (status >= 100 && status < 200) {
            if (status == 101) return invalid;  // nobody asked to switch protocols
            return {};
        }
        return choose_framing();
    }

    error_code choose_framing() {
        const std::string_view connection = field("Connection");
        keep_alive = http11 ? !has_token(connection, "close") : has_token(connection, "keep-alive");
        const std::string_view coding = field("Content-Encoding");
        if (!coding.empty() && !iequals(coding, "identity")) return invalid;  // nothing was asked for

        bool chunked = false;
        std::optional<std::uint64_t> length;
        bool any_te = false;
        for (const auto& [n, v] : fields) {
            if (iequals(n, "Transfer-Encoding")) {
                any_te = true;
                if (!iequals(v, "chunked") || chunked) return invalid;  // only plain, single chunked
                chunked = true;
            } else if (iequals(n, "Content-Length")) {
                // Repeated or listed values must agree.
                std::string_view list = v;
                while (true) {
                    const auto comma = list.find(',');
                    const std::string_view item = trim(list.substr(0, comma));
                    std::uint64_t value = 0;
                    auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
                    if (item.empty() || ec != std::errc{} || p != item.data() + item.size()) return invalid;
                    if (length && *length != value) return invalid;
                    length = value;
                    if (comma == std::string_view::npos) break;
                    list.remove_prefix(comma + 1);
                }
            }
        }
        if (status == 204 || status == 304) {
            st = state::done;
        } else if (any_te) {
            st = state::chunk_size;
            if (length) keep_alive = false;  // both: chunked wins (RFC 9112 6.3), and the connection is not reused
        } else if (length) {
            remaining = *length;
            content_length = length;
            st = state::length_body;
        } else {
            st = state::eof_body;  // ends when the server closes the connection
            keep_alive = false;
        }
        return {};
    }
};

response_reader::response_reader(response_handler& handler, limits l) : impl_(std::make_unique<impl>(handler, l)) {}
response_reader::~response_reader() = default;

// The space offered is 1 KiB while a stream is read as it is generated (a few hundred bytes per
// read; every open stream holds it while its read waits), and twice the last space whenever a
// read filled it (a burst: what is left is already there), up to 64 KiB. An empty buffer larger
// than the space wanted is given back.
std::span<char> response_reader::read_buffer() {
    auto& b = *impl_;
    constexpr std::size_t min_free = 1024, max_free = 64 * 1024;
    const std::size_t want = b.last_filled ? std::min(2 * b.filled_size, max_free) : min_free;
    if (b.begin == b.end) {
        b.begin = b.end = 0;
        if (b.buffer.size() < want || b.buffer.size() > 2 * want) {  // nothing to keep: a fresh buffer of the size wanted
            b.buffer.reset();
            b.buffer = memory::byte_buffer(want);
        }
    } else if (b.buffer.size() - b.end < want) {
        // Move what is left to the front; grow (copying only it) if that does not free enough.
        const std::size_t left = b.end - b.begin;
        if (b.buffer.size() - left < want) {
            memory::byte_buffer grown(left + want);  // what is left, and the space wanted
            std::memcpy(grown.data(), b.buffer.data() + b.begin, left);
            b.buffer = std::move(grown);
        } else {
            std::memmove(b.buffer.data(), b.buffer.data() + b.begin, left);
        }
        b.begin = 0;
        b.end = left;
    }
    b.last_offered = b.buffer.size() - b.end;
    return {b.buffer.data() + b.end, b.last_offered};
}

boost::system::error_code response_reader::commit(std::size_t n) {
    auto& b = *impl_;
    n = std::min(n, b.buffer.size() - b.end);
    b.end += n;
    b.last_filled = n == b.last_offered;
    b.filled_size = n;
    received_ += n;
    return b.parse();
}

boost::system::error_code response_reader::commit_eof() {
    auto& b = *impl_;
    if (b.st == impl::state::eof_body) {
        b.st = impl::state::done;
        return {};
    }
    return b.st == impl::state::done ? error_code{} : error_code(errc::connection_closed);
}

bool response_reader::head_done() const noexcept { return impl_->head_seen; }
bool response_reader::done() const noexcept { return impl_->st == impl::state::done; }

bool response_reader::reusable() const noexcept {
    return done() && impl_->keep_alive && impl_->begin == impl_->end;
}

std::optional<std::uint64_t> response_reader::content_length() const noexcept {
    return impl_->head_seen ? impl_->content_length : std::nullopt;
}

int response_reader::status() const noexcept { return impl_->head_seen ? impl_->status : 0; }

std::string_view response_reader::header(std::string_view name) const noexcept {
    return impl_->head_seen ? impl_->field(name) : std::string_view{};
}

}  // namespace llmstream::http
