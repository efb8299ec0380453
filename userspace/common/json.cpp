// SPDX-License-Identifier: Apache-2.0
#include "common/json.h"

#include "common/logger.h"

namespace spsec {

std::string json_line(const Json& v)
{
	return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<Json> parse_json(std::string_view text) noexcept
{
	try {
		bool too_deep = false;
		Json::parser_callback_t depth_check = [&too_deep](int depth, Json::parse_event_t,
		                                                  Json&) {
			if (depth > kJsonMaxDepth)
				too_deep = true;
			return true;
		};
		Json v = Json::parse(text.begin(), text.end(), depth_check);
		if (too_deep)
			return fail(cat("JSON nested too deeply (more than ", kJsonMaxDepth,
			                " levels)"));
		return v;
	} catch (const Json::parse_error& e) {
		// what(): "[json.exception.parse_error.101] parse error at line 1, column 2:
		// <what>"; keep <what>, name the byte (0-based) instead of line and column.
		std::string_view what = e.what();
		if (auto col = what.find("column "); col != std::string_view::npos)
			if (auto colon = what.find(": ", col); colon != std::string_view::npos)
				what.remove_prefix(colon + 2);
		return fail(cat("JSON at byte ", e.byte > 0 ? e.byte - 1 : 0, ": ", what));
	} catch (const std::exception& e) {
		return fail(cat("JSON: ", e.what()));
	}
}

const Json* json_member(const Json& v, std::string_view name) noexcept
{
	if (!v.is_object())
		return nullptr;
	auto it = v.find(name);
	return it == v.end() ? nullptr : &*it;
}

std::optional<std::string_view> json_string(const Json& v, std::string_view name) noexcept
{
	const Json* m = json_member(v, name);
	if (m == nullptr || !m->is_string())
		return std::nullopt;
	return std::string_view(m->get_ref<const Json::string_t&>());
}

std::optional<std::uint64_t> json_u64(const Json& v, std::string_view name) noexcept
{
	const Json* m = json_member(v, name);
	if (m == nullptr)
		return std::nullopt;
	if (m->is_number_unsigned())
		return m->get<std::uint64_t>();
	if (m->is_number_integer() && m->get<std::int64_t>() >= 0)
		return static_cast<std::uint64_t>(m->get<std::int64_t>());
	return std::nullopt;
}

std::optional<bool> json_bool(const Json& v, std::string_view name) noexcept
{
	const Json* m = json_member(v, name);
	if (m == nullptr || !m->is_boolean())
		return std::nullopt;
	return m->get<bool>();
}

namespace {

void render(const Json& v, int indent, std::string& out);

// Strings print raw for humans, but control characters still cannot break lines.
void append_clean(std::string& out, std::string_view s)
{
	for (char c : s)
		out.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
}

void render_scalar(const Json& v, std::string& out)
{
	if (v.is_string())
		append_clean(out, v.get_ref<const Json::string_t&>());
	else
		append_clean(out, json_line(v));
}

void render_child(const Json& v, int indent, std::string& out)
{
	if (v.is_structured() && !v.empty()) {
		out.push_back('\n');
		render(v, indent + 2, out);
	} else {
		out.push_back(' ');
		if (v.is_object())
			out.append("{}");
		else if (v.is_array())
			out.append("[]");
		else
			render_scalar(v, out);
		out.push_back('\n');
	}
}

void render(const Json& v, int indent, std::string& out)
{
	std::string pad(static_cast<std::size_t>(indent), ' ');
	if (v.is_object()) {
		for (const auto& [k, m] : v.items()) {
			out.append(pad);
			append_clean(out, k);
			out.push_back(':');
			render_child(m, indent, out);
		}
	} else if (v.is_array()) {
		for (const auto& item : v) {
			out.append(pad).append("-");
			render_child(item, indent, out);
		}
	} else {
		out.append(pad);
		render_scalar(v, out);
		out.push_back('\n');
	}
}

}  // namespace

std::string json_to_text(const Json& v)
{
	std::string out;
	render(v, 0, out);
	return out;
}

}  // namespace spsec
