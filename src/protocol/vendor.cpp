#include "vendor.hpp"

#include "json_access.hpp"

#include <algorithm>
#include <cctype>

namespace llmstream::protocol {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// `host` is `domain` or a name under it.
bool in_domain(std::string_view host, std::string_view domain) {
    if (host.size() == domain.size()) return iequals(host, domain);
    return host.size() > domain.size() && host[host.size() - domain.size() - 1] == '.' &&
           iequals(host.substr(host.size() - domain.size()), domain);
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

llmstream::vendor vendor_of_host(std::string_view host) noexcept {
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    // DashScope's regions (dashscope*.aliyuncs.com, cn-hongkong.dashscope.aliyuncs.com) and
    // workspace hosts ({WorkspaceId}.{region}.maas.aliyuncs.com). Not every aliyuncs.com host:
    // anyone can name an OSS bucket under it, and DASHSCOPE_API_KEY must not go there.
    if (in_domain(host, "aliyuncs.com")) {
        const std::string_view first = host.substr(0, host.find('.'));
        if ((first.size() >= 9 && iequals(first.substr(0, 9), "dashscope")) || in_domain(host, "dashscope.aliyuncs.com") || in_domain(host, "maas.aliyuncs.com"))
            return vendor::dashscope;
    }
    if (in_domain(host, "api.deepseek.com")) return vendor::deepseek;
    if (in_domain(host, "api.openai.com")) return vendor::openai;
    if (in_domain(host, "api.anthropic.com")) return vendor::anthropic;
    return vendor::automatic;
}

llmstream::vendor vendor_for_host(llmstream::vendor configured, std::string_view host) noexcept {
    return configured == vendor::automatic ? vendor_of_host(host) : configured;
}

bool looks_like_dashscope(const provider_error& e) noexcept {
    if (!e.request_id.empty()) return true;
    const std::string_view code = e.code;
    static constexpr std::string_view own_codes[] = {
        "Arrearage",         "PrepaidBillOverdue",   "PostpaidBillOverdue", "CommodityNotPurchased",
        "DataInspectionFailed", "InvalidApiKey",     "InvalidParameter",    "ModelNotFound",
        "WorkSpaceNotFound", "ModelUnavailable",     "RequestTimeOut",      "NoPermission",
        "InternalError"};
    if (std::find(std::begin(own_codes), std::end(own_codes), code) != std::end(own_codes)) return true;
    static constexpr std::string_view own_prefixes[] = {"Throttling", "Model.", "AllocationQuota.", "BadRequest.",
                                                        "InternalError."};
    return std::any_of(std::begin(own_prefixes), std::end(own_prefixes),
                       [&](std::string_view p) { return starts_with(code, p); });
}

llmstream::vendor vendor_for_error(llmstream::vendor v, const provider_error& e) noexcept {
    if (v != vendor::automatic) return v;
    if (e.typed_envelope) return vendor::anthropic;  // its top-level request_id is not DashScope's
    return looks_like_dashscope(e) ? vendor::dashscope : vendor::openai;
}

}  // namespace llmstream::protocol
