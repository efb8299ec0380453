// SPDX-License-Identifier: Apache-2.0
// Error handling policy for all of spsec-linux's C++ code.
//
// Recoverable failures (bad input, a refused syscall, a frame that fails verification) are returned
// as spsec::Result<T>, an alias for tl::expected (libexpected-dev) so the dependency can be swapped
// for std::expected once the project moves to C++23. Exceptions are reserved for programming errors
// and fatal start-up conditions, and are caught once in main(). No exception may cross a C callback
// (libbpf print function, ring buffer sample callback).
//
// An Error carries an errno-style code (0 when there is none) and a human-readable context chain,
// outermost first: "loading skeleton: attaching tc ingress on can0: Operation not permitted".
// An Error's text must never contain key material.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace spsec {

struct Error {
	int errno_value = 0;  // positive errno value, or 0 when the failure is not a syscall's
	std::string context;  // what failed, outermost first

	// Returns the error with `what` prepended: err.with_context("loading config") turns
	// "bad key" into "loading config: bad key".
	[[nodiscard]] Error with_context(std::string_view what) const
	{
		Error e = *this;
		e.context.insert(0, std::string(what) + ": ");
		return e;
	}

	// The full message, including strerror(errno_value) when it is set.
	[[nodiscard]] std::string message() const;
};

template <class T> using Result = tl::expected<T, Error>;

// Makes an error without errno: return spsec::fail("participant id {} out of range");
[[nodiscard]] inline tl::unexpected<Error> fail(std::string context)
{
	return tl::unexpected<Error>(Error{0, std::move(context)});
}

// Makes an error from an errno value (positive): return spsec::fail_errno(errno, "opening ...").
[[nodiscard]] inline tl::unexpected<Error> fail_errno(int err, std::string context)
{
	return tl::unexpected<Error>(Error{err < 0 ? -err : err, std::move(context)});
}

}  // namespace spsec
