// SPDX-License-Identifier: Apache-2.0
#include "common/json.h"

#include <cstdio>

#include "common/logger.h"

namespace spsec {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid (overlong forms,
// surrogates and code points above U+10FFFF included).
std::size_t utf8_len(std::string_view s, std::size_t i) noexcept
{
	auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
	unsigned char c = b(0);
	std::size_t n;
	std::uint32_t cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		cp = c & 0x1Fu;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		cp = c & 0x0Fu;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		cp = c & 0x07u;
	} else {
		return 0;
	}
	if (i + n > s.size())
		return 0;
	for (std::size_t k = 1; k < n; k++) {
		if ((b(k) & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (b(k) & 0x3Fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

}  // namespace

void json_append_string(std::string& out, std::string_view s)
{
	out.push_back('"');
	for (std::size_t i = 0; i < s.size();) {
		char c = s[i];
		auto u = static_cast<unsigned char>(c);
		if (c == '"' || c == '\\') {
			out.push_back('\\');
			out.push_back(c);
		} else if (c == '\n') {
			out.append("\\n");
		} else if (c == '\r') {
			out.append("\\r");
		} else if (c == '\t') {
			out.append("\\t");
		} else if (u < 0x20 || u == 0x7f) {
			char buf[8];
			std::snprintf(buf, sizeof buf, "\\u%04x", u);
			out.append(buf);
		} else if (u >= 0x80) {
			std::size_t n = utf8_len(s, i);
			if (n == 0) {
				out.append("\\ufffd");
				i++;
				continue;
			}
			out.append(s.substr(i, n));
			i += n;
			continue;
		} else {
			out.push_back(c);
		}
		i++;
	}
	out.push_back('"');
}

void JsonWriter::separator()
{
	if (after_key_) {
		after_key_ = false;
		return;
	}
	if (!first_.empty()) {
		if (!first_.back())
			out_.push_back(',');
		first_.back() = false;
	}
}

JsonWriter& JsonWriter::begin_object()
{
	separator();
	out_.push_back('{');
	first_.push_back(true);
	return *this;
}

JsonWriter& JsonWriter::end_object()
{
	out_.push_back('}');
	first_.pop_back();
	return *this;
}

JsonWriter& JsonWriter::begin_array()
{
	separator();
	out_.push_back('[');
	first_.push_back(true);
	return *this;
}

JsonWriter& JsonWriter::end_array()
{
	out_.push_back(']');
	first_.pop_back();
	return *this;
}

JsonWriter& JsonWriter::key(std::string_view name)
{
	separator();
	json_append_string(out_, name);
	out_.push_back(':');
	after_key_ = true;
	return *this;
}

JsonWriter& JsonWriter::value(std::string_view s)
{
	separator();
	json_append_string(out_, s);
	return *this;
}

JsonWriter& JsonWriter::value(bool b)
{
	separator();
	out_.append(b ? "true" : "false");
	return *this;
}

JsonWriter& JsonWriter::value(std::int64_t n)
{
	separator();
	out_.append(std::to_string(n));
	return *this;
}

JsonWriter& JsonWriter::value(std::uint64_t n)
{
	separator();
	out_.append(std::to_string(n));
	return *this;
}

JsonWriter& JsonWriter::null()
{
	separator();
	out_.append("null");
	return *this;
}

const JsonValue* JsonValue::find(std::string_view name) const noexcept
{
	for (const auto& [k, v] : members_)
		if (k == name)
			return &v;
	return nullptr;
}

std::optional<std::string_view> JsonValue::as_string() const noexcept
{
	if (type_ != Type::String)
		return std::nullopt;
	return std::string_view(text_);
}

std::optional<std::uint64_t> JsonValue::as_u64() const noexcept
{
	if (type_ != Type::Number || text_.empty() || text_.size() > 20)
		return std::nullopt;
	std::uint64_t n = 0;
	for (char c : text_) {
		if (c < '0' || c > '9')
			return std::nullopt;
		auto d = static_cast<std::uint64_t>(c - '0');
		if (n > (UINT64_MAX - d) / 10)
			return std::nullopt;
		n = n * 10 + d;
	}
	return n;
}

std::optional<bool> JsonValue::as_bool() const noexcept
{
	if (type_ != Type::Bool)
		return std::nullopt;
	return text_ == "true";
}

class JsonParser {
public:
	explicit JsonParser(std::string_view s) : s_(s) {}

	Result<JsonValue> parse_all()
	{
		JsonValue v;
		if (auto r = parse_value(v, 0); !r)
			return tl::unexpected(r.error());
		skip_ws();
		if (pos_ != s_.size())
			return err("unexpected text after the JSON value");
		return v;
	}

private:
	tl::unexpected<Error> err(std::string_view what) const
	{
		return fail(cat("JSON at byte ", pos_, ": ", what));
	}
	void skip_ws()
	{
		while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' ||
		                            s_[pos_] == '\n' || s_[pos_] == '\r'))
			pos_++;
	}
	bool literal(std::string_view word)
	{
		if (s_.substr(pos_, word.size()) != word)
			return false;
		pos_ += word.size();
		return true;
	}

	Result<void> parse_value(JsonValue& v, int depth)
	{
		if (depth > 32)
			return err("nested too deeply");
		skip_ws();
		if (pos_ >= s_.size())
			return err("expected a value, found the end");
		char c = s_[pos_];
		if (c == '{')
			return parse_object(v, depth);
		if (c == '[')
			return parse_array(v, depth);
		if (c == '"') {
			v.type_ = JsonValue::Type::String;
			return parse_string(v.text_);
		}
		if (literal("true") || literal("false")) {
			v.type_ = JsonValue::Type::Bool;
			v.text_ = c == 't' ? "true" : "false";
			return {};
		}
		if (literal("null")) {
			v.type_ = JsonValue::Type::Null;
			v.text_ = "null";
			return {};
		}
		if (c == '-' || (c >= '0' && c <= '9'))
			return parse_number(v);
		return err("expected a value");
	}

	Result<void> parse_number(JsonValue& v)
	{
		std::size_t start = pos_;
		if (s_[pos_] == '-')
			pos_++;
		auto digits = [&] {
			std::size_t d = 0;
			while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
				pos_++;
				d++;
			}
			return d;
		};
		if (digits() == 0)
			return err("expected digits");
		if (pos_ < s_.size() && s_[pos_] == '.') {
			pos_++;
			if (digits() == 0)
				return err("expected digits after '.'");
		}
		if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
			pos_++;
			if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-'))
				pos_++;
			if (digits() == 0)
				return err("expected exponent digits");
		}
		v.type_ = JsonValue::Type::Number;
		v.text_ = std::string(s_.substr(start, pos_ - start));
		return {};
	}

	static void append_utf8(std::string& out, std::uint32_t cp)
	{
		if (cp < 0x80) {
			out.push_back(static_cast<char>(cp));
		} else if (cp < 0x800) {
			out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
			out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
		} else if (cp < 0x10000) {
			out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
			out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
			out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
		} else {
			out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
			out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
			out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
			out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
		}
	}

	Result<std::uint32_t> hex4()
	{
		if (pos_ + 4 > s_.size())
			return err("truncated \\u escape");
		std::uint32_t cp = 0;
		for (int k = 0; k < 4; k++) {
			char h = s_[pos_++];
			int d = (h >= '0' && h <= '9')   ? h - '0'
			        : (h >= 'a' && h <= 'f') ? h - 'a' + 10
			        : (h >= 'A' && h <= 'F') ? h - 'A' + 10
			                                 : -1;
			if (d < 0)
				return err("bad \\u escape");
			cp = cp << 4 | static_cast<std::uint32_t>(d);
		}
		return cp;
	}

	Result<void> parse_string(std::string& out)
	{
		pos_++;  // opening quote
		while (pos_ < s_.size()) {
			char c = s_[pos_++];
			if (c == '"')
				return {};
			if (static_cast<unsigned char>(c) < 0x20)
				return err("control character in a string");
			if (c != '\\') {
				out.push_back(c);
				continue;
			}
			if (pos_ >= s_.size())
				break;
			char e = s_[pos_++];
			switch (e) {
			case '"':
			case '\\':
			case '/':
				out.push_back(e);
				break;
			case 'b':
				out.push_back('\b');
				break;
			case 'f':
				out.push_back('\f');
				break;
			case 'n':
				out.push_back('\n');
				break;
			case 'r':
				out.push_back('\r');
				break;
			case 't':
				out.push_back('\t');
				break;
			case 'u': {
				auto cp = hex4();
				if (!cp)
					return tl::unexpected(cp.error());
				std::uint32_t u = *cp;
				if (u >= 0xD800 && u <= 0xDBFF && s_.substr(pos_, 2) == "\\u") {
					pos_ += 2;
					auto lo = hex4();
					if (!lo)
						return tl::unexpected(lo.error());
					if (*lo < 0xDC00 || *lo > 0xDFFF)
						return err("unpaired surrogate");
					u = 0x10000 + ((u - 0xD800) << 10) + (*lo - 0xDC00);
				} else if (u >= 0xD800 && u <= 0xDFFF) {
					return err("unpaired surrogate");
				}
				append_utf8(out, u);
				break;
			}
			default:
				return err("unknown escape");
			}
		}
		return err("unterminated string");
	}

	Result<void> parse_array(JsonValue& v, int depth)
	{
		v.type_ = JsonValue::Type::Array;
		pos_++;
		skip_ws();
		if (pos_ < s_.size() && s_[pos_] == ']') {
			pos_++;
			return {};
		}
		for (;;) {
			JsonValue item;
			if (auto r = parse_value(item, depth + 1); !r)
				return r;
			v.items_.push_back(std::move(item));
			skip_ws();
			if (pos_ < s_.size() && s_[pos_] == ',') {
				pos_++;
				continue;
			}
			if (pos_ < s_.size() && s_[pos_] == ']') {
				pos_++;
				return {};
			}
			return err("expected ',' or ']'");
		}
	}

	Result<void> parse_object(JsonValue& v, int depth)
	{
		v.type_ = JsonValue::Type::Object;
		pos_++;
		skip_ws();
		if (pos_ < s_.size() && s_[pos_] == '}') {
			pos_++;
			return {};
		}
		for (;;) {
			skip_ws();
			if (pos_ >= s_.size() || s_[pos_] != '"')
				return err("expected a member name");
			std::string name;
			if (auto r = parse_string(name); !r)
				return r;
			skip_ws();
			if (pos_ >= s_.size() || s_[pos_] != ':')
				return err("expected ':'");
			pos_++;
			JsonValue member;
			if (auto r = parse_value(member, depth + 1); !r)
				return r;
			v.members_.emplace_back(std::move(name), std::move(member));
			skip_ws();
			if (pos_ < s_.size() && s_[pos_] == ',') {
				pos_++;
				continue;
			}
			if (pos_ < s_.size() && s_[pos_] == '}') {
				pos_++;
				return {};
			}
			return err("expected ',' or '}'");
		}
	}

	std::string_view s_;
	std::size_t pos_ = 0;
};

Result<JsonValue> parse_json(std::string_view text)
{
	return JsonParser(text).parse_all();
}

namespace {

void render(const JsonValue& v, int indent, std::string& out);

// Strings print raw for humans, but control characters still cannot break lines.
void append_clean(std::string& out, std::string_view s)
{
	for (char c : s)
		out.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
}

void render_scalar(const JsonValue& v, std::string& out)
{
	append_clean(out, v.text());
}

void render_child(const JsonValue& v, int indent, std::string& out)
{
	bool nested = (v.type() == JsonValue::Type::Object && !v.members().empty()) ||
	              (v.type() == JsonValue::Type::Array && !v.items().empty());
	if (nested) {
		out.push_back('\n');
		render(v, indent + 2, out);
	} else {
		out.push_back(' ');
		if (v.type() == JsonValue::Type::Object)
			out.append("{}");
		else if (v.type() == JsonValue::Type::Array)
			out.append("[]");
		else
			render_scalar(v, out);
		out.push_back('\n');
	}
}

void render(const JsonValue& v, int indent, std::string& out)
{
	std::string pad(static_cast<std::size_t>(indent), ' ');
	if (v.type() == JsonValue::Type::Object) {
		for (const auto& [k, m] : v.members()) {
			out.append(pad);
			append_clean(out, k);
			out.push_back(':');
			render_child(m, indent, out);
		}
	} else if (v.type() == JsonValue::Type::Array) {
		for (const auto& item : v.items()) {
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

std::string json_to_text(const JsonValue& v)
{
	std::string out;
	render(v, 0, out);
	return out;
}

}  // namespace spsec
