// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the daemon unit tests: a temporary directory removed at scope exit, and
// whole-file read/write.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace spsec::test {

class TempDir {
public:
	TempDir()
	{
		std::string tmpl =
		        (std::filesystem::temp_directory_path() / "spsec-test-XXXXXX").string();
		std::vector<char> buf(tmpl.begin(), tmpl.end());
		buf.push_back('\0');
		if (::mkdtemp(buf.data()) == nullptr)
			std::abort();
		path_ = buf.data();
	}
	~TempDir()
	{
		std::error_code ec;
		std::filesystem::remove_all(path_, ec);
	}
	TempDir(const TempDir&) = delete;
	TempDir& operator=(const TempDir&) = delete;

	[[nodiscard]] const std::string& path() const { return path_; }
	[[nodiscard]] std::string file(const std::string& name) const { return path_ + "/" + name; }
	// Names of the entries in the directory.
	[[nodiscard]] std::vector<std::string> entries() const
	{
		std::vector<std::string> out;
		for (const auto& e : std::filesystem::directory_iterator(path_))
			out.push_back(e.path().filename().string());
		return out;
	}

private:
	std::string path_;
};

inline void write_file(const std::string& path, const std::string& text, mode_t mode = 0600)
{
	{
		std::ofstream f(path, std::ios::binary | std::ios::trunc);
		f << text;
	}
	::chmod(path.c_str(), mode);
}

inline std::string read_file(const std::string& path)
{
	std::ifstream f(path, std::ios::binary);
	std::stringstream ss;
	ss << f.rdbuf();
	return ss.str();
}

}  // namespace spsec::test
