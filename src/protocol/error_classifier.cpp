#include "error_classifier.hpp"

#include "json_access.hpp"
#include "vendor.hpp"

#include <boost/asio/error.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <ctime>

namespace llmstream::protocol {
namespace {

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

bool ends_with(std::string_view s, std::string_view p) {
    return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// Codes that mean the money or the plan ran out, whatever status they come with.
bool is_billing_code(vendor v, std::string_view code, std::string_view message) {
    if (code == "Arrearage" || code == "PrepaidBillOverdue" || code == "PostpaidBillOverdue" ||
        code == "CommodityNotPurchased" || code == "credit_balance_exhausted" || code == "billing_hard_limit_reached" ||
        ends_with(code, "_spend_limit_exceeded") || contains(message, "Free allocated quota exceeded"))
        return true;
    // OpenAI's insufficient_quota is an empty balance; DashScope compatible mode uses the same
    // code for per-minute token throttling.
    return code == "insufficient_quota" && v != vendor::dashscope;
}

bool is_content_filter_code(std::string_view code) {
    return code == "DataInspectionFailed" || code == "data_inspection_failed" || code == "content_filter" ||
           code == "content_policy_violation";
}

bool is_throttling_code(std::string_view code) {
    return starts_with(code, "Throttling") || code == "LimitRequests" || code == "limit_requests" ||
           code == "rate_limit_exceeded" || code == "slow_down" || code == "insufficient_quota";
}

// For in-stream errors without a real status: classify by the code alone.
api_errc classify_by_code(vendor v, std::string_view code, std::string_view type, std::string_view message) {
    if (is_billing_code(v, code, message)) return api_errc::payment_required;
    if (is_content_filter_code(code)) return api_errc::content_filtered;
    if (is_throttling_code(code) || type == "rate_limit_error" || type == "tokens") return api_errc::rate_limited;
    if (code == "InvalidApiKey" || code == "invalid_api_key" || type == "authentication_error")
        return api_errc::authentication;
    if (contains(code, "AccessDenied") || code == "NoPermission" || code == "AllocationQuota.FreeTierOnly" ||
        type == "permission_error")
        return api_errc::permission_denied;
    if (code == "ModelNotFound" || code == "WorkSpaceNotFound" || code == "model_not_found" || type == "not_found_error")
        return api_errc::not_found;
    if (code == "InvalidParameter" || code == "invalid_request_error" || type == "invalid_request_error" ||
        code == "invalid_value" || code == "BadRequest.InputLength")
        return api_errc::bad_request;
    if (code == "BadRequest.TooLarge" || type == "request_too_large") return api_errc::request_too_large;
    if (type == "billing_error") return api_errc::payment_required;
    if (type == "timeout_error") return api_errc::request_timeout;
    if (code == "invalid_prompt") return api_errc::bad_request;  // Responses' response.failed
    if (code == "BadRequest.UnsupportedFileFormat") return api_errc::unsupported_input;
    if (code == "RequestTimeOut") return api_errc::request_timeout;
    if (code == "ModelUnavailable" || type == "overloaded_error" || contains(message, "Overloaded"))
        return api_errc::overloaded;
    // The request was accepted and then failed on the server's side.
    return api_errc::server_error;
}

}  // namespace

api_errc classify_error(vendor v, int status, std::string_view code, std::string_view type,
                        std::string_view message) noexcept {
    switch (status) {
    case 400:
        if (is_content_filter_code(code)) return api_errc::content_filtered;
        if (is_billing_code(v, code, message)) return api_errc::payment_required;
        return api_errc::bad_request;
    case 422: return api_errc::bad_request;
    case 401: return api_errc::authentication;
    case 402: return api_errc::payment_required;
    case 403: return api_errc::permission_denied;
    case 404: return api_errc::not_found;
    case 408:
    case 409: return api_errc::request_timeout;
    case 413: return api_errc::request_too_large;
    case 415: return api_errc::unsupported_input;
    case 429: return is_billing_code(v, code, message) ? api_errc::payment_required : api_errc::rate_limited;
    case 503:
    case 529: return api_errc::overloaded;
    default: break;
    }
    if (status >= 500 && status <= 599) return api_errc::server_error;
    if (status == 0 || (status >= 200 && status <= 299)) return classify_by_code(v, code, type, message);
    return api_errc::unexpected_status;
}

std::string hint_for(vendor v, api_errc e, std::string_view code) {
    const bool dashscope = v == vendor::dashscope;
    switch (e) {
    case api_errc::bad_request:
        if (code == "InvalidParameter")
            return "fix the request field named in the provider message (a wrong model name reads \"Model not exist.\")";
        return "fix the request field named in the provider message";
    case api_errc::content_filtered:
        return "the input or the output was blocked by the provider's content moderation; change the content";
    case api_errc::payment_required:
        if (code == "insufficient_quota" || ends_with(code, "_spend_limit_exceeded") || code == "credit_balance_exhausted")
            return "the account's balance or spend limit is used up: add credit or raise the limit in the billing settings";
        if (code == "CommodityNotPurchased")
            return "the model or service is not purchased for this account: activate it in the console";
        return "top up the balance or check the plan and billing; a free tier may be used up";
    case api_errc::authentication:
        if (dashscope)
            return "check the API key: it may be wrong, unset (DASHSCOPE_API_KEY), or from another region "
                   "(an international key against the China endpoint or the reverse)";
        return "check the API key: it may be wrong, revoked, unset, or meant for another provider or region";
    case api_errc::permission_denied:
        if (code == "AllocationQuota.FreeTierOnly")
            return "the free-tier-only switch is on for this model: turn it off in the console to use paid quota";
        if (dashscope)
            return "the key's workspace is not authorized for this model: a sub-workspace needs model authorization "
                   "from the main account, or the service is not activated";
        return "this key or project may not use this model or endpoint: check its permissions";
    case api_errc::not_found:
        return "check the model name and that this key (and its workspace or region) may use it";
    case api_errc::request_too_large:
        return "the request is too large: shorten the input or send smaller files";
    case api_errc::unsupported_input:
        return "a file or media format in the request is not supported by this model";
    case api_errc::rate_limited:
        if (dashscope) return "throttled (requests or tokens per minute): slow down or raise the quota; limits recover within about a minute";
        return "throttled: slow down, or raise the rate limit of the account";
    case api_errc::request_timeout:
        return "the server timed out handling the request; retrying may succeed";
    case api_errc::server_error:
        return "the provider failed on its side; retrying may succeed";
    case api_errc::overloaded:
        return "the model or service is overloaded or unavailable; retry later or use another model";
    case api_errc::unexpected_status:
        return "the server answered with an unexpected status: check the base URL and any proxy in between";
    }
    return {};
}

void set_provider_text(std::string& out, std::string_view text) {
    constexpr std::size_t max_length = 1024;
    out.clear();
    bool space = false;
    for (const char c : text) {
        if (out.size() >= max_length) {
            out += "...";
            break;
        }
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {  // newlines, tabs and other controls collapse to one space
            space = !out.empty();
            continue;
        }
        if (space) out.push_back(' ');
        space = false;
        out.push_back(c);
    }
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view retry_after,
                                                           std::string_view retry_after_ms,
                                                           std::chrono::system_clock::time_point now) {
    auto trim = [](std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
        return s;
    };
    auto number = [](std::string_view s) -> std::optional<double> {
        if (s.empty() || s.front() == '-') return std::nullopt;
        double d = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
        if (ec != std::errc{} || p != s.data() + s.size() || !(d >= 0) || d > 1e9) return std::nullopt;
        return d;
    };
    if (auto ms = number(trim(retry_after_ms))) return std::chrono::milliseconds(static_cast<long long>(*ms));
    retry_after = trim(retry_after);
    if (retry_after.empty()) return std::nullopt;
    if (auto s = number(retry_after)) return std::chrono::milliseconds(static_cast<long long>(*s * 1000));

    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    if (retry_after.size() != 29 || retry_after.substr(25) != " GMT") return std::nullopt;
    static constexpr std::array<std::string_view, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    auto digits = [&](std::size_t at, std::size_t n, int& out) {
        out = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            if (retry_after[i] < '0' || retry_after[i] > '9') return false;
            out = out * 10 + (retry_after[i] - '0');
        }
        return true;
    };
    int day = 0, year = 0, hour = 0, minute = 0, second = 0;
    const auto month_it = std::find(months.begin(), months.end(), retry_after.substr(8, 3));
    if (month_it == months.end() || !digits(5, 2, day) || !digits(12, 4, year) || !digits(17, 2, hour) ||
        !digits(20, 2, minute) || !digits(23, 2, second))
        return std::nullopt;
    using namespace std::chrono;
    const auto ymd = year_month_day{std::chrono::year{year},
                                    std::chrono::month{static_cast<unsigned>(month_it - months.begin() + 1)},
                                    std::chrono::day{static_cast<unsigned>(day)}};
    if (!ymd.ok() || hour > 23 || minute > 59 || second > 60) return std::nullopt;
    const auto when = sys_days{ymd} + hours{hour} + minutes{minute} + seconds{second};
    const auto wait = duration_cast<milliseconds>(when - now);
    return wait.count() < 0 ? milliseconds{0} : wait;
}

std::string hint_for_failure(const boost::system::error_code& ec) {
    if (!ec) return {};
    if (ec.category() == library_category()) {
        switch (static_cast<errc>(ec.value())) {
        case errc::line_too_long:
        case errc::event_too_large:
            return "the server sent an event larger than sse_limits allows: check the base URL, or raise the limit";
        case errc::invalid_request:
            return "the request cannot be encoded: fix the field named above";
        case errc::malformed_response:
            return "the server's answer is not the configured dialect's JSON: check the base URL and the API dialect";
        case errc::truncated_stream:
        case errc::connection_closed:
            return "the connection was cut before the response was complete: retry; if it keeps happening, check "
                   "proxies and load balancers in between (idle and response-size limits)";
        case errc::body_too_large:
            return "the response body exceeded max_body_size: raise it or ask for less";
        case errc::connect_timeout:
            return "no connection within timeouts.connect (name lookup, TCP connect and TLS handshake): check the "
                   "base URL's host and port, DNS, the network, a firewall or proxy";
        case errc::first_byte_timeout:
            return "the server took the request but sent nothing within timeouts.first_byte: the model may be "
                   "overloaded, or a long prompt needs a larger limit";
        case errc::idle_timeout:
            return "the response stalled for longer than timeouts.idle: the server or a proxy stopped sending";
        case errc::deadline_exceeded:
            return "the whole request took longer than timeouts.total: raise it or ask for a shorter answer";
        case errc::pool_wait_timeout:
            return "every connection to this server stayed busy, or the ones being opened (pool.max_connecting at "
                   "once) did not finish, for pool.wait_timeout: raise pool.max_connections, or send fewer requests "
                   "at once";
        case errc::pool_queue_full:
            return "pool.max_waiting requests were already waiting for a connection: send fewer requests at once";
        case errc::operation_in_progress:
            return "wait for one async_next to complete before calling it again";
        case errc::invalid_http_response:
            return "the server (or a proxy in between) sent broken HTTP: check the base URL, and that nothing "
                   "between here and the provider rewrites or compresses the response";
        case errc::invalid_base_url:
            return "the base URL must be http:// or https:// with a host, e.g. https://api.openai.com/v1";
        case errc::rate_limit_wait_exceeded:
            return "the configured rate limits (limits.requests_per_minute / tokens_per_minute / max_in_flight) "
                   "would hold this request longer than limits.max_wait or its deadline: send fewer requests, "
                   "raise the limits if the provider allows it, or allow a longer wait";
        case errc::proxy_unreachable:
            return "the proxy (client_config::proxy, or https_proxy / http_proxy / all_proxy from the environment) "
                   "does not accept connections: check its host and port, or bypass it with NO_PROXY";
        case errc::proxy_tunnel_refused:
            return "the proxy would not connect to the provider's host: its access rules may forbid it, or it "
                   "cannot reach the host itself";
        case errc::proxy_auth_required:
            return "the proxy needs a user name and password: put them in the proxy URL "
                   "(http://user:password@host:port); they are never printed";
        case errc::invalid_proxy:
            return "write the proxy as http://[user:password@]host[:port] (https:// and socks proxies are not "
                   "supported), or turn it off: an empty proxy URL with proxy.from_environment = false";
        case errc::http2_protocol_error:
            return "the HTTP/2 connection broke: retry; if it keeps happening, try http = http1 and check proxies "
                   "in between";
        case errc::http2_stream_reset:
            return "the server cancelled this request's HTTP/2 stream: retry; if it keeps happening, the server or "
                   "a proxy in between is refusing it";
        case errc::http2_flood:
            return "the server flooded the connection with HTTP/2 control frames: it is misbehaving, or it is not "
                   "the server you meant";
        case errc::response_headers_too_large:
            return "the server sent more header fields than allowed: check the base URL and proxies in between";
        case errc::http2_not_negotiated:
            return "the server speaks only HTTP/1.1 over TLS: use http = automatic or http1 (--http auto|1.1)";
        }
        return {};
    }
    namespace ae = boost::asio::error;
    if (ec == ae::operation_aborted) return "the request was cancelled";
    if (ec == ae::no_memory)
        return "the process ran out of memory during this request: send fewer at once, lower max_buffered_deltas, "
               "or allow the process more memory";
    if (ec == ae::connection_refused)
        return "nothing accepts connections at the base URL's host and port: check the URL and that the server runs";
    if (ec == ae::host_not_found || ec == ae::host_not_found_try_again || ec == ae::no_data)
        return "the base URL's host name does not resolve: check its spelling and DNS";
    if (ec == ae::connection_reset || ec == ae::connection_aborted || ec == ae::broken_pipe || ec == ae::eof)
        return "the connection was dropped: retry; if it keeps happening, check proxies and firewalls in between";
    if (ec == ae::network_unreachable || ec == ae::host_unreachable || ec == ae::network_down || ec == ae::timed_out)
        return "the server cannot be reached: check the network, a proxy or firewall";
    if (is_tls_error(ec))
        return "the TLS handshake failed: check that the base URL's host name matches its certificate and that the "
               "certificate's CA is trusted (the system store, or tls.ca_file)";
    return {};
}

void redact_secret(diagnostics& diag, std::string_view secret) {
    if (secret.size() < 4) return;  // too short to recognise, and no real key is that short
    auto scrub = [&](std::string& s) {
        for (auto at = s.find(secret); at != std::string::npos; at = s.find(secret, at + 10))
            s.replace(at, secret.size(), "[redacted]");
        // Provider text is cut at a bound: a key cut there leaves its start at the very end
        // (8 characters or more; shorter tails say nothing and would catch innocent text).
        for (std::size_t k = std::min(s.size(), secret.size() - 1); k >= 8; --k) {
            if (s.compare(s.size() - k, k, secret.substr(0, k)) == 0) {
                s.replace(s.size() - k, k, "[redacted]");
                break;
            }
        }
    };
    scrub(diag.provider_code);
    scrub(diag.provider_message);
    scrub(diag.request_id);
    scrub(diag.hint);
    scrub(diag.retry_note);
    for (auto& a : diag.attempt_log) {
        scrub(a.provider_code);
        scrub(a.request_id);
    }
}

void drop_provider_text(diagnostics& diag) noexcept {
    diag.provider_code.clear();
    diag.provider_message.clear();
    diag.request_id.clear();
    diag.hint.clear();
    diag.retry_note.clear();
    for (auto& a : diag.attempt_log) {
        a.provider_code.clear();
        a.request_id.clear();
    }
}

boost::system::error_code decode_error_response(vendor v, const response_head& head, std::string_view body,
                                                diagnostics& diag, std::chrono::system_clock::time_point now) {
    diag.clear_last_attempt();
    diag.http_status = head.status;
    diag.retry_after = parse_retry_after(head.retry_after, head.retry_after_ms, now);
    if (head.should_retry == "true") diag.server_says_retry = true;
    if (head.should_retry == "false") diag.server_says_retry = false;
    set_provider_text(diag.request_id, head.request_id);

    provider_error fields;
    if (parse_provider_error(body, fields)) {
        // Anthropic names an error by its type alone ({"type":"error","error":{"type":"overloaded_error"}}).
        set_provider_text(diag.provider_code, fields.code.empty() && fields.typed_envelope ? fields.type : fields.code);
        set_provider_text(diag.provider_message, fields.message);
        if (diag.request_id.empty()) set_provider_text(diag.request_id, fields.request_id);
        const vendor speaker = vendor_for_error(v, fields);
        const api_errc e = classify_error(speaker, head.status, fields.code, fields.type, fields.message);
        diag.hint = hint_for(speaker, e, fields.code);
        return e;
    }
    // Not a provider error body: a proxy's HTML or plain text page, or nothing at all.
    set_provider_text(diag.provider_message, body);
    const api_errc e = classify_error(v, head.status, {}, {}, {});
    diag.hint = hint_for(v, e, {});
    if (!body.empty() && (head.status == 502 || head.status == 504 || head.status == 503))
        diag.hint += " (the body is not the provider's JSON: a proxy or gateway in between answered)";
    return e;
}

}  // namespace llmstream::protocol
