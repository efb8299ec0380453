// SPDX-License-Identifier: Apache-2.0
#include "core/sender_rules.h"

#include <algorithm>

#include "core/hex.h"

namespace spsec {

bool IdSelector::matches(CanId id) const noexcept
{
	if (id.extended != lo.extended)
		return false;
	switch (kind) {
	case Kind::One:
		return id.id == lo.id;
	case Kind::Range:
		return id.id >= lo.id && id.id <= hi.id;
	case Kind::Mask:
		return (id.id & mask) == lo.id;
	}
	return false;
}

Result<IdSelector> parse_id_selector(std::string_view text)
{
	IdSelector s;
	s.text = std::string(text);
	const auto dash = text.find('-');
	const auto slash = text.find('/');
	if (dash != std::string_view::npos && slash != std::string_view::npos)
		return fail(quote_printable(text) +
		            " is not an ID, a range (0x120-0x12F) or a mask "
		            "(0x120/0x7F0)");
	if (dash == std::string_view::npos && slash == std::string_view::npos) {
		auto id = parse_can_id(text);
		if (!id)
			return tl::unexpected(id.error());
		s.lo = s.hi = *id;
		return s;
	}
	const auto cut = dash != std::string_view::npos ? dash : slash;
	auto a = parse_can_id(text.substr(0, cut));
	if (!a)
		return tl::unexpected(a.error());
	auto b = parse_can_id(text.substr(cut + 1));
	if (!b)
		return tl::unexpected(b.error());
	// One format on both sides, so the selector never mixes 11- and 29-bit IDs.
	if (a->extended != b->extended)
		return fail(
		        quote_printable(text) +
		        " mixes an 11-bit and a 29-bit ID: write both with 3 or both with 8 hex "
		        "digits");
	if (dash != std::string_view::npos) {
		if (a->id > b->id)
			return fail(quote_printable(text) +
			            " is an empty range (low end above high end)");
		s.kind = IdSelector::Kind::Range;
		s.lo = *a;
		s.hi = *b;
		return s;
	}
	if ((a->id & ~b->id) != 0)
		return fail(quote_printable(text) +
		            " has value bits outside the mask: no ID could match it");
	s.kind = IdSelector::Kind::Mask;
	s.lo = s.hi = *a;
	s.mask = b->id;
	return s;
}

namespace {

bool unit_char(char c) noexcept
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == ':' || c == '-' || c == '_' || c == '.' || c == '\\' || c == '@';
}

}  // namespace

std::optional<std::string> unit_cgroup_path(std::string_view unit)
{
	// systemd's unit name limit, and its character set (unit-name.c: VALID_CHARS)
	if (unit.empty() || unit.size() > 255 || !std::all_of(unit.begin(), unit.end(), unit_char))
		return std::nullopt;
	const auto dot = unit.rfind('.');
	if (dot == std::string_view::npos || dot == 0)
		return std::nullopt;
	const std::string_view prefix = unit.substr(0, dot), suffix = unit.substr(dot + 1);
	if (suffix == "slice") {
		// "a-b-c.slice" lives in /a.slice/a-b.slice/a-b-c.slice; "-.slice" is the root
		if (prefix == "-" || prefix.front() == '-' || prefix.back() == '-' ||
		    prefix.find("--") != std::string_view::npos)
			return std::nullopt;
		std::string path;
		std::size_t at = 0;
		while (true) {
			const auto next = prefix.find('-', at);
			path += "/" + std::string(prefix.substr(0, next)) + ".slice";
			if (next == std::string_view::npos)
				break;
			at = next + 1;
		}
		return path;
	}
	static constexpr std::string_view kWithCgroup[] = {"service", "scope", "socket", "mount",
	                                                   "swap"};
	if (std::find(std::begin(kWithCgroup), std::end(kWithCgroup), suffix) ==
	    std::end(kWithCgroup))
		return std::nullopt;
	return "/system.slice/" + std::string(unit);
}

bool valid_cgroup_path(std::string_view path) noexcept
{
	if (path.size() < 2 || path.size() > 4000 || path.front() != '/' || path.back() == '/')
		return false;
	std::size_t at = 1;
	while (at <= path.size()) {
		auto end = path.find('/', at);
		if (end == std::string_view::npos)
			end = path.size();
		const auto part = path.substr(at, end - at);
		if (part.empty() || part == "." || part == "..")
			return false;
		for (const char c : part)
			if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
				return false;
		at = end + 1;
	}
	return true;
}

std::uint32_t cgroup_level(std::string_view path) noexcept
{
	return static_cast<std::uint32_t>(std::count(path.begin(), path.end(), '/'));
}

std::uint32_t sender_verdict(const ResolvedSenderRule& rule, const SocketIdentity& who) noexcept
{
	if (!who.full_socket)
		return SPSEC_R_TX_SENDER_UNKNOWN;
	if (rule.uids.contains(who.uid))
		return 0;
	// The data plane looks at the first SPSEC_SENDER_CGROUPS only; config refuses more.
	std::size_t n = 0;
	for (const auto& cg : rule.cgroups) {
		if (n++ >= SPSEC_SENDER_CGROUPS)
			break;
		if (cg.id != 0 && cg.level < who.ancestors.size() &&
		    who.ancestors[cg.level] == cg.id)
			return 0;
	}
	return SPSEC_R_TX_SENDER_DENIED;
}

}  // namespace spsec
