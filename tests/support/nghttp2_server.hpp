// nghttp2's own server session, in memory: a test plays an HTTP/2 server to the client's session
// core (tests/unit, tests/fuzz), its submitted frames coming out of output() as well-formed bytes.
#pragma once

#include <nghttp2/nghttp2.h>

#include <initializer_list>
#include <string>

namespace llmstream::testing {

class nghttp2_server_session {
public:
    /// `user`: the user data of nghttp2's callbacks; `on_frame_recv`, when given, hears every
    /// frame the client sends; `settings`: the server's first SETTINGS.
    explicit nghttp2_server_session(void* user, nghttp2_on_frame_recv_callback on_frame_recv = nullptr,
                                    std::initializer_list<nghttp2_settings_entry> settings = {}) {
        nghttp2_session_callbacks* cbs = nullptr;
        nghttp2_session_callbacks_new(&cbs);
        if (on_frame_recv) nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
        nghttp2_session_server_new(&session_, cbs, user);
        nghttp2_session_callbacks_del(cbs);
        nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.begin(), settings.size());
    }
    ~nghttp2_server_session() { nghttp2_session_del(session_); }
    nghttp2_server_session(const nghttp2_server_session&) = delete;
    nghttp2_server_session& operator=(const nghttp2_server_session&) = delete;

    nghttp2_session* get() const noexcept { return session_; }

    /// Every frame queued so far, as bytes for the client.
    std::string output() {
        std::string out;
        for (;;) {
            const uint8_t* data = nullptr;
            const auto n = nghttp2_session_mem_send(session_, &data);
            if (n <= 0) break;
            out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
        }
        return out;
    }

private:
    nghttp2_session* session_ = nullptr;
};

}  // namespace llmstream::testing
