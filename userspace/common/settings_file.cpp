// SPDX-License-Identifier: Apache-2.0
#include "common/settings_file.h"

#include "common/logger.h"

namespace spsec {

namespace {

std::string_view trim(std::string_view s) noexcept
{
	while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
		s.remove_prefix(1);
	while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
		s.remove_suffix(1);
	return s;
}

}  // namespace

Result<void> parse_settings(std::string_view text, std::string_view origin,
                            const std::function<Result<void>(std::string_view name,
                                                             std::string_view value)>& on_setting)
{
	bool format_seen = false;
	std::size_t line_no = 0;
	while (!text.empty()) {
		line_no++;
		std::size_t nl = text.find('\n');
		std::string_view line = trim(text.substr(0, nl));
		text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
		if (line.empty() || line.front() == '#')
			continue;
		auto where = [&](std::string_view what) {
			return cat(origin, " line ", line_no, ": ", what);
		};
		std::size_t eq = line.find('=');
		if (eq == std::string_view::npos)
			return fail(where("expected 'name = value'"));
		std::string_view name = trim(line.substr(0, eq));
		std::string_view value = trim(line.substr(eq + 1));
		if (name == "format") {
			if (format_seen)
				return fail(where("'format' given twice"));
			if (value != "1")
				return fail(
				        where("unsupported format (this spsecd reads format 1)"));
			format_seen = true;
			continue;
		}
		if (auto r = on_setting(name, value); !r)
			return fail(where(r.error().context));
	}
	if (!format_seen)
		return fail(cat(origin, ": missing 'format = 1' line"));
	return {};
}

}  // namespace spsec
