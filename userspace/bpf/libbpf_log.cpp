// SPDX-License-Identifier: Apache-2.0
#include "bpf/libbpf_log.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>

#include <bpf/libbpf.h>

namespace spsec {
namespace {

std::atomic<int> g_verbosity{static_cast<int>(LibbpfVerbosity::Quiet)};
std::atomic<bool> g_silenced{false};

int print_cb(enum libbpf_print_level level, const char* fmt, va_list args)
{
	if (g_silenced.load())
		return 0;
	const int v = g_verbosity.load();
	if (level == LIBBPF_DEBUG && v < static_cast<int>(LibbpfVerbosity::Verbose))
		return 0;
	if (level == LIBBPF_INFO && v < static_cast<int>(LibbpfVerbosity::Info))
		return 0;
	return std::vfprintf(stderr, fmt, args);
}

}  // namespace

void set_libbpf_verbosity(LibbpfVerbosity v) noexcept
{
	g_verbosity.store(static_cast<int>(v));
	libbpf_set_print(print_cb);
}

LibbpfSilencer::LibbpfSilencer() noexcept
{
	g_silenced.store(true);
	libbpf_set_print(print_cb);
}

LibbpfSilencer::~LibbpfSilencer()
{
	g_silenced.store(false);
}

}  // namespace spsec
