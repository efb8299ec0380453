// SPDX-License-Identifier: Apache-2.0
// The daemon's one logger: one event per line on stderr (or any fd, for tests).
//
// Under systemd (stderr is the journal stream named by $JOURNAL_STREAM) each line starts with the
// sd-daemon priority prefix, "<3>spsecd: ...", so journald records the right priority; otherwise
// lines read "spsecd: error: ...". A message with newlines (a configuration's list of errors) is
// written as one record per line, each with that prefix and priority; other control characters
// become '?'. So every line written starts with the logger's own prefix, and a hostile string in a
// config file cannot forge a log record or its priority.
//
// Levels: error (the daemon cannot do what it must), warning (a security event or a refused
// request; it goes on), info (state changes, start/stop), debug (per-message protocol detail),
// verbose (libbpf and verifier chatter only).
//
// Key material cannot reach a log line by construction: messages are built with cat(), which
// accepts only strings, integers and bools, and Secret<N> (Key32) converts to none of them.
#pragma once

#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "spsec/result.h"

namespace spsec {

enum class LogLevel : int {
	Error = 3,  // sd-daemon SD_ERR
	Warning = 4,
	Info = 6,
	Debug = 7,
	Verbose = 8,  // written with the debug prefix
};

// Parses "error", "warning", "info", "debug", "verbose".
[[nodiscard]] Result<LogLevel> parse_log_level(std::string_view name);

class Logger {
public:
	// Writes to `fd` (not owned). `journal` selects the "<N>" priority prefixes.
	Logger(int fd, LogLevel max_level, bool journal, std::string ident = "spsecd") noexcept;

	// stderr, with journal prefixes when $JOURNAL_STREAM names stderr's device and inode.
	[[nodiscard]] static Logger to_stderr(LogLevel max_level, std::string ident = "spsecd");

	[[nodiscard]] bool enabled(LogLevel level) const noexcept
	{
		return static_cast<int>(level) <= static_cast<int>(max_level_);
	}
	void set_max_level(LogLevel level) noexcept { max_level_ = level; }

	// Writes the message, one line per line of msg, with a single write(2), so concurrent
	// writers never interleave its lines.
	void log(LogLevel level, std::string_view msg) const noexcept;
	void error(std::string_view msg) const noexcept { log(LogLevel::Error, msg); }
	void warning(std::string_view msg) const noexcept { log(LogLevel::Warning, msg); }
	void info(std::string_view msg) const noexcept { log(LogLevel::Info, msg); }
	void debug(std::string_view msg) const noexcept { log(LogLevel::Debug, msg); }
	void verbose(std::string_view msg) const noexcept { log(LogLevel::Verbose, msg); }

	// Logs err at error level and returns it, for `return log.fail(e.with_context("..."))`.
	[[nodiscard]] tl::unexpected<Error> fail(const Error& err) const;

private:
	int fd_;
	LogLevel max_level_;
	bool journal_;
	std::string ident_;
};

namespace detail {
inline void append_one(std::string& out, std::string_view s)
{
	out.append(s);
}
inline void append_one(std::string& out, const char* s)
{
	out.append(s);
}
inline void append_one(std::string& out, const std::string& s)
{
	out.append(s);
}
inline void append_one(std::string& out, bool b)
{
	out.append(b ? "true" : "false");
}
template <std::integral I>
requires(!std::same_as<I, bool> && !std::same_as<I, char>) inline void append_one(std::string& out,
                                                                                  I v)
{
	// uint8_t would otherwise print as a character; widen every integer first.
	if constexpr (std::is_signed_v<I>)
		out.append(std::to_string(static_cast<long long>(v)));
	else
		out.append(std::to_string(static_cast<unsigned long long>(v)));
}
inline void append_one(std::string& out, char c)
{
	out.push_back(c);
}
}  // namespace detail

// True for the argument types cat() accepts: strings, integers, bools.
template <class T>
concept Loggable = requires(std::string& s, const T& v)
{
	detail::append_one(s, v);
};

// Concatenates strings, integers and bools into one message.
template <Loggable... A> [[nodiscard]] std::string cat(const A&... args)
{
	std::string out;
	(detail::append_one(out, args), ...);
	return out;
}

// "0x0aff0805": CAN IDs, key IDs, register values.
[[nodiscard]] std::string hex32(std::uint32_t v);

}  // namespace spsec
