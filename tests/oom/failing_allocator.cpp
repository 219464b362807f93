// See failing_allocator.hpp.
#include "failing_allocator.hpp"

#include "memory/sized_blocks.hpp"

#include <execinfo.h>
#include <openssl/crypto.h>

#include <climits>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <new>

namespace {

// The failure switch, per thread: the mock's thread and Catch's own bookkeeping are never armed.
thread_local long allocations_until_failure = -1;  // -1: nothing fails
thread_local long allocations_seen = 0;            // counted while armed
thread_local bool failure_fired = false;           // the armed failure happened
thread_local bool fail_after_first = false;        // arm_exhausted: every allocation after it fails too
thread_local bool failing_for_good = false;        // arm_exhausted, and the first failure came
thread_local bool sparing_openssl = false;         // spare_openssl(true)
thread_local bool inside_openssl = false;          // the allocation is OpenSSL's (see openssl_allocate)

// Only allocations that may throw are counted and failed. The nothrow ones here are Asio 1.81's
// own, for its type-erased executors (any_completion_handler's associated executor): on failure
// Asio makes an empty executor and then calls through it (a crash in work_dispatcher), which no
// caller can prevent. See README "Reliability".
void* allocate(std::size_t size, std::size_t alignment, bool may_throw) {
    if (may_throw && (allocations_until_failure >= 0 || failing_for_good) && !(sparing_openssl && inside_openssl)) {
        ++allocations_seen;
        if (failing_for_good || allocations_until_failure-- == 0) {
            failure_fired = true;
            failing_for_good = fail_after_first;
            if (std::getenv("LLMSTREAM_OOM_TRACE")) {
                void* frames[40];
                backtrace_symbols_fd(frames, backtrace(frames, 40), 2);
            }
            throw std::bad_alloc();
        }
    }
    if (size == 0) size = 1;
    void* p = alignment <= alignof(std::max_align_t)
                  ? std::malloc(size)
                  : std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
    if (!p && may_throw) throw std::bad_alloc();
    return p;
}

// A std::bad_alloc that meets a noexcept function ends the process: its backtrace says where.
const bool terminate_prints_backtrace = [] {
    std::set_terminate([] {
        void* frames[60];
        backtrace_symbols_fd(frames, backtrace(frames, 60), 2);
        std::abort();
    });
    return true;
}();

// OpenSSL's allocations go through the same switch: its memory functions, the library's own
// blocks over operator new (as nghttp2's are), set before its first allocation (a constructor
// that runs before the C++ static initializers, some of which start OpenSSL).
struct openssl_allocation {  // marks the allocations made meanwhile as OpenSSL's
    bool outer = inside_openssl;
    openssl_allocation() noexcept { inside_openssl = true; }
    ~openssl_allocation() { inside_openssl = outer; }
};
void* openssl_allocate(std::size_t size, const char*, int) {
    openssl_allocation mark;
    return llmstream::memory::sized_blocks::allocate(size);
}
void openssl_free(void* p, const char*, int) { llmstream::memory::sized_blocks::release(p); }
void* openssl_reallocate(void* p, std::size_t size, const char*, int) {
    openssl_allocation mark;
    return llmstream::memory::sized_blocks::reallocate(p, size);  // size 0 frees, as CRYPTO_realloc
}

bool openssl_routed = false;

[[gnu::constructor(101)]] void route_openssl_allocations() {
    openssl_routed = CRYPTO_set_mem_functions(&openssl_allocate, &openssl_reallocate, &openssl_free) == 1;
}

}  // namespace

namespace llmstream::testing::failing_allocator {

bool covers_openssl() { return openssl_routed; }
void spare_openssl(bool on) { sparing_openssl = on; }

void arm(long n) {
    allocations_seen = 0;
    failure_fired = false;
    fail_after_first = false;
    failing_for_good = false;
    allocations_until_failure = n < 0 ? LONG_MAX : n;
}
void arm_exhausted(long n) {
    arm(n);
    fail_after_first = true;
}
void disarm() {
    allocations_until_failure = -1;
    failing_for_good = false;
}
long seen() { return allocations_seen; }
bool fired() { return failure_fired; }

}  // namespace llmstream::testing::failing_allocator

void* operator new(std::size_t n) { return allocate(n, 0, true); }
void* operator new[](std::size_t n) { return allocate(n, 0, true); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return allocate(n, 0, false); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return allocate(n, 0, false); }
void* operator new(std::size_t n, std::align_val_t a) { return allocate(n, static_cast<std::size_t>(a), true); }
void* operator new[](std::size_t n, std::align_val_t a) { return allocate(n, static_cast<std::size_t>(a), true); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return allocate(n, static_cast<std::size_t>(a), false);
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return allocate(n, static_cast<std::size_t>(a), false);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
