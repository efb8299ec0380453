// SPDX-License-Identifier: Apache-2.0
// The gateway's classical relay (daemon/gateway_relay.h): which sockets it needs and with which
// receive filters, which rule a frame falls under, and the frame conversions. The sockets
// themselves run in the vm tier (vm_gateway_classic).
#include <catch2/catch_test_macros.hpp>

#include <cstring>

#include "core/config.h"
#include "daemon/gateway_relay.h"
#include "spsec/abi.h"

using namespace spsec;

namespace {

const std::string kConfig =
        "interface: can0\n"
        "participant_id: 5\n"
        "aead: aes-gcm\n"
        "data_bitrate: 2000000\n"
        "key_store: /var/lib/spsec/keys\n"
        "secured_ids: [0x120, 0x121, 0x122, 0x123, 0x200, 0x201, 0x00001234, 0x00001235]\n"
        "transmit_ids: [0x120, 0x121, 0x122, 0x123, 0x00001234]\n"
        "gateway:\n"
        "  segments:\n"
        "    - {name: can1}\n"
        "    - {name: can2, frames: classic}\n"
        "    - {name: can3, frames: classic}\n"
        "  rules:\n"
        "    - {ids: 0x120-0x123, direction: to_secured, segment: can1}\n"
        "    - {ids: 0x200/0x7FE, direction: to_plain, segment: can1}\n"
        "    - {ids: 0x00001234, direction: to_secured, segment: can2}\n"
        "    - {ids: 0x201, direction: to_plain, segment: can2}\n"
        "    - {ids: 0x00001235, direction: to_plain, segment: can2}\n"
        "    - {ids: 0x200, direction: to_plain, segment: can3}\n";

GatewayConfig parsed()
{
	auto c = parse_config(kConfig, "gw.yaml");
	INFO((c ? std::string() : c.error().context));
	REQUIRE(c);
	return c->gateway;
}

// The IDs a receive filter list passes, among `ids` (CAN_RAW: any filter matches).
std::vector<canid_t> passed(const std::vector<can_filter>& fs, const std::vector<canid_t>& ids)
{
	std::vector<canid_t> out;
	for (canid_t id : ids)
		for (const can_filter& f : fs)
			if ((id & f.can_mask) == (f.can_id & f.can_mask)) {
				out.push_back(id);
				break;
			}
	return out;
}

}  // namespace

TEST_CASE("the relay's sockets: to_secured rules of every segment, to_plain of classical ones",
          "[daemon][gateway]")
{
	const RelayPlan p = plan_relay(parsed());
	REQUIRE(p.segments.size() == 3u);
	CHECK(p.segments[0].name == "can1");
	CHECK_FALSE(p.segments[0].classic);
	CHECK_FALSE(p.segments[0].to_plain);  // a CAN FD segment's to_plain frames are can-gw's
	CHECK(p.segments[1].name == "can2");
	CHECK(p.segments[1].classic);
	CHECK(p.segments[1].to_plain);
	CHECK(p.segments[2].name == "can3");
	CHECK(p.segments[2].to_secured.empty());  // write-only
	CHECK(p.segments[2].to_plain);

	const std::vector<canid_t> ids = {0x11F,
	                                  0x120,
	                                  0x123,
	                                  0x124,
	                                  0x200,
	                                  0x201,
	                                  0x202,
	                                  0x120 | CAN_RTR_FLAG,
	                                  0x1234 | CAN_EFF_FLAG,
	                                  0x1235 | CAN_EFF_FLAG,
	                                  0x1234,
	                                  0x201 | CAN_EFF_FLAG};
	CHECK(passed(p.segments[0].to_secured, ids) == std::vector<canid_t>{0x120, 0x123});
	CHECK(passed(p.segments[1].to_secured, ids) == std::vector<canid_t>{0x1234 | CAN_EFF_FLAG});
	// from the secured side: the to_plain rules of can2 and can3, not can1's
	CHECK(passed(p.from_secured, ids) ==
	      std::vector<canid_t>{0x200, 0x201, 0x1235 | CAN_EFF_FLAG});
}

TEST_CASE("a frame's rule: direction and segment, data frames only", "[daemon][gateway]")
{
	const GatewayConfig g = parsed();
	using D = GatewayDirection;
	CHECK(relay_rule(g, D::ToSecured, "can1", 0x121) == 0);
	CHECK(relay_rule(g, D::ToSecured, "can2", 0x121) == -1);
	CHECK(relay_rule(g, D::ToSecured, "can2", 0x1234 | CAN_EFF_FLAG) == 2);
	CHECK(relay_rule(g, D::ToSecured, "can2", 0x1234) == -1);  // 11-bit 0x234 after masking
	CHECK(relay_rule(g, D::ToPlain, "can2", 0x201) == 3);
	CHECK(relay_rule(g, D::ToPlain, "can3", 0x200) == 5);
	CHECK(relay_rule(g, D::ToPlain, "can3", 0x201) == -1);
	CHECK(relay_rule(g, D::ToPlain, "can1", 0x201) == 1);
	CHECK(relay_rule(g, D::ToSecured, "can1", 0x121 | CAN_RTR_FLAG) == -1);
	CHECK(relay_rule(g, D::ToSecured, "can1", 0x121 | CAN_ERR_FLAG) == -1);
	CHECK(relay_rule(g, D::ToSecured, "can2", 0x1234 | CAN_EFF_FLAG | SPSEC_CTRL_BIT) == -1);
}

TEST_CASE("classical to CAN FD and back: ID and data as they were", "[daemon][gateway]")
{
	canfd_frame rx{};
	rx.can_id = 0x121;
	rx.len = 2;
	rx.flags = 0;
	rx.data[0] = 0xCA;
	rx.data[1] = 0xFE;
	rx.data[2] = 0x55;  // beyond len: not carried
	const canfd_frame fd = relay_to_fd(rx);
	CHECK(fd.can_id == 0x121u);
	CHECK(fd.len == 2u);
	CHECK(fd.flags == 0u);
	CHECK(fd.data[0] == 0xCA);
	CHECK(fd.data[1] == 0xFE);
	CHECK(fd.data[2] == 0);

	canfd_frame v{};
	v.can_id = 0x1235 | CAN_EFF_FLAG;
	v.len = 8;
	v.flags = CANFD_BRS;
	for (std::uint8_t i = 0; i < 8; i++)
		v.data[i] = static_cast<std::uint8_t>(0xA0 + i);
	auto c = relay_to_classical(v);
	REQUIRE(c);
	CHECK(c->can_id == (0x1235u | CAN_EFF_FLAG));
	CHECK(c->len == 8u);
	CHECK(c->len8_dlc == 0u);
	CHECK(std::memcmp(c->data, v.data, 8) == 0);
	v.len = 12;  // does not fit a classical frame
	CHECK_FALSE(relay_to_classical(v));
	v.len = 0;
	REQUIRE(relay_to_classical(v));
	CHECK(relay_to_classical(v)->len == 0u);
}
