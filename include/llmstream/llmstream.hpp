// Everything public in one include: every header of include/llmstream/ and nothing else
// (tests/CMakeLists.txt checks that none is missing).
//
//   #include <llmstream/llmstream.hpp>
#pragma once

#include <llmstream/client.hpp>
#include <llmstream/config.hpp>
#include <llmstream/diagnostics.hpp>
#include <llmstream/dialect.hpp>
#include <llmstream/error.hpp>
#include <llmstream/events.hpp>
#include <llmstream/limits.hpp>
#include <llmstream/metrics.hpp>
#include <llmstream/observer.hpp>
#include <llmstream/providers.hpp>
#include <llmstream/request.hpp>
#include <llmstream/retry.hpp>
#include <llmstream/sse.hpp>
#include <llmstream/stream.hpp>
#include <llmstream/with_diagnostics.hpp>
