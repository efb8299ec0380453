// SPDX-License-Identifier: Apache-2.0
// The one command-line parser of spsecd and of every spsecctl verb.
//
// In-house rather than CLI11 or cxxopts (both packaged in Debian), for three reasons:
//   - keys: both copy every value into std::strings inside their option objects, which the
//     caller cannot wipe, so a key given in argv would linger in freed heap. Here a key option's
//     value goes straight into a SecretText (wiped on destruction) and its bytes in argv are
//     overwritten, so /proc/<pid>/cmdline stops showing it;
//   - grammar: `spsecctl configure` takes options, then a list of operations that have options
//     of their own (install-seed --key-file F --id ID); neither library models that;
//   - errors: they throw, with their own wording; here every error is a value that names the
//     option, and the caller adds the command ("spsecctl seal: --t: '12x' is not a number").
//
// The grammar, the same for every command:
//   --name VALUE and --name=VALUE are the same; a flag takes no value (--json=1 is an error);
//   short forms only where a command declares one (-h, -i, -c, -v), as `-i VALUE`;
//   -h / --help anywhere before `--` asks for the command's help, whatever else is wrong;
//   `--` ends the options; `-` alone is a positional (stdin);
//   a separate value never starts with "--" (write --name=--odd for that), so
//   `--aead --key K` reports "--aead needs a value" instead of taking "--key" as the AEAD;
//   each option at most once; positionals only as many as the command takes.
// Usage errors exit 2 in both programs (see ctl/commands.h and daemon/main.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "spsec/result.h"

namespace spsec::cli {

struct Option {
	std::string_view name;   // long name without "--": "interface"
	std::string_view value;  // metavariable for messages ("IF"); empty for a flag
	char short_name = 0;     // 'i' for -i; 0 for none
	bool secret = false;     // key material: kept in a SecretText, argv bytes overwritten
};

struct Spec {
	std::string_view command;  // "spsecctl seal": what errors and help are about
	std::span<const Option> options;
	std::size_t max_positionals = 0;
	// Stop at the first positional and leave it and the rest to the caller (Args::end):
	// configure's operation list.
	bool stop_at_positional = false;
};

// Key material read from argv. Held in one allocation that is never copied or reallocated and
// is wiped on destruction; move-only.
class SecretText {
public:
	SecretText() = default;
	explicit SecretText(std::string_view text);
	~SecretText();
	SecretText(SecretText&& o) noexcept;
	SecretText& operator=(SecretText&& o) noexcept;
	SecretText(const SecretText&) = delete;
	SecretText& operator=(const SecretText&) = delete;

	[[nodiscard]] std::string_view expose() const noexcept { return {data_.get(), size_}; }

private:
	std::unique_ptr<char[]> data_;
	std::size_t size_ = 0;
};

// A usage error; the message names the option or argument and never contains a secret value.
struct UsageError {
	std::string message;
};

// Parses `args` (without the program or verb name) against `spec`. Whatever the outcome, the
// values of secret options are overwritten with 'x' in place once read, including those after
// the point where an error was found. Errors: "unknown option --x", "--x needs a value",
// "--x takes no value", "--x given twice", "unexpected argument 'y'".
class Args;
[[nodiscard]] tl::expected<Args, UsageError> parse(const Spec& spec, std::span<char* const> args);
// The same for arguments already copied into strings (configure and provision take a vector, so
// tests can call them): there is no argv to scrub, so `spec` must have no secret option.
[[nodiscard]] tl::expected<Args, UsageError> parse(const Spec& spec,
                                                   const std::vector<std::string>& args);

class Args {
public:
	bool help = false;                    // -h/--help was given: print the help, exit 0
	std::vector<std::string> positional;  // in order
	std::size_t end = 0;  // index of the first argument not parsed (stop_at_positional)

	[[nodiscard]] bool has(std::string_view name) const;
	// The value of a non-secret option, or nullptr when it was not given.
	[[nodiscard]] const std::string* value(std::string_view name) const;
	// The value of a secret option, or nullptr.
	[[nodiscard]] const SecretText* secret(std::string_view name) const;
	// The value as an unsigned number (parse_unsigned) within [min, max], nullopt when absent.
	// Errors: "--name: '<text>' is not a number ...", "... is negative ...", "... is out of
	// range min..max".
	[[nodiscard]] tl::expected<std::optional<std::uint64_t>, UsageError>
	number(std::string_view name, std::uint64_t min = 0, std::uint64_t max = UINT64_MAX) const;

private:
	friend tl::expected<Args, UsageError> parse(const Spec&, std::span<char* const>);
	std::map<std::string, std::string, std::less<>> values_;  // flags map to ""
	std::map<std::string, SecretText, std::less<>> secrets_;
};

// An unsigned number as decimal, 0x1F or 1Fh: no sign, no blanks, no trailing text, < 2^64.
// Errors name the text: "'12x' is not a number (decimal, or hex as 0x1F / 1Fh)",
// "'-5' is negative", "'99999999999999999999' is too large".
[[nodiscard]] Result<std::uint64_t> parse_unsigned(std::string_view text);

// "spsecctl seal: <message>\n(spsecctl seal --help)\n": how every usage error is printed.
[[nodiscard]] std::string usage_message(std::string_view command, std::string_view message);

}  // namespace spsec::cli
