#include <llmstream/error.hpp>

#include <string>

namespace llmstream {
namespace {

class library_category_impl final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "llmstream"; }

    std::string message(int value) const override {
        switch (static_cast<errc>(value)) {
        case errc::line_too_long:
            return "event-stream line longer than the configured limit (sse::limits::max_line_size)";
        case errc::event_too_large:
            return "event-stream event larger than the configured limit (sse::limits::max_event_size)";
        }
        return "unknown llmstream error " + std::to_string(value);
    }
};

}  // namespace

const boost::system::error_category& library_category() noexcept {
    static const library_category_impl instance;
    return instance;
}

}  // namespace llmstream
