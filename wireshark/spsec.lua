-- SPDX-License-Identifier: Apache-2.0
-- Wireshark dissector for SPsec on CAN FD (spsec-linux).
--
-- Decodes, on SocketCAN captures and candump -L logs:
--   * the Security Stamp of secured data frames (spec §4, docs/wire-format.md):
--       [0 .. L-1] payload | [L .. L+pad-1] padding | [S-10 .. S-9] LE16((pad << 12) | T12)
--       | [S-8 .. S-1] first 8 bytes of the AEAD tag
--   * every external control-plane message (spec §5; byte layouts as in
--     userspace/core/messages.h, which follows the reference implementation byte for byte),
--     and the fields of each control-plane ID:
--       bits 28..26 priority | 25 = 1 | 24 = 0 | 23..16 context | 15..8 type | 7 dest | 6..0 pp
--   * the verdict that `spsecctl decrypt-log` writes as a packet comment ("spsec: ok ...").
-- It does not decrypt or verify tags: that needs the keys, which stay out of Wireshark
-- (use spsecctl decrypt-log).
--
-- Which IDs are secured: preference "Secured IDs" and/or the secured_ids list of the node's
-- spsecd YAML file (preference "spsecd config file"). 29-bit IDs with bit 25 set are the control
-- plane and always decoded. Install: scripts/spsec-setup --wireshark-plugin, or copy this file
-- into Wireshark's personal Lua plugin folder (Help > About > Folders).
--
-- Written for Wireshark 4.0 (Lua 5.2); uses no bit library (plain arithmetic), so it also runs
-- on Lua 5.3/5.4 builds.

local spsec = Proto("spsec", "SPsec on CAN FD")

---------------------------------------------------------------------------------------------
-- Constants (spec §1, §3, §5, §6, §7)

local CP_TYPES = {
	[0] = "Hello", [1] = "Finished", [2] = "ReadInit", [3] = "ReadSeg", [4] = "WriteInit",
	[5] = "WriteSeg", [6] = "Terminate", [8] = "ParamAuth", [9] = "Sync", [10] = "Heartbeat",
	[11] = "Event", [12] = "InternalEvent", [13] = "InternalRead",
}

local STATES = {
	[0] = "NotSet", [1] = "Waiting", [2] = "Secure", [3] = "Warning", [4] = "Configuration",
	[5] = "Shutdown",
}

local SELECTORS = {
	[1] = "Zero Key", [2] = "Session Key", [3] = "Even Communication Key",
	[4] = "Odd Communication Key", [5] = "Parameter Authentication Key", [13] = "Seed Key",
	[14] = "Integrator Key", [15] = "Provisioning Key",
}

local REGISTERS = {
	[0x21] = "Provisioning Key", [0x22] = "Integrator Key", [0x23] = "Seed Key",
	[0x31] = "Provisioning Key salt", [0x32] = "Integrator Key salt", [0x33] = "Seed Key salt",
	[0x41] = "Provisioning Key ID", [0x42] = "Integrator Key ID", [0x43] = "Seed Key ID",
	[0x50] = "SPsec status", [0x51] = "last security event", [0x58] = "core version",
	[0x59] = "mapping version", [0x60] = "Participant ID", [0x61] = "heartbeat timing",
	[0x62] = "heartbeat monitor", [0x63] = "Sync role", [0x7B] = "CAN FD bit rate",
	[0x7F] = "manufacturer reset", [0x81] = "device identification", [0x82] = "serial number",
}

local EVENTS = {
	[0x5E01] = "session: key not found", [0x5E02] = "session: Finished auth failure",
	[0x5E03] = "session: response timeout", [0x5E04] = "session: session timeout",
	[0x5E05] = "session: message auth failure", [0xFE00] = "PA: auth failure",
	[0xFE01] = "PA: timeout", [0xFE0E] = "Sync broadcast: auth failure",
	[0xFE0F] = "Sync: no successful sync within 30 s (abort)",
	[0xEE00] = "data plane authentication failure", [0xDE01] = "RX overrun",
	[0xDE02] = "TX overrun", [0xDE03] = "injection of an own ID",
	[0xDE04] = "duplicate frame ignored",
}
for pp = 1, 127 do
	EVENTS[0xEF00 + pp] = "heartbeat of participant " .. pp .. " missing"
end

-- Message names: the same strings as control_kind_name() in userspace/core/messages.cpp, plus
-- "data" for a secured data frame.
local MSG_NAMES = {
	data = "Secured data frame", pa_request = "PA request", pa_response = "PA response",
	sync_broadcast = "Sync broadcast", heartbeat = "Heartbeat", client_hello = "ClientHello",
	server_hello = "ServerHello", client_finished = "ClientFinished",
	server_finished = "ServerFinished", read_init_request = "ReadInit request",
	read_init_response = "ReadInit response", read_seg_request = "ReadSeg request",
	read_seg_response = "ReadSeg response", write_init_request = "WriteInit request",
	write_init_response = "WriteInit response", write_seg_request = "WriteSeg request",
	write_seg_response = "WriteSeg response", terminate_request = "Terminate request",
	terminate_response = "Terminate response", security_event = "Security event",
	internal_event = "Internal event", internal_read = "Internal read",
}

local VALID_S = { [12] = true, [16] = true, [20] = true, [24] = true, [32] = true, [48] = true,
	[64] = true }

local TAG_LEN = 8
local CONFIG_MAX_BYTES = 1024 * 1024 -- an spsecd.yaml is a few KiB
local CONFIG_MAX_IDS = 4096

---------------------------------------------------------------------------------------------
-- Fields

local f = {
	msg = ProtoField.string("spsec.msg", "Message"),
	can_id = ProtoField.uint32("spsec.id", "CAN ID", base.HEX),
	priority = ProtoField.uint8("spsec.priority", "Priority", base.DEC),
	context = ProtoField.uint8("spsec.context", "Context (ID bits 23..16)", base.HEX),
	msg_type = ProtoField.uint8("spsec.msg_type", "Message type", base.DEC, CP_TYPES),
	dest = ProtoField.bool("spsec.dest", "Participant is the destination (ID bit 7)"),
	participant = ProtoField.uint8("spsec.participant", "Participant ID", base.DEC),
	counter = ProtoField.uint8("spsec.session.cnt8", "Session counter, low byte", base.HEX),
	status = ProtoField.uint8("spsec.status", "Status (register 50h)", base.HEX),
	state = ProtoField.uint8("spsec.status.state", "State", base.DEC, STATES),
	alert = ProtoField.bool("spsec.status.alert", "Alert flag"),
	-- Security Stamp
	stamp = ProtoField.none("spsec.stamp", "Security Stamp"),
	s = ProtoField.uint8("spsec.s", "Secured length S", base.DEC),
	l = ProtoField.uint8("spsec.payload_len", "Payload length L", base.DEC),
	pad = ProtoField.uint16("spsec.pad", "Pad count", base.DEC, nil, 0xF000),
	t = ProtoField.uint16("spsec.t", "T (low 12 bits)", base.HEX_DEC, nil, 0x0FFF),
	word = ProtoField.uint16("spsec.stamp_word", "Stamp word", base.HEX),
	tag = ProtoField.bytes("spsec.tag", "Tag (first 8 bytes)"),
	payload = ProtoField.bytes("spsec.payload", "Payload"),
	padding = ProtoField.bytes("spsec.padding", "Padding"),
	-- control-plane bodies
	random = ProtoField.bytes("spsec.random", "Random"),
	tim = ProtoField.uint64("spsec.tim", "T of the Sync (tim)", base.HEX_DEC),
	csalt = ProtoField.bytes("spsec.csalt", "csalt"),
	sync_t = ProtoField.uint64("spsec.sync.t", "Synchronized T", base.HEX_DEC),
	correction = ProtoField.uint16("spsec.sync.correction", "Correction", base.DEC),
	selector = ProtoField.uint8("spsec.selector", "Key selector", base.DEC, SELECTORS),
	filler = ProtoField.bytes("spsec.filler", "Filler"),
	client_random = ProtoField.bytes("spsec.client_random", "Client random"),
	server_random = ProtoField.bytes("spsec.server_random", "Server random"),
	ciphertext = ProtoField.bytes("spsec.ciphertext", "Ciphertext"),
	trailing = ProtoField.bytes("spsec.trailing", "Trailing bytes (CAN FD length padding)"),
	reg = ProtoField.uint8("spsec.reg", "Register", base.HEX, REGISTERS),
	value = ProtoField.uint32("spsec.value", "Value", base.HEX),
	event = ProtoField.uint16("spsec.event", "Security event", base.HEX, EVENTS),
	event_data = ProtoField.bytes("spsec.event_data", "Event data (layout not published)"),
	-- spsecctl decrypt-log annotations
	verdict = ProtoField.string("spsec.verdict", "Verdict (spsecctl decrypt-log)"),
	full_t = ProtoField.uint64("spsec.full_t", "Reconstructed T", base.HEX_DEC),
	plain = ProtoField.bytes("spsec.plain", "Plain payload (decrypted)"),
	-- where the secured ID list came from
	config = ProtoField.string("spsec.config", "Secured IDs from"),
}
spsec.fields = f

local ex = {
	malformed = ProtoExpert.new("spsec.malformed", "Malformed SPsec message",
		expert.group.MALFORMED, expert.severity.ERROR),
	bad_id = ProtoExpert.new("spsec.bad_id", "Control-plane ID does not match the spec",
		expert.group.PROTOCOL, expert.severity.WARN),
	bad_stamp = ProtoExpert.new("spsec.bad_stamp", "Invalid Security Stamp geometry",
		expert.group.MALFORMED, expert.severity.ERROR),
	not_fd = ProtoExpert.new("spsec.not_fd", "Secured ID on a classical CAN frame",
		expert.group.PROTOCOL, expert.severity.WARN),
	ambiguous = ProtoExpert.new("spsec.ambiguous", "Field boundary not visible in clear",
		expert.group.UNDECODED, expert.severity.NOTE),
	config = ProtoExpert.new("spsec.config_error", "SPsec secured-ID configuration problem",
		expert.group.UNDECODED, expert.severity.WARN),
	rejected = ProtoExpert.new("spsec.rejected", "Frame rejected by the receiver checks",
		expert.group.SECURITY, expert.severity.WARN),
	event = ProtoExpert.new("spsec.security_event", "SPsec security event",
		expert.group.SECURITY, expert.severity.NOTE),
}
spsec.experts = { ex.malformed, ex.bad_id, ex.bad_stamp, ex.not_fd, ex.ambiguous, ex.config,
	ex.rejected, ex.event }

---------------------------------------------------------------------------------------------
-- Preferences

local MODE_CONFIG, MODE_ENCRYPT, MODE_AUTH_ONLY = 0, 1, 2
spsec.prefs.secured_ids = Pref.string("Secured IDs", "",
	"CAN IDs that carry a Security Stamp, written as in spsecd.yaml: 0x and 1..3 hex digits for "
	.. "an 11-bit ID (0x181), 0x and exactly 8 hex digits for a 29-bit ID (0x00012345); "
	.. "separated by commas or spaces. Added to the IDs of the config file.")
spsec.prefs.config_file = Pref.string("spsecd config file", "",
	"Path of the node's spsecd YAML file (e.g. /etc/spsec/can0.yaml); its secured_ids and mode "
	.. "are used. Empty: none.")
spsec.prefs.mode = Pref.enum("Payload mode", MODE_CONFIG,
	"encrypt: payloads are ciphertext; auth-only: payloads are clear text (then the Sync "
	.. "broadcast's T is shown)", {
		{ 1, "From the config file (else encrypt)", MODE_CONFIG },
		{ 2, "encrypt", MODE_ENCRYPT },
		{ 3, "auth-only", MODE_AUTH_ONLY },
	}, false)

---------------------------------------------------------------------------------------------
-- Arithmetic bit helpers (no bit library needed; values are below 2^32)

local function bits(x, lo, n)
	return math.floor(x / 2 ^ lo) % 2 ^ n
end

---------------------------------------------------------------------------------------------
-- Secured-ID configuration

-- "0x181" -> "s181", "0x00012345" -> "e00012345"; nil and a reason for anything else.
local function id_key(token)
	local hex = token:match("^0[xX](%x+)$")
	if not hex then
		return nil, "\"" .. token .. "\" is not a CAN ID (0x and 1..3 or 8 hex digits)"
	end
	local v = tonumber(hex, 16)
	if #hex <= 3 then
		if v > 0x7FF then
			return nil, token .. " is above 0x7FF (11-bit)"
		end
		return string.format("s%03x", v)
	elseif #hex == 8 then
		if v > 0x1FFFFFFF then
			return nil, token .. " is above 0x1FFFFFFF (29-bit)"
		end
		if bits(v, 25, 1) == 1 then
			return nil, token .. " has bit 25 set (control plane)"
		end
		return string.format("e%08x", v)
	end
	return nil, token .. ": 1..3 hex digits (11-bit) or exactly 8 (29-bit)"
end

local function frame_key(id, ext)
	if ext then
		return string.format("e%08x", id)
	end
	return string.format("s%03x", id)
end

local function unquote(v)
	return (v:gsub("^[\"'](.*)[\"']$", "%1"))
end

-- The ID keys of a list text ("0x181, 0x201" or "0x181 0x201", IDs may be quoted); every bad
-- token is appended to `errors` (the caller then applies none of the list).
local function parse_id_list(text, where, errors)
	local found = {}
	for token in text:gmatch("[^,%s]+") do
		local k, why = id_key(unquote(token))
		if k then
			found[#found + 1] = k
		else
			errors[#errors + 1] = where .. ": " .. why
		end
	end
	return found
end

local function strip_comment(line)
	-- YAML comments start at a '#' at the line start or after white space; IDs never hold '#'.
	local s = line:gsub("^#.*$", ""):gsub("%s#.*$", "")
	return s
end

-- A minimal reader for the keys of spsecd.yaml the dissector needs (secured_ids, mode).
-- It accepts the flow form (secured_ids: [0x181, 0x201], also across lines) and the block
-- form (one "- 0x181" per line). Anything it does not understand is an error, never a crash.
local function parse_config_text(text, path)
	local out = { ids = {}, errors = {} }
	if text:find("%z") then
		out.errors[1] = path .. ": binary data (NUL byte), not a YAML file"
		return out
	end
	local lines = {}
	for line in (text .. "\n"):gmatch("([^\n]*)\n") do
		lines[#lines + 1] = line:gsub("\r$", "")
	end
	local seen = false
	local i = 1
	while i <= #lines do
		local line = strip_comment(lines[i])
		local key, value = line:match("^([%w_]+):%s*(.-)%s*$")
		if key == "mode" then
			out.mode = unquote(value)
		elseif key == "secured_ids" then
			if seen then
				out.errors[#out.errors + 1] = path .. ":" .. i .. ": secured_ids given twice"
			end
			seen = true
			local where = path .. ":" .. i
			if value:sub(1, 1) == "[" then
				local acc = value
				-- A flow list may continue on indented lines; a new top-level key ends it.
				while not acc:find("%]") and i < #lines and not lines[i + 1]:match("^[%w_]") do
					i = i + 1
					acc = acc .. " " .. strip_comment(lines[i])
				end
				local inner, rest = acc:match("^%[([^%]]*)%](.*)$")
				if not inner then
					out.errors[#out.errors + 1] = where .. ": secured_ids: unterminated [ list"
				elseif rest:match("%S") then
					out.errors[#out.errors + 1] = where .. ": secured_ids: text after ]"
				else
					for _, k in ipairs(parse_id_list(inner, where, out.errors)) do
						out.ids[#out.ids + 1] = k
					end
				end
			elseif value == "" then
				while i < #lines do
					local nxt = strip_comment(lines[i + 1])
					if nxt:match("^%s*$") then
						i = i + 1
					else
						local item = nxt:match("^%s+%-%s*(.-)%s*$")
						if not item then
							break
						end
						i = i + 1
						for _, k in ipairs(parse_id_list(item, path .. ":" .. i, out.errors)) do
							out.ids[#out.ids + 1] = k
						end
					end
				end
			else
				out.errors[#out.errors + 1] = where .. ": secured_ids: expected a list, got \""
					.. value .. "\""
			end
		end
		i = i + 1
	end
	if #out.ids > CONFIG_MAX_IDS then
		out.errors[#out.errors + 1] = path .. ": more than " .. CONFIG_MAX_IDS .. " secured IDs"
	end
	if out.mode and out.mode ~= "encrypt" and out.mode ~= "auth-only" then
		out.errors[#out.errors + 1] = path .. ": mode: \"" .. out.mode
			.. "\" is not encrypt or auth-only"
		out.mode = nil
	end
	return out
end

local function read_config_file(path)
	local fh, err = io.open(path, "rb")
	if not fh then
		return nil, "cannot open " .. tostring(err)
	end
	local text = fh:read(CONFIG_MAX_BYTES + 1)
	fh:close()
	if text == nil then
		return nil, "cannot read " .. path .. " (a directory?)"
	end
	if #text > CONFIG_MAX_BYTES then
		return nil, path .. " is larger than 1 MiB: not an spsecd config file"
	end
	return text
end

-- The active configuration: the secured-ID set, the payload mode and the problems found.
local cfg = { secured = {}, count = 0, encrypt = true, errors = {}, source = "none" }

local function load_config()
	local new = { secured = {}, count = 0, encrypt = true, errors = {}, sources = {} }
	local function add_all(keys)
		for _, k in ipairs(keys) do
			if not new.secured[k] then
				new.secured[k] = true
				new.count = new.count + 1
			end
		end
	end
	local pref_ids = spsec.prefs.secured_ids or ""
	if pref_ids:match("%S") then
		local errs = {}
		local keys = parse_id_list(pref_ids, "preference Secured IDs", errs)
		if #errs == 0 then
			add_all(keys)
			new.sources[#new.sources + 1] = "preference"
		end
		for _, e in ipairs(errs) do
			new.errors[#new.errors + 1] = e
		end
	end
	local file_mode
	local path = spsec.prefs.config_file or ""
	if path:match("%S") then
		local ok, res = pcall(function()
			local text, err = read_config_file(path)
			if not text then
				return { ids = {}, errors = { err } }
			end
			return parse_config_text(text, path)
		end)
		if not ok then
			res = { ids = {}, errors = { path .. ": " .. tostring(res) } }
		end
		if #res.errors == 0 then
			-- Nothing half-applied: a file with any error contributes no ID at all.
			add_all(res.ids)
			file_mode = res.mode
			new.sources[#new.sources + 1] = path
		end
		for _, e in ipairs(res.errors) do
			new.errors[#new.errors + 1] = e
		end
	end
	local mode = spsec.prefs.mode
	if mode == MODE_AUTH_ONLY or (mode == MODE_CONFIG and file_mode == "auth-only") then
		new.encrypt = false
	end
	new.source = #new.sources > 0 and table.concat(new.sources, " + ") or "none"
	cfg = new
end

function spsec.prefs_changed()
	load_config()
end

function spsec.init()
	-- Re-read the config file for every capture file, so edits show up on reload.
	load_config()
end

---------------------------------------------------------------------------------------------
-- Control-plane ID classification (classify_control_id in userspace/core/messages.cpp)

-- Returns kind, problems (a list of strings; empty when the ID is as the spec says).
local function classify(id)
	local c = {
		priority = bits(id, 26, 3), context = bits(id, 16, 8), type = bits(id, 8, 8),
		dest = bits(id, 7, 1) == 1, pp = bits(id, 0, 7),
	}
	local problems = {}
	if bits(id, 24, 1) == 1 then
		problems[#problems + 1] = "reserved bit 24 set"
	end
	local t = c.type
	local kind, prio, ctx, dest
	if t == 8 then
		if c.dest then
			kind, prio, ctx = "pa_response", 1, 0x23
		else
			kind, prio, ctx = "pa_request", 2, 0xFF
		end
	elseif t == 9 then
		kind, prio, ctx, dest = "sync_broadcast", 0, 0x21, false
	elseif t == 10 then
		kind, prio, dest = "heartbeat", 4, false
	elseif t == 0 then
		kind, prio, ctx = c.dest and "client_hello" or "server_hello", 7, 0xFF
	elseif t >= 1 and t <= 6 then
		local names = { "finished", "read_init", "read_seg", "write_init", "write_seg",
			"terminate" }
		if t == 1 then
			kind = c.dest and "client_finished" or "server_finished"
		else
			kind = names[t] .. (c.dest and "_request" or "_response")
		end
		prio = 7
	elseif t == 11 then
		kind = "security_event"
	elseif t == 12 then
		kind, prio, dest = "internal_event", 7, false
	elseif t == 13 then
		kind = "internal_read"
	else
		problems[#problems + 1] = "unknown message type " .. t
		return nil, c, problems
	end
	if prio and c.priority ~= prio then
		problems[#problems + 1] = string.format("priority %d, expected %d", c.priority, prio)
	end
	if ctx and c.context ~= ctx then
		problems[#problems + 1] = string.format("context %02Xh, expected %02Xh", c.context, ctx)
	end
	if dest ~= nil and c.dest ~= dest then
		problems[#problems + 1] = "bit 7 (destination) " .. (c.dest and "set" or "clear")
			.. ", expected " .. (dest and "set" or "clear")
	end
	if kind == "sync_broadcast" then
		if c.pp ~= 0 then
			problems[#problems + 1] = "Sync broadcast with participant " .. c.pp .. ", expected 0"
		end
	elseif c.pp == 0 then
		problems[#problems + 1] = "participant 0 (only the Sync broadcast has none)"
	end
	return kind, c, problems
end

---------------------------------------------------------------------------------------------
-- Body decoders. Each returns a short summary for the Info column.

local function need(tvb, tree, n, what)
	if tvb:len() < n then
		tree:add_proto_expert_info(ex.malformed, string.format("%s needs %d bytes, frame has %d",
			what, n, tvb:len()))
		return false
	end
	return true
end

local function add_trailing(tvb, tree, used)
	if tvb:len() > used then
		tree:add(f.trailing, tvb(used))
	end
end

-- The Security Stamp: geometry checks as open_frame() steps 2 and 3.
local function dissect_stamp(tvb, pinfo, tree)
	local s = tvb:len()
	local st = tree:add(f.stamp, tvb())
	st:add(f.s, s):set_generated()
	if s < 12 or not VALID_S[s] then
		st:add_proto_expert_info(ex.bad_stamp, "secured length " .. s
			.. " is not one of 12, 16, 20, 24, 32, 48, 64")
		return nil
	end
	local word_range = tvb(s - 10, 2)
	local word = word_range:le_uint()
	local pad = bits(word, 12, 4)
	local t12 = bits(word, 0, 12)
	if pad > s - 10 then
		st:add_le(f.word, word_range)
		st:add_le(f.pad, word_range)
		st:add_proto_expert_info(ex.bad_stamp, string.format("pad count %d > S - 10 = %d", pad,
			s - 10))
		return nil
	end
	local l = s - 10 - pad
	st:add(f.l, l):set_generated()
	local kind = cfg.encrypt and "ciphertext" or "clear text"
	if l > 0 then
		st:add(f.payload, tvb(0, l)):append_text(" (" .. kind .. ")")
	end
	if pad > 0 then
		st:add(f.padding, tvb(l, pad)):append_text(cfg.encrypt and " (encrypted 0xFF)"
			or " (0xFF, not covered by the tag)")
	end
	local wt = st:add_le(f.word, word_range)
	wt:add_le(f.pad, word_range)
	wt:add_le(f.t, word_range)
	st:add(f.tag, tvb(s - 8, TAG_LEN))
	st:append_text(string.format(": L=%d pad=%d T12=0x%03X", l, pad, t12))
	return { l = l, pad = pad, t12 = t12, s = s }
end

local bodies = {}

function bodies.pa_request(tvb, tree)
	if need(tvb, tree, 16, "PA request") then
		tree:add(f.random, tvb(0, 16))
		add_trailing(tvb, tree, 16)
	end
	return ""
end

function bodies.pa_response(tvb, tree)
	if not need(tvb, tree, 20, "PA response") then
		return ""
	end
	local ti = tree:add_le(f.tim, tvb(0, 8))
	if tvb(0, 8):le_uint64() == UInt64(0) then
		ti:add_proto_expert_info(ex.malformed, "T is 0 (T is never 0, spec §2)")
	end
	tree:add(f.csalt, tvb(8, 4))
	tree:add(f.tag, tvb(12, TAG_LEN))
	add_trailing(tvb, tree, 20)
	return " tim=0x" .. tvb(0, 8):le_uint64():tohex():gsub("^0+", "")
end

function bodies.sync_broadcast(tvb, tree, pinfo)
	local st = dissect_stamp(tvb, pinfo, tree)
	if not st then
		return ""
	end
	if not cfg.encrypt and st.l == 10 then
		tree:add_le(f.sync_t, tvb(0, 8))
		tree:add_le(f.correction, tvb(8, 2))
	elseif st.l ~= 10 then
		tree:add_proto_expert_info(ex.malformed, "Sync broadcast payload is " .. st.l
			.. " bytes, expected 10 (LE64 T, LE16 correction)")
	end
	return string.format(" T12=0x%03X", st.t12)
end

function bodies.heartbeat(tvb, tree, pinfo, c)
	local state = bits(c.context, 0, 4)
	local stt = tree:add(f.status, c.context)
	stt:set_generated()
	stt:add(f.state, state):set_generated()
	stt:add(f.alert, bits(c.context, 7, 1) == 1):set_generated()
	local st = dissect_stamp(tvb, pinfo, tree)
	local summary = " " .. (STATES[state] or ("state " .. state))
	if bits(c.context, 7, 1) == 1 then
		summary = summary .. " (alert)"
	end
	if st then
		if st.l ~= 2 then
			tree:add_proto_expert_info(ex.malformed, "heartbeat payload is " .. st.l
				.. " bytes, expected 2 (FF FF)")
		end
		summary = summary .. string.format(" T12=0x%03X", st.t12)
	end
	return summary
end

function bodies.client_hello(tvb, tree)
	if not need(tvb, tree, 20, "ClientHello") then
		return ""
	end
	tree:add(f.selector, tvb(0, 1))
	local filler = tree:add(f.filler, tvb(1, 3))
	if tvb(1, 3):bytes():tohex() ~= "FFFFFF" then
		filler:add_proto_expert_info(ex.malformed, "filler is not FF FF FF")
	end
	tree:add(f.client_random, tvb(4, 16))
	add_trailing(tvb, tree, 20)
	local sel = tvb(0, 1):uint()
	return " selector " .. sel .. " (" .. (SELECTORS[sel] or "unknown") .. ")"
end

function bodies.server_hello(tvb, tree)
	if need(tvb, tree, 16, "ServerHello") then
		tree:add(f.server_random, tvb(0, 16))
		add_trailing(tvb, tree, 16)
	end
	return ""
end

local function tag_only(what)
	return function(tvb, tree)
		if need(tvb, tree, TAG_LEN, what) then
			tree:add(f.tag, tvb(0, TAG_LEN))
			add_trailing(tvb, tree, TAG_LEN)
		end
		return ""
	end
end

-- Session message with a fixed-size plaintext (ciphertext || tag, then CAN FD padding).
local function fixed_ct(n, what)
	return function(tvb, tree)
		if need(tvb, tree, n + TAG_LEN, what) then
			tree:add(f.ciphertext, tvb(0, n))
			tree:add(f.tag, tvb(n, TAG_LEN))
			add_trailing(tvb, tree, n + TAG_LEN)
		end
		return ""
	end
end

bodies.client_finished = tag_only("ClientFinished")
bodies.server_finished = tag_only("ServerFinished")
bodies.read_init_request = fixed_ct(8, "ReadInit request")
bodies.read_init_response = fixed_ct(8, "ReadInit response")
bodies.write_init_request = fixed_ct(8, "WriteInit request")
bodies.write_init_response = fixed_ct(8, "WriteInit response")
bodies.write_seg_response = fixed_ct(4, "WriteSeg response")
bodies.read_seg_request = tag_only("ReadSeg request")
bodies.terminate_request = tag_only("Terminate request")
bodies.terminate_response = tag_only("Terminate response")

-- Segments: the reference Configurator takes a ReadSeg response's length from the frame (len - 8);
-- a WriteSeg request carries 1, 2, 4, 8, 16 or 32 bytes, so a 12-byte frame may hold 1, 2 or 4.
local function segment(what, sizes_by_len)
	return function(tvb, tree)
		if not need(tvb, tree, TAG_LEN + 1, what) then
			return ""
		end
		local n = sizes_by_len and sizes_by_len[tvb:len()] or (tvb:len() - TAG_LEN)
		if n == "ambiguous" then
			tree:add(f.ciphertext, tvb(0, tvb:len())):append_text(" (ciphertext, tag, padding)")
			tree:add_proto_expert_info(ex.ambiguous, "a 12-byte WriteSeg request holds 1, 2 or 4 "
				.. "bytes of data; the length is in the encrypted WriteInit")
			return ""
		end
		tree:add(f.ciphertext, tvb(0, n))
		tree:add(f.tag, tvb(n, TAG_LEN))
		add_trailing(tvb, tree, n + TAG_LEN)
		return string.format(" %d bytes", n)
	end
end
bodies.read_seg_response = segment("ReadSeg response")
bodies.write_seg_request = segment("WriteSeg request",
	{ [9] = 1, [10] = 2, [12] = "ambiguous", [16] = 8, [24] = 16, [40] = 32, [48] = 32 })

function bodies.internal_event(tvb, tree, pinfo)
	if not need(tvb, tree, 5, "internal event") then
		return ""
	end
	local reg = tvb(0, 1):uint()
	tree:add(f.reg, tvb(0, 1))
	local value = tvb(1, 4):le_uint()
	tree:add_le(f.value, tvb(1, 4))
	add_trailing(tvb, tree, 5)
	local summary = string.format(" reg %02Xh = 0x%X", reg, value)
	if reg == 0x51 and value <= 0xFFFF then
		local ev = tree:add_le(f.event, tvb(1, 2))
		ev:add_proto_expert_info(ex.event, string.format("security event %04Xh: %s", value,
			EVENTS[value] or "unknown"))
		summary = string.format(" event %04Xh (%s)", value, EVENTS[value] or "unknown")
	elseif reg == 0x50 then
		local stt = tree:add(f.status, value % 256)
		stt:set_generated()
		stt:add(f.state, bits(value, 0, 4)):set_generated()
		stt:add(f.alert, bits(value, 7, 1) == 1):set_generated()
		summary = " status " .. (STATES[bits(value, 0, 4)] or "?")
	end
	return summary
end

local function raw_event(tvb, tree)
	if tvb:len() > 0 then
		tree:add(f.event_data, tvb())
	end
	return ""
end
bodies.security_event = raw_event
bodies.internal_read = raw_event

---------------------------------------------------------------------------------------------
-- The dissector

local can_id_f = Field.new("can.id")
local can_xtd_f = Field.new("can.flags.xtd")
local comment_f = Field.new("frame.comment")
local brs_f = Field.new("canfd.flags.brs")
local rtr_f = Field.new("can.flags.rtr")

-- Only CAN FD frames carry canfd.flags.*.
local function is_fd()
	return brs_f() ~= nil
end

local function current_can_id()
	local ids = { can_id_f() }
	local xtds = { can_xtd_f() }
	if #ids == 0 then
		return nil
	end
	-- The innermost CAN header is the last one.
	return ids[#ids].value, (#xtds > 0 and xtds[#xtds].value) or false
end

-- A decrypt-log packet comment: "spsec: ok T=0x1001234 ..." / "spsec: REJECTED rx_bad_tag ...".
local function verdict_comment()
	for _, c in ipairs({ comment_f() }) do
		local v = tostring(c.value)
		if v:sub(1, 7) == "spsec: " then
			return v:sub(8)
		end
	end
	return nil
end

local function add_id_tree(tree, id, c)
	local it = tree:add(f.can_id, id)
	it:set_generated()
	it:add(f.priority, c.priority):set_generated()
	it:add(f.context, c.context):set_generated()
	it:add(f.msg_type, c.type):set_generated()
	it:add(f.dest, c.dest):set_generated()
	it:add(f.participant, c.pp):set_generated()
	return it
end

local function add_config_problems(tree)
	if #cfg.errors > 0 then
		local ci = tree:add(f.config, cfg.source)
		ci:set_generated()
		for _, e in ipairs(cfg.errors) do
			ci:add_proto_expert_info(ex.config, e)
		end
	end
end

-- Dissects one frame; `force` (Decode As) treats a non-control-plane frame as secured data.
-- Returns whether the frame was SPsec's (also for an empty frame, which is still claimed).
local function dissect(tvb, pinfo, tree, force)
	local id, ext = current_can_id()
	if id == nil then
		return false
	end
	local control = ext and bits(id, 25, 1) == 1
	local verdict = verdict_comment()
	local secured = not control and (force or cfg.secured[frame_key(id, ext)] or verdict ~= nil)
	if not control and not secured then
		return false
	end

	pinfo.cols.protocol = "SPsec"
	local root = tree:add(spsec, tvb())
	add_config_problems(root)
	local rtr = rtr_f()
	if rtr and rtr.value then
		-- A remote frame has no data: neither a stamp nor a message body.
		root:add_proto_expert_info(ex.malformed, "remote frame (RTR): SPsec frames carry data")
		pinfo.cols.info = string.format(ext and "%08X: RTR" or "%03X: RTR", id)
		return true
	end
	local info
	if control then
		local kind, c, problems = classify(id)
		add_id_tree(root, id, c)
		local it = root:add(f.msg, kind or "unknown")
		it:set_generated()
		for _, p in ipairs(problems) do
			it:add_proto_expert_info(ex.bad_id, p)
		end
		if c.type >= 1 and c.type <= 6 then
			root:add(f.counter, c.context):set_generated()
		end
		local name = kind and MSG_NAMES[kind] or ("type " .. c.type)
		local summary = ""
		if kind and bodies[kind] then
			summary = bodies[kind](tvb, root, pinfo, c) or ""
		end
		local who = c.pp ~= 0 and ((c.dest and " to " or " from ") .. c.pp) or ""
		local cnt = (c.type >= 1 and c.type <= 6) and string.format(" cnt8=%02X", c.context) or ""
		info = name .. who .. cnt .. summary
		root:append_text(", " .. name)
	else
		root:add(f.msg, "data"):set_generated()
		if not is_fd() then
			root:add_proto_expert_info(ex.not_fd, "a Security Stamp needs a CAN FD frame")
		end
		if verdict ~= nil then
			-- A frame written by spsecctl decrypt-log: the payload is already plain (ok) or
			-- the secured frame as received (rejected).
			local vt = root:add(f.verdict, verdict)
			vt:set_generated()
			local full = verdict:match("T=0x(%x+)")
			if full then
				root:add(f.full_t, UInt64.fromhex(full)):set_generated()
			end
			if verdict:sub(1, 2) == "ok" then
				if tvb:len() > 0 then
					root:add(f.plain, tvb())
				end
				info = "Verified data " .. (verdict:match("T=0x%x+") or "")
					.. string.format(" L=%d", tvb:len())
			else
				vt:add_proto_expert_info(ex.rejected, verdict)
				local st = dissect_stamp(tvb, pinfo, root)
				info = "Data " .. verdict:gsub(" secured=.*$", "")
				if st then
					info = info .. string.format(" T12=0x%03X", st.t12)
				end
			end
		else
			local st = dissect_stamp(tvb, pinfo, root)
			info = "Secured data"
			if st then
				info = info .. string.format(" L=%d T12=0x%03X", st.l, st.t12)
			end
		end
		root:append_text(", secured data")
	end
	pinfo.cols.info = string.format("%s: %s", ext and string.format("%08X", id)
		or string.format("%03X", id), info)
	return true
end

function spsec.dissector(tvb, pinfo, tree)
	if dissect(tvb, pinfo, tree, true) then
		return tvb:len()
	end
	return 0
end

local function heuristic(tvb, pinfo, tree)
	return dissect(tvb, pinfo, tree, false)
end

spsec:register_heuristic("can", heuristic)
-- "Decode As ... SPsec" on CAN frames that are neither configured nor control plane.
local sub = DissectorTable.get("can.subdissector")
if sub then
	sub:add_for_decode_as(spsec)
end
