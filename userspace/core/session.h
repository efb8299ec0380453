// SPDX-License-Identifier: Apache-2.0
// Configurator sessions (spec §5) as two pure state machines: SessionServer on the participant,
// SessionClient on the Configurator. No sockets, no clocks, no files: the caller feeds each
// received CAN frame and the current CLOCK_MONOTONIC time in ns, calls on_tick() when
// next_deadline() passes, sends the frames returned, and (server) persists a committed
// RegisterStore before sending the frames that acknowledge it.
//
// Flow, both ends (cnt0 = LE32(client_random[0..3] ^ server_random[0..3]); codecs: messages.h):
//   C -> S  ClientHello      1EFF0080|pp  selector FF FF FF client_random
//   S -> C  ServerHello      1EFF0000|pp  server_random           (Session Key derived)
//   C -> S  ClientFinished   cnt0+1                               (S enters Configuration)
//   S -> C  ServerFinished   cnt0+2
//   then each request and each response takes the next counter value, its low byte in the ID:
//   read : ReadInit(reg, max len) -> ReadInit(reg, len) -> ReadSeg() -> ReadSeg(data)
//          (len 0: nothing to fetch, no ReadSeg)
//   write: WriteInit(reg, len) -> WriteInit(reg, len) -> WriteSeg(<= 32 bytes) ->
//          WriteSeg(status FF FF FF) ... until len bytes are written
//   end  : Terminate -> Terminate                               (S leaves Configuration)
// (spsec_participant configuration_loop.c, canopens_configurator_python configurator.py.)
//
// [choice] Refusals. The reference sends nothing when it refuses a ReadInit or WriteInit, so its
// Configurator can only time out. Here the server answers a refused Init with the length field
// FFFFFF00h | RegStatus (a length no register has), which the reference Configurator rejects
// as too long, and answers a WriteSeg of a refused write with the RegStatus as its status
// (the reference sends its error code there too). Nothing is changed by a refused access.
//
// [choice] Key writes. Key, salt and ID registers are staged (KeyWriteStage) and the key is
// installed in one step when all three parts have arrived in the session; the WriteSeg that
// completes the set carries the commit. A session ending with an incomplete set discards it.
// Key ID FFFFFFFFh, which the reference Configurator writes first to invalidate the ID, is
// acknowledged as a staged step and changes nothing until a complete set with a valid ID.
//
// Event codes (spec §7), reported as SessionEvent::SecurityEvent; none changes any state:
//   5E01h  ClientHello names a key this node does not hold, or selector 13 (Seed) / unknown
//   5E02h  ClientFinished does not verify (wrong key, replay, injection): refused, the
//          handshake stays pending (an injected frame cannot kill a genuine handshake) until
//          the response timeout (then without a second 5E03h) or kMaxFinishedFailures
//          refusals. A Finished outside a handshake also gives 5E02h.
//   5E03h  response timeout (server: no ClientFinished within 100 ms of the ServerHello;
//          client: no response within 100 ms)
//   5E04h  session timeout: 10 s without a valid request; the server leaves Configuration
//   5E05h  a session message that does not verify: bad tag, counter low byte not the next
//          value (replay, reorder, injection); refused, the counter does not move
// [choice] A ClientHello while this node is in Configuration is ignored, as the reference's
// configuration loop ignores every non-request message, except that a Hello for a key the node
// holds ends an open Zero-Key session on a node that holds keys (ExitConfiguration, reason
// "preempted"); one during a pending handshake replaces that handshake (Hellos are
// unauthenticated; the newest one wins).
// The counter may not reach kSessionCounterLimit (2^32 - 1 - 1000): the server then ends the
// session (ExitConfiguration, reason counter_exhausted), the client fails with that reason.
#pragma once

#include "core/session_client.h"  // IWYU pragma: export
#include "core/session_event.h"   // IWYU pragma: export
#include "core/session_server.h"  // IWYU pragma: export
