// SPDX-License-Identifier: Apache-2.0
#include "core/cli.h"

#include <cstring>

#include "core/secret.h"

namespace spsec::cli {

SecretText::SecretText(std::string_view text) : data_(new char[text.size() + 1]), size_(text.size())
{
	std::memcpy(data_.get(), text.data(), text.size());
	data_[size_] = '\0';
}

SecretText::~SecretText()
{
	if (data_)
		secure_wipe(data_.get(), size_ + 1);
}

SecretText::SecretText(SecretText&& o) noexcept : data_(std::move(o.data_)), size_(o.size_)
{
	o.size_ = 0;
}

SecretText& SecretText::operator=(SecretText&& o) noexcept
{
	if (this != &o) {
		if (data_)
			secure_wipe(data_.get(), size_ + 1);
		data_ = std::move(o.data_);
		size_ = o.size_;
		o.size_ = 0;
	}
	return *this;
}

bool Args::has(std::string_view name) const
{
	return values_.find(name) != values_.end() || secrets_.find(name) != secrets_.end();
}

const std::string* Args::value(std::string_view name) const
{
	auto it = values_.find(name);
	return it == values_.end() ? nullptr : &it->second;
}

const SecretText* Args::secret(std::string_view name) const
{
	auto it = secrets_.find(name);
	return it == secrets_.end() ? nullptr : &it->second;
}

tl::expected<std::optional<std::uint64_t>, UsageError>
Args::number(std::string_view name, std::uint64_t min, std::uint64_t max) const
{
	const std::string* text = value(name);
	if (text == nullptr)
		return std::optional<std::uint64_t>();
	auto n = parse_unsigned(*text);
	if (!n)
		return tl::unexpected(
		        UsageError{"--" + std::string(name) + ": " + n.error().context});
	if (*n < min || *n > max)
		return tl::unexpected(UsageError{"--" + std::string(name) + ": '" + *text +
		                                 "' is out of range " + std::to_string(min) + ".." +
		                                 std::to_string(max)});
	return std::optional<std::uint64_t>(*n);
}

namespace {

bool is_help(std::string_view a)
{
	return a == "--help" || a == "-h";
}

const Option* find_long(const Spec& spec, std::string_view name)
{
	for (const auto& o : spec.options)
		if (o.name == name)
			return &o;
	return nullptr;
}

const Option* find_short(const Spec& spec, char c)
{
	for (const auto& o : spec.options)
		if (o.short_name != 0 && o.short_name == c)
			return &o;
	return nullptr;
}

// A separate value never looks like a long option (see the header).
bool can_be_value(std::string_view a)
{
	return a.size() < 2 || a.substr(0, 2) != "--";
}

void overwrite(char* p, std::size_t n)
{
	// volatile: argv is read by the kernel (/proc/<pid>/cmdline), not by this program.
	volatile char* v = p;
	for (std::size_t i = 0; i < n; i++)
		v[i] = 'x';
}

// Overwrites the value of every secret option in argv, by the same rules parse() reads them.
void scrub(const Spec& spec, std::span<char* const> args)
{
	for (std::size_t i = 0; i < args.size(); i++) {
		const std::string_view a = args[i];
		if (a == "--")
			return;
		if (a.size() < 3 || a.substr(0, 2) != "--")
			continue;
		const std::size_t eq = a.find('=');
		const Option* o = find_long(spec, a.substr(2, eq == std::string_view::npos
		                                                      ? std::string_view::npos
		                                                      : eq - 2));
		if (o == nullptr || !o->secret)
			continue;
		if (eq != std::string_view::npos)
			overwrite(args[i] + eq + 1, a.size() - eq - 1);
		else if (i + 1 < args.size() && can_be_value(args[i + 1]))
			overwrite(args[i + 1], std::strlen(args[i + 1]));
	}
}

}  // namespace

tl::expected<Args, UsageError> parse(const Spec& spec, std::span<char* const> args)
{
	// A lambda, so the early returns of an error all pass the scrub below.
	auto r = [&]() -> tl::expected<Args, UsageError> {
		Args out;
		for (std::size_t i = 0; i < args.size(); i++) {
			const std::string_view a = args[i];
			if (a == "--")
				break;
			if (is_help(a)) {
				out.help = true;
				return out;
			}
		}
		bool options_done = false;
		std::size_t i = 0;
		for (; i < args.size(); i++) {
			const std::string_view a = args[i];
			const bool dashed = !options_done && a.size() > 1 && a[0] == '-';
			if (!dashed) {
				if (spec.stop_at_positional)
					break;
				if (out.positional.size() >= spec.max_positionals)
					return tl::unexpected(UsageError{"unexpected argument '" +
					                                 std::string(a) + "'"});
				out.positional.emplace_back(a);
				continue;
			}
			if (a == "--") {
				options_done = true;
				continue;
			}
			const Option* o = nullptr;
			std::optional<std::string_view> inline_value;
			if (a[1] == '-') {
				const std::size_t eq = a.find('=');
				const std::string_view name = a.substr(
				        2, eq == std::string_view::npos ? std::string_view::npos
				                                        : eq - 2);
				if (eq != std::string_view::npos)
					inline_value = a.substr(eq + 1);
				o = find_long(spec, name);
				if (o == nullptr)
					return tl::unexpected(UsageError{"unknown option --" +
					                                 std::string(name)});
			} else {
				o = a.size() == 2 ? find_short(spec, a[1]) : nullptr;
				if (o == nullptr)
					return tl::unexpected(
					        UsageError{"unknown option " + std::string(a)});
			}
			const std::string opt = "--" + std::string(o->name);
			if (out.has(o->name))
				return tl::unexpected(UsageError{opt + " given twice"});
			if (o->value.empty()) {
				if (inline_value)
					return tl::unexpected(UsageError{opt + " takes no value"});
				out.values_.emplace(o->name, std::string());
				continue;
			}
			std::string_view v;
			if (inline_value) {
				v = *inline_value;
			} else {
				if (i + 1 >= args.size() || !can_be_value(args[i + 1]))
					return tl::unexpected(UsageError{opt + " needs a value (" +
					                                 std::string(o->value) +
					                                 ")"});
				v = args[++i];
			}
			if (o->secret)
				out.secrets_.emplace(o->name, SecretText(v));
			else
				out.values_.emplace(o->name, std::string(v));
		}
		out.end = i;
		return out;
	}();
	scrub(spec, args);
	return r;
}

tl::expected<Args, UsageError> parse(const Spec& spec, const std::vector<std::string>& args)
{
	std::vector<std::string> copy = args;
	std::vector<char*> argv;
	argv.reserve(copy.size());
	for (auto& a : copy)
		argv.push_back(a.data());
	return parse(spec, argv);
}

Result<std::uint64_t> parse_unsigned(std::string_view text)
{
	std::string_view s = text;
	if (!s.empty() && (s[0] == '-' || s[0] == '+'))
		return fail("'" + std::string(text) + "' is " +
		            (s[0] == '-' ? "negative" : "signed") +
		            "; expected an unsigned number");
	unsigned base = 10;
	if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s.remove_prefix(2);
		base = 16;
	} else if (s.size() > 1 && (s.back() == 'h' || s.back() == 'H')) {
		s.remove_suffix(1);
		base = 16;
	}
	if (s.empty())
		return fail("'" + std::string(text) + "' is not a number");
	std::uint64_t v = 0;
	for (char c : s) {
		unsigned d;
		if (c >= '0' && c <= '9')
			d = static_cast<unsigned>(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = static_cast<unsigned>(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = static_cast<unsigned>(c - 'A' + 10);
		else
			return fail("'" + std::string(text) +
			            "' is not a number (decimal, or hex as 0x1F / 1Fh)");
		if (v > (UINT64_MAX - d) / base)
			return fail("'" + std::string(text) + "' is too large (above 2^64-1)");
		v = v * base + d;
	}
	return v;
}

std::string usage_message(std::string_view command, std::string_view message)
{
	return std::string(command) + ": " + std::string(message) + "\n(" + std::string(command) +
	       " --help)\n";
}

}  // namespace spsec::cli
