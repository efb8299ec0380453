// SPDX-License-Identifier: Apache-2.0
#include "common/logger.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace spsec {

Result<LogLevel> parse_log_level(std::string_view name)
{
	if (name == "error")
		return LogLevel::Error;
	if (name == "warning")
		return LogLevel::Warning;
	if (name == "info")
		return LogLevel::Info;
	if (name == "debug")
		return LogLevel::Debug;
	if (name == "verbose")
		return LogLevel::Verbose;
	return fail(cat("unknown log level '", name,
	                "' (expected error, warning, info, debug or verbose)"));
}

Logger::Logger(int fd, LogLevel max_level, bool journal, std::string ident) noexcept
    : fd_(fd), max_level_(max_level), journal_(journal), ident_(std::move(ident))
{
}

Logger Logger::to_stderr(LogLevel max_level, std::string ident)
{
	// systemd sets JOURNAL_STREAM="<dev>:<ino>" of the stream it connected; stderr may have
	// been redirected since, so compare with what fd 2 really is.
	bool journal = false;
	if (const char* js = std::getenv("JOURNAL_STREAM")) {
		unsigned long long dev = 0, ino = 0;
		struct stat st {};
		if (std::sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
		    ::fstat(STDERR_FILENO, &st) == 0)
			journal = st.st_dev == dev && st.st_ino == ino;
	}
	return Logger(STDERR_FILENO, max_level, journal, std::move(ident));
}

void Logger::log(LogLevel level, std::string_view msg) const noexcept
{
	if (!enabled(level))
		return;
	try {
		std::string prefix;
		if (journal_) {
			int prio = level == LogLevel::Verbose ? 7 : static_cast<int>(level);
			prefix.append("<").append(std::to_string(prio)).append(">");
			prefix.append(ident_).append(": ");
		} else {
			static constexpr std::string_view kNames[] = {
			        "", "", "", "error: ", "warning: ", "", "", "debug: ", "verbose: "};
			prefix.append(ident_).append(": ");
			prefix.append(kNames[static_cast<int>(level)]);
		}
		// A message of several lines (a configuration with several errors) becomes several
		// records, each with the prefix, so journald gives every one its priority and no
		// line of a message can pass for a record of its own.
		while (!msg.empty() && msg.back() == '\n')
			msg.remove_suffix(
			        1);  // a trailing newline ends the message, it adds no record
		std::string out;
		out.reserve(msg.size() + prefix.size() + 16);
		std::size_t start = 0;
		do {
			std::size_t nl = msg.find('\n', start);
			std::string_view part = msg.substr(start, nl == std::string_view::npos
			                                                  ? std::string_view::npos
			                                                  : nl - start);
			start = nl == std::string_view::npos ? msg.size() + 1 : nl + 1;
			out.append(prefix);
			for (char c : part)
				out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f
				                      ? '?'
				                      : c);
			out.push_back('\n');
		} while (start <= msg.size());
		// One write for the whole message, so concurrent writers never interleave its
		// lines; a short write to a pipe/journal stream of a message this small does not
		// happen in practice, and a logger has nowhere to report its own failure.
		ssize_t r;
		do {
			r = ::write(fd_, out.data(), out.size());
		} while (r < 0 && errno == EINTR);
	} catch (...) {
		// Allocation failure while logging: drop the line rather than terminate.
	}
}

tl::unexpected<Error> Logger::fail(const Error& err) const
{
	error(err.message());
	return tl::unexpected<Error>(err);
}

std::string hex32(std::uint32_t v)
{
	char buf[16];
	std::snprintf(buf, sizeof buf, "0x%08x", v);
	return buf;
}

}  // namespace spsec
