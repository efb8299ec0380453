// SPDX-License-Identifier: Apache-2.0
// JSON lines (common/json.h, on nlohmann-json): the output shape, UTF-8 safety, the reader's
// refusals (never an exception), the typed getters and the human rendering.
#include <catch2/catch.hpp>
#include <string>

#include "common/json.h"

using namespace spsec;

TEST_CASE("json_line writes compact JSON in insertion order and escapes strings", "[daemon]")
{
	Json v = {{"s", "a\"b\\c\nd\te\x01"}, {"n", std::uint64_t{18446744073709551615u}},
	          {"neg", std::int64_t{-5}},  {"b", true},
	          {"nul", nullptr},           {"arr", Json::array({1, "x", Json::object()})},
	          {"empty", Json::array()}};
	CHECK(json_line(v) == R"({"s":"a\"b\\c\nd\te\u0001","n":18446744073709551615,"neg":-5,)"
	                      R"("b":true,"nul":null,"arr":[1,"x",{}],"empty":[]})");
}

TEST_CASE("json_line keeps valid UTF-8 and replaces invalid bytes", "[daemon]")
{
	CHECK(json_line(Json("gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80")) ==
	      "\"gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80\"");
	// Lone continuation byte, overlong '/', truncated sequence, surrogate: never an exception,
	// always valid JSON (U+FFFD in place of what is not UTF-8).
	const std::string bad = "a\x80"
	                        "b\xc0\xaf"
	                        "c\xe2\x82"
	                        "d\xed\xa0\x80"
	                        "e";
	std::string line;
	REQUIRE_NOTHROW(line = json_line(Json(bad)));
	CHECK(line.find("\xef\xbf\xbd") != std::string::npos);
	CHECK(line.find('\x80') == std::string::npos);
	auto back = parse_json(line);
	REQUIRE(back);
	CHECK(back->is_string());
}

TEST_CASE("json reader parses what the writer writes", "[daemon]")
{
	auto v = parse_json(json_line(
	        {{"cmd", "st\"at\nus"}, {"n", std::uint64_t{42}}, {"list", {true, nullptr}}}));
	REQUIRE(v);
	REQUIRE(v->is_object());
	CHECK(json_string(*v, "cmd") == "st\"at\nus");
	CHECK(json_u64(*v, "n") == 42u);
	CHECK(json_member(*v, "list")->size() == 2);
	CHECK(json_member(*v, "missing") == nullptr);

	auto u = parse_json(R"( {"e":"\u00e9\ud83d\ude00\/", "big":18446744073709551615,
	                     "f":-1.5e3, "neg":-1} )");
	REQUIRE(u);
	CHECK(json_string(*u, "e") == "\xc3\xa9\xf0\x9f\x98\x80/");
	CHECK(json_u64(*u, "big") == 18446744073709551615u);
	CHECK_FALSE(json_u64(*u, "f").has_value());
	CHECK_FALSE(json_u64(*u, "neg").has_value());
}

TEST_CASE("json getters refuse wrong types and non-objects instead of throwing", "[daemon]")
{
	auto v = parse_json(R"({"s":1,"n":"1","b":"true","o":{}})");
	REQUIRE(v);
	CHECK_FALSE(json_string(*v, "s").has_value());
	CHECK_FALSE(json_u64(*v, "n").has_value());
	CHECK_FALSE(json_bool(*v, "b").has_value());
	CHECK_FALSE(json_string(*v, "o").has_value());
	for (const char* t : {"[1]", "\"x\"", "null", "3"}) {
		auto w = parse_json(t);
		REQUIRE(w);
		CHECK(json_member(*w, "s") == nullptr);
		CHECK_FALSE(json_string(*w, "cmd").has_value());
	}
}

TEST_CASE("json reader rejects malformed text with the offset", "[daemon]")
{
	const char* bad[] = {
	        "",         "{",   "{\"a\" 1}",  "{\"a\":1,}", "[1 2]", "\"abc",
	        "{} x",     "tru", "\"\\x\"",    "01x",        "-",     "\"\\ud800\"",
	        "\"a\nb\"", "1.",  "{\"a\":1e}", "\"\xff\"",
	};
	for (const char* b : bad) {
		INFO(b);
		auto v = parse_json(b);
		REQUIRE_FALSE(v);
		CHECK_THAT(v.error().context, Catch::Contains("JSON at byte"));
	}
	// The byte at which the text stopped being JSON: "no" is no literal.
	CHECK_THAT(parse_json("not json").error().context, Catch::StartsWith("JSON at byte 1: "));
	std::string deep(40, '[');
	deep += std::string(40, ']');
	auto d = parse_json(deep);
	REQUIRE_FALSE(d);
	CHECK_THAT(d.error().context, Catch::Contains("nested too deeply"));
	std::string ok(kJsonMaxDepth, '[');
	ok += std::string(kJsonMaxDepth, ']');
	CHECK(parse_json(ok));
	CHECK_FALSE(json_u64(*parse_json(R"({"n":99999999999999999999})"), "n").has_value());
}

TEST_CASE("json_to_text renders nested values for humans", "[daemon]")
{
	auto v = parse_json(R"({"state":"Secure","keys":{"seed":"0x01","integrator":null},)"
	                    R"("peers":[{"id":5,"age_ms":12}],"none":[],"evil":"a\nb"})");
	REQUIRE(v);
	CHECK(json_to_text(*v) == "state: Secure\n"
	                          "keys:\n"
	                          "  seed: 0x01\n"
	                          "  integrator: null\n"
	                          "peers:\n"
	                          "  -\n"
	                          "    id: 5\n"
	                          "    age_ms: 12\n"
	                          "none: []\n"
	                          "evil: a?b\n");
}
