// SPDX-License-Identifier: Apache-2.0
// JsonValue: a read-only view of a parsed JSON value for test assertions, with pointer-style
// lookups so a CHECK reads as one line: st.find("peers")->items()[0].find("pp")->as_u64().
// Absent members are nullptr, values of another type nullopt; nothing throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json.h"

namespace spsec {

class JsonValue {
public:
	enum class Type { Null, Bool, Number, String, Array, Object };

	JsonValue() = default;
	explicit JsonValue(const Json& j) : json_(j)
	{
		if (j.is_object())
			for (const auto& [k, v] : j.items())
				members_.emplace_back(k, JsonValue(v));
		else if (j.is_array())
			for (const auto& v : j)
				items_.emplace_back(v);
	}

	[[nodiscard]] Type type() const noexcept
	{
		if (json_.is_boolean())
			return Type::Bool;
		if (json_.is_number())
			return Type::Number;
		if (json_.is_string())
			return Type::String;
		if (json_.is_array())
			return Type::Array;
		if (json_.is_object())
			return Type::Object;
		return Type::Null;
	}
	[[nodiscard]] bool is_object() const noexcept { return json_.is_object(); }
	// The member `name` of an object, or nullptr. Out of line for GCC's -Wnull-dereference,
	// which cannot see that a test checks the pointer with REQUIRE before using it.
	[[nodiscard]] [[gnu::noinline]] const JsonValue* find(std::string_view name) const noexcept
	{
		for (const auto& [k, v] : members_)
			if (k == name)
				return &v;
		return nullptr;
	}
	[[nodiscard]] std::optional<std::string_view> as_string() const noexcept
	{
		if (!json_.is_string())
			return std::nullopt;
		return std::string_view(json_.get_ref<const Json::string_t&>());
	}
	// A non-negative integer, or nullopt.
	[[nodiscard]] std::optional<std::uint64_t> as_u64() const noexcept
	{
		if (json_.is_number_unsigned())
			return json_.get<std::uint64_t>();
		if (json_.is_number_integer() && json_.get<std::int64_t>() >= 0)
			return static_cast<std::uint64_t>(json_.get<std::int64_t>());
		return std::nullopt;
	}
	[[nodiscard]] std::optional<bool> as_bool() const noexcept
	{
		if (!json_.is_boolean())
			return std::nullopt;
		return json_.get<bool>();
	}
	// A string's text, or any other value as JSON ("-5000", "true", "null").
	[[nodiscard]] std::string text() const
	{
		return json_.is_string() ? json_.get<std::string>() : json_line(json_);
	}
	[[nodiscard]] const std::vector<JsonValue>& items() const noexcept { return items_; }
	[[nodiscard]] const std::vector<std::pair<std::string, JsonValue>>& members() const noexcept
	{
		return members_;
	}
	[[nodiscard]] const Json& json() const noexcept { return json_; }
	// Implicit on purpose: a view goes wherever production code takes the Json it came from.
	operator const Json&() const noexcept
	{
		return json_;
	}  // NOLINT(google-explicit-constructor)

private:
	Json json_;
	std::vector<std::pair<std::string, JsonValue>> members_;
	std::vector<JsonValue> items_;
};

// Parses `text` into a JsonValue (errors as parse_json).
[[nodiscard]] inline Result<JsonValue> parse_json_view(std::string_view text)
{
	auto j = parse_json(text);
	if (!j)
		return tl::unexpected(j.error());
	return JsonValue(*j);
}

}  // namespace spsec
