// SPDX-License-Identifier: Apache-2.0
// Runs an spsecctl verb as main() would, in-process: argv as mutable C strings (the verbs
// overwrite keys in place), stdout and stderr captured.
#pragma once

#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace spsec::ctl::test {

struct Run {
	int rc = -1;
	std::string out;
	std::string err;
};

inline std::string slurp(std::FILE* f)
{
	std::string s;
	std::rewind(f);
	char buf[4096];
	std::size_t n = 0;
	while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
		s.append(buf, n);
	return s;
}

// Runs `cmd` with argv built from `args` (args[0] is the verb). `argv_after`, if given, receives
// the argv strings as the verb left them.
inline Run run_captured(int (*cmd)(int, char**), const std::vector<std::string>& args,
                        std::vector<std::string>* argv_after = nullptr)
{
	std::vector<std::vector<char>> store;
	for (const auto& a : args)
		store.emplace_back(a.c_str(), a.c_str() + a.size() + 1);
	std::vector<char*> argv;
	for (auto& s : store)
		argv.push_back(s.data());
	argv.push_back(nullptr);

	std::FILE* out = std::tmpfile();
	std::FILE* err = std::tmpfile();
	REQUIRE(out != nullptr);
	REQUIRE(err != nullptr);
	std::fflush(stdout);
	std::fflush(stderr);
	const int saved_out = dup(1);
	const int saved_err = dup(2);
	dup2(fileno(out), 1);
	dup2(fileno(err), 2);
	Run r;
	r.rc = cmd(static_cast<int>(args.size()), argv.data());
	std::fflush(stdout);
	std::fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	r.out = slurp(out);
	r.err = slurp(err);
	std::fclose(out);
	std::fclose(err);
	if (argv_after != nullptr) {
		argv_after->clear();
		for (auto& s : store)
			argv_after->emplace_back(s.data());
	}
	return r;
}

}  // namespace spsec::ctl::test
