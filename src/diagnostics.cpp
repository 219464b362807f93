#include <llmstream/diagnostics.hpp>
#include <llmstream/with_diagnostics.hpp>

#include "protocol/error_classifier.hpp"

namespace llmstream {

error_with_diagnostics::error_with_diagnostics(boost::system::error_code ec, llmstream::diagnostics diag)
    : boost::system::system_error(ec) {
    std::string text = diag.to_string(ec);
    state_ = std::make_shared<const state>(state{std::move(diag), std::move(text)});
}

std::string diagnostics::to_string(const boost::system::error_code& ec) const {
    std::string out = ec ? ec.message() : std::string("no error");
    if (http_status != 0) out += " (HTTP " + std::to_string(http_status) + ")";
    if (!provider_code.empty() || !provider_message.empty()) {
        out += "; provider said:";
        if (!provider_code.empty()) out += " [" + provider_code + "]";
        if (!provider_message.empty()) out += " \"" + provider_message + "\"";
    }
    if (!request_id.empty()) out += "; request id " + request_id;
    if (retry_after) out += "; retry after " + std::to_string(retry_after->count()) + " ms";
    if (attempts > 0) out += "; " + std::to_string(attempts) + (attempts == 1 ? " attempt" : " attempts");
    if (retry_wait.count() > 0) out += " (" + std::to_string(retry_wait.count()) + " ms waited between them)";
    if (admission_wait.count() > 0)
        out += "; held back " + std::to_string(admission_wait.count()) + " ms by the client's rate limits";
    if (!attempt_log.empty()) {  // what the retried attempts met, oldest first
        out += "; earlier attempts: ";
        for (std::size_t i = 0; i < attempt_log.size(); ++i) {
            const attempt_record& a = attempt_log[i];
            if (i > 0) out += ", ";
            out += a.http_status != 0 ? "HTTP " + std::to_string(a.http_status) : a.error.message();
            if (!a.provider_code.empty()) out += " [" + a.provider_code + "]";
            if (!a.request_id.empty()) out += " request id " + a.request_id;
        }
    }
    if (ec && deltas_delivered > 0) out += "; " + std::to_string(deltas_delivered) + " deltas delivered before the failure";
    if (!retry_note.empty()) out += "; " + retry_note;
    if (!admission_note.empty()) out += "; " + admission_note;
    // A request that ran out of memory to the end could not store its hint: the code's own is
    // given instead, now that there is memory to write it.
    const std::string fallback = hint.empty() && ec ? protocol::hint_for_failure(ec) : std::string();
    if (!hint.empty() || !fallback.empty()) out += ". Hint: " + (hint.empty() ? fallback : hint);
    return out;
}

}  // namespace llmstream
