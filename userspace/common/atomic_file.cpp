// SPDX-License-Identifier: Apache-2.0
#include "common/atomic_file.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "common/fd.h"
#include "common/logger.h"

namespace spsec {

Result<void> write_file_atomic(const std::string& path, std::string_view content, unsigned mode)
{
	std::string tmpl = path + ".tmp.XXXXXX";
	std::vector<char> tmp(tmpl.begin(), tmpl.end());
	tmp.push_back('\0');
	Fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
	if (!fd.valid())
		return fail_errno(errno, cat("writing ", path, ": creating a temporary file"));
	auto abort = [&](int e, const char* what) {
		(void)::unlink(tmp.data());
		return fail_errno(e, cat("writing ", path, ": ", what));
	};
	if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0)
		return abort(errno, "chmod of the temporary file");
	while (!content.empty()) {
		ssize_t w = ::write(fd.get(), content.data(), content.size());
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return abort(errno, "write");
		content.remove_prefix(static_cast<std::size_t>(w));
	}
	if (::fsync(fd.get()) != 0)
		return abort(errno, "fsync");
	fd.reset();
	if (::rename(tmp.data(), path.c_str()) != 0)
		return abort(errno, "rename");
	// The rename is durable only once the directory entry is on disk.
	std::size_t slash = path.rfind('/');
	std::string dir =
	        slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
	Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!dfd.valid() || ::fsync(dfd.get()) != 0)
		return fail_errno(errno, cat("writing ", path, ": fsync of directory ", dir));
	return {};
}

}  // namespace spsec
