#include "session_core.hpp"

#include "memory/sized_blocks.hpp"

#include <llmstream/error.hpp>


#include <nghttp2/nghttp2.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

namespace llmstream::http::h2 {

using boost::system::error_code;
using std::chrono::steady_clock;

namespace {

// Connection-specific fields have no place in HTTP/2 (RFC 9113 8.2.2); Host becomes :authority.
bool dropped_in_h2(std::string_view name) {
    for (std::string_view n : {"host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
                               "te", "content-length"})
        if (boost::beast::iequals(name, n)) return true;
    return false;
}

// nghttp2's memory comes from operator new, as all of ours does (see sized_blocks).
nghttp2_mem memory_for_nghttp2{
    nullptr,
    [](std::size_t size, void*) { return memory::sized_blocks::allocate(size); },
    [](void* block, void*) { memory::sized_blocks::release(block); },
    [](std::size_t count, std::size_t size, void*) { return memory::sized_blocks::allocate_zeroed(count, size); },
    [](void* block, std::size_t size, void*) { return memory::sized_blocks::reallocate(block, size); },
};

}  // namespace

// nghttp2 calls C functions with the session as user data. Nothing may unwind through nghttp2's
// C frames, which would leave its session half-updated: what our code throws in there (an
// allocation that failed while decoding, or posting a reader's completion) is caught in the
// callback. Thrown by a stream's handler, it ends that stream alone; the others go on.
struct session_core::callbacks {
    static session_core& of(void* user_data) { return *static_cast<session_core*>(user_data); }

    // The error for the exception being handled (call only inside a catch).
    static error_code thrown() noexcept {
        try {
            throw;
        } catch (const std::bad_alloc&) {
            return boost::asio::error::no_memory;
        } catch (...) {
            return boost::asio::error::fault;  // nothing in there throws anything else by design
        }
    }

    // Ends one stream from our side: its error, and RST_STREAM(CANCEL) to the server. When
    // nghttp2 cannot even queue that (out of memory), the connection fails.
    static int reset(session_core& s, std::int32_t id, stream_state& st, error_code ec) {
        st.error = ec;
        if (nghttp2_submit_rst_stream(s.session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL) == 0) return 0;
        if (!s.error_) s.error_ = boost::asio::error::no_memory;
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    }

    static int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* user_data) {
        auto& s = of(user_data);
        ++s.frames_received_;
        // Frames that carry no response for a stream we read: a server can send them without end.
        const auto* st = s.state_of(hd->stream_id);
        const bool control = hd->type == NGHTTP2_SETTINGS || hd->type == NGHTTP2_PING ||
                             hd->type == NGHTTP2_CONTINUATION || hd->type == NGHTTP2_PRIORITY ||
                             hd->type == NGHTTP2_RST_STREAM || hd->type == NGHTTP2_WINDOW_UPDATE ||
                             (hd->type == NGHTTP2_HEADERS && (!st || !st->handler)) ||
                             (hd->type == NGHTTP2_DATA && hd->length == 0 && !(hd->flags & NGHTTP2_FLAG_END_STREAM));
        // Frames about one of our streams may answer it (nginx resets each stream whose body it did
        // not read): those have a budget that grows with the streams we open; the rest do not.
        const bool about_a_stream = hd->type == NGHTTP2_RST_STREAM || hd->type == NGHTTP2_WINDOW_UPDATE ||
                                    hd->type == NGHTTP2_HEADERS || hd->type == NGHTTP2_DATA;
        if (control && !s.count_control_frame(about_a_stream && hd->stream_id != 0)) return NGHTTP2_ERR_CALLBACK_FAILURE;
        return 0;
    }

    static int on_header(nghttp2_session* ng, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                         const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
        auto& s = of(user_data);
        if (frame->hd.type != NGHTTP2_HEADERS) return 0;
        stream_state* st = s.state_of(frame->hd.stream_id);
        if (!st || !st->handler || st->error) return 0;  // (a stream being reset: its first error stands)
        st->header_bytes += namelen + valuelen + 32;  // RFC 9113's header list size
        st->received_any = true;
        if (st->header_bytes > s.options_.max_header_list) {
            st->error = errc::response_headers_too_large;
            nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_CANCEL);
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        }
        if (st->head_done || st->error) return 0;  // trailers are not read
        if (namelen == 7 && std::memcmp(name, ":status", 7) == 0) {  // pseudo-fields come first
            st->status = 0;
            for (std::size_t i = 0; i < valuelen; ++i) st->status = st->status * 10 + (value[i] - '0');  // nghttp2 checked the digits
            return 0;
        }
        if (st->status >= 100 && st->status < 200) return 0;  // an interim head's fields are not the response's
        try {
            st->handler->on_header({reinterpret_cast<const char*>(name), namelen},
                                   {reinterpret_cast<const char*>(value), valuelen});
        } catch (...) {
            return reset(s, frame->hd.stream_id, *st, thrown());
        }
        return 0;
    }

    static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
        auto& s = of(user_data);
        s.last_heard_ = s.now_;
        switch (frame->hd.type) {
        case NGHTTP2_HEADERS: {
            stream_state* st = s.state_of(frame->hd.stream_id);
            if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
                if (st) st->end_stream = true;
            }
            if (!st || !st->handler || st->head_done || st->error) return 0;
            if (st->status >= 100 && st->status < 200) {  // interim: the final head follows
                st->status = 0;
                return 0;
            }
            st->head_done = true;
            error_code ec;
            try {
                ec = st->handler->on_head_end(st->status);
            } catch (...) {
                ec = thrown();
            }
            return ec ? reset(s, frame->hd.stream_id, *st, ec) : 0;
        }
        case NGHTTP2_RST_STREAM:
            if (stream_state* st = s.state_of(frame->hd.stream_id)) st->reset_by_server = frame->rst_stream.error_code;
            return 0;
        case NGHTTP2_GOAWAY:
            // Streams above last_stream_id are closed by nghttp2 as refused (unprocessed); the
            // rest finish. No new streams here.
            s.goaway_ = true;
            s.goaway_last_stream_id_ = frame->goaway.last_stream_id;
            s.goaway_error_ = frame->goaway.error_code;
            if (frame->goaway.error_code != NGHTTP2_NO_ERROR && !s.error_) s.error_ = errc::http2_protocol_error;
            s.changed();
            return 0;
        case NGHTTP2_PING:
            if (frame->hd.flags & NGHTTP2_FLAG_ACK) {
                ++s.pings_acked_;
                try {
                    if (s.on_ping_ack) s.on_ping_ack();
                } catch (...) {
                    if (!s.error_) s.error_ = thrown();
                    return NGHTTP2_ERR_CALLBACK_FAILURE;
                }
            }
            return 0;
        case NGHTTP2_DATA:
            if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
                if (stream_state* st = s.state_of(frame->hd.stream_id)) st->end_stream = true;
            return 0;
        case NGHTTP2_SETTINGS:
            if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) s.settings_received_ = true;
            s.changed();  // the server's stream limit may have changed
            return 0;
        default:
            return 0;
        }
    }

    static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
        if (frame->hd.type == NGHTTP2_HEADERS)
            if (stream_state* st = of(user_data).state_of(frame->hd.stream_id)) st->headers_sent = true;
        return 0;
    }

    static int on_data_chunk_recv(nghttp2_session* ng, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                                  void* user_data) {
        auto& s = of(user_data);
        // The connection's window is given back at once: a slow reader holds only its own stream's.
        nghttp2_session_consume_connection(ng, len);
        stream_state* st = s.state_of(stream_id);
        if (!st || !st->handler) {
            nghttp2_session_consume_stream(ng, stream_id, len);
            return 0;
        }
        st->received_any = true;
        if (st->error) {  // the stream is being reset: what still arrives is dropped
            nghttp2_session_consume_stream(ng, stream_id, len);
            return 0;
        }
        error_code ec;
        try {
            ec = st->handler->on_data({reinterpret_cast<const char*>(data), len});
        } catch (...) {
            ec = thrown();
        }
        if (ec) {
            nghttp2_session_consume_stream(ng, stream_id, len);
            return reset(s, stream_id, *st, ec);
        }
        // The handler may have cancelled the stream meanwhile (its reader's code runs in there).
        if (st->handler && !st->handler->has_room()) st->held += len;
        else nghttp2_session_consume_stream(ng, stream_id, len);
        return 0;
    }

    static int on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
        try {
            of(user_data).stream_closed(stream_id, error_code);
        } catch (...) {
            // The stream is off the books already (its handler's on_end threw): nothing of the
            // connection's other streams is at stake.
        }
        return 0;
    }

    static ssize_t read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* data_flags,
                             nghttp2_data_source* source, void*) {
        auto* st = static_cast<stream_state*>(source->ptr);
        const std::size_t n = std::min(length, st->body.size() - st->body_sent);
        std::memcpy(buf, st->body.data() + st->body_sent, n);
        st->body_sent += n;
        if (st->body_sent == st->body.size()) {
            *data_flags |= NGHTTP2_DATA_FLAG_EOF;
            std::string().swap(st->body);  // all of it is in nghttp2's frame: not held while the response streams
            st->body_sent = 0;
        }
        return static_cast<ssize_t>(n);
    }
};

session_core::session_core(const http2_options& options, bool tls)
    : options_(options), tls_(tls), idle_since_(steady_clock::now()), last_heard_(idle_since_) {
    // The callbacks and options are the same for every session: made once (nghttp2 copies them).
    using callbacks_ptr = std::unique_ptr<nghttp2_session_callbacks, decltype(&nghttp2_session_callbacks_del)>;
    using option_ptr = std::unique_ptr<nghttp2_option, decltype(&nghttp2_option_del)>;
    // Never destroyed: a session made during the program's exit must not find them freed.
    static nghttp2_session_callbacks* const cbs = [] {
        nghttp2_session_callbacks* made = nullptr;
        if (nghttp2_session_callbacks_new(&made) != 0) throw std::bad_alloc();
        callbacks_ptr c(made, &nghttp2_session_callbacks_del);
        nghttp2_session_callbacks_set_on_begin_frame_callback(made, &callbacks::on_begin_frame);
        nghttp2_session_callbacks_set_on_header_callback(made, &callbacks::on_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(made, &callbacks::on_frame_recv);
        nghttp2_session_callbacks_set_on_frame_send_callback(made, &callbacks::on_frame_send);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(made, &callbacks::on_data_chunk_recv);
        nghttp2_session_callbacks_set_on_stream_close_callback(made, &callbacks::on_stream_close);
        return c.release();
    }();
    static nghttp2_option* const opt = [] {
        nghttp2_option* made = nullptr;
        if (nghttp2_option_new(&made) != 0) throw std::bad_alloc();
        option_ptr o(made, &nghttp2_option_del);
        nghttp2_option_set_no_auto_window_update(made, 1);  // windows are given back as readers consume
        // Until the server's SETTINGS arrive, assume what browsers assume.
        nghttp2_option_set_peer_max_concurrent_streams(made, 100);
        return o.release();
    }();
    if (nghttp2_session_client_new3(&session_, cbs, this, opt, &memory_for_nghttp2) != 0)
        throw std::bad_alloc();
}

session_core::~session_core() { nghttp2_session_del(session_); }

void session_core::start() {
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, std::min<std::uint32_t>(options_.stream_window, NGHTTP2_MAX_WINDOW_SIZE)},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<std::uint32_t>(options_.max_header_list)},
    };
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    nghttp2_session_set_local_window_size(
        session_, NGHTTP2_FLAG_NONE, 0,
        static_cast<std::int32_t>(std::min<std::uint32_t>(options_.connection_window, NGHTTP2_MAX_WINDOW_SIZE)));
}

std::size_t session_core::capacity() const noexcept {
    if (!settings_received_) return 1;  // the server's limit is not known yet: the stream that opened it
    const std::uint32_t server = nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
    return std::min<std::size_t>(server, options_.max_concurrent_streams);
}

session_core::stream_state* session_core::state_of(std::int32_t id) {
    return static_cast<stream_state*>(nghttp2_session_get_stream_user_data(session_, id));
}

session_core::stream_state* session_core::find_stream(std::int32_t id) {
    const auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second.get();
}

std::int32_t session_core::open_stream(stream_handler& handler, const outgoing_request& request,
                                  boost::system::error_code& ec) {
    ec = {};
    if (!usable()) {
        ec = error_ ? error_ : error_code(errc::connection_closed);
        return 0;
    }
    std::vector<std::string> lowered;  // header names in lower case (nghttp2 copies the fields)
    lowered.reserve(request.headers.size());
    std::vector<nghttp2_nv> nv;
    nv.reserve(request.headers.size() + 5);
    auto add = [&](std::string_view name, std::string_view value) {
        nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
                      NGHTTP2_NV_FLAG_NONE});
    };
    const std::string length = std::to_string(request.body.size());
    add(":method", request.method);
    add(":scheme", tls_ ? "https" : "http");
    add(":authority", request.authority);
    add(":path", request.target);
    for (const auto& [name, value] : request.headers) {
        if (dropped_in_h2(name)) continue;
        std::string& n = lowered.emplace_back(name);
        for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        add(n, value);
    }
    if (!request.body.empty()) add("content-length", length);

    // The stream's map node is made before nghttp2 holds a pointer to its state: nothing that
    // may fail (an allocation) comes between submitting and keeping it.
    auto node = [] {
        decltype(streams_) one;
        one.emplace(0, std::make_unique<stream_state>());
        return one.extract(one.begin());
    }();
    stream_state* st = node.mapped().get();
    st->handler = &handler;
    // The first stream on a connection that sat idle after earlier ones marks where its server
    // may have gone away meanwhile; streams opened before anything arrives share that doubt.
    if (active_ == 0 && streams_opened_ > 0) idle_wake_frames_ = frames_received_;
    st->after_idle = streams_opened_++ > 0 && frames_received_ == idle_wake_frames_;
    st->body = request.body;
    nghttp2_data_provider body{};
    body.source.ptr = st;
    body.read_callback = &callbacks::read_body;
    const std::int32_t id = nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(),
                                                   request.body.empty() ? nullptr : &body, st);
    if (id == NGHTTP2_ERR_NOMEM) throw std::bad_alloc();  // as any allocation of ours that fails
    if (id < 0) {
        // Out of stream ids (a very long-lived connection): this connection takes no more.
        goaway_ = true;
        ec = errc::http2_protocol_error;
        return 0;
    }
    node.key() = id;
    streams_.insert(std::move(node));
    ++active_;
    return id;
}

void session_core::cancel_stream(std::int32_t id) {
    stream_state* st = find_stream(id);
    if (!st || !st->handler) return;
    st->handler = nullptr;
    if (--active_ == 0) idle_since_ = steady_clock::now();
    if (!closed_) nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    changed();
}

void session_core::resume_stream(std::int32_t id) {
    stream_state* st = find_stream(id);
    if (!st || st->held == 0 || closed_) return;
    nghttp2_session_consume_stream(session_, id, st->held);
    st->held = 0;
}

bool session_core::count_control_frame(bool about_a_stream) {
    const auto now = now_;
    if (now - flood_window_start_ >= std::chrono::seconds(1)) {
        flood_window_start_ = now;
        flood_count_ = 0;
        stream_flood_count_ = 0;
        flood_streams_before_ = flood_streams_at_;
        flood_streams_at_ = streams_opened_;
    }
    // Frames about our streams are counted apart, with a budget that grows by a few for each stream
    // opened in this second or the one before: a server answers a busy connection's streams with
    // their own (nginx sends RST_STREAM(NO_ERROR) for every request whose body it did not read, and
    // WINDOW_UPDATEs for the bodies it did). The connection's own (PING, SETTINGS, ...) never earn
    // more, and are not crowded out by those. A flood is what comes on its own.
    if (about_a_stream) {
        const std::size_t earned = per_stream_control_frames * (streams_opened_ - flood_streams_before_);
        if (++stream_flood_count_ <= options_.max_control_frames_per_second + earned) return true;
    } else if (++flood_count_ <= options_.max_control_frames_per_second) {
        return true;
    }
    if (!error_) error_ = errc::http2_flood;
    return false;
}

void session_core::stream_closed(std::int32_t id, std::uint32_t code) {
    const auto it = streams_.find(id);
    if (it == streams_.end()) return;
    std::unique_ptr<stream_state> st = std::move(it->second);
    streams_.erase(it);
    nghttp2_session_set_stream_user_data(session_, id, nullptr);  // nghttp2 still knows it during this callback
    if (st->handler) {
        --active_;
        stream_end end;
        if (!st->headers_sent || (code == NGHTTP2_REFUSED_STREAM && !st->received_any)) {
            // Never reached the server's application: refused (nothing of a response came), above
            // GOAWAY's last stream id, or not even sent.
            end.unprocessed = true;
            if (goaway_ && goaway_error_ == NGHTTP2_NO_ERROR && code == NGHTTP2_REFUSED_STREAM)
                refused_after_goaway_ = true;
            end.ec = errc::http2_stream_reset;
        } else if (st->error) {
            end.ec = st->error;
        } else if (code == NGHTTP2_NO_ERROR && st->end_stream) {
            if (!st->head_done) end.ec = error_ ? error_ : error_code(errc::http2_protocol_error);
        } else if (code == NGHTTP2_NO_ERROR) {
            // Reset with NO_ERROR before the response's end: it is cut short.
            end.ec = errc::http2_stream_reset;
        } else if (st->reset_by_server != 0) {
            end.ec = errc::http2_stream_reset;
            end.reset_code = st->reset_by_server;
        } else {
            // nghttp2 reset it: the response broke HTTP's rules (a bad :status, a content-length
            // that the data contradicts, a forbidden field).
            end.ec = errc::invalid_http_response;
        }
        st->handler->on_end(end);
    }
    if (active_ == 0) idle_since_ = steady_clock::now();
    changed();
}

void session_core::fail(error_code ec) {
    if (closed_) return;
    closed_ = true;
    if (!error_) error_ = ec;
    auto streams = std::move(streams_);
    streams_.clear();
    active_ = 0;
    idle_since_ = steady_clock::now();
    for (auto& [id, st] : streams) {
        nghttp2_session_set_stream_user_data(session_, id, nullptr);
        if (!st->handler) continue;
        stream_end end;
        // A limit of our own says what happened; otherwise the connection's error. Safe to send
        // again only when the server cannot have processed it: not sent; above GOAWAY's last
        // stream id; or sent on a connection that had sat idle and since then answered nothing at
        // all (a stale connection, as with HTTP/1.1 keep-alive).
        end.ec = st->error ? st->error : error_;
        end.unprocessed = !st->headers_sent || (goaway_ && id > goaway_last_stream_id_) ||
                          (st->after_idle && frames_received_ == idle_wake_frames_);
        st->handler->on_end(end);
    }
    changed();
}

void session_core::changed() noexcept {
    try {
        if (on_change) on_change();
    } catch (...) {
        // Out of memory (the pool posts its dispatch): the next change tries again, and a request
        // waiting for a stream slot meanwhile has its pool wait timeout.
    }
}

void session_core::terminate() {
    if (closed_) return;
    goaway_ = true;
    nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
}

bool session_core::submit_ping() { return !closed_ && nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr) == 0; }

error_code session_core::receive(const std::uint8_t* data, std::size_t size, steady_clock::time_point now) {
    if (closed_) return error_;
    now_ = now;
    last_heard_ = now;
    const auto rv = nghttp2_session_mem_recv(session_, data, size);
    if (rv == NGHTTP2_ERR_NOMEM) return boost::asio::error::no_memory;
    if (rv < 0) return error_ ? error_ : error_code(errc::http2_protocol_error);
    return {};
}

error_code session_core::take_output(std::string& out, std::size_t limit) {
    while (!closed_ && out.size() < limit) {
        const uint8_t* data = nullptr;
        const auto n = nghttp2_session_mem_send(session_, &data);
        if (n == NGHTTP2_ERR_NOMEM) return boost::asio::error::no_memory;
        if (n < 0) return errc::http2_protocol_error;
        if (n == 0) break;
        out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    }
    return {};
}

bool session_core::finished() const noexcept {
    return !nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_);
}

std::string error_code_name(std::uint32_t code) {
    static constexpr const char* names[] = {"NO_ERROR",       "PROTOCOL_ERROR",     "INTERNAL_ERROR",
                                            "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT", "STREAM_CLOSED",
                                            "FRAME_SIZE_ERROR", "REFUSED_STREAM",     "CANCEL",
                                            "COMPRESSION_ERROR", "CONNECT_ERROR",     "ENHANCE_YOUR_CALM",
                                            "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"};
    if (code < std::size(names)) return std::string(names[code]) + " (" + std::to_string(code) + ")";
    return std::to_string(code);
}

boost::system::error_code connection_lost(boost::system::error_code ec) {
    namespace ae = boost::asio::error;
    if (ec == ae::eof || ec == boost::asio::ssl::error::stream_truncated || ec == ae::broken_pipe ||
        ec == ae::connection_reset)
        return errc::connection_closed;
    return ec;
}

}  // namespace llmstream::http::h2
