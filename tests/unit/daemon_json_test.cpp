// SPDX-License-Identifier: Apache-2.0
// JSON writer escaping, reader, human rendering.
#include <catch2/catch.hpp>
#include <string>

#include "common/json.h"

using namespace spsec;

TEST_CASE("json writer escapes strings and nests containers", "[daemon]")
{
	JsonWriter w;
	w.begin_object();
	w.key("s").value("a\"b\\c\nd\te\x01");
	w.key("n").value(std::uint64_t{18446744073709551615u});
	w.key("neg").value(std::int64_t{-5});
	w.key("b").value(true);
	w.key("nul").null();
	w.key("arr").begin_array().value(1).value("x").begin_object().end_object().end_array();
	w.key("empty").begin_array().end_array();
	w.end_object();
	CHECK(w.str() == R"({"s":"a\"b\\c\nd\te\u0001","n":18446744073709551615,"neg":-5,)"
	                 R"("b":true,"nul":null,"arr":[1,"x",{}],"empty":[]})");
}

TEST_CASE("json writer keeps valid UTF-8 and replaces invalid bytes", "[daemon]")
{
	std::string out;
	json_append_string(out, "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80");
	CHECK(out == "\"gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80\"");
	out.clear();
	// Lone continuation byte, overlong '/', truncated sequence, surrogate, DEL.
	json_append_string(out, "a\x80"
	                        "b\xc0\xaf"
	                        "c\xe2\x82"
	                        "d\xed\xa0\x80"
	                        "e\x7f");
	CHECK(out == "\"a\\ufffdb\\ufffd\\ufffdc\\ufffd\\ufffdd\\ufffd\\ufffd\\ufffde\\u007f\"");
}

TEST_CASE("json reader parses what the writer writes", "[daemon]")
{
	JsonWriter w;
	w.begin_object().key("cmd").value("st\"at\nus").key("n").value(std::uint64_t{42});
	w.key("list").begin_array().value(true).null().end_array().end_object();
	auto v = parse_json(w.str());
	REQUIRE(v);
	REQUIRE(v->is_object());
	CHECK(v->find("cmd")->as_string() == "st\"at\nus");
	CHECK(v->find("n")->as_u64() == 42u);
	CHECK(v->find("list")->items().size() == 2);
	CHECK(v->find("list")->items()[0].as_bool() == true);
	CHECK(v->find("missing") == nullptr);

	auto u = parse_json(R"( {"e":"\u00e9\ud83d\ude00\/", "big":18446744073709551615,
	                     "f":-1.5e3} )");
	REQUIRE(u);
	CHECK(u->find("e")->as_string() == "\xc3\xa9\xf0\x9f\x98\x80/");
	CHECK(u->find("big")->as_u64() == 18446744073709551615u);
	CHECK_FALSE(u->find("f")->as_u64().has_value());
	CHECK(u->find("f")->text() == "-1.5e3");
}

TEST_CASE("json reader rejects malformed text with the offset", "[daemon]")
{
	const char* bad[] = {
	        "",      "{",           "{\"a\" 1}", "{\"a\":1,}", "[1 2]",
	        "\"abc", "{} x",        "tru",       "\"\\x\"",    "01x",
	        "-",     "\"\\ud800\"", "\"a\nb\"",  "1.",         "{\"a\":1e}",
	};
	for (const char* b : bad) {
		INFO(b);
		auto v = parse_json(b);
		REQUIRE_FALSE(v);
		CHECK_THAT(v.error().context, Catch::Contains("JSON at byte"));
	}
	std::string deep(40, '[');
	deep += std::string(40, ']');
	auto d = parse_json(deep);
	REQUIRE_FALSE(d);
	CHECK_THAT(d.error().context, Catch::Contains("nested too deeply"));
	CHECK_FALSE(parse_json(R"({"n":99999999999999999999})")->find("n")->as_u64().has_value());
}

TEST_CASE("json_to_text renders nested values for humans", "[daemon]")
{
	auto v = parse_json(R"({"state":"Secure","keys":{"seed":"0x01","integrator":null},)"
	                    R"("peers":[{"id":5,"age_ms":12}],"none":[]})");
	REQUIRE(v);
	CHECK(json_to_text(*v) == "state: Secure\n"
	                          "keys:\n"
	                          "  seed: 0x01\n"
	                          "  integrator: null\n"
	                          "peers:\n"
	                          "  -\n"
	                          "    id: 5\n"
	                          "    age_ms: 12\n"
	                          "none: []\n");
}
