// A global operator new that fails on demand, on one thread: the switch of
// allocation_failure_test.cpp. In a file of its own: where the replacements are visible,
// GCC takes their free() for a mismatch with the new it inlined.
#pragma once

namespace llmstream::testing::failing_allocator {

/// From now on, on this thread, the allocation number `n` (from 0) fails; n < 0: none does (but
/// allocations are still counted).
void arm(long n);
/// From now on, on this thread, the allocation number `n` (from 0) and every one after it fail:
/// memory that runs out for good (until disarm()).
void arm_exhausted(long n);
/// Nothing fails from now on, on this thread.
void disarm();
/// Allocations counted on this thread since arm().
long seen();
/// The armed failure happened (since arm()).
bool fired();
/// OpenSSL's allocations go through the switch too (its memory functions were set in time).
bool covers_openssl();
/// While on (this thread), OpenSSL's own allocations are neither counted nor failed: a sweep
/// fails only ours, e.g. the buffer OpenSSL writes its records into through our BIO.
void spare_openssl(bool on);

}  // namespace llmstream::testing::failing_allocator
